//! Packs round-trip: what is unpacked has the hash, routing and files of
//! what was packed, in an environment that lacks the packer's variables.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use super::{Dir, guest_module, one_op_spec};
use crate::bundle::pack::pack_with;
use crate::bundle::{BundleError, Code, Packed, Vars, load_cached, pack_any, unpack, unpack_to};

const GRANT: &str = "[[wasi.dirs]]\nhost = \"data\"\nguest = \"/data\"\n";

/// A bundle with a manifest, a granted directory and a nested file.
pub(super) fn pets() -> Dir {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec("listPets"));
    dir.write("pets.wasm", guest_module(&["listPets"]));
    dir.write("funcmesh.toml", GRANT);
    dir.write("data/names.txt", "rex\nfido\n");
    dir.write("data/sub/empty", "");
    dir.write("README.md", "not granted, not packed");
    dir
}

/// Packs `dir` with `${VAR}`s from `pairs` only.
pub(super) fn pack(dir: &Path, pairs: &'static [(&'static str, &'static str)]) -> Packed {
    let mut vars = Vars::with_lookup(|name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    });
    pack_with(dir, None, &mut vars).unwrap()
}

#[test]
fn the_pack_hashes_to_the_bundle_hash() {
    let packed = pack(pets().path(), &[]);
    assert_eq!(
        hex::encode(Sha256::digest(&packed.bytes)),
        packed.bundle.hash
    );
    let text = String::from_utf8_lossy(&packed.bytes);
    assert!(text.starts_with("data/names.txt\09\0rex\nfido\n"), "{text}");
    assert!(!text.contains("README"), "ungranted files stay out");
}

#[test]
fn unpacking_into_a_cache_keeps_hash_routing_and_files() {
    let packed = pack(pets().path(), &[]);
    let cache = Dir::new();
    let hash = &packed.bundle.hash;
    let bundle = unpack(&packed.bytes, hash, cache.path()).unwrap();
    assert_eq!(&bundle.hash, hash);
    assert_eq!(bundle.dir, cache.path().join(hash));
    assert_eq!(bundle.base_path, packed.bundle.base_path);
    assert_eq!(bundle.manifest, packed.bundle.manifest);
    assert_eq!(bundle.operations[0].id, "listPets");
    let Code::Wasm { bytes, .. } = &bundle.code else {
        panic!("not a WebAssembly bundle")
    };
    assert_eq!(&bytes[..], &guest_module(&["listPets"])[..]);
    let names = std::fs::read_to_string(bundle.dir.join("data/names.txt")).unwrap();
    assert_eq!(names, "rex\nfido\n");
    assert!(bundle.dir.join("data/sub/empty").is_file());

    let again = unpack(&packed.bytes, hash, cache.path()).unwrap();
    assert_eq!(&again.hash, hash, "a cached copy is reused");
    let cached = load_cached(cache.path(), hash).unwrap().unwrap();
    assert_eq!(&cached.hash, hash);
    let leftovers: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, [hash.as_str()], "no temporary files remain");
}

#[test]
fn variables_travel_in_the_pack_not_the_environment() {
    let dir = Dir::new();
    let spec = one_op_spec("listPets").replace(
        "{url: /pets-api}",
        "{url: 'https://${FMTEST_PACK_HOST}/${FMTEST_PACK_STAGE:-dev}/pets'}",
    );
    dir.write("openapi.yaml", spec);
    dir.write("pets.wasm", guest_module(&["listPets"]));
    dir.write(
        "funcmesh.toml",
        "[env]\nDB = \"${FMTEST_PACK_DB:-none here}\"\nHOME_SEEN = \"${HOME}\"\n",
    );
    let vars = &[
        ("FMTEST_PACK_HOST", "api.example.com"),
        ("FMTEST_PACK_STAGE", "prod"),
        ("FMTEST_PACK_DB", "postgres://app:s3cret-pw@db.internal"),
        ("HOME", "/home/packer"),
    ];
    let packed = pack(dir.path(), vars);
    assert_eq!(packed.bundle.base_path, "/prod/pets");
    assert_eq!(packed.bundle.manifest.env["HOME_SEEN"], "/home/packer");
    let hash = &packed.bundle.hash;
    let bytes = String::from_utf8_lossy(&packed.bytes);
    for secret in ["s3cret-pw", "/home/packer"] {
        assert!(!bytes.contains(secret), "the pack holds {secret}");
    }

    // None of these variables is set where the tests run.
    let cache = Dir::new();
    let bundle = unpack(&packed.bytes, hash, cache.path()).unwrap();
    assert_eq!(&bundle.hash, hash);
    assert_eq!(bundle.host.as_deref(), Some("api.example.com"));
    assert_eq!(bundle.base_path, "/prod/pets");
    // The routing values are the packer's; the [env] values are this
    // process's own (HOME is set where the tests run, FMTEST_PACK_DB not).
    assert_eq!(bundle.manifest.env["DB"], "none here");
    assert_eq!(
        bundle.manifest.env["HOME_SEEN"],
        std::env::var("HOME").unwrap()
    );
    let cached = load_cached(cache.path(), hash).unwrap().unwrap();
    assert_eq!(
        (&cached.hash, cached.base_path.as_str()),
        (hash, "/prod/pets")
    );

    let other = pack(
        dir.path(),
        &[("FMTEST_PACK_HOST", "x.example.com"), ("HOME", "/h")],
    );
    assert_ne!(&other.bundle.hash, hash, "other values, other version");
    let target = Dir::new();
    let bundle = unpack_to(&other.bytes, &other.bundle.hash, &target.path().join("b")).unwrap();
    assert_eq!(
        bundle.base_path, "/dev/pets",
        "the default recorded is used"
    );
}

#[test]
fn a_tampered_cache_entry_is_refused_then_replaced() {
    let packed = pack(pets().path(), &[]);
    let cache = Dir::new();
    let hash = &packed.bundle.hash;
    let bundle = unpack(&packed.bytes, hash, cache.path()).unwrap();
    std::fs::write(bundle.dir.join("data/names.txt"), "evil").unwrap();
    let error = load_cached(cache.path(), hash).unwrap_err();
    assert!(matches!(error, BundleError::HashMismatch { .. }), "{error}");

    let bundle = unpack(&packed.bytes, hash, cache.path()).unwrap();
    assert_eq!(&bundle.hash, hash);
    let names = std::fs::read_to_string(bundle.dir.join("data/names.txt")).unwrap();
    assert_eq!(names, "rex\nfido\n");
    assert!(
        load_cached(cache.path(), &"0".repeat(64))
            .unwrap()
            .is_none()
    );
}

fn wasm_target_installed() -> bool {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let installed = listed.is_ok_and(|out| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|line| line.trim() == "wasm32-wasip1")
    });
    if !installed {
        eprintln!(
            "skipped: the wasm32-wasip1 target is not installed, so the examples cannot be built"
        );
    }
    installed
}

#[test]
fn built_examples_round_trip() {
    if !wasm_target_installed() {
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../swagger-examples");
    for name in ["hello", "greeter-v2", "petstore"] {
        let packed = pack_any(&examples.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cache = Dir::new();
        let bundle = unpack(&packed.bytes, &packed.bundle.hash, cache.path()).unwrap();
        assert_eq!(bundle.hash, packed.bundle.hash, "{name}");
        assert_eq!(bundle.base_path, packed.bundle.base_path, "{name}");
        assert_eq!(bundle.operations.len(), packed.bundle.operations.len());
    }
}

#[test]
fn a_secret_the_unpacking_process_lacks_is_named() {
    let dir = Dir::new();
    dir.write("openapi.yaml", one_op_spec("listPets"));
    dir.write("pets.wasm", guest_module(&["listPets"]));
    dir.write("funcmesh.toml", "[env]\nDB = \"${FMTEST_UNSET_SECRET}\"\n");
    let packed = pack(dir.path(), &[("FMTEST_UNSET_SECRET", "only-on-the-tron")]);
    assert!(!String::from_utf8_lossy(&packed.bytes).contains("only-on-the-tron"));
    let cache = Dir::new();
    let error = unpack(&packed.bytes, &packed.bundle.hash, cache.path())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`FMTEST_UNSET_SECRET` is not set"),
        "{error}"
    );
}
