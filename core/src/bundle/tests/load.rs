use super::{Dir, guest_module, one_op_spec, wasm_module};
use crate::bundle::{BundleError, Code, find_bundles, is_bundle_dir, load_dir, load_with_wasm};

fn pets_bundle() -> Dir {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec("listPets"));
    dir.write("petstore.wasm", guest_module(&["listPets"]));
    dir
}

#[test]
fn loads_a_bundle_directory() {
    let dir = pets_bundle();
    let bundle = load_dir(dir.path()).unwrap();
    assert_eq!(
        bundle.name,
        dir.path().file_name().unwrap().to_string_lossy()
    );
    assert_eq!(bundle.spec_file, dir.path().join("openapi.yaml"));
    assert_eq!(
        (bundle.host.as_deref(), bundle.base_path.as_str()),
        (None, "/pets-api")
    );
    assert_eq!(bundle.operations[0].id, "listPets");
    assert_eq!(bundle.hash.len(), 64);
    assert!(
        bundle
            .hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let Code::Wasm { path, bytes } = &bundle.code else {
        panic!("not a WebAssembly bundle")
    };
    assert_eq!(path, &dir.path().join("petstore.wasm"));
    assert_eq!(&bytes[..], &guest_module(&["listPets"])[..]);
}

#[test]
fn missing_handler_export_names_the_operation_and_lists_exports() {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec("listPets"));
    dir.write("petstore.wasm", guest_module(&["listPet"]));
    let error = load_dir(dir.path()).unwrap_err();
    assert!(matches!(error, BundleError::Code { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(
            "operationId `listPets` (GET /pets) has no exported handler in petstore.wasm; \
             exports: [funcmesh_alloc, listPet, memory]"
        ),
        "{message}"
    );
}

#[test]
fn guest_abi_exports_are_required() {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec("listPets"));
    dir.write("petstore.wasm", wasm_module(&["listPets"], false));
    let message = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("`memory` exported as a memory"),
        "{message}"
    );
    assert!(
        message.contains("`funcmesh_alloc` exported as a function"),
        "{message}"
    );
}

#[test]
fn code_must_be_one_webassembly_module_or_python_sources() {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec("listPets"));
    let message = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("no .wasm module and no Python sources (build the Rust crate with"),
        "{message}"
    );

    dir.write("a.wasm", "not wasm at all");
    let message = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("a.wasm: not a WebAssembly module"),
        "{message}"
    );

    dir.write("b.wasm", guest_module(&["listPets"]));
    let message = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("more than one .wasm module (a.wasm, b.wasm)"),
        "{message}"
    );

    dir.write("funcmesh.toml", "module = \"b.wasm\"\n");
    assert!(load_dir(dir.path()).is_ok());
}

#[test]
fn spec_files_are_found_and_must_be_unique() {
    let dir = pets_bundle();
    assert!(is_bundle_dir(dir.path()));
    dir.write("swagger.json", "{}");
    let message = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("more than one API description (swagger.json, openapi.yaml)"),
        "{message}"
    );

    let empty = Dir::new();
    assert!(!is_bundle_dir(empty.path()));
    assert!(matches!(
        load_dir(empty.path()),
        Err(BundleError::NoSpec { .. })
    ));
}

#[test]
fn spec_errors_name_the_spec_file() {
    let dir = pets_bundle();
    dir.write(
        "openapi.yaml",
        "openapi: 3.0.3\npaths:\n  /a:\n    get: {}\n",
    );
    let error = load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&error, BundleError::Invalid { path, .. } if path.ends_with("openapi.yaml")),
        "{error:?}"
    );
}

#[test]
fn module_built_elsewhere() {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec("listPets"));
    let target = Dir::new();
    let wasm = target.write("release/pets.wasm", guest_module(&["listPets"]));
    let bundle = load_with_wasm(dir.path(), &wasm).unwrap();
    let Code::Wasm { path, .. } = &bundle.code else {
        panic!("not a WebAssembly bundle")
    };
    assert_eq!(path, &wasm);
}

#[test]
fn find_bundles_lists_bundle_subdirectories() {
    let root = Dir::new();
    for name in ["b", "a", ".hidden", "target", "c/nested"] {
        root.write(&format!("{name}/openapi.yaml"), one_op_spec("x"));
    }
    root.write("notes/readme.txt", "");
    root.write("openapi.txt", "");
    let found = find_bundles(root.path());
    assert_eq!(found, [root.path().join("a"), root.path().join("b")]);
    assert_eq!(
        find_bundles(&root.path().join("a")),
        [root.path().join("a")]
    );
    assert!(find_bundles(&root.path().join("missing")).is_empty());
}
