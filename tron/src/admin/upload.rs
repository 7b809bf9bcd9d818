//! `PUT /bundles/{name}`: a pack unpacked into the bundles directory as
//! `{name}/`, swapped in for the previous version, then made live; if it
//! cannot go live the previous version is put back.

use funcmesh_core::bundle::{BundleError, pack_hash, unpack_to};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::reply::{self, BUNDLE_HASH, Refusal};
use super::swap::{Dirs, remove};
use super::{Admin, Reply};

/// The longest bundle name: well inside one file name, since the upload's
/// temporary directories add to it.
const MAX_NAME: usize = 128;

pub(super) async fn upload(admin: &Admin, name: &str, request: Request<Incoming>) -> Reply {
    if let Err(why) = check_name(name) {
        return reply::error(StatusCode::BAD_REQUEST, why);
    }
    let claimed = match claimed_hash(request.headers()) {
        Ok(claimed) => claimed,
        Err(why) => return reply::error(StatusCode::BAD_REQUEST, why),
    };
    let body = match read_body(request, admin.state.max_upload).await {
        Ok(body) => body,
        Err(refusal) => return refusal.reply(),
    };
    let hash = pack_hash(&body);
    if let Some(claimed) = claimed.filter(|claimed| *claimed != hash) {
        return reply::error(
            StatusCode::CONFLICT,
            format!(
                "the body hashes to {hash}, not to the {claimed} named in x-bundle-hash; the pack is damaged or another version"
            ),
        );
    }

    let _one_at_a_time = admin.uploads.lock().await;
    let dirs = Dirs::new(&admin.state.bundles_dir, name);
    let swap = {
        let (dirs, hash) = (dirs.clone(), hash.clone());
        tokio::task::spawn_blocking(move || {
            dirs.create_root()?;
            unpack_to(&body, &hash, &dirs.temp).map_err(unpack_error)?;
            dirs.swap_in()
        })
    };
    let had_old = match swap.await {
        Ok(Ok(had_old)) => had_old,
        Ok(Err(refusal)) => return refusal.edit(|text| dirs.scrub(text)).reply(),
        Err(error) => {
            tracing::warn!(%error, bundle.name = name, "unpacking an upload failed");
            return reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unpacking failed on the tron (its log says why)",
            );
        }
    };
    let live = (admin.state.on_upload)(dirs.target.clone()).await;
    let (cleanup, went_live) = (dirs.clone(), live.is_ok());
    let restored = tokio::task::spawn_blocking(move || match went_live {
        true => remove(&cleanup.old),
        false => cleanup.restore(had_old),
    });
    if let Err(error) = restored.await {
        tracing::warn!(%error, bundle.name = name, "cleaning up after an upload failed");
    }
    match live {
        Ok(live) => {
            tracing::info!(bundle.name = name, bundle.hash = %live, pack.hash = %hash, "bundle uploaded");
            let body = serde_json::json!({ "name": name, "hash": live, "uploaded": hash });
            reply::json(StatusCode::CREATED, &body)
        }
        Err(error) => {
            tracing::warn!(bundle.name = name, pack.hash = %hash, error = format!("{error:#}"), "uploaded bundle refused");
            let why = dirs.scrub(&format!("{error:#}"));
            reply::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{why}; the previous version, if any, keeps serving"),
            )
        }
    }
}

/// `[A-Za-z0-9._-]+`, not starting with `.` (hidden: never loaded), and
/// not `target` (never loaded either).
fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(allowed) {
        return Err(format!(
            "bundle name `{name}` must be 1 to {MAX_NAME} of A-Z a-z 0-9 . _ -"
        ));
    }
    if name.starts_with('.') || name == "target" {
        return Err(format!(
            "bundle name `{name}` is one the bundle loader skips (a leading `.`, or `target`)"
        ));
    }
    Ok(())
}

fn claimed_hash(headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(value) = headers.get(&BUNDLE_HASH) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(hash) if funcmesh_core::bundle::is_bundle_hash(hash) => Ok(Some(hash.to_owned())),
        _ => Err(format!(
            "x-bundle-hash `{}` is not a bundle hash (64 lowercase hex digits)",
            value.as_bytes().escape_ascii()
        )),
    }
}

async fn read_body(request: Request<Incoming>, max: usize) -> Result<bytes::Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a pack may be at most {max} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    match Limited::new(request.into_body(), max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(error) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("reading the body failed: {error}"),
        )),
    }
}

fn unpack_error(error: BundleError) -> Refusal {
    match error {
        BundleError::Io { .. } => {
            tracing::warn!(%error, "unpacking an upload failed");
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unpacking failed on the tron's disk (its log says why)",
            )
        }
        BundleError::HashMismatch { .. } => Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the pack's files do not make the bundle it hashes to ({error})"),
        ),
        error => Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("not a valid bundle: {error}"),
        ),
    }
}
