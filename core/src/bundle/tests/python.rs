use super::{Dir, guest_module, one_op_spec};
use crate::bundle::{
    Code, copy_sources, load_dir, module_file, pack_any, split_entry_point, unpack_to,
};

fn python_bundle(op: &str) -> Dir {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec(op));
    dir.write("pets/__init__.py", "");
    dir.write("pets/api.py", "def list_pets(request):\n    return []\n");
    dir.write("lib/vendored/__init__.py", "VERSION = 1\n");
    dir
}

fn load_error(dir: &Dir) -> String {
    match load_dir(dir.path()) {
        Ok(bundle) => panic!("loaded {}", bundle.hash),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_directory_of_python_sources_is_a_python_bundle() {
    let dir = python_bundle("pets.api.list_pets");
    let bundle = load_dir(dir.path()).unwrap();
    let Code::Python { modules } = &bundle.code else {
        panic!("not a Python bundle")
    };
    assert_eq!(modules, &["pets.api".to_owned()]);
    assert_eq!(bundle.operations[0].id, "pets.api.list_pets");
}

#[test]
fn modules_are_found_in_the_bundle_and_in_its_lib() {
    let dir = python_bundle("vendored.helper");
    assert!(load_dir(dir.path()).is_ok());
    assert_eq!(
        module_file(dir.path(), "vendored"),
        Some(dir.path().join("lib/vendored/__init__.py"))
    );
    assert_eq!(
        module_file(dir.path(), "pets.api"),
        Some(dir.path().join("pets/api.py"))
    );
    assert_eq!(module_file(dir.path(), "pets.nothing"), None);
}

#[test]
fn an_operation_id_must_be_a_dotted_python_name_with_a_module_of_the_bundle() {
    let dir = python_bundle("list_pets");
    dir.write("main.py", "");
    let error = load_error(&dir);
    assert!(
        error.contains("`list_pets` (GET /pets) is not `module.function`"),
        "{error}"
    );

    let dir = python_bundle("pets.missing.list_pets");
    let error = load_error(&dir);
    assert!(error.contains("module `pets.missing` not found"), "{error}");
    assert!(error.contains("pets/missing.py"), "{error}");

    assert_eq!(split_entry_point("a.b.c"), Some(("a.b", "c")));
    for bad in ["a", "a.", ".a", "a..b", "1a.b", "a.b-c", "a.b c"] {
        assert_eq!(split_entry_point(bad), None, "{bad}");
    }
}

#[test]
fn byte_code_and_hidden_files_are_not_part_of_the_version() {
    let dir = python_bundle("pets.api.list_pets");
    let before = load_dir(dir.path()).unwrap().hash;
    dir.write("pets/__pycache__/api.cpython-311.pyc", "compiled");
    dir.write("stale.pyc", "compiled");
    dir.write(".pytest_cache/v/cache", "{}");
    assert_eq!(load_dir(dir.path()).unwrap().hash, before);

    dir.write("lib/vendored/__init__.py", "VERSION = 2\n");
    let after_dependency = load_dir(dir.path()).unwrap().hash;
    assert_ne!(after_dependency, before, "a vendored dependency is code");
    dir.write("data/names.txt", "Ada\n");
    assert_ne!(load_dir(dir.path()).unwrap().hash, after_dependency);
}

#[test]
fn a_wasm_module_or_the_manifest_decides_the_runtime() {
    let dir = python_bundle("listPets");
    dir.write("petstore.wasm", guest_module(&["listPets"]));
    let bundle = load_dir(dir.path()).unwrap();
    assert!(matches!(bundle.code, Code::Wasm { .. }), "a module wins");

    let dir = python_bundle("pets.api.list_pets");
    dir.write("funcmesh.toml", "runtime = \"wasm\"\n");
    let error = load_error(&dir);
    assert!(error.contains("no .wasm module"), "{error}");

    let dir = python_bundle("pets.api.list_pets");
    dir.write(
        "funcmesh.toml",
        "runtime = \"python\"\n[[wasi.dirs]]\nhost = \"lib\"\nguest = \"/lib\"\n",
    );
    let error = load_error(&dir);
    assert!(
        error.contains("wasi.dirs applies to WebAssembly bundles"),
        "{error}"
    );
}

#[test]
fn a_python_bundle_packs_and_unpacks_to_the_same_version() {
    let dir = python_bundle("pets.api.list_pets");
    dir.write("pets/__pycache__/api.cpython-311.pyc", "compiled");
    let packed = pack_any(dir.path()).unwrap();
    let target = Dir::new();
    let into = target.path().join("copy");
    let bundle = unpack_to(&packed.bytes, &packed.bundle.hash, &into).unwrap();
    assert_eq!(bundle.hash, packed.bundle.hash);
    assert!(into.join("lib/vendored/__init__.py").is_file());
    assert!(!into.join("pets/__pycache__").exists());
}

#[test]
fn copying_the_sources_keeps_exactly_what_the_hash_covers() {
    let dir = python_bundle("pets.api.list_pets");
    dir.write("pets/__pycache__/api.cpython-311.pyc", "compiled");
    dir.write(".git/HEAD", "ref");
    let target = Dir::new();
    let into = target.path().join("copy");
    copy_sources(dir.path(), &into).unwrap();
    let copied = load_dir(&into).unwrap();
    assert_eq!(copied.hash, load_dir(dir.path()).unwrap().hash);
    assert!(!into.join(".git").exists() && !into.join("pets/__pycache__").exists());
}
