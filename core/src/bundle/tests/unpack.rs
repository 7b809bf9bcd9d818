//! Packs that must not be unpacked: another version, garbled streams,
//! paths that leave the bundle.

use sha2::{Digest, Sha256};

use super::pack::{pack, pets};
use super::{Dir, guest_module, one_op_spec};
use crate::bundle::hash::put_entry;
use crate::bundle::{BundleError, unpack, unpack_to};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A pack of `entries` as given, in that order.
fn raw(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, bytes) in entries {
        put_entry(&mut out, path, bytes);
    }
    out
}

/// The error unpacking `bytes` under their own hash gives; nothing may be
/// left in the target's parent.
fn refused(bytes: &[u8]) -> BundleError {
    let parent = Dir::new();
    let error = unpack_to(bytes, &sha256(bytes), &parent.path().join("b")).unwrap_err();
    let left = std::fs::read_dir(parent.path()).unwrap().count();
    assert_eq!(left, 0, "a refused pack leaves nothing behind ({error})");
    error
}

fn pack_error(bytes: &[u8]) -> String {
    match refused(bytes) {
        BundleError::Pack { offset, message } => format!("{offset}: {message}"),
        other => panic!("expected a pack error, got {other}"),
    }
}

#[test]
fn a_flipped_byte_is_a_hash_mismatch_and_nothing_is_cached() {
    let packed = pack(pets().path(), &[]);
    let cache = Dir::new();
    for at in [0, packed.bytes.len() / 2, packed.bytes.len() - 1] {
        let mut bytes = packed.bytes.to_vec();
        bytes[at] ^= 0x01;
        let error = unpack(&bytes, &packed.bundle.hash, cache.path()).unwrap_err();
        let BundleError::HashMismatch { expected, actual } = error else {
            panic!("byte {at}: {error}");
        };
        assert_eq!(
            (expected, actual),
            (packed.bundle.hash.clone(), sha256(&bytes))
        );
    }
    assert!(!cache.path().join(&packed.bundle.hash).exists());
}

#[test]
fn a_pack_with_files_the_bundle_does_not_hash_is_another_version() {
    let spec = one_op_spec("listPets");
    let module = guest_module(&["listPets"]);
    let bytes = raw(&[
        ("README.md", b"extra"),
        ("openapi.yaml", spec.as_bytes()),
        ("pets.wasm", &module),
    ]);
    let error = refused(&bytes);
    assert!(matches!(error, BundleError::HashMismatch { .. }), "{error}");
    let cache = Dir::new();
    let error = unpack(&bytes, &sha256(&bytes), cache.path()).unwrap_err();
    assert!(matches!(error, BundleError::HashMismatch { .. }), "{error}");
    let left = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(left, 0, "nothing stays in the cache");
}

#[test]
fn paths_outside_the_bundle_are_refused() {
    for path in [
        "../evil",
        "data/../../evil",
        "/etc/evil",
        "a//b",
        "a\\b",
        "./a",
        "a/",
    ] {
        let bytes = raw(&[(path, b"x")]);
        let error = pack_error(&bytes);
        assert!(error.contains("path"), "{path}: {error}");
    }
    let bytes = raw(&[("a", b"x"), ("a/b", b"y")]);
    assert!(pack_error(&bytes).contains("both a file and the directory"));
}

#[test]
fn truncated_and_garbled_streams_are_refused() {
    let packed = pack(pets().path(), &[]);
    let first = packed.bytes.iter().position(|b| *b == 0).unwrap();
    for cut in [1, first, first + 1, first + 3, packed.bytes.len() - 1] {
        let error = pack_error(&packed.bytes[..cut]);
        assert!(error.contains("truncated"), "cut at {cut}: {error}");
    }
    assert!(
        pack_error(b"a\x0007\0x").contains("bad length"),
        "leading zero"
    );
    assert!(pack_error(b"a\0+1\0x").contains("bad length"));
    assert!(pack_error(b"a\0\0").contains("bad length"));
    assert!(pack_error(b"a\099999999999999999999999\0").contains("bad length"));
    assert!(pack_error(b"\0other\x001\0x").contains("special entry"));
    assert!(pack_error(b"a\xff\x001\0x").contains("UTF-8"));
    assert!(pack_error(&raw(&[("b", b""), ("a", b"")])).contains("out of order"));
    assert!(pack_error(&raw(&[("a", b""), ("a", b"")])).contains("out of order"));
}

#[test]
fn a_stream_cut_between_entries_is_not_the_bundle() {
    let packed = pack(pets().path(), &[]);
    let spec_at = packed
        .bytes
        .windows(13)
        .position(|w| w == b"openapi.yaml\0")
        .unwrap();
    let error = refused(&packed.bytes[..spec_at]);
    assert!(matches!(error, BundleError::NoSpec { .. }), "{error}");
}

#[test]
fn hashes_must_be_hex_digests() {
    let packed = pack(pets().path(), &[]);
    let cache = Dir::new();
    for hash in [
        "../x",
        "",
        &packed.bundle.hash.to_uppercase(),
        &packed.bundle.hash[1..],
    ] {
        let error = unpack(&packed.bytes, hash, cache.path()).unwrap_err();
        assert!(
            matches!(error, BundleError::BadHash { .. }),
            "{hash}: {error}"
        );
    }
}
