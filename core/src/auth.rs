//! The mesh token: one secret that every process of a mesh is given.
//!
//! - The tron's admin API takes it as a bearer token
//!   (`Authorization: Bearer TOKEN`), compared in constant time; `funcmesh
//!   push` and the runners fetching packs send it.
//! - Every control message on the bus carries an HMAC-SHA-256 under a key
//!   derived from it (see [`crate::control::signed`]), so that a process
//!   that can publish on the broker but does not hold the token cannot
//!   announce routes, switch capture on or claim the scaler.
//!
//! A process reads it from [`TOKEN_VAR`] or from the file [`TOKEN_FILE_VAR`]
//! names (a mounted secret), never from its command line, which every user
//! of the machine can read through procfs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The variable that holds the token itself.
pub const TOKEN_VAR: &str = "FUNCMESH_TOKEN";
/// The variable that names a file holding the token.
pub const TOKEN_FILE_VAR: &str = "FUNCMESH_TOKEN_FILE";
/// The shortest token accepted, in characters.
pub const MIN_TOKEN_LEN: usize = 32;

/// What the control-message key is derived with, so that the bearer token
/// and the MAC key are never the same bytes.
const CONTROL_KEY_LABEL: &[u8] = b"funcmesh control messages v1";

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Too few characters to resist guessing.
    #[error(
        "the mesh token has {0} characters; use at least {MIN_TOKEN_LEN} random ones (`funcmesh token` prints one)"
    )]
    TooShort(usize),
    /// Characters a header cannot carry.
    #[error("the mesh token must be printable ASCII without spaces")]
    NotPrintable,
    /// The token file could not be read.
    #[error("reading the mesh token from {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The mesh token, and the control-message key derived from it.
#[derive(Clone)]
pub struct MeshToken {
    secret: Arc<str>,
    control_key: [u8; 32],
}

impl fmt::Debug for MeshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MeshToken(..)")
    }
}

impl MeshToken {
    /// `secret` as a token, if it is long and plain enough.
    pub fn new(secret: &str) -> Result<Self, TokenError> {
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        if secret.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort(secret.len()));
        }
        let control_key = mac(secret.as_bytes(), &[CONTROL_KEY_LABEL]);
        Ok(Self {
            secret: Arc::from(secret),
            control_key,
        })
    }

    /// A fresh random token: 32 bytes from the OS's generator, in hex.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = hex::encode(bytes);
        Self {
            control_key: mac(secret.as_bytes(), &[CONTROL_KEY_LABEL]),
            secret: Arc::from(secret),
        }
    }

    /// The token in `path`, surrounding whitespace (a final newline) cut.
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Self::new(text.trim())
    }

    /// The token from `file` if given, else from [`TOKEN_FILE_VAR`], else
    /// from [`TOKEN_VAR`]; `None` when none is set.
    pub fn from_env_or(file: Option<&Path>) -> Result<Option<Self>, TokenError> {
        if let Some(file) = file {
            return Self::from_file(file).map(Some);
        }
        if let Some(file) = std::env::var_os(TOKEN_FILE_VAR).filter(|f| !f.is_empty()) {
            return Self::from_file(Path::new(&file)).map(Some);
        }
        match std::env::var(TOKEN_VAR) {
            Ok(secret) if !secret.is_empty() => Self::new(secret.trim()).map(Some),
            _ => Ok(None),
        }
    }

    /// The token itself, to hand to a process of the same mesh (through
    /// its environment, never its command line).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The value of an `Authorization` header that carries the token.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.secret)
    }

    /// Whether an `Authorization` header value carries this token. The
    /// comparison takes the same time wherever the first difference is.
    pub fn accepts(&self, authorization: &[u8]) -> bool {
        let Some(scheme) = authorization.get(..7) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        let offered = authorization[7..].trim_ascii();
        bool::from(offered.ct_eq(self.secret.as_bytes()))
    }

    /// The MAC of `parts`, in order, under the control-message key.
    pub fn control_mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        mac(&self.control_key, parts)
    }

    /// Whether `tag` is the MAC of `parts` under the control-message key,
    /// checked in constant time.
    pub fn verify_control_mac(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.control_key) else {
            return false;
        };
        for part in parts {
            mac.update(part);
        }
        mac.verify_slice(tag).is_ok()
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length; this cannot fail.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn short_or_unprintable_tokens_are_refused() {
        assert!(matches!(
            MeshToken::new("guest"),
            Err(TokenError::TooShort(5))
        ));
        let spaced = format!("{SECRET} x");
        assert!(matches!(
            MeshToken::new(&spaced),
            Err(TokenError::NotPrintable)
        ));
        assert!(MeshToken::new(SECRET).is_ok());
    }

    #[test]
    fn only_the_right_bearer_is_accepted() {
        let token = MeshToken::new(SECRET).unwrap();
        assert!(token.accepts(format!("Bearer {SECRET}").as_bytes()));
        assert!(token.accepts(format!("bearer {SECRET}").as_bytes()));
        for wrong in [
            String::new(),
            SECRET.to_owned(),
            format!("Basic {SECRET}"),
            format!("Bearer {}", &SECRET[..31]),
            format!("Bearer {SECRET}0"),
            "Bearer ".to_owned(),
        ] {
            assert!(!token.accepts(wrong.as_bytes()), "{wrong:?} was accepted");
        }
    }

    #[test]
    fn generated_tokens_differ_and_are_valid() {
        let (a, b) = (MeshToken::generate(), MeshToken::generate());
        assert_ne!(a.secret(), b.secret());
        assert!(MeshToken::new(a.secret()).is_ok());
    }

    #[test]
    fn a_token_file_may_end_in_a_newline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, format!("{SECRET}\n")).unwrap();
        let token = MeshToken::from_file(&file).unwrap();
        assert_eq!(token.secret(), SECRET);
        let missing = MeshToken::from_file(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }

    #[test]
    fn the_control_key_is_not_the_token() {
        let token = MeshToken::new(SECRET).unwrap();
        let tag = token.control_mac(&[b"routes", b"{}"]);
        assert!(token.verify_control_mac(&[b"routes", b"{}"], &tag));
        assert!(!token.verify_control_mac(&[b"routes", b"{ }"], &tag));
        let other = MeshToken::new(&SECRET.replace('0', "1")).unwrap();
        assert!(!other.verify_control_mac(&[b"routes", b"{}"], &tag));
        assert_ne!(mac(SECRET.as_bytes(), &[b"routes", b"{}"]), tag);
    }
}
