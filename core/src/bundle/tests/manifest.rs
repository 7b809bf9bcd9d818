use super::{Dir, guest_module, one_op_spec};
use crate::bundle::{BundleError, Manifest, load_dir};

fn bundle(manifest: Option<&str>) -> Dir {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec("listPets"));
    dir.write("pets.wasm", guest_module(&["listPets"]));
    if let Some(text) = manifest {
        dir.write("funcmesh.toml", text);
    }
    dir
}

fn error(manifest: &str) -> String {
    let dir = bundle(Some(manifest));
    load_dir(dir.path()).unwrap_err().to_string()
}

#[test]
fn defaults_without_a_manifest() {
    let dir = bundle(None);
    let manifest = load_dir(dir.path()).unwrap().manifest;
    assert_eq!(manifest, Manifest::default());
    assert_eq!(
        (
            manifest.timeout_ms,
            manifest.memory_limit_mb,
            manifest.max_concurrency
        ),
        (30_000, 64, 64)
    );
    assert!(manifest.wasi.log_output);
}

#[test]
fn manifest_fields_are_read() {
    let dir = bundle(Some(
        "timeout_ms = 900000\nmemory_limit_mb = 4096\nmax_concurrency = 1\n[env]\nGREETING = \"hi\"\n\
         [[wasi.dirs]]\nhost = \"./data\"\nguest = \"/data\"\n",
    ));
    dir.write("data/a.txt", "a");
    let manifest = load_dir(dir.path()).unwrap().manifest;
    assert_eq!(
        (
            manifest.timeout_ms,
            manifest.memory_limit_mb,
            manifest.max_concurrency
        ),
        (900_000, 4096, 1)
    );
    assert_eq!(manifest.env["GREETING"], "hi");
    assert_eq!(manifest.wasi.dirs[0].guest, "/data");
}

#[test]
fn toml_errors_carry_line_and_column() {
    let message = error("timeout_ms = 100\nmemory_limit_mb = \"big\"\n");
    assert!(
        message.contains("funcmesh.toml: line 2 column 19: invalid type"),
        "{message}"
    );
    let message = error("timeout_ms = 100\n\nbogus = 1\n");
    assert!(
        message.contains("funcmesh.toml: line 3 column 1: unknown field `bogus`"),
        "{message}"
    );
    let dir = bundle(Some("[wasi\n"));
    assert!(matches!(
        load_dir(dir.path()),
        Err(BundleError::Syntax { .. })
    ));
}

#[test]
fn limits_out_of_range() {
    for (text, expected) in [
        ("timeout_ms = 0", "timeout_ms = 0 is outside 1..=900000"),
        ("timeout_ms = 900001", "timeout_ms = 900001 is outside"),
        (
            "memory_limit_mb = 0",
            "memory_limit_mb = 0 is outside 1..=4096",
        ),
        (
            "memory_limit_mb = 4097",
            "memory_limit_mb = 4097 is outside",
        ),
        ("max_concurrency = 0", "max_concurrency must be at least 1"),
    ] {
        let message = error(text);
        assert!(
            message.contains("funcmesh.toml: ") && message.contains(expected),
            "{text}: {message}"
        );
    }
}

#[test]
fn granted_directories_stay_inside_the_bundle() {
    let grant = |host: &str, guest: &str| {
        format!("[[wasi.dirs]]\nhost = \"{host}\"\nguest = \"{guest}\"\n")
    };
    for (text, expected) in [
        (
            grant("../etc", "/etc"),
            "`../etc`: must be a path inside the bundle",
        ),
        (
            grant("/etc", "/etc"),
            "`/etc`: must be a path inside the bundle",
        ),
        (
            grant("missing", "/m"),
            "`missing`: no such directory in the bundle",
        ),
        (grant("pets.wasm", "/m"), "`pets.wasm`: no such directory"),
        (
            grant(".", "relative"),
            "guest path `relative` must be absolute",
        ),
        (
            grant(".", "/a") + &grant(".", "/a"),
            "guest path `/a` is granted twice",
        ),
    ] {
        let message = error(&text);
        assert!(
            message.contains("funcmesh.toml: wasi.dirs") && message.contains(expected),
            "{text}: {message}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_bundle_is_refused() {
    let outside = Dir::new();
    let dir = bundle(Some("[[wasi.dirs]]\nhost = \"link\"\nguest = \"/x\"\n"));
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let message = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("`link`: leads outside the bundle"),
        "{message}"
    );
}

#[test]
fn a_bundle_names_its_runner_pool() {
    assert_eq!(
        load_dir(bundle(None).path()).unwrap().manifest.scale.pool,
        crate::bundle::DEFAULT_POOL
    );
    let dir = bundle(Some("[scale]\npool = \"batch-jobs\"\n"));
    let loaded = load_dir(dir.path()).unwrap();
    assert_eq!(loaded.manifest.scale.pool, "batch-jobs");
    assert_eq!(
        crate::routing::Route::for_bundle(&loaded).pool,
        "batch-jobs",
        "the route announces the pool"
    );
    let message = error("[scale]\npool = \"no spaces\"\n");
    assert!(message.contains("scale.pool"), "{message}");
    let message = error("[scale]\npool = \"\"\n");
    assert!(message.contains("scale.pool"), "{message}");
    let message = error("[scale]\nmin = 3\n");
    assert!(message.contains("unknown field `min`"), "{message}");
}
