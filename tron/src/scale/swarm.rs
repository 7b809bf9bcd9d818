//! The Docker Swarm orchestrator (`--scaler swarm`): each pool's runners
//! are one replicated Swarm service, scaled through the Docker Engine API
//! of a manager node.
//!
//! - **The engine**: its Unix socket (`/var/run/docker.sock`, or
//!   `DOCKER_HOST=unix://...`), reached at the first call and not before,
//!   so that an engine down at start is retried as any other failure. The
//!   API version is negotiated with the engine then (the client's newest,
//!   or the engine's if older: 1.41 for Docker 20.10) and logged. bollard
//!   0.21 sends its requests without a `/vX.Y` prefix, which an engine
//!   answers in its own API version; only fields every version since 1.41
//!   has are read or changed here.
//! - **Finding a pool's service**: named for the pool by
//!   [`SwarmOptions::services`], or else the one service that carries the
//!   label `funcmesh.dev/pool=POOL` (in a stack file, under
//!   `deploy.labels`; `docker stack deploy` prefixes service names with the
//!   stack's, which the label does not care about). None, or more than
//!   one, is an error naming the filter.
//! - **Reading**: the service's `Spec.Mode.Replicated.Replicas` is the
//!   desired count; the ready ones are its tasks in state `running` (a task
//!   whose image has a health check is `running` only once healthy).
//! - **Setting**: the service is inspected, and its whole spec is sent back
//!   with the new `Replicas` and the version index it was read at, so that
//!   nothing else of the service changes and a concurrent change is not
//!   overwritten: the engine refuses an update at an old version (`update
//!   out of sequence`), and the write is tried again from a fresh read, up
//!   to [`WRITE_ATTEMPTS`] times, then reported as a conflict.
//! - **Errors**: a missing socket or an engine that does not answer, 404
//!   (no such service), a socket the tron may not open, an engine that is
//!   not a swarm manager, become [`ScaleError`]s; the scaler logs each once
//!   and retries with backoff, and the pool keeps the runners it has.
//!
//! Access to the Docker socket is access to the host as root: whoever can
//! call the engine can start a privileged container with the host's
//! filesystem mounted. Give it to the tron alone, on manager nodes, and
//! see docs/scaling.md.

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::models::{ServiceSpecMode, ServiceSpecModeReplicated, TaskState};
use bollard::query_parameters::{
    InspectServiceOptions, ListServicesOptions, ListTasksOptions, UpdateServiceOptions,
};
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use super::adapter::{BoxFuture, Orchestrator, Replicas, ScaleError};
use super::kubernetes::POOL_LABEL;

/// The engine's socket when neither the options nor `DOCKER_HOST` name one.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// How many times a write is tried when the service changed under it.
pub const WRITE_ATTEMPTS: usize = 3;
/// Seconds a call to the engine may take.
const TIMEOUT_SECS: u64 = 30;

/// Where the Swarm orchestrator finds the engine and the pools' services.
#[derive(Debug, Clone, Default)]
pub struct SwarmOptions {
    /// The engine's socket, as a path or `unix://PATH`; without it,
    /// `DOCKER_HOST` when that is a `unix://` URL, else [`DEFAULT_SOCKET`].
    pub socket: Option<String>,
    /// Services named for pools (pool -> service); other pools are found
    /// by their label.
    pub services: BTreeMap<String, String>,
    /// The label whose value names a service's pool ([`POOL_LABEL`] when
    /// empty).
    pub pool_label: Option<String>,
}

/// Runner pools as replicated services of a swarm.
pub struct Swarm {
    socket: String,
    docker: OnceCell<Docker>,
    named: BTreeMap<String, String>,
    label: String,
    /// Per pool, its service's name once found by label.
    found: Mutex<BTreeMap<String, String>>,
}

impl std::fmt::Debug for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swarm")
            .field("socket", &self.socket)
            .field("named", &self.named)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Swarm {
    /// The orchestrator as [`SwarmOptions`] say; a socket that is not a
    /// Unix one (`tcp://`, `ssh://`) is refused here.
    pub fn new(options: SwarmOptions) -> anyhow::Result<Self> {
        let socket = match options.socket {
            Some(socket) => socket,
            None => std::env::var("DOCKER_HOST")
                .ok()
                .filter(|host| !host.is_empty())
                .unwrap_or_else(|| DEFAULT_SOCKET.to_owned()),
        };
        let path = socket.strip_prefix("unix://").unwrap_or(&socket);
        anyhow::ensure!(
            path.starts_with('/'),
            "the Docker engine's socket must be a Unix socket path or unix:///PATH, not {socket:?} \
             (the swarm scaler speaks to a manager's engine through its socket only)"
        );
        let label = options
            .pool_label
            .filter(|label| !label.is_empty())
            .unwrap_or_else(|| POOL_LABEL.to_owned());
        Ok(Self {
            socket: path.to_owned(),
            docker: OnceCell::new(),
            named: options.services,
            label,
            found: Mutex::new(BTreeMap::new()),
        })
    }

    /// The socket it speaks to.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// The client, connected and its API version negotiated at the first
    /// call that succeeds.
    async fn docker(&self) -> Result<&Docker, ScaleError> {
        self.docker
            .get_or_try_init(|| async {
                let docker = Docker::connect_with_unix(
                    &self.socket,
                    TIMEOUT_SECS,
                    bollard::API_DEFAULT_VERSION,
                )
                .map_err(|error| self.error("", error))?;
                let docker = docker
                    .negotiate_version()
                    .await
                    .map_err(|error| self.error("", error))?;
                let version = docker.client_version();
                tracing::info!(socket = %self.socket, api = %version, "Docker engine reached");
                Ok(docker)
            })
            .await
    }

    /// The pool's service: named, found before, or found now by label.
    async fn service(&self, pool: &str) -> Result<String, ScaleError> {
        if let Some(name) = self.named.get(pool) {
            return Ok(name.clone());
        }
        if let Some(name) = self.found.lock().get(pool) {
            return Ok(name.clone());
        }
        let docker = self.docker().await?;
        let filter = format!("{}={pool}", self.label);
        let filters = HashMap::from([("label".to_owned(), vec![filter.clone()])]);
        let services = docker
            .list_services(Some(ListServicesOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|error| self.error(pool, error))?;
        let mut names: Vec<String> = services
            .into_iter()
            .filter_map(|service| service.spec.and_then(|spec| spec.name))
            .collect();
        match names.len() {
            1 => {
                let name = names.remove(0);
                tracing::info!(pool, service = %name, "runner service found");
                self.found.lock().insert(pool.to_owned(), name.clone());
                Ok(name)
            }
            0 => Err(ScaleError::NotFound {
                pool: pool.to_owned(),
                detail: format!("no service labelled {filter}"),
            }),
            _ => Err(ScaleError::Other(format!(
                "{} services labelled {filter} ({}): label one, or name it with \
                 --swarm-service {pool}=NAME",
                names.len(),
                names.join(", ")
            ))),
        }
    }

    /// A bollard error as a [`ScaleError`]; a 404 also forgets the pool's
    /// service, so that one labelled later is found.
    fn error(&self, pool: &str, error: bollard::errors::Error) -> ScaleError {
        let scale_error = scale_error(pool, &self.socket, error);
        if matches!(scale_error, ScaleError::NotFound { .. }) {
            self.found.lock().remove(pool);
        }
        scale_error
    }

    async fn read(&self, pool: &str) -> Result<Replicas, ScaleError> {
        let name = self.service(pool).await?;
        let docker = self.docker().await?;
        let service = docker
            .inspect_service(&name, None::<InspectServiceOptions>)
            .await
            .map_err(|error| self.error(pool, error))?;
        let mode = service.spec.and_then(|spec| spec.mode);
        let desired = replicated(&name, mode.as_ref())?
            .replicas
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let filters = HashMap::from([
            ("service".to_owned(), vec![name.clone()]),
            ("desired-state".to_owned(), vec!["running".to_owned()]),
        ]);
        let tasks = docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|error| self.error(pool, error))?;
        let ready = tasks
            .iter()
            .filter(|task| {
                task.status
                    .as_ref()
                    .and_then(|status| status.state)
                    .is_some_and(|state| state == TaskState::RUNNING)
            })
            .count();
        Ok(Replicas {
            desired,
            ready: u32::try_from(ready).unwrap_or(u32::MAX),
        })
    }

    async fn write(&self, pool: &str, desired: u32) -> Result<(), ScaleError> {
        let name = self.service(pool).await?;
        let docker = self.docker().await?;
        let mut conflict = String::new();
        for attempt in 1..=WRITE_ATTEMPTS {
            let service = docker
                .inspect_service(&name, None::<InspectServiceOptions>)
                .await
                .map_err(|error| self.error(pool, error))?;
            let index = service.version.and_then(|version| version.index);
            let version = index
                .and_then(|index| i32::try_from(index).ok())
                .ok_or_else(|| {
                    ScaleError::Other(format!(
                        "service {name}: version index {index:?} is missing or above what the \
                         Docker client can send back (2^31)"
                    ))
                })?;
            let mut spec = service.spec.ok_or_else(|| {
                ScaleError::Other(format!("service {name}: the engine returned no spec"))
            })?;
            replicated(&name, spec.mode.as_ref())?;
            spec.mode = Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(i64::from(desired)),
                }),
                ..Default::default()
            });
            let options = UpdateServiceOptions {
                version,
                ..Default::default()
            };
            match docker.update_service(&name, spec, options, None).await {
                Ok(response) => {
                    for warning in response.warnings.unwrap_or_default() {
                        tracing::warn!(pool, service = %name, "Docker engine: {warning}");
                    }
                    return Ok(());
                }
                Err(error) => match self.error(pool, error) {
                    ScaleError::Conflict(detail) => {
                        tracing::debug!(pool, service = %name, attempt, "{detail}; reading it again");
                        conflict = detail;
                    }
                    other => return Err(other),
                },
            }
        }
        Err(ScaleError::Conflict(format!(
            "service {name} changed under each of {WRITE_ATTEMPTS} writes: {conflict}"
        )))
    }
}

/// The replicated mode of a service; a global or job service cannot be
/// scaled to a count.
fn replicated<'a>(
    name: &str,
    mode: Option<&'a ServiceSpecMode>,
) -> Result<&'a ServiceSpecModeReplicated, ScaleError> {
    mode.and_then(|mode| mode.replicated.as_ref()).ok_or_else(|| {
        ScaleError::Other(format!(
            "service {name} is not a replicated service (global or a job): it has no replica count to scale"
        ))
    })
}

impl Orchestrator for Swarm {
    fn name(&self) -> &'static str {
        "swarm"
    }

    fn replicas<'a>(&'a self, pool: &'a str) -> BoxFuture<'a, Result<Replicas, ScaleError>> {
        Box::pin(self.read(pool))
    }

    fn scale<'a>(&'a self, pool: &'a str, desired: u32) -> BoxFuture<'a, Result<(), ScaleError>> {
        Box::pin(self.write(pool, desired))
    }
}

/// What the engine (or the way to it) answered, as a [`ScaleError`].
fn scale_error(pool: &str, socket: &str, error: bollard::errors::Error) -> ScaleError {
    use bollard::errors::Error;
    match error {
        Error::DockerResponseServerError {
            status_code,
            message,
        } => match status_code {
            404 => ScaleError::NotFound {
                pool: pool.to_owned(),
                detail: message,
            },
            401 | 403 => ScaleError::Forbidden(message),
            // The engine's answer to an update at an old version index.
            _ if message.contains("update out of sequence") => ScaleError::Conflict(message),
            503 => ScaleError::Other(format!(
                "{message} (the tron must reach the engine of a swarm manager node)"
            )),
            code if code >= 500 => ScaleError::Unreachable(format!("HTTP {code}: {message}")),
            code => ScaleError::Other(format!("HTTP {code}: {message}")),
        },
        Error::SocketNotFoundError(path) => {
            ScaleError::Unreachable(format!("no Docker engine socket at {path}"))
        }
        Error::IOError { err } if err.kind() == std::io::ErrorKind::PermissionDenied => {
            ScaleError::Forbidden(format!(
                "{socket}: {err} (the tron may not open the Docker socket)"
            ))
        }
        Error::RequestTimeoutError => ScaleError::Unreachable(format!(
            "the Docker engine at {socket} did not answer within {TIMEOUT_SECS} s"
        )),
        other @ (Error::IOError { .. }
        | Error::HyperResponseError { .. }
        | Error::HyperLegacyError { .. }) => ScaleError::Unreachable(format!(
            "{socket}: {}",
            funcmesh_core::errors::chain(&other)
        )),
        other => ScaleError::Other(funcmesh_core::errors::chain(&other)),
    }
}

#[cfg(test)]
mod tests;
