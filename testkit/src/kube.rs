//! A real Kubernetes API server for tests: Debian's `kube-apiserver` with
//! Debian's `etcd`, both on loopback ports of their own, with RBAC and
//! token authentication. `scripts/setup.sh` (`ensure_kube_apiserver`)
//! builds the server once per machine and exports where both are.
//!
//! There is no kubelet, scheduler or controller manager: what the tests
//! see is what the API server decides (admission, validation, RBAC, the
//! scale subresource, conflicts), never a running pod.

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The token of the harness's administrator (`system:masters`).
pub const ADMIN_TOKEN: &str = "funcmesh-test-admin-token";
/// The token of a user no Role grants anything.
pub const NOBODY_TOKEN: &str = "funcmesh-test-nobody-token";

/// An etcd and a kube-apiserver that live as long as this value (and die
/// with the test process, however it ends).
#[derive(Debug)]
pub struct KubeApiServer {
    dir: tempfile::TempDir,
    etcd: Child,
    server: Option<Child>,
    binary: PathBuf,
    etcd_port: u16,
    /// Where the API server answers, `https://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
}

/// The binaries, from `FUNCMESH_KUBE_APISERVER` and `FUNCMESH_ETCD`, or
/// where `scripts/setup.sh` puts them; `None` when either is missing.
pub fn binaries() -> Option<(PathBuf, PathBuf)> {
    let server = std::env::var_os("FUNCMESH_KUBE_APISERVER")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            let cache = std::env::var_os("FUNCMESH_CACHE")
                .map_or_else(|| Path::new(&home).join(".cache/funcmesh"), PathBuf::from);
            Some(cache.join("kube-apiserver-1.20.2/kube-apiserver"))
        })?;
    let etcd = std::env::var_os("FUNCMESH_ETCD")
        .map(PathBuf::from)
        .or_else(|| which("etcd"))?;
    (server.is_file() && etcd.is_file()).then_some((server, etcd))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

impl KubeApiServer {
    /// Starts etcd and the API server and waits until the server answers
    /// `/healthz`. Without the binaries: `None` and a SKIPPED line, or a
    /// failure when brokers are required.
    pub fn start() -> Option<Self> {
        let Some((binary, etcd_binary)) = binaries() else {
            let how = "run `. scripts/setup.sh && ensure_kube_apiserver`";
            assert!(
                !crate::brokers_required(),
                "no kube-apiserver or etcd on this machine and FUNCMESH_REQUIRE_BROKERS is set ({how})"
            );
            eprintln!("SKIPPED: no kube-apiserver or etcd on this machine ({how})");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("funcmesh-kube-")
            .tempdir()
            .unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        let path = dir.path();
        let port = || crate::free_port().port();
        let (etcd_port, peer_port, port) = (port(), port(), port());
        let etcd = spawn(
            Command::new(&etcd_binary)
                .arg("--data-dir")
                .arg(path.join("etcd"))
                .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
                .arg(format!(
                    "--advertise-client-urls=http://127.0.0.1:{etcd_port}"
                ))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
                .arg(format!(
                    "--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"
                ))
                .arg(format!(
                    "--initial-cluster=default=http://127.0.0.1:{peer_port}"
                )),
            &path.join("etcd.log"),
        );
        wait_for_port(
            etcd_port,
            Duration::from_secs(30),
            "etcd",
            &path.join("etcd.log"),
        );
        let status = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(path.join("sa.key"))
            .arg("2048")
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("running openssl: {e}"));
        assert!(status.success(), "openssl genrsa failed");
        std::fs::write(
            path.join("tokens.csv"),
            format!("{ADMIN_TOKEN},admin,1,system:masters\n{NOBODY_TOKEN},nobody,2\n"),
        )
        .unwrap_or_else(|e| panic!("writing the token file: {e}"));
        let mut server = Self {
            dir,
            etcd,
            server: None,
            binary,
            etcd_port,
            url: format!("https://127.0.0.1:{port}"),
            port,
        };
        server.start_server();
        Some(server)
    }

    /// The harness's directory (kubeconfigs, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the API server (again), on the same port and etcd, and waits
    /// until it answers.
    pub fn start_server(&mut self) {
        let path = self.dir.path().to_owned();
        let child = spawn(
            Command::new(&self.binary)
                .arg(format!(
                    "--etcd-servers=http://127.0.0.1:{}",
                    self.etcd_port
                ))
                .arg(format!("--secure-port={}", self.port))
                .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
                .arg(format!("--cert-dir={}", path.join("certs").display()))
                .arg(format!(
                    "--token-auth-file={}",
                    path.join("tokens.csv").display()
                ))
                .arg("--authorization-mode=RBAC")
                .arg("--service-account-issuer=https://kubernetes.default.svc")
                .arg(format!(
                    "--service-account-key-file={}",
                    path.join("sa.key").display()
                ))
                .arg(format!(
                    "--service-account-signing-key-file={}",
                    path.join("sa.key").display()
                ))
                .arg("--service-cluster-ip-range=10.96.0.0/24")
                .arg("--enable-priority-and-fairness=false"),
            &path.join("kube-apiserver.log"),
        );
        self.server = Some(child);
        let admin = self.kubeconfig("admin", ADMIN_TOKEN, "default");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let output = kubectl(&admin, &["get", "--raw", "/readyz"]);
            if output.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver did not become ready within 120 s: {}; see {}",
                String::from_utf8_lossy(&output.stderr),
                path.join("kube-apiserver.log").display()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Stops the API server (etcd keeps the state), as an outage would.
    pub fn stop_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Writes a kubeconfig for `token` whose context's namespace is
    /// `namespace`; its path. The server's certificate is self-signed, so
    /// the kubeconfig skips its verification (loopback only).
    pub fn kubeconfig(&self, name: &str, token: &str, namespace: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.kubeconfig"));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {url}\n    insecure-skip-tls-verify: true\n\
             users:\n- name: {name}\n  user:\n    token: {token}\n\
             contexts:\n- name: {name}\n  context:\n    cluster: test\n    user: {name}\n    namespace: {namespace}\n\
             current-context: {name}\n",
            url = self.url
        );
        let mut file =
            std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// The administrator's kubeconfig (namespace `default`).
    pub fn admin(&self) -> PathBuf {
        self.kubeconfig("admin", ADMIN_TOKEN, "default")
    }
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        self.stop_server();
        let _ = self.etcd.kill();
        let _ = self.etcd.wait();
    }
}

/// `kubectl kustomize` of the overlay at `dir`, written to the harness's
/// directory as the 1.20 API server here takes it; its path. That server
/// predates `policy/v1` (Kubernetes 1.21), so a PodDisruptionBudget goes to
/// it as `policy/v1beta1`, whose fields are the same; everything else is
/// sent as rendered.
pub fn render_for_old_server(server: &KubeApiServer, dir: &Path) -> PathBuf {
    let dir_text = dir
        .to_str()
        .unwrap_or_else(|| panic!("{}: not UTF-8", dir.display()));
    let yaml = kubectl_ok(&server.admin(), &["kustomize", dir_text])
        .replace("apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n");
    let name = dir
        .file_name()
        .map_or("overlay".into(), |n| n.to_string_lossy());
    let path = server.dir().join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// `spec.replicas` of a Deployment, as the administrator reads it.
pub fn replicas_of(server: &KubeApiServer, namespace: &str, deployment: &str) -> u64 {
    let jsonpath = "jsonpath={.spec.replicas}";
    let args = [
        "-n",
        namespace,
        "get",
        "deployment",
        deployment,
        "-o",
        jsonpath,
    ];
    let text = kubectl_ok(&server.admin(), &args);
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("spec.replicas of {deployment}: {text:?}: {e}"))
}

/// Runs kubectl with `kubeconfig`; its output, whatever its status.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running kubectl: {e}"))
}

/// Runs kubectl and panics with its output unless it succeeds; stdout.
pub fn kubectl_ok(kubeconfig: &Path, args: &[&str]) -> String {
    let output = kubectl(kubeconfig, args);
    assert!(
        output.status.success(),
        "kubectl {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts `command` with its output in `log`, killed when the test process
/// dies (the kernel sends it SIGKILL then).
fn spawn(command: &mut Command, log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let err = file
        .try_clone()
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {:?}: {e}", command.get_program()))
}

fn wait_for_port(port: u16, timeout: Duration, what: &str, log: &Path) {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within {timeout:?}; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
