//! The Kubernetes orchestrator (`--scaler kubernetes`): each pool's runners
//! are one Deployment in the tron's namespace, scaled through its `scale`
//! subresource and nothing else.
//!
//! - **Finding a pool's Deployment**: named for the pool by
//!   [`KubernetesOptions::deployments`], or else the one Deployment that
//!   carries the label `funcmesh.dev/pool=POOL` (the label key can be
//!   changed). None, or more than one, is an error naming the selector.
//! - **Reading**: `GET .../deployments/NAME/scale` gives the desired
//!   replicas (`spec.replicas`) and the resource version; the ready ones are
//!   the Deployment's `status.readyReplicas`.
//! - **Setting**: `PUT .../deployments/NAME/scale` with the scale object
//!   last read and the new `spec.replicas`. Its resource version makes the
//!   write conditional: when someone else scaled the Deployment since the
//!   read, the API server answers 409, the scaler logs it and decides again
//!   at its next tick from a fresh read, instead of overwriting a change it
//!   has not seen.
//! - **Errors**: 404 (no such Deployment), 403 (the tron's identity may not
//!   do that), 409 and an unreachable API server become [`ScaleError`]s;
//!   the scaler logs each once and retries with backoff, and the pool keeps
//!   the runners it has.
//!
//! The identity the tron needs: `get`, `list` on `deployments` and `get`,
//! `update` on `deployments/scale` in its namespace (`k8s/` binds exactly
//! that, with `patch` for `kubectl scale`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v1::Scale;
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use parking_lot::Mutex;

use super::adapter::{BoxFuture, Orchestrator, Replicas, ScaleError};

/// The label that marks a pool's runner Deployment, by default.
pub const POOL_LABEL: &str = "funcmesh.dev/pool";

/// Where the Kubernetes orchestrator finds its cluster and Deployments.
#[derive(Debug, Clone, Default)]
pub struct KubernetesOptions {
    /// A kubeconfig file; without it, the usual inference: `KUBECONFIG`
    /// or `~/.kube/config`, else the pod's service account in a cluster.
    pub kubeconfig: Option<PathBuf>,
    /// The namespace of the runner Deployments; without it, the
    /// kubeconfig context's, or the pod's own in a cluster.
    pub namespace: Option<String>,
    /// Deployments named for pools (pool -> Deployment); other pools are
    /// found by their label.
    pub deployments: BTreeMap<String, String>,
    /// The label whose value names a Deployment's pool ([`POOL_LABEL`]
    /// when empty).
    pub pool_label: Option<String>,
}

/// Runner pools as Deployments of one namespace.
pub struct Kubernetes {
    api: Api<Deployment>,
    namespace: String,
    named: BTreeMap<String, String>,
    label: String,
    /// Per pool: its Deployment's name and the scale last read.
    found: Mutex<BTreeMap<String, Found>>,
}

#[derive(Clone)]
struct Found {
    name: String,
    scale: Option<Scale>,
}

impl std::fmt::Debug for Kubernetes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubernetes")
            .field("namespace", &self.namespace)
            .field("named", &self.named)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Kubernetes {
    /// Reads the cluster's configuration as [`KubernetesOptions`] say. No
    /// call reaches the API server yet: one that is down at start is
    /// retried as any other failure.
    pub async fn connect(options: KubernetesOptions) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let config = match &options.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
                Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .with_context(|| format!("using the kubeconfig {}", path.display()))?
            }
            None => Config::infer().await.context(
                "finding the Kubernetes API server (no --kubeconfig, no KUBECONFIG or \
                 ~/.kube/config, and not in a pod with a service account)",
            )?,
        };
        let namespace = options
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).context("making the Kubernetes client")?;
        Ok(Self::with_client(client, namespace, options))
    }

    /// The orchestrator on a client made elsewhere.
    pub fn with_client(client: Client, namespace: String, options: KubernetesOptions) -> Self {
        let label = options
            .pool_label
            .filter(|label| !label.is_empty())
            .unwrap_or_else(|| POOL_LABEL.to_owned());
        Self {
            api: Api::namespaced(client, &namespace),
            namespace,
            named: options.deployments,
            label,
            found: Mutex::new(BTreeMap::new()),
        }
    }

    /// The namespace of the runner Deployments.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The pool's Deployment: named, found before, or found now by label.
    async fn deployment(&self, pool: &str) -> Result<String, ScaleError> {
        if let Some(name) = self.named.get(pool) {
            return Ok(name.clone());
        }
        if let Some(found) = self.found.lock().get(pool) {
            return Ok(found.name.clone());
        }
        let selector = format!("{}={pool}", self.label);
        let list = self
            .api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|error| self.error(pool, error))?;
        let mut names: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|deployment| deployment.metadata.name)
            .collect();
        match names.len() {
            1 => {
                let name = names.remove(0);
                tracing::info!(pool, deployment = %name, namespace = %self.namespace, "runner Deployment found");
                Ok(name)
            }
            0 => Err(ScaleError::NotFound {
                pool: pool.to_owned(),
                detail: format!(
                    "no Deployment labelled {selector} in namespace {}",
                    self.namespace
                ),
            }),
            _ => Err(ScaleError::Other(format!(
                "{} Deployments labelled {selector} in namespace {} ({}): label one, \
                 or name it with --k8s-deployment {pool}=NAME",
                names.len(),
                self.namespace,
                names.join(", ")
            ))),
        }
    }

    /// Forgets what was read of the pool: its Deployment is looked up
    /// again, and the next write follows a fresh read.
    fn forget(&self, pool: &str) {
        self.found.lock().remove(pool);
    }

    /// A kube error as a [`ScaleError`]; a 404 also forgets the pool's
    /// Deployment, so that one labelled later is found.
    fn error(&self, pool: &str, error: kube::Error) -> ScaleError {
        let scale_error = scale_error(pool, &self.namespace, error);
        if matches!(scale_error, ScaleError::NotFound { .. }) {
            self.forget(pool);
        }
        scale_error
    }

    async fn read(&self, pool: &str) -> Result<Replicas, ScaleError> {
        let name = self.deployment(pool).await?;
        let scale = self
            .api
            .get_scale(&name)
            .await
            .map_err(|error| self.error(pool, error))?;
        let deployment = self
            .api
            .get(&name)
            .await
            .map_err(|error| self.error(pool, error))?;
        let desired = scale.spec.as_ref().and_then(|spec| spec.replicas);
        let ready = deployment
            .status
            .as_ref()
            .and_then(|status| status.ready_replicas);
        let replicas = Replicas {
            desired: count(desired),
            ready: count(ready),
        };
        self.found.lock().insert(
            pool.to_owned(),
            Found {
                name,
                scale: Some(scale),
            },
        );
        Ok(replicas)
    }

    async fn write(&self, pool: &str, desired: u32) -> Result<(), ScaleError> {
        let name = self.deployment(pool).await?;
        let last = self
            .found
            .lock()
            .get(pool)
            .and_then(|found| found.scale.clone());
        let mut scale = match last {
            Some(scale) => scale,
            None => self
                .api
                .get_scale(&name)
                .await
                .map_err(|error| self.error(pool, error))?,
        };
        let replicas = i32::try_from(desired).unwrap_or(i32::MAX);
        scale.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
        scale.status = None;
        match self
            .api
            .replace_scale(&name, &PostParams::default(), &scale)
            .await
        {
            Ok(written) => {
                self.found.lock().insert(
                    pool.to_owned(),
                    Found {
                        name,
                        scale: Some(written),
                    },
                );
                Ok(())
            }
            Err(error) => {
                // Whatever failed, the next write starts from a fresh read.
                if let Some(found) = self.found.lock().get_mut(pool) {
                    found.scale = None;
                }
                Err(self.error(pool, error))
            }
        }
    }
}

impl Orchestrator for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn replicas<'a>(&'a self, pool: &'a str) -> BoxFuture<'a, Result<Replicas, ScaleError>> {
        Box::pin(self.read(pool))
    }

    fn scale<'a>(&'a self, pool: &'a str, desired: u32) -> BoxFuture<'a, Result<(), ScaleError>> {
        Box::pin(self.write(pool, desired))
    }
}

/// A replica count from the API (never negative there) as a `u32`.
fn count(replicas: Option<i32>) -> u32 {
    replicas.map_or(0, |n| u32::try_from(n).unwrap_or(0))
}

/// What the API server (or the way to it) answered, as a [`ScaleError`].
fn scale_error(pool: &str, namespace: &str, error: kube::Error) -> ScaleError {
    match error {
        kube::Error::Api(status) => {
            let detail = format!("{} ({})", status.message, status.reason);
            match status.code {
                404 => ScaleError::NotFound {
                    pool: pool.to_owned(),
                    detail: format!("in namespace {namespace}: {detail}"),
                },
                401 | 403 => ScaleError::Forbidden(detail),
                409 => ScaleError::Conflict(detail),
                code if code >= 500 => ScaleError::Unreachable(format!("HTTP {code}: {detail}")),
                code => ScaleError::Other(format!("HTTP {code}: {detail}")),
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            ScaleError::Unreachable(funcmesh_core::errors::chain(&error))
        }
        other => ScaleError::Other(other.to_string()),
    }
}
