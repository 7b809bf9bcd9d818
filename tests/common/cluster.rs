//! A mesh of separate `funcmesh` processes (tron, gateway, runners) on a
//! real broker, for the cluster tests. Each cluster has its own queue
//! namespace on the broker, its own bundle directory and its own ports.
//! The processes die with the test binary.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::{call_at, root};

/// RabbitMQ on this machine; `./scripts/test` starts it where it is down.
pub const RABBITMQ: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// NATS with JetStream on this machine; `./scripts/test` starts it too.
pub const NATS: &str = "nats://127.0.0.1:4222";
/// A Kafka-compatible broker (tansu); `./scripts/test` builds and starts it.
pub const KAFKA: &str = "kafka://127.0.0.1:9092";

/// The cluster a test binary shares: started on first use on `base` with
/// two runners, its queues deleted when the binary exits (a static is never
/// dropped).
pub fn shared(base: &str) -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    extern "C" fn delete_shared_queues() {
        if let Some(cluster) = SHARED.get() {
            cluster.delete_queues();
        }
    }
    SHARED.get_or_init(|| {
        let cluster = Cluster::new(base);
        super::block_on(cluster.start_all(2));
        // SAFETY: registers a plain function with the C library.
        unsafe { libc::atexit(delete_shared_queues) };
        cluster
    })
}

/// A running cluster.
pub struct Cluster {
    /// The bus URL the processes use, namespace included.
    pub bus: String,
    /// The gateway's address.
    pub gateway: SocketAddr,
    /// The tron's admin address.
    pub admin: SocketAddr,
    /// The tron's bundle directory.
    pub bundles: PathBuf,
    /// The mesh token every process is given.
    pub token: String,
    dir: tempfile::TempDir,
    procs: Mutex<BTreeMap<String, Child>>,
    /// Environment variables given to one process, by its name.
    env: Mutex<BTreeMap<String, Vec<(String, String)>>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, mut child) in std::mem::take(&mut *self.procs.lock().unwrap()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.delete_queues();
    }
}

impl Cluster {
    /// A cluster on `base` (a bus URL without a namespace) whose tron serves
    /// `swagger-examples/` and the fault fixtures (WebAssembly and Python).
    /// Nothing is started yet.
    pub fn new(base: &str) -> Self {
        require_broker(base);
        let dir = tempfile::tempdir().unwrap();
        let bundles = dir.path().join("bundles");
        std::fs::create_dir_all(&bundles).unwrap();
        let mut sources = funcmesh_core::bundle::find_bundles(&root().join("swagger-examples"));
        sources.push(root().join("tests/fixtures/faults"));
        sources.push(root().join("tests/fixtures/py-faults"));
        for source in sources {
            copy_bundle(&source, &bundles);
        }
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let id = uuid::Uuid::now_v7().simple().to_string();
        // The tail of a v7 UUID is random.
        let namespace = format!("t{}", &id[id.len() - 12..]);
        Self {
            bus: format!("{base}?namespace={namespace}"),
            gateway: free_port(),
            admin: free_port(),
            bundles,
            token: funcmesh_core::auth::MeshToken::generate()
                .secret()
                .to_owned(),
            dir,
            procs: Mutex::default(),
            env: Mutex::default(),
        }
    }

    /// Removes what this cluster left on its broker, as `funcmesh clean`
    /// does, so that test runs do not pile queues up on the shared broker.
    pub fn delete_queues(&self) {
        let namespace = self
            .bus
            .rsplit_once("namespace=")
            .map(|(_, ns)| ns.split('&').next().unwrap_or(ns).to_owned());
        let Some(namespace) = namespace else { return };
        // A mesh on the broker's TLS listener is cleaned up through its
        // plain one.
        let url = match self.bus.starts_with("amqps://") {
            true => format!("{RABBITMQ}?namespace={namespace}"),
            false => self.bus.clone(),
        };
        apart(async move {
            let options = funcmesh_bus::namespace::Options::default();
            let namespace = funcmesh_bus::namespace::open(&url, &options).await.ok()?;
            for held in namespace.held().await.ok()? {
                let _ = namespace.remove(&held).await;
            }
            Some(())
        });
    }

    /// Starts a tron on its own admin port, with `extra` arguments.
    pub fn start_tron_with(&self, name: &str, admin: SocketAddr, extra: &[&str]) {
        let admin = admin.to_string();
        let bundles = self.bundles.display().to_string();
        let mut args = vec!["tron", "--bundles", &bundles, "--admin", &admin];
        args.extend_from_slice(extra);
        self.spawn(name, &args);
    }

    /// A cluster like [`new`](Self::new) whose tron serves only `bundles`
    /// (directories under the repository's root).
    pub fn with_bundles(base: &str, bundles: &[&str]) -> Self {
        let cluster = Self::new(base);
        for entry in std::fs::read_dir(&cluster.bundles).unwrap() {
            std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
        }
        for bundle in bundles {
            copy_bundle(&root().join(bundle), &cluster.bundles);
        }
        cluster
    }

    /// Starts the tron.
    pub fn start_tron(&self, name: &str) {
        let admin = self.admin.to_string();
        let bundles = self.bundles.display().to_string();
        self.spawn(name, &["tron", "--bundles", &bundles, "--admin", &admin]);
    }

    /// Starts the gateway.
    pub fn start_gateway(&self, name: &str) {
        let listen = self.gateway.to_string();
        self.spawn(
            name,
            &["gateway", "--listen", &listen, "--timeout-ms", "10000"],
        );
    }

    /// Starts a runner with its own bundle cache.
    pub fn start_runner(&self, name: &str) {
        self.start_runner_with(name, 64);
    }

    /// Starts a runner that runs `concurrency` calls at once, and each
    /// Python bundle version on two workers whatever the machine's cores,
    /// with the test meshes' limits.
    pub fn start_runner_with(&self, name: &str, concurrency: usize) {
        let cache = self
            .dir
            .path()
            .join("cache")
            .join(name)
            .display()
            .to_string();
        let tron = format!("http://{}", self.admin);
        let concurrency = concurrency.to_string();
        self.spawn(
            name,
            &[
                "runner",
                "--tron",
                &tron,
                "--cache-dir",
                &cache,
                "--concurrency",
                &concurrency,
                "--python-workers",
                "2",
                "--python-max-open-files",
                &super::PYTHON_MAX_OPEN_FILES.to_string(),
                "--python-max-processes",
                &super::PYTHON_MAX_PROCESSES.to_string(),
            ],
        );
    }

    /// Starts tron, gateway and `runners` runners, and waits until every
    /// runner has every bundle.
    pub async fn start_all(&self, runners: usize) {
        self.start_tron("tron");
        self.start_gateway("gateway");
        for i in 1..=runners {
            self.start_runner(&format!("runner{i}"));
        }
        self.ready(runners).await;
    }

    /// Kills a process with SIGKILL, as a crash would.
    pub fn kill(&self, name: &str) {
        let mut child = self.take(name);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Stops a process with SIGTERM, as an orchestrator does, and waits
    /// until it has exited.
    pub fn terminate(&self, name: &str) {
        let mut child = self.take(name);
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: signals a child of this cluster, not yet waited for.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        child.wait().unwrap();
    }

    /// The named process, no longer the cluster's to stop.
    fn take(&self, name: &str) -> std::process::Child {
        let taken = self.procs.lock().unwrap().remove(name);
        taken.expect("no such process")
    }

    /// Whether the named process is still running.
    pub fn running(&self, name: &str) -> bool {
        let mut procs = self.procs.lock().unwrap();
        let child = procs.get_mut(name).expect("no such process");
        child.try_wait().unwrap().is_none()
    }

    /// The gateway's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.gateway
    }

    /// A request to the admin API at `admin`, with the mesh token.
    pub fn admin_call(&self, admin: SocketAddr, method: &str, path: &str) -> super::Call {
        call_at(admin, method, path).header("authorization", &format!("Bearer {}", self.token))
    }

    /// The tron's `GET /status`.
    pub async fn status(&self) -> serde_json::Value {
        self.admin_call(self.admin, "GET", "/status")
            .send()
            .await
            .json()
    }

    /// `GET /status` of the tron whose admin listener is `admin`, if it
    /// answers.
    pub async fn status_at(&self, admin: SocketAddr) -> Option<serde_json::Value> {
        try_get(self.admin_call(admin, "GET", "/status")).await.ok()
    }

    /// Requests the runners have executed, as their last heartbeats say.
    pub async fn requests_served(&self) -> u64 {
        let status = self.status().await;
        let runners = status["runners"].as_array().cloned().unwrap_or_default();
        runners
            .iter()
            .map(|r| r["stats"]["requests"].as_u64().unwrap_or(0))
            .sum()
    }

    /// Waits until the gateway serves and `runners` runners report every
    /// announced bundle installed.
    pub async fn ready(&self, runners: usize) {
        let up = || self.is_ready(runners);
        if !funcmesh_testkit::try_eventually(Duration::from_secs(90), up).await {
            panic!("the cluster did not come up in 90 s\n{}", self.logs());
        }
    }

    async fn is_ready(&self, runners: usize) -> bool {
        let Ok(status) = try_get(self.admin_call(self.admin, "GET", "/status")).await else {
            return false;
        };
        let bundles: Vec<&str> = status["routes"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["bundle"].as_str()).collect())
            .unwrap_or_default();
        let ready_runners = status["runners"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| {
                        let have: Vec<&str> = r["bundles"]
                            .as_array()
                            .map(|b| b.iter().filter_map(|h| h.as_str()).collect())
                            .unwrap_or_default();
                        bundles.iter().all(|b| have.contains(b))
                    })
                    .count()
            })
            .unwrap_or(0);
        !bundles.is_empty()
            && ready_runners >= runners
            && try_get(call_at(self.gateway, "GET", "/hello/greet?name=ready"))
                .await
                .is_ok()
    }

    /// The last lines of every process's log (all of them when
    /// `FUNCMESH_TEST_FULL_LOGS` is set).
    pub fn logs(&self) -> String {
        let keep = if std::env::var_os("FUNCMESH_TEST_FULL_LOGS").is_some() {
            usize::MAX
        } else {
            40
        };
        let mut out = String::new();
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path().join("logs"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        names.sort();
        for path in names {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(keep)..];
            out += &format!("==> {} <==\n{}\n", path.display(), tail.join("\n"));
        }
        out
    }

    /// What the named process has logged so far.
    pub fn logs_of(&self, name: &str) -> String {
        let path = self.dir.path().join("logs").join(format!("{name}.log"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Whether any process has logged `text` so far.
    pub fn logged(&self, text: &str) -> bool {
        std::fs::read_dir(self.dir.path().join("logs"))
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|log| log.contains(text)))
    }

    /// Gives the process named `name`, when it starts, `key=value` in its
    /// environment (e.g. `FUNCMESH_METRICS`).
    pub fn set_env(&self, name: &str, key: &str, value: &str) {
        self.env
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default()
            .push((key.to_owned(), value.to_owned()));
    }

    /// Starts a `funcmesh` process on the cluster's bus, its log beside the
    /// others, logging at `info` (or as `FUNCMESH_TEST_LOG` says, e.g.
    /// `info,funcmesh_tron::scale=debug` for every scaling tick).
    pub fn spawn(&self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.dir.path().join("logs").join(format!("{name}.log")))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_funcmesh"));
        command
            .args(args)
            .env("FUNCMESH_BUS", &self.bus)
            .env("FUNCMESH_TOKEN", &self.token)
            // The suites read the routes a gateway follows.
            .env("FUNCMESH_EXPOSE_ROUTES", "true")
            .env("FUNCMESH_EXPOSE_OPENAPI", "true")
            .env(
                "FUNCMESH_LOG",
                std::env::var("FUNCMESH_TEST_LOG").unwrap_or_else(|_| "info,notify=warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(env) = self.env.lock().unwrap().get(name) {
            command.envs(env.iter().map(|(k, v)| (k, v)));
        }
        let child = spawn_outliving_tests(command);
        self.procs.lock().unwrap().insert(name.to_owned(), child);
    }
}

impl super::ShowsLogs for Cluster {
    fn logs_for_failure(&self) -> Option<String> {
        Some(self.logs())
    }
}

/// Fails the test at once, naming the broker, when nothing answers at
/// `base`'s host and port within 10 s. A cluster suite cannot skip (its
/// tests share one cluster), so a missing broker fails it whether or not
/// `FUNCMESH_REQUIRE_BROKERS` is set; this only makes the failure quick
/// and clear rather than a cluster that never comes up.
fn require_broker(base: &str) {
    let authority = base.split_once("://").map_or(base, |(_, rest)| rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, at)| at);
    let addr = authority.split(['/', '?']).next().unwrap_or(authority);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "no broker answers on {addr} for {base} (./scripts/test starts RabbitMQ, NATS and Kafka)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `request`, Ok with the JSON body on a 200.
async fn try_get(request: super::Call) -> Result<serde_json::Value, ()> {
    match tokio::time::timeout(Duration::from_secs(2), request.try_send()).await {
        Ok(Ok(resp)) if resp.status == 200 => {
            Ok(serde_json::from_slice(&resp.body).unwrap_or_default())
        }
        _ => Err(()),
    }
}

/// Copies a bundle as the tron would store it: packed, then unpacked (a
/// Rust func crate becomes its spec, manifest and built module).
fn copy_bundle(source: &Path, into: &Path) {
    let packed = funcmesh_core::bundle::pack_any(source)
        .unwrap_or_else(|e| panic!("packing {}: {e}", source.display()));
    let dir = into.join(&packed.bundle.name);
    funcmesh_core::bundle::unpack_to(&packed.bytes, &packed.bundle.hash, &dir).unwrap();
}

pub use funcmesh_testkit::free_port;

/// Spawns `command` from one thread that lives as long as the test binary,
/// with the child set to be killed when its parent thread ends: no test
/// run leaves processes behind, however it ends.
fn spawn_outliving_tests(command: Command) -> Child {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static KEEPER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for (mut command, reply) in rx {
                use std::os::unix::process::CommandExt as _;
                // SAFETY: prctl is async-signal-safe; nothing else runs
                // between fork and exec.
                unsafe {
                    command.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                let _ = reply.send(command.spawn());
            }
        });
        Mutex::new(tx)
    });
    let (tx, rx) = mpsc::channel();
    keeper.lock().unwrap().send((command, tx)).unwrap();
    rx.recv().unwrap().expect("spawning funcmesh")
}

/// Runs `work` to its end on a thread and runtime of its own: the clean-up
/// runs from `Drop`, which may be inside the tests' runtime.
fn apart(work: impl Future<Output = Option<()>> + Send + 'static) {
    let running = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(work)
    });
    let _ = running.join();
}
