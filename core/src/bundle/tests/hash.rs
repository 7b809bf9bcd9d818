use sha2::{Digest, Sha256};

use super::{Dir, guest_module, one_op_spec};
use crate::bundle::load_dir;

const GRANT: &str = "[[wasi.dirs]]\nhost = \"data\"\nguest = \"/data\"\n";

/// A bundle with a granted `data` directory, its files written in `order`.
fn bundle(order: &[(&str, &str)]) -> Dir {
    let dir = Dir::new();
    for (name, contents) in order {
        dir.write(name, contents);
    }
    dir
}

fn files<'a>() -> Vec<(&'a str, String)> {
    vec![
        ("openapi.yaml", one_op_spec("listPets")),
        ("funcmesh.toml", GRANT.to_owned()),
        ("data/z.txt", "zed".to_owned()),
        ("data/sub/a.txt", "a".to_owned()),
    ]
}

fn hash(dir: &Dir) -> String {
    load_dir(dir.path()).unwrap().hash
}

fn with_module(dir: Dir) -> Dir {
    dir.write("pets.wasm", guest_module(&["listPets"]));
    dir
}

#[test]
fn hash_is_sha256_of_sorted_path_length_contents() {
    let spec = one_op_spec("listPets");
    let module = guest_module(&["listPets"]);
    let dir = with_module(bundle(&[("openapi.yaml", &spec)]));
    let mut expected = Sha256::new();
    for (path, bytes) in [
        ("openapi.yaml", spec.as_bytes()),
        ("pets.wasm", &module[..]),
    ] {
        expected.update(format!("{path}\0{}\0", bytes.len()));
        expected.update(bytes);
    }
    assert_eq!(hash(&dir), hex::encode(expected.finalize()));
}

#[test]
fn same_content_same_hash_whatever_the_place_or_write_order() {
    let forward = files();
    let forward: Vec<(&str, &str)> = forward.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let backward: Vec<(&str, &str)> = forward.iter().rev().copied().collect();
    let one = with_module(bundle(&forward));
    let two = with_module(bundle(&backward));
    assert_eq!(hash(&one), hash(&two));
    assert_eq!(hash(&one), hash(&one), "stable across loads");
}

#[test]
fn any_changed_byte_changes_the_hash() {
    let files = files();
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let dir = with_module(bundle(&files));
    let original = hash(&dir);
    let mut seen = vec![original.clone()];
    for (name, contents) in &files {
        // A trailing comment keeps the spec and the manifest valid.
        let changed = format!("{contents}\n#");
        dir.write(name, &changed);
        let new = hash(&dir);
        assert!(
            !seen.contains(&new),
            "changing {name} should change the hash"
        );
        seen.push(new);
        dir.write(name, contents);
    }
    let mut module = guest_module(&["listPets"]);
    module.extend(b"\0\x01x");
    dir.write("pets.wasm", &module);
    assert!(
        !seen.contains(&hash(&dir)),
        "changing the module should change the hash"
    );
    dir.write("pets.wasm", guest_module(&["listPets"]));
    dir.write("data/new.txt", "");
    assert!(
        !seen.contains(&hash(&dir)),
        "a new granted file should change the hash"
    );
    std::fs::remove_file(dir.path().join("data/new.txt")).unwrap();
    dir.write("README.md", "not granted, not hashed");
    assert_eq!(hash(&dir), original);
}
