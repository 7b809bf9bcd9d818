//! A tron's import check of a Python bundle, as an upload and the
//! watcher that sees it land run it: at once, on the same version.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::root;
use funcmesh_runner::{PythonConfig, WorkerCommand};

#[test]
fn two_checks_of_one_version_at_once_both_import_it() {
    common::block_on(async {
        let bundle =
            funcmesh_core::bundle::load_dir(&root().join("swagger-examples/words-py")).unwrap();
        let bundle = Arc::new(bundle);
        let config = PythonConfig {
            worker: Some(WorkerCommand::funcmesh(env!("CARGO_BIN_EXE_funcmesh"))),
            ..PythonConfig::default()
        };
        // Each check copies the bundle into the process's copies directory
        // and removes its copy when done: one must never take the other's.
        for round in 0..3 {
            let (first, second) = tokio::join!(
                funcmesh_runner::python::check(Arc::clone(&bundle), &config),
                funcmesh_runner::python::check(Arc::clone(&bundle), &config),
            );
            first.unwrap_or_else(|e| panic!("round {round}, first check: {e}"));
            second.unwrap_or_else(|e| panic!("round {round}, second check: {e}"));
        }
    });
}
