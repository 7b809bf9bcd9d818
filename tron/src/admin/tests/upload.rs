//! `PUT /bundles/{name}`.

use std::sync::Arc;

use bytes::Bytes;
use funcmesh_core::bundle::load_dir;
use http::{Method, StatusCode};

use super::{Admin, json_of, write_bundle};

/// The names in the bundles directory, hidden ones included.
fn listing(admin: &Admin) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(admin.bundles_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_upload_goes_live_and_is_served_back_byte_for_byte() {
    let admin = Admin::start(|_| {}).await;
    let source = tempfile::tempdir().unwrap();
    let v1 = write_bundle(&source.path().join("hello"), "/v1");
    let hash = v1.bundle.hash.as_str();
    let put = admin
        .send(
            Method::PUT,
            "/bundles/pets",
            &[("x-bundle-hash", hash)],
            v1.bytes.clone(),
        )
        .await;
    assert_eq!(put.0, StatusCode::CREATED, "{:?}", put.2);
    let answer = json_of(&put.2);
    assert_eq!(
        (answer["name"].as_str(), answer["hash"].as_str()),
        (Some("pets"), Some(hash))
    );

    let live = load_dir(&admin.bundles_dir().join("pets")).unwrap();
    assert_eq!((live.hash.as_str(), live.base_path.as_str()), (hash, "/v1"));
    let (status, headers, body) = admin.get(&format!("/bundles/{hash}")).await;
    assert_eq!((status, &body), (StatusCode::OK, &v1.bytes));
    assert_eq!(headers["x-bundle-hash"], hash);

    let v2 = write_bundle(&source.path().join("hello"), "/v2");
    let put = admin
        .send(Method::PUT, "/bundles/pets", &[], v2.bytes.clone())
        .await;
    assert_eq!(put.0, StatusCode::CREATED, "{:?}", put.2);
    let live = load_dir(&admin.bundles_dir().join("pets")).unwrap();
    assert_eq!(
        (live.hash, live.base_path),
        (v2.bundle.hash, "/v2".to_owned())
    );
    assert_eq!(listing(&admin), ["pets"], "nothing is left beside it");
}

#[tokio::test]
async fn names_are_checked() {
    let admin = Admin::start(|_| {}).await;
    let source = tempfile::tempdir().unwrap();
    let packed = write_bundle(&source.path().join("hello"), "/v1");
    for name in [".hidden", "a%2Fb", "target", "..", "caf%C3%A9"] {
        let put = admin
            .send(
                Method::PUT,
                &format!("/bundles/{name}"),
                &[],
                packed.bytes.clone(),
            )
            .await;
        assert_eq!(put.0, StatusCode::BAD_REQUEST, "{name}");
        assert!(
            json_of(&put.2)["error"]
                .as_str()
                .unwrap()
                .contains("bundle name")
        );
    }
    assert!(!admin.bundles_dir().exists());
}

#[tokio::test]
async fn an_oversized_upload_is_refused() {
    let admin = Admin::start(|state| state.max_upload = 100).await;
    let put = admin
        .send(
            Method::PUT,
            "/bundles/big",
            &[],
            Bytes::from(vec![b'x'; 1000]),
        )
        .await;
    assert_eq!(put.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json_of(&put.2)["error"]
            .as_str()
            .unwrap()
            .contains("at most 100 bytes")
    );
}

#[tokio::test]
async fn damaged_packs_are_refused_and_change_nothing() {
    let admin = Admin::start(|_| {}).await;
    let source = tempfile::tempdir().unwrap();
    let packed = write_bundle(&source.path().join("hello"), "/v1");
    let hash = packed.bundle.hash.as_str();
    let put = admin
        .send(Method::PUT, "/bundles/pets", &[], packed.bytes.clone())
        .await;
    assert_eq!(put.0, StatusCode::CREATED);

    let mut tampered = packed.bytes.to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    let tampered = Bytes::from(tampered);
    let put = admin
        .send(
            Method::PUT,
            "/bundles/pets",
            &[("x-bundle-hash", hash)],
            tampered.clone(),
        )
        .await;
    assert_eq!(put.0, StatusCode::CONFLICT);
    assert!(json_of(&put.2)["error"].as_str().unwrap().contains(hash));
    let put = admin
        .send(Method::PUT, "/bundles/pets", &[], tampered)
        .await;
    assert_eq!(put.0, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", put.2);
    let put = admin
        .send(
            Method::PUT,
            "/bundles/pets",
            &[],
            Bytes::from_static(b"x\x001\x00"),
        )
        .await;
    assert_eq!(put.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json_of(&put.2)["error"]
            .as_str()
            .unwrap()
            .contains("truncated")
    );
    let put = admin
        .send(
            Method::PUT,
            "/bundles/pets",
            &[("x-bundle-hash", "abc")],
            packed.bytes.clone(),
        )
        .await;
    assert_eq!(put.0, StatusCode::BAD_REQUEST);

    assert_eq!(
        load_dir(&admin.bundles_dir().join("pets")).unwrap().hash,
        hash
    );
    assert_eq!(listing(&admin), ["pets"]);
}

#[tokio::test]
async fn a_bundle_that_cannot_go_live_leaves_the_previous_version() {
    let admin = Admin::start(|state| {
        let store = Arc::clone(&state.store);
        let storing = Arc::clone(&state.on_upload);
        state.on_upload = Arc::new(move |dir| {
            let (store, storing) = (Arc::clone(&store), Arc::clone(&storing));
            Box::pin(async move {
                match store.list().is_empty() {
                    true => storing(dir).await,
                    false => anyhow::bail!("another bundle already serves /v1"),
                }
            })
        });
    })
    .await;
    let source = tempfile::tempdir().unwrap();
    let v1 = write_bundle(&source.path().join("hello"), "/v1");
    let put = admin
        .send(Method::PUT, "/bundles/pets", &[], v1.bytes.clone())
        .await;
    assert_eq!(put.0, StatusCode::CREATED);
    let v2 = write_bundle(&source.path().join("hello"), "/v2");
    let put = admin
        .send(Method::PUT, "/bundles/pets", &[], v2.bytes.clone())
        .await;
    assert_eq!(put.0, StatusCode::UNPROCESSABLE_ENTITY);
    let error = json_of(&put.2)["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("another bundle already serves /v1"),
        "{error}"
    );
    let live = load_dir(&admin.bundles_dir().join("pets")).unwrap();
    assert_eq!(live.hash, v1.bundle.hash, "the previous version is back");
    assert_eq!(listing(&admin), ["pets"]);

    let put = admin
        .send(Method::PUT, "/bundles/other", &[], v2.bytes.clone())
        .await;
    assert_eq!(put.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        listing(&admin),
        ["pets"],
        "a new name that fails leaves nothing"
    );
}

#[tokio::test]
async fn errors_never_show_the_trons_file_system() {
    let admin = Admin::start(|state| {
        state.on_upload = Arc::new(|dir| {
            Box::pin(async move { anyhow::bail!("{}/openapi.yaml: line 3: broken", dir.display()) })
        });
    })
    .await;
    let source = tempfile::tempdir().unwrap();
    let packed = write_bundle(&source.path().join("hello"), "/v1");
    let root = admin.bundles.path().display().to_string();

    // The longest name allowed still fits the upload's temporary
    // directories; one more is refused before anything touches the disk.
    let longest = "n".repeat(128);
    for (name, status) in [
        (longest.clone(), StatusCode::UNPROCESSABLE_ENTITY),
        (format!("{longest}n"), StatusCode::BAD_REQUEST),
        ("pets".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let put = admin
            .send(
                Method::PUT,
                &format!("/bundles/{name}"),
                &[],
                packed.bytes.clone(),
            )
            .await;
        let error = json_of(&put.2)["error"].as_str().unwrap().to_owned();
        assert_eq!(put.0, status, "{name}: {error}");
        assert!(!error.contains(&root), "{error}");
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert!(
                error.starts_with(&format!("{name}/openapi.yaml: line 3: broken")),
                "{error}"
            );
        }
    }
}
