use bollard::errors::Error;

use super::*;

fn server(status_code: u16, message: &str) -> Error {
    Error::DockerResponseServerError {
        status_code,
        message: message.to_owned(),
    }
}

#[test]
fn engine_answers_map_to_what_the_scaler_does_with_them() {
    let socket = "/var/run/docker.sock";
    let error = |e| scale_error("default", socket, e);
    assert!(matches!(
        error(server(404, "service funcmesh_runner not found")),
        ScaleError::NotFound { pool, .. } if pool == "default"
    ));
    assert!(matches!(
        error(server(403, "forbidden")),
        ScaleError::Forbidden(_)
    ));
    // The engine's refusal of an update at an old version index is a 500.
    assert!(matches!(
        error(server(
            500,
            "rpc error: code = Unknown desc = update out of sequence"
        )),
        ScaleError::Conflict(_)
    ));
    let manager = error(server(503, "This node is not a swarm manager."));
    assert!(
        manager.to_string().contains("swarm manager node"),
        "{manager}"
    );
    assert!(matches!(
        error(server(502, "bad gateway")),
        ScaleError::Unreachable(_)
    ));
    assert!(matches!(
        error(Error::SocketNotFoundError("/nowhere.sock".into())),
        ScaleError::Unreachable(detail) if detail.contains("/nowhere.sock")
    ));
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    assert!(matches!(
        error(Error::IOError { err: denied }),
        ScaleError::Forbidden(detail) if detail.contains(socket)
    ));
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert!(matches!(
        error(Error::IOError { err: refused }),
        ScaleError::Unreachable(_)
    ));
}

#[test]
fn only_a_unix_socket_is_taken() {
    let with = |socket: &str| {
        Swarm::new(SwarmOptions {
            socket: Some(socket.to_owned()),
            ..SwarmOptions::default()
        })
    };
    assert_eq!(
        with("unix:///run/user/1000/docker.sock")
            .map(|swarm| swarm.socket().to_owned())
            .ok()
            .as_deref(),
        Some("/run/user/1000/docker.sock")
    );
    assert_eq!(
        with("/var/run/docker.sock")
            .map(|swarm| swarm.socket().to_owned())
            .ok()
            .as_deref(),
        Some("/var/run/docker.sock")
    );
    for socket in ["tcp://10.0.0.1:2376", "ssh://manager", "docker.sock"] {
        let refused = with(socket)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(refused.contains("Unix socket"), "{socket}: {refused}");
    }
}

#[tokio::test]
async fn a_missing_socket_is_an_unreachable_engine_and_is_tried_again() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let socket = dir.path().join("docker.sock");
    let swarm = Swarm::new(SwarmOptions {
        socket: Some(socket.display().to_string()),
        ..SwarmOptions::default()
    })
    .expect("a Unix socket path");
    for _ in 0..2 {
        let error = swarm.replicas("default").await.err();
        assert!(
            matches!(&error, Some(ScaleError::Unreachable(detail)) if detail.contains("docker.sock")),
            "{error:?}"
        );
    }
}
