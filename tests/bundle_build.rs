//! `funcmesh bundle build`: a Python bundle's requirements installed into
//! its `lib/` with pip, from the package index, reproducibly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::root;

fn funcmesh(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_funcmesh"))
        .args(args)
        .env("FUNCMESH_LOG", "warn")
        .output()
        .expect("running funcmesh")
}

/// The example, without its `lib/`, in a directory of its own.
fn example_without_lib(into: &Path) {
    funcmesh_core::bundle::copy_sources(&root().join("swagger-examples/words-py"), into).unwrap();
    std::fs::remove_dir_all(into.join("lib")).unwrap();
}

fn hash_of(dir: &Path) -> String {
    funcmesh_core::bundle::load_dir(dir).unwrap().hash
}

#[test]
fn building_installs_the_requirements_into_lib_as_the_example_was_vendored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("words-py");
    example_without_lib(&dir);
    let out = funcmesh(&["bundle", "build", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("GET     /words/{word}  -> words.api.inflect"),
        "{printed}"
    );
    assert!(dir.join("lib/inflection/__init__.py").is_file());
    assert!(!dir.join("lib/bin").exists());
    assert_eq!(
        hash_of(&dir),
        hash_of(&root().join("swagger-examples/words-py")),
        "the committed lib/ is what `funcmesh bundle build` makes"
    );
}

#[test]
fn a_failed_install_leaves_lib_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("words-py");
    example_without_lib(&dir);
    std::fs::create_dir_all(dir.join("lib/kept")).unwrap();
    std::fs::write(dir.join("lib/kept/__init__.py"), "").unwrap();
    std::fs::write(
        dir.join("requirements.txt"),
        "this-package-does-not-exist-funcmesh-test==0.0.1\n",
    )
    .unwrap();
    let out = funcmesh(&["bundle", "build", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pip could not install"), "{stderr}");
    assert!(stderr.contains("is unchanged"), "{stderr}");
    assert!(dir.join("lib/kept/__init__.py").is_file());
    assert!(!dir.join(".lib.new").exists());
}
