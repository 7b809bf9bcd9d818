//! From changed paths to the bundles to reload.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use funcmesh_core::bundle::{self, MANIFEST_FILE, SPEC_FILES};
use notify_debouncer_full::DebouncedEvent;
use notify_debouncer_full::notify::EventKind;
use notify_debouncer_full::notify::event::ModifyKind;

/// A change to one bundle directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// The bundle directory, spelled as [`bundle::find_bundles`] spells it.
    pub dir: PathBuf,
    /// When the first of its file events happened.
    pub first: Instant,
    /// The changed paths, relative to `dir`.
    pub files: BTreeSet<PathBuf>,
}

impl Change {
    /// `self` and a later change to the same directory, as one.
    pub fn merge(&mut self, later: Change) {
        self.first = self.first.min(later.first);
        self.files.extend(later.files);
    }
}

/// The watched root, and how to find a path's bundle under it.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
    /// Some watchers report resolved paths (macOS); both spellings are
    /// recognised.
    canonical: Option<PathBuf>,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            canonical: root.canonicalize().ok(),
        }
    }

    /// The changes in `events`, one per bundle directory.
    pub fn changes(&self, events: &[DebouncedEvent]) -> Vec<Change> {
        let mut by_dir: BTreeMap<PathBuf, Change> = BTreeMap::new();
        for event in events.iter().filter(|e| relevant(&e.kind)) {
            for path in &event.paths {
                let Some((dir, file)) = self.bundle_of(path) else {
                    continue;
                };
                let change = Change {
                    dir: dir.clone(),
                    first: event.time,
                    files: BTreeSet::from([file]),
                };
                match by_dir.get_mut(&dir) {
                    Some(known) => known.merge(change),
                    None => {
                        by_dir.insert(dir, change);
                    }
                }
            }
        }
        by_dir.into_values().collect()
    }

    /// The bundle directory `path` belongs to, and `path` relative to it;
    /// `None` for a path not worth a reload. The root itself is the bundle
    /// when it is one (or a spec or manifest at its top changed); otherwise
    /// the bundle is the root's subdirectory that holds `path`.
    pub fn bundle_of(&self, path: &Path) -> Option<(PathBuf, PathBuf)> {
        let relative = self.relative(path)?;
        if ignored(relative) {
            return None;
        }
        let mut components = relative.components();
        let first = match components.next()? {
            Component::Normal(first) => first,
            _ => return None,
        };
        let rest = components.as_path();
        let top_level_bundle_file = rest.as_os_str().is_empty()
            && first
                .to_str()
                .is_some_and(|name| SPEC_FILES.contains(&name) || name == MANIFEST_FILE);
        if top_level_bundle_file || bundle::is_bundle_dir(&self.root) {
            Some((self.root.clone(), relative.to_path_buf()))
        } else {
            Some((self.root.join(first), rest.to_path_buf()))
        }
    }

    fn relative<'a>(&self, path: &'a Path) -> Option<&'a Path> {
        path.strip_prefix(&self.root).ok().or_else(|| {
            self.canonical
                .as_ref()
                .and_then(|canonical| path.strip_prefix(canonical).ok())
        })
    }
}

/// Every bundle under `root` and every directory served, as changed at
/// `at`: after lost events, each is reloaded (or removed) to be sure.
pub(crate) fn everything(root: &Path, served: Vec<PathBuf>, at: Instant) -> Vec<Change> {
    let dirs: BTreeSet<PathBuf> = bundle::find_bundles(root)
        .into_iter()
        .chain(served)
        .collect();
    dirs.into_iter()
        .map(|dir| Change {
            dir,
            first: at,
            files: BTreeSet::new(),
        })
        .collect()
}

/// Whether the event can change a bundle: reads and metadata (permissions,
/// access times) cannot.
fn relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Any | EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(modify) => !matches!(modify, ModifyKind::Metadata(_)),
        EventKind::Access(_) | EventKind::Other => false,
    }
}

/// Build output (any `target` directory, a crate's or its workspace's),
/// hidden files and directories, Python's byte-code caches, and editors'
/// swap, backup and probe files.
pub(crate) fn ignored(relative: &Path) -> bool {
    let hidden_or_build = relative.components().any(|c| match c {
        Component::Normal(name) => {
            let name = name.to_string_lossy();
            name == "target" || funcmesh_core::bundle::is_ignored_name(&name)
        }
        _ => false,
    });
    let scratch = relative.file_name().is_some_and(|name| {
        let name = name.to_string_lossy();
        name == "4913"
            || name.ends_with('~')
            || [".swp", ".swx", ".tmp", "___jb_tmp___", "___jb_old___"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
    });
    hidden_or_build || scratch
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use notify_debouncer_full::notify::Event;
    use notify_debouncer_full::notify::event::{AccessKind, CreateKind, DataChange, MetadataKind};

    use super::*;

    fn tree() -> (tempfile::TempDir, Layout) {
        let tmp = tempfile::tempdir().unwrap();
        for bundle in ["hello", "pets"] {
            std::fs::create_dir_all(tmp.path().join(bundle).join("src")).unwrap();
            std::fs::write(tmp.path().join(bundle).join("openapi.yaml"), "").unwrap();
        }
        let layout = Layout::new(tmp.path());
        (tmp, layout)
    }

    #[test]
    fn build_output_hidden_and_editor_files_are_ignored() {
        for path in [
            "target/wasm32-wasip1/release/hello.wasm",
            "hello/target/release/.fingerprint/x",
            "words-py/words/__pycache__/api.cpython-311.pyc",
            "words-py/lib/x.pyc",
            ".git/index",
            "hello/.cargo/config.toml",
            "hello/src/.lib.rs.swp",
            "hello/src/lib.rs.swp",
            "hello/src/lib.rs~",
            "hello/4913",
            "hello/.#openapi.yaml",
            "hello/openapi.yaml.tmp",
        ] {
            assert!(ignored(Path::new(path)), "{path}");
        }
        for path in [
            "hello/src/lib.rs",
            "hello/openapi.yaml",
            "hello/Cargo.toml",
            "hello/data/targets.json",
        ] {
            assert!(!ignored(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn a_path_belongs_to_the_subdirectory_that_holds_it() {
        let (tmp, layout) = tree();
        let root = tmp.path();
        assert_eq!(
            layout.bundle_of(&root.join("hello/src/lib.rs")),
            Some((root.join("hello"), PathBuf::from("src/lib.rs")))
        );
        assert_eq!(
            layout.bundle_of(&root.join("new-one")),
            Some((root.join("new-one"), PathBuf::new())),
            "a new (or removed) directory is a candidate"
        );
        assert_eq!(layout.bundle_of(&root.join("hello/target/x.wasm")), None);
        assert_eq!(layout.bundle_of(root), None, "the root itself");
        assert_eq!(layout.bundle_of(Path::new("/elsewhere/x")), None);
    }

    #[test]
    fn the_root_is_the_bundle_when_it_is_one() {
        let (tmp, _) = tree();
        let root = tmp.path().join("hello");
        let layout = Layout::new(&root);
        assert_eq!(
            layout.bundle_of(&root.join("src/lib.rs")),
            Some((root.clone(), PathBuf::from("src/lib.rs")))
        );
        // A spec at the top of a root that is not (yet, or any more) a
        // bundle: the root's change, to load it or take it away.
        let parent = Layout::new(tmp.path());
        assert_eq!(
            parent.bundle_of(&tmp.path().join("openapi.yaml")),
            Some((tmp.path().to_path_buf(), PathBuf::from("openapi.yaml")))
        );
    }

    #[test]
    fn resolved_paths_are_recognised() {
        let (tmp, _) = tree();
        let canonical = tmp.path().canonicalize().unwrap();
        // A spelling of the same root through `..`.
        let spelled = tmp.path().join("hello/..");
        let layout = Layout::new(&spelled);
        assert_eq!(
            layout.bundle_of(&canonical.join("pets/openapi.yaml")),
            Some((spelled.join("pets"), PathBuf::from("openapi.yaml")))
        );
    }

    fn event(kind: EventKind, path: PathBuf, at: Instant) -> DebouncedEvent {
        DebouncedEvent::new(Event::new(kind).add_path(path), at)
    }

    #[test]
    fn a_burst_is_one_change_per_bundle_from_its_first_event() {
        let (tmp, layout) = tree();
        let root = tmp.path();
        let t0 = Instant::now();
        let later = t0 + Duration::from_millis(40);
        let data = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let events = [
            event(data, root.join("hello/src/lib.rs"), later),
            event(
                EventKind::Create(CreateKind::File),
                root.join("hello/openapi.yaml"),
                t0,
            ),
            event(data, root.join("pets/openapi.yaml"), later),
            event(data, root.join("hello/target/release/hello.wasm"), t0),
            event(
                EventKind::Access(AccessKind::Any),
                root.join("pets/src/lib.rs"),
                t0,
            ),
            event(
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
                root.join("pets/src/lib.rs"),
                t0,
            ),
        ];
        let changes = layout.changes(&events);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(changes[0].dir, root.join("hello"));
        assert_eq!(changes[0].first, t0);
        assert_eq!(
            changes[0].files,
            BTreeSet::from([PathBuf::from("openapi.yaml"), PathBuf::from("src/lib.rs")])
        );
        assert_eq!(changes[1].dir, root.join("pets"));
        assert_eq!(
            changes[1].files,
            BTreeSet::from([PathBuf::from("openapi.yaml")])
        );
    }

    #[test]
    fn after_lost_events_everything_is_looked_at() {
        let (tmp, _) = tree();
        let gone = tmp.path().join("gone");
        let at = Instant::now();
        let dirs: Vec<PathBuf> = everything(tmp.path(), vec![gone.clone()], at)
            .into_iter()
            .map(|c| c.dir)
            .collect();
        assert_eq!(
            dirs,
            [gone, tmp.path().join("hello"), tmp.path().join("pets")]
        );
    }
}
