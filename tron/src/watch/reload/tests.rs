//! The reloader against a target whose loads wait for the test's go-ahead.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use funcmesh_testkit::eventually;
use tokio::sync::{Semaphore, broadcast};

use super::Reloader;
use crate::watch::paths::Change;
use crate::watch::{LoadOutcome, ReloadEvent, Target};

/// Loads fail while the directory holds a `broken` file (looked at when the
/// load starts), find the live version unchanged while it holds a `same`
/// file, and finish only when the test adds a permit to `gate`.
struct Fake {
    gate: Semaphore,
    started: AtomicUsize,
    active: Mutex<HashMap<PathBuf, usize>>,
    peak_per_dir: AtomicUsize,
    peak_total: AtomicUsize,
    live: Mutex<HashMap<PathBuf, String>>,
}

impl Default for Fake {
    fn default() -> Self {
        Self {
            gate: Semaphore::new(0),
            started: AtomicUsize::new(0),
            active: Mutex::default(),
            peak_per_dir: AtomicUsize::new(0),
            peak_total: AtomicUsize::new(0),
            live: Mutex::default(),
        }
    }
}

impl Fake {
    fn enter(&self, dir: &Path) {
        let mut active = self.active.lock().unwrap();
        let here = active.entry(dir.to_path_buf()).or_default();
        *here += 1;
        self.peak_per_dir.fetch_max(*here, Ordering::SeqCst);
        let total = active.values().sum();
        self.peak_total.fetch_max(total, Ordering::SeqCst);
    }

    fn leave(&self, dir: &Path) {
        *self.active.lock().unwrap().get_mut(dir).unwrap() -= 1;
    }
}

impl Target for Fake {
    async fn load(&self, dir: &Path) -> anyhow::Result<LoadOutcome> {
        let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let broken = dir.join("broken").exists();
        let same = dir.join("same").exists();
        self.enter(dir);
        self.gate.acquire().await.unwrap().forget();
        self.leave(dir);
        anyhow::ensure!(
            !broken,
            "{}: line 2 column 1: did not find expected key",
            dir.join("openapi.yaml").display()
        );
        if same {
            return Ok(LoadOutcome::Unchanged);
        }
        let hash = format!("hash{n}");
        let previous = self
            .live
            .lock()
            .unwrap()
            .insert(dir.to_path_buf(), hash.clone());
        Ok(LoadOutcome::Live {
            name: "b".to_owned(),
            hash,
            previous,
        })
    }

    async fn unload(&self, dir: &Path) -> Option<String> {
        self.live.lock().unwrap().remove(dir)
    }

    fn live(&self, dir: &Path) -> Option<String> {
        self.live.lock().unwrap().get(dir).cloned()
    }

    fn served(&self) -> Vec<PathBuf> {
        self.live.lock().unwrap().keys().cloned().collect()
    }
}

struct Setup {
    tmp: tempfile::TempDir,
    fake: Arc<Fake>,
    reloader: Arc<Reloader<Fake>>,
    events: broadcast::Receiver<ReloadEvent>,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        std::fs::create_dir(tmp.path().join(name)).unwrap();
        std::fs::write(tmp.path().join(name).join("openapi.yaml"), "").unwrap();
    }
    let fake = Arc::new(Fake::default());
    let (tx, events) = broadcast::channel(16);
    let reloader = Arc::new(Reloader::new(Arc::clone(&fake), tx));
    Setup {
        tmp,
        fake,
        reloader,
        events,
    }
}

impl Setup {
    fn dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn change(&self, name: &str, file: &str, first: Instant) -> Change {
        Change {
            dir: self.dir(name),
            first,
            files: BTreeSet::from([PathBuf::from(file)]),
        }
    }

    /// Lets the reload tasks run until `n` loads have started.
    async fn until_started(&self, n: usize) {
        let started = || async { self.fake.started.load(Ordering::SeqCst) >= n };
        eventually(
            Duration::from_secs(10),
            &format!("{n} loads start"),
            started,
        )
        .await;
    }

    /// A save of `name`'s spec, its load let through at once: what it did.
    async fn save(&mut self, name: &str) -> ReloadEvent {
        self.fake.gate.add_permits(1);
        self.reloader
            .submit(self.change(name, "openapi.yaml", Instant::now()));
        self.event().await
    }

    async fn event(&mut self) -> ReloadEvent {
        tokio::time::timeout(Duration::from_secs(10), self.events.recv())
            .await
            .expect("an event in time")
            .expect("the channel is open")
    }
}

#[tokio::test]
async fn changes_during_a_reload_run_it_once_more_after() {
    let mut s = setup();
    let t0 = Instant::now();
    s.reloader.submit(s.change("a", "openapi.yaml", t0));
    s.until_started(1).await;
    let t1 = Instant::now();
    s.reloader.submit(s.change("a", "src/lib.rs", t1));
    s.reloader
        .submit(s.change("a", "Cargo.toml", Instant::now()));
    s.fake.gate.add_permits(1);
    let first = s.event().await;
    assert!(
        matches!(&first, ReloadEvent::Reloaded { hash, previous: None, .. } if hash == "hash1"),
        "{first:?}"
    );
    s.until_started(2).await;
    s.fake.gate.add_permits(1);
    let second = s.event().await;
    assert!(
        matches!(&second, ReloadEvent::Reloaded { hash, previous: Some(p), .. } if hash == "hash2" && p == "hash1"),
        "{second:?}"
    );
    // Both waiting changes were one reload.
    s.fake.gate.add_permits(5);
    tokio::task::yield_now().await;
    assert_eq!(s.fake.started.load(Ordering::SeqCst), 2);
    assert_eq!(s.fake.peak_per_dir.load(Ordering::SeqCst), 1);
    assert!(s.reloader.running.lock().is_empty());
}

#[tokio::test]
async fn different_bundles_reload_at_once() {
    let mut s = setup();
    let now = Instant::now();
    s.reloader.submit(s.change("a", "openapi.yaml", now));
    s.reloader.submit(s.change("b", "openapi.yaml", now));
    s.until_started(2).await;
    assert_eq!(s.fake.peak_total.load(Ordering::SeqCst), 2);
    s.fake.gate.add_permits(2);
    let dirs: BTreeSet<PathBuf> = [s.event().await, s.event().await]
        .into_iter()
        .map(|e| match e {
            ReloadEvent::Reloaded { dir, .. } => dir,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(dirs, BTreeSet::from([s.dir("a"), s.dir("b")]));
}

#[tokio::test]
async fn a_failure_keeps_the_live_version_and_says_which_file() {
    let mut s = setup();
    assert!(matches!(s.save("a").await, ReloadEvent::Reloaded { .. }));
    std::fs::write(s.dir("a").join("broken"), "").unwrap();
    match s.save("a").await {
        ReloadEvent::Failed { dir, error, live } => {
            assert_eq!(dir, s.dir("a"));
            assert!(error.contains("openapi.yaml: line 2"), "{error}");
            assert_eq!(live.as_deref(), Some("hash1"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_fix_back_to_the_version_serving_is_confirmed_once() {
    let mut s = setup();
    assert!(matches!(s.save("a").await, ReloadEvent::Reloaded { .. }));
    std::fs::write(s.dir("a").join("broken"), "").unwrap();
    assert!(matches!(s.save("a").await, ReloadEvent::Failed { .. }));
    // The save that undoes the mistake: the files are the live version's.
    std::fs::remove_file(s.dir("a").join("broken")).unwrap();
    std::fs::write(s.dir("a").join("same"), "").unwrap();
    for fixed in [true, false] {
        match s.save("a").await {
            ReloadEvent::Unchanged { dir, fixed: said } => {
                assert_eq!(dir, s.dir("a"));
                assert_eq!(said, fixed, "confirmed after the failure only");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_failure_superseded_by_a_later_change_is_not_reported() {
    let mut s = setup();
    std::fs::write(s.dir("a").join("broken"), "").unwrap();
    // The save that started it all, a while ago.
    let t0 = Instant::now().checked_sub(Duration::from_secs(5)).unwrap();
    s.reloader.submit(s.change("a", "openapi.yaml", t0));
    s.until_started(1).await;
    std::fs::remove_file(s.dir("a").join("broken")).unwrap();
    s.reloader
        .submit(s.change("a", "openapi.yaml", Instant::now()));
    s.fake.gate.add_permits(2);
    match s.event().await {
        ReloadEvent::Reloaded { hash, elapsed, .. } => {
            assert_eq!(hash, "hash2");
            assert!(
                elapsed >= Duration::from_secs(5),
                "timed from the first save, not the last: {elapsed:?}"
            );
        }
        other => panic!("the half-written state is not reported: {other:?}"),
    }
}

#[tokio::test]
async fn a_directory_that_is_no_bundle_any_more_is_removed() {
    let mut s = setup();
    assert!(matches!(s.save("a").await, ReloadEvent::Reloaded { .. }));
    std::fs::remove_file(s.dir("a").join("openapi.yaml")).unwrap();
    std::fs::remove_file(s.dir("b").join("openapi.yaml")).unwrap();
    // `b` was never live: nothing to report.
    s.reloader
        .submit(s.change("b", "openapi.yaml", Instant::now()));
    s.reloader
        .submit(s.change("a", "openapi.yaml", Instant::now()));
    assert_eq!(
        s.event().await,
        ReloadEvent::Removed {
            dir: s.dir("a"),
            hash: "hash1".to_owned()
        }
    );
    assert!(s.fake.served().is_empty());
}
