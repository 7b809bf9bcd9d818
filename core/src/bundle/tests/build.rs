use std::path::Path;
use std::process::Command;

use super::{Dir, one_op_spec};
use crate::bundle::build::{Errors, cdylib_wasm, compiler_message};
use crate::bundle::{BundleError, Code, is_rust_crate, load_any, wasm_exports};

const CARGO_TOML: &str = "[package]\nname = \"tiny-func\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                          [lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n";
const LIB_RS: &str = r#"
#[unsafe(no_mangle)]
pub extern "C" fn funcmesh_alloc(len: i32) -> i32 { len }

#[unsafe(export_name = "listPets")]
pub extern "C" fn list_pets(ptr: i32, len: i32) -> i64 { ((ptr as i64) << 32) | len as i64 }
"#;

fn rustup_missing() -> bool {
    let missing = Command::new("rustup").arg("--version").output().is_err();
    if missing {
        eprintln!("skipped: rustup is not installed, so no wasm32-wasip1 build can run");
    }
    missing
}

fn func_crate(lib_rs: &str) -> Dir {
    let dir = Dir::new();
    dir.write("Cargo.toml", CARGO_TOML);
    dir.write("src/lib.rs", lib_rs);
    dir.write("openapi.yaml", one_op_spec("listPets"));
    dir
}

#[test]
fn builds_and_loads_a_rust_func_crate() {
    if rustup_missing() {
        return;
    }
    let dir = func_crate(LIB_RS);
    assert!(is_rust_crate(dir.path()));
    let bundle = load_any(dir.path()).unwrap();
    let Code::Wasm { path, bytes } = &bundle.code else {
        panic!("not a WebAssembly bundle")
    };
    // Under the crate's own target directory, whatever CARGO_TARGET_DIR the
    // outer `cargo test` runs with.
    assert!(
        path.starts_with(
            dir.path()
                .canonicalize()
                .unwrap()
                .join("target/wasm32-wasip1/release")
        ),
        "{path:?}"
    );
    assert_eq!(path.file_name().unwrap(), "tiny_func.wasm");
    let exports = wasm_exports(bytes).unwrap();
    assert!(exports.iter().any(|e| e == "listPets"), "{exports:?}");
    assert_eq!(bundle.operations[0].id, "listPets");
}

#[test]
fn a_failed_build_is_a_build_error() {
    if rustup_missing() {
        return;
    }
    let dir = func_crate("pub fn broken( {");
    let error = load_any(dir.path()).unwrap_err();
    assert!(matches!(error, BundleError::Build { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("cargo build failed: src/lib.rs:1:"),
        "names the file of the first error: {error}"
    );
}

#[test]
fn the_first_located_error_names_the_file() {
    let message = |level: &str, text: &str, spans: &str| {
        format!(
            r#"{{"reason":"compiler-message","message":{{"rendered":"r","level":"{level}","message":"{text}","spans":[{spans}]}}}}"#
        )
    };
    let span = r#"{"file_name":"src/lib.rs","line_start":5,"column_start":9,"is_primary":true}"#;
    let mut errors = Errors::default();
    assert_eq!(errors.summary(), None);
    for line in [
        message("warning", "unused", span),
        message("error", "expected `;`", span),
        message("error", "cannot find `x`", span),
        message("error", "aborting due to 2 previous errors", ""),
    ] {
        errors.note(&compiler_message(&line).unwrap());
    }
    assert_eq!(
        errors.summary().unwrap(),
        "src/lib.rs:5:9: expected `;` (and 1 more error); the compiler's diagnostics are above"
    );
    assert!(compiler_message(r#"{"reason":"build-finished","success":false}"#).is_none());
}

#[test]
fn a_directory_without_cargo_toml_is_loaded_as_is() {
    let dir = Dir::new();
    assert!(!is_rust_crate(dir.path()));
    assert!(matches!(
        load_any(dir.path()),
        Err(BundleError::NoSpec { .. })
    ));
}

#[test]
fn picks_the_cdylib_wasm_of_this_package_from_cargo_messages() {
    let manifest = Path::new("/src/pets/Cargo.toml");
    let line = |manifest: &str, kind: &str, file: &str| {
        format!(
            r#"{{"reason":"compiler-artifact","manifest_path":"{manifest}","target":{{"kind":["{kind}"]}},"filenames":["/t/{file}.d","/t/{file}"]}}"#
        )
    };
    assert_eq!(
        cdylib_wasm(
            &line("/src/pets/Cargo.toml", "cdylib", "pets.wasm"),
            manifest
        )
        .as_deref(),
        Some(Path::new("/t/pets.wasm"))
    );
    assert_eq!(
        cdylib_wasm(&line("/src/dep/Cargo.toml", "cdylib", "dep.wasm"), manifest),
        None
    );
    assert_eq!(
        cdylib_wasm(
            &line("/src/pets/Cargo.toml", "lib", "libpets.rlib"),
            manifest
        ),
        None
    );
    assert_eq!(
        cdylib_wasm(r#"{"reason":"build-finished","success":true}"#, manifest),
        None
    );
    assert_eq!(cdylib_wasm("not json", manifest), None);
}
