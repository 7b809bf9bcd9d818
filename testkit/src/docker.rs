//! The Docker engine for tests: the images of `compose/` built from this
//! machine's packages (`scripts/images`), compose projects and swarm stacks
//! that are taken down however the test ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Whether the engine answers. Without it: `false` and a SKIPPED line, or
/// a failure when brokers are required (`FUNCMESH_REQUIRE_BROKERS`).
pub fn engine() -> bool {
    let answers = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|output| output.status.success());
    if !answers {
        let how = "start the Docker engine (docker info must answer)";
        assert!(
            !crate::brokers_required(),
            "the Docker engine does not answer and FUNCMESH_REQUIRE_BROKERS is set ({how})"
        );
        eprintln!("SKIPPED: the Docker engine does not answer ({how})");
    }
    answers
}

/// Runs `program args` and returns its output.
fn run(program: &str, args: &[&str], env: &[(String, String)], dir: Option<&Path>) -> Output {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null());
    command.envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

/// Panics with the command and its output unless it succeeded; stdout.
fn ok(what: &str, output: Output) -> String {
    assert!(
        output.status.success(),
        "{what}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `docker ARGS`, its output.
pub fn docker(args: &[&str]) -> Output {
    run("docker", args, &[], None)
}

/// `docker ARGS`, which must succeed; its standard output.
pub fn docker_ok(args: &[&str]) -> String {
    ok(&format!("docker {}", args.join(" ")), docker(args))
}

/// What the containers of a service logged (`docker service logs`, which
/// must succeed), both streams: funcmesh logs to standard error, which
/// docker replays on its own standard error.
pub fn service_logs(service: &str) -> String {
    let output = docker(&["service", "logs", "--raw", service]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = ok(&format!("docker service logs {service}"), output);
    stdout + &stderr
}

/// Builds the images of `compose/` that `names` lists with
/// `scripts/images` (which keeps those already built), the funcmesh ones
/// holding `binary`.
pub fn images(root: &Path, binary: &Path, names: &[&str]) {
    let script = root.join("scripts/images");
    let binary = binary.display().to_string();
    let mut args = vec!["--binary", binary.as_str()];
    args.extend_from_slice(names);
    let output = Command::new(&script)
        .args(&args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "scripts/images failed: {}",
        output.status
    );
}

/// The compose tool: `docker compose` where the plugin is installed, else
/// the standalone `docker-compose`.
fn compose_tool() -> &'static [&'static str] {
    static TOOL: OnceLock<&'static [&'static str]> = OnceLock::new();
    TOOL.get_or_init(|| {
        let plugin = Command::new("docker")
            .args(["compose", "version"])
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|output| output.status.success());
        match plugin {
            true => &["docker", "compose"],
            false => &["docker-compose"],
        }
    })
}

/// A compose project of `compose/`, under a name of its own, taken down
/// with its volumes when dropped (its containers' logs printed first if
/// the test is failing).
#[derive(Debug)]
pub struct Compose {
    /// The project's name.
    pub project: String,
    dir: PathBuf,
    files: Vec<String>,
    env: Vec<(String, String)>,
}

impl Compose {
    /// The project `project` of the compose `files` in `dir`, with `env`
    /// for the files' variables.
    pub fn new(dir: &Path, project: &str, files: &[&str], env: &[(&str, String)]) -> Self {
        Self {
            project: project.to_owned(),
            dir: dir.to_path_buf(),
            files: files.iter().map(|file| (*file).to_owned()).collect(),
            env: env
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
        }
    }

    /// `docker compose -p PROJECT -f FILE... ARGS`, its output.
    pub fn run(&self, args: &[&str]) -> Output {
        let tool = compose_tool();
        let mut all: Vec<&str> = tool[1..].to_vec();
        all.extend(["-p", &self.project]);
        for file in &self.files {
            all.extend(["-f", file]);
        }
        all.extend_from_slice(args);
        run(tool[0], &all, &self.env, Some(&self.dir))
    }

    /// Like [`run`](Self::run), which must succeed; standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        ok(
            &format!("compose -p {} {}", self.project, args.join(" ")),
            self.run(args),
        )
    }

    /// The ids of the running containers of `service`.
    pub fn containers(&self, service: &str) -> Vec<String> {
        self.ok(&["ps", "-q", service])
            .lines()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .filter(|id| {
                docker(&["inspect", "--format", "{{.State.Running}}", id])
                    .stdout
                    .starts_with(b"true")
            })
            .collect()
    }

    /// What the engine still holds of the project: containers, volumes
    /// and networks labelled with its name.
    pub fn leftovers(&self) -> Vec<String> {
        let label = format!("com.docker.compose.project={}", self.project);
        labelled(&["container", "volume", "network"], &label)
            .unwrap_or_else(|| panic!("listing what the engine holds of {}", self.project))
    }

    /// `down` with the volumes and orphans.
    pub fn down(&self) {
        let output = self.run(&["down", "--volumes", "--remove-orphans", "--timeout", "10"]);
        if !output.status.success() {
            eprintln!(
                "compose down of {}: {}",
                self.project,
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.run(&["logs", "--no-color", "--tail", "80"]);
            eprintln!(
                "---- logs of compose project {} ----\n{}{}",
                self.project,
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        self.down();
    }
}

/// This engine as a one-node swarm: initialised (on loopback) if it was
/// not, and left again when dropped in that case only.
#[derive(Debug)]
pub struct OneNodeSwarm {
    initialised_here: bool,
    /// Whether `swarm init` made the `docker_gwbridge` network, which
    /// `swarm leave` keeps.
    made_gwbridge: bool,
}

impl OneNodeSwarm {
    /// Makes sure the engine is a swarm manager.
    pub fn ensure() -> Self {
        let state = docker_ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        match state.trim() {
            "active" => Self {
                initialised_here: false,
                made_gwbridge: false,
            },
            _ => {
                let had_gwbridge = docker(&["network", "inspect", "docker_gwbridge"])
                    .status
                    .success();
                docker_ok(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
                Self {
                    initialised_here: true,
                    made_gwbridge: !had_gwbridge,
                }
            }
        }
    }
}

impl Drop for OneNodeSwarm {
    fn drop(&mut self) {
        if self.initialised_here {
            let output = docker(&["swarm", "leave", "--force"]);
            if !output.status.success() {
                eprintln!(
                    "docker swarm leave: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            if self.made_gwbridge {
                let _ = docker(&["network", "rm", "docker_gwbridge"]);
            }
        }
    }
}

/// A stack deployed with `docker stack deploy`, removed when dropped (its
/// services' logs printed first if the test is failing), waiting until
/// its containers and networks are gone.
#[derive(Debug)]
pub struct Stack {
    /// The stack's name, which prefixes its services' (`NAME_runner`).
    pub name: String,
}

impl Stack {
    /// Deploys `file` as the stack `name`, with `env` for the file's
    /// variables.
    pub fn deploy(file: &Path, name: &str, env: &[(&str, String)]) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect();
        let file = file.display().to_string();
        ok(
            &format!("docker stack deploy -c {file} {name}"),
            run(
                "docker",
                &["stack", "deploy", "-c", &file, name],
                &env,
                None,
            ),
        );
        Self {
            name: name.to_owned(),
        }
    }

    /// The stack's service `service` (`NAME_service`).
    pub fn service(&self, service: &str) -> String {
        format!("{}_{service}", self.name)
    }

    fn remains(&self) -> bool {
        labelled(&["container", "network"], &self.label()).is_some_and(|left| !left.is_empty())
    }

    /// The label the engine puts on everything of the stack.
    fn label(&self) -> String {
        format!("com.docker.stack.namespace={}", self.name)
    }
}

/// The objects of each of `kinds` (`container`, `volume`, `network`) that
/// carry `label` (`KEY=VALUE`), as `KIND ID`; `None` when docker fails.
fn labelled(kinds: &[&str], label: &str) -> Option<Vec<String>> {
    let filter = format!("label={label}");
    let mut found = Vec::new();
    for kind in kinds {
        let mut args = vec![*kind, "ls", "-q", "--filter", filter.as_str()];
        if *kind == "container" {
            args.insert(2, "-a");
        }
        let output = docker(&args);
        if !output.status.success() {
            return None;
        }
        found.extend(
            String::from_utf8_lossy(&output.stdout)
                .split_whitespace()
                .map(|id| format!("{kind} {id}")),
        );
    }
    Some(found)
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for service in ["tron", "gateway", "runner"] {
                let logs = docker(&["service", "logs", "--tail", "60", &self.service(service)]);
                eprintln!(
                    "---- logs of {} ----\n{}{}",
                    self.service(service),
                    String::from_utf8_lossy(&logs.stdout),
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
        }
        let _ = docker(&["stack", "rm", &self.name]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while self.remains() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        // `stack rm` leaves the stack's volumes.
        for volume in labelled(&["volume"], &self.label()).unwrap_or_default() {
            if let Some(id) = volume.strip_prefix("volume ") {
                let _ = docker(&["volume", "rm", id]);
            }
        }
    }
}
