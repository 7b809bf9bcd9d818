//! The nodes wired to each other: the pieces that join two components'
//! crates, so that `funcmesh dev` and the cluster commands compose the
//! same nodes the same way.

use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};

use funcmesh_core::bundle::{self, Bundle};
use funcmesh_runner::{BundleSource, PythonConfig, Runner, SourceError};
use funcmesh_tron::{Prepare, TronNode};

/// A tron's check before a Python bundle goes live: it imports once in a
/// worker, so that a version that does not import is refused and the one
/// live keeps serving (its runners would refuse it anyway).
pub struct PythonImportCheck(pub PythonConfig);

impl Prepare for PythonImportCheck {
    fn prepare(
        &self,
        bundle: Arc<Bundle>,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
        Box::pin(async move {
            let python = &self.0;
            if !matches!(bundle.code, bundle::Code::Python { .. }) || python.worker.is_none() {
                return Ok(());
            }
            funcmesh_runner::python::check(bundle, python).await?;
            Ok(())
        })
    }
}

/// In one process: a bundle goes live only once the runner beside the tron
/// has it installed (compiled, or its Python workers started), so the
/// first request after a save never waits for that.
pub struct InstallInRunner(pub Runner);

impl Prepare for InstallInRunner {
    fn prepare(
        &self,
        bundle: Arc<Bundle>,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
        Box::pin(async move {
            self.0.install(bundle).await?;
            Ok(())
        })
    }

    fn discard(&self, hash: &str) {
        self.0.retire(hash);
    }
}

/// In one process: the runner takes a version it has not installed from
/// the tron's registry in memory, not from its store over HTTP.
#[derive(Default)]
pub struct TronInProcess(OnceLock<Weak<TronNode>>);

impl TronInProcess {
    /// Serves `tron`'s bundles from now on.
    pub fn set(&self, tron: &Arc<TronNode>) {
        let _ = self.0.set(Arc::downgrade(tron));
    }
}

impl BundleSource for TronInProcess {
    fn bundle(
        &self,
        hash: &str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<Bundle>, SourceError>> + Send + '_>> {
        let found = self
            .0
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| SourceError::from("the tron is not running"))
            .and_then(|tron| {
                tron.registry()
                    .bundles()
                    .into_iter()
                    .find(|b| b.hash == hash)
                    .ok_or_else(|| SourceError::from(format!("no live bundle has hash {hash}")))
            });
        Box::pin(std::future::ready(found))
    }
}
