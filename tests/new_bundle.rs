//! A Func started outside this repository, as a new user starts one:
//! `funcmesh new rust|python` into a fresh temporary directory, served by
//! `funcmesh dev`, the template's requests sent (and an invalid body
//! refused), and the bundle's own tests run with cargo and pytest; and
//! `funcmesh invoke`'s output and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::root;

/// The pytest the repository's own suites use (scripts/setup.sh).
const PYTEST: &str = "pytest==9.2.0";

/// `program` as a user's shell starts it: without the variables cargo set
/// for this test (they would send a bundle's build elsewhere).
fn as_a_user(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "RUSTFLAGS" {
            command.env_remove(key.as_ref());
        }
    }
    command
}

fn funcmesh() -> Command {
    let mut command = as_a_user(env!("CARGO_BIN_EXE_funcmesh"));
    command.env("FUNCMESH_LOG", "info").env("NO_COLOR", "1");
    command
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("starting the command");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A fresh directory outside the repository that the Python workers'
/// user (`nobody`, when the tests run as root) can read.
fn outside() -> tempfile::TempDir {
    let tmp = tempfile::Builder::new()
        .prefix("funcmesh-new-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    assert!(!tmp.path().starts_with(root()));
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    tmp
}

/// `funcmesh dev DIR` on a port of its own, stopped when dropped.
struct Dev {
    child: Child,
    base: String,
}

impl Dev {
    /// Starts it and waits (a Rust bundle's first build included) for the
    /// line that says where it serves.
    fn start(dir: &Path) -> Self {
        let mut child = funcmesh()
            .args(["dev", "--listen", "127.0.0.1:0"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (found, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                seen.push_str(&line);
                seen.push('\n');
                if let Some((_, address)) = line.split_once("bundle(s) on ") {
                    let _ = found.send(Ok(address.trim().to_owned()));
                }
            }
            let _ = found.send(Err(seen));
        });
        let base = match lines.recv_timeout(Duration::from_secs(600)) {
            Ok(Ok(base)) => base,
            Ok(Err(log)) => panic!("funcmesh dev stopped:\n{log}"),
            Err(_) => panic!("funcmesh dev did not start within 10 minutes"),
        };
        Self { child, base }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `funcmesh invoke ARGS`: its exit code, stdout and stderr.
fn invoke(args: &[&str]) -> (i32, String, String) {
    let output = funcmesh().arg("invoke").args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The status line and body `invoke` printed.
fn status_and_body(stdout: &str) -> (String, serde_json::Value) {
    let status = stdout.lines().next().unwrap_or_default().to_owned();
    let body = stdout
        .split_once("\n\n")
        .map(|(_, body)| body)
        .unwrap_or("");
    let body = serde_json::from_str(body.trim()).unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// The template's three requests against `base` (`http://host:port`).
fn the_templates_requests_are_answered(base: &str, name: &str) {
    let (code, out, err) = invoke(&[&format!("{base}/{name}/hello?name=Ada")]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, body) = status_and_body(&out);
    assert_eq!(status, "HTTP/1.1 200 OK", "{out}");
    assert_eq!(body["greeting"], "Hello, Ada!", "{out}");
    assert!(out.contains("\nx-request-id: "), "{out}");

    let (code, out, err) = invoke(&[
        "-d",
        r#"{"name":"pen","quantity":3}"#,
        &format!("{base}/{name}/items"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, body) = status_and_body(&out);
    assert_eq!(status, "HTTP/1.1 201 Created", "{out}");
    assert_eq!(
        (&body["name"], &body["quantity"]),
        (&"pen".into(), &3.into()),
        "{out}"
    );

    // Refused by the spec before the function runs: no name, quantity 0.
    let (code, out, err) = invoke(&["-d", r#"{"quantity":0}"#, &format!("{base}/{name}/items")]);
    assert_eq!(code, 0, "a 4xx is an answer: {out}{err}");
    let (status, body) = status_and_body(&out);
    assert_eq!(status, "HTTP/1.1 400 Bad Request", "{out}");
    assert_eq!(body["error"], "invalid request", "{out}");
}

#[test]
fn a_new_rust_bundle_builds_serves_and_passes_its_tests_outside_the_repository() {
    let tmp = outside();
    let dir = tmp.path().join("shop");
    run(funcmesh().args(["new", "rust", "shop", "--dir"]).arg(&dir));
    let vendored = dir.join(format!("vendor/func-sdk-{}", env!("CARGO_PKG_VERSION")));
    assert!(vendored.join("src/lib.rs").is_file());
    assert!(dir.join(".cargo/config.toml").is_file());

    let started = Instant::now();
    let dev = Dev::start(&dir);
    eprintln!(
        "funcmesh dev built and served the new Rust bundle in {:.1?}",
        started.elapsed()
    );
    the_templates_requests_are_answered(&dev.base, "shop");
    drop(dev);

    let mut cargo_test = as_a_user(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let tested = run(cargo_test.args(["test", "--quiet"]).current_dir(&dir));
    let printed = String::from_utf8_lossy(&tested.stdout);
    assert!(printed.contains("3 passed"), "{printed}");
}

#[test]
fn a_new_python_bundle_serves_and_passes_its_tests_outside_the_repository() {
    let tmp = outside();
    let dir = tmp.path().join("price-quote");
    run(funcmesh()
        .args(["new", "python", "price-quote", "--dir"])
        .arg(&dir));
    assert!(dir.join("price_quote/api.py").is_file());

    let dev = Dev::start(&dir);
    the_templates_requests_are_answered(&dev.base, "price-quote");
    drop(dev);

    // pytest as the bundle's README says: the funcmesh package installed
    // into a virtualenv by the binary, pytest run in the bundle.
    let venv = tmp.path().join("venv");
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python).args(["-m", "venv"]).arg(&venv));
    let venv_python: PathBuf = venv.join("bin/python");
    run(Command::new(&venv_python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        PYTEST,
    ]));
    run(funcmesh()
        .args(["sdk", "python", "--pip", "--python"])
        .arg(&venv_python));
    let tested = run(Command::new(&venv_python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&dir));
    let printed = String::from_utf8_lossy(&tested.stdout);
    assert!(printed.contains("4 passed"), "{printed}");
    // From another directory too: the plugin finds the bundle by the tests' path.
    let tested = run(Command::new(&venv_python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(dir.join("tests"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(tmp.path()));
    assert!(String::from_utf8_lossy(&tested.stdout).contains("4 passed"));
}

#[test]
fn invoke_prints_the_answer_and_exits_by_its_status() {
    // A bundle directory, served in this process for the request.
    let petstore = root().join("swagger-examples/petstore");
    let petstore = petstore.to_str().unwrap();
    let (code, out, err) = invoke(&[petstore, "/petstore/pets/7"]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, body) = status_and_body(&out);
    assert_eq!(status, "HTTP/1.1 200 OK", "{out}");
    assert_eq!(body["id"], 7, "{out}");
    assert!(out.contains("\nx-funcmesh-bundle: "), "{out}");
    assert!(!out.contains(" INFO "), "logs stay on stderr: {out}");

    // 4xx: an answer, exit 0.
    let (code, out, _) = invoke(&[petstore, "/petstore/pets?limit=500"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");

    // 5xx: exit 1, and the request id on stderr.
    let faults = root().join("tests/fixtures/faults");
    let (code, out, err) = invoke(&[faults.to_str().unwrap(), "/faults/trap"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("HTTP/1.1 502 "), "{out}");
    assert!(err.contains("request id"), "{err}");

    // No answer at all: exit 2, saying why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (code, _, err) = invoke(&[&format!("http://127.0.0.1:{port}/x")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");

    // A body that cannot be read: no request, exit 2 (1 is a 5xx).
    let (code, _, err) = invoke(&["-d", "@/nonexistent/body.json", petstore, "/petstore/pets"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/body.json"), "{err}");

    // A directory without a path: what to do instead.
    let (code, _, err) = invoke(&[petstore]);
    assert_eq!(code, 2);
    assert!(err.contains("funcmesh check"), "{err}");
}

#[test]
fn the_version_names_the_commit_and_completions_are_printed() {
    let version = run(funcmesh().arg("--version"));
    let version = String::from_utf8_lossy(&version.stdout);
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let expected = format!(
        "funcmesh {} (commit {})",
        env!("CARGO_PKG_VERSION"),
        commit.as_deref().unwrap_or("unknown")
    );
    assert_eq!(version.trim(), expected);

    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef funcmesh"),
        ("fish", "complete -c funcmesh"),
    ] {
        let printed = run(funcmesh().args(["completions", shell]));
        let printed = String::from_utf8_lossy(&printed.stdout);
        assert!(printed.contains(marker), "{shell}: {printed}");
        assert!(
            printed.contains("invoke"),
            "{shell} completes the subcommands"
        );
    }
}
