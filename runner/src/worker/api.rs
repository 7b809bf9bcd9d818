//! A bundle's routes and checks, compiled once per bundle version.

use std::sync::Arc;

use funcmesh_core::bundle::{Bundle, Operation};

use super::stats::{FuncMetrics, RunnerStats};
use crate::matcher::Router;
use crate::validate::Validator;

/// The matcher and the validators of one bundle version.
pub struct Api {
    /// The bundle.
    pub bundle: Arc<Bundle>,
    /// Its path templates.
    pub router: Router,
    /// The metrics of its Func.
    pub(crate) metrics: FuncMetrics,
    validators: Vec<Validator>,
}

impl Api {
    /// Compiles the routes and validators of `bundle`, whose metrics are
    /// kept in `stats`.
    pub fn new(bundle: Arc<Bundle>, stats: &RunnerStats) -> Api {
        let router = Router::new(&bundle.base_path, &bundle.operations);
        let validators = bundle.operations.iter().map(Validator::new).collect();
        Api {
            metrics: stats.func(&bundle.name),
            bundle,
            router,
            validators,
        }
    }

    /// The operation at `index` and its validator.
    pub fn operation(&self, index: usize) -> Option<(&Operation, &Validator)> {
        Some((
            self.bundle.operations.get(index)?,
            self.validators.get(index)?,
        ))
    }

    /// Whether a request path lies under the bundle's base path.
    pub fn serves(&self, path: &str) -> bool {
        let base = self.bundle.base_path.trim_end_matches('/');
        path.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}
