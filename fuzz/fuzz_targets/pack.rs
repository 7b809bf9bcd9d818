//! Bundle packs as a runner fetches them: the hash checks out (the target
//! computes it), the rest is whatever the bytes are. Unpacking answers a
//! bundle or an error, writes only under its own directory, and leaves
//! nothing behind when it fails.
#![no_main]

use funcmesh_core::bundle::unpack_to;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let hash: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let root = tempfile::tempdir().expect("a temporary directory");
    let dir = root.path().join("bundle");
    match unpack_to(data, &hash, &dir) {
        Ok(_) => assert!(dir.is_dir()),
        Err(_) => assert!(!dir.exists(), "a failed unpack left {}", dir.display()),
    }
    // Nothing outside the bundle's own directory.
    let beside: Vec<_> = std::fs::read_dir(root.path())
        .expect("the temporary directory")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|name| name != "bundle")
        .collect();
    assert!(
        beside.is_empty(),
        "unpacking wrote {beside:?} beside the bundle"
    );
});
