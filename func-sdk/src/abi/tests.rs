use super::*;

fn frame(meta: &str, body: &[u8]) -> Vec<u8> {
    let mut buf = (meta.len() as u32).to_le_bytes().to_vec();
    buf.extend_from_slice(meta.as_bytes());
    buf.extend_from_slice(body);
    buf
}

fn sample_meta() -> RequestMeta {
    RequestMeta {
        request_id: "r-1".into(),
        operation_id: "getPet".into(),
        method: "GET".into(),
        path: "/petstore/pets/7".into(),
        base_path: "/petstore".into(),
        path_params: BTreeMap::from([("petId".into(), "7".into())]),
        query: vec![
            ("tag".into(), "a".into()),
            ("tag".into(), "b \"quoted\"".into()),
        ],
        headers: vec![("accept".into(), "*/*".into()), ("x-r".into(), "é".into())],
    }
}

#[test]
fn input_round_trips_with_binary_body() {
    let body: Vec<u8> = (0..=255).collect();
    let buf = encode_input(&sample_meta(), &body).unwrap();
    let (meta, got) = decode_input(&buf).unwrap();
    assert_eq!(meta, sample_meta());
    assert_eq!(got, &body[..]);
}

#[test]
fn input_has_the_documented_wire_shape() {
    let buf = encode_input(&sample_meta(), b"xyz").unwrap();
    let meta_len = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
    let json: serde_json::Value = serde_json::from_slice(&buf[4..4 + meta_len]).unwrap();
    assert_eq!(json["path_params"]["petId"], "7");
    assert_eq!(json["query"][1], serde_json::json!(["tag", "b \"quoted\""]));
    assert_eq!(json["headers"][0], serde_json::json!(["accept", "*/*"]));
    assert_eq!(json["base_path"], "/petstore");
    assert_eq!(&buf[4 + meta_len..], b"xyz");
}

#[test]
fn write_input_appends_and_leaves_the_prefix_alone() {
    let mut out = b"keep".to_vec();
    write_input(&sample_meta(), b"body", &mut out).unwrap();
    assert_eq!(&out[..4], b"keep");
    assert_eq!(decode_input(&out[4..]).unwrap().1, b"body");
}

#[test]
fn decode_input_ignores_unknown_fields_and_defaults_collections() {
    let meta = r#"{"request_id":"r","operation_id":"greet","method":"GET","path":"/hello/greet","from_the_future":[1,2]}"#;
    let buf = frame(meta, b"");
    let (meta, body) = decode_input(&buf).unwrap();
    assert_eq!(meta.operation_id, "greet");
    assert!(meta.headers.is_empty() && meta.query.is_empty() && meta.base_path.is_empty());
    assert!(body.is_empty());
}

#[test]
fn output_round_trips() {
    let meta = ResponseMeta {
        status: 201,
        headers: vec![("content-type".into(), "application/json".into())],
    };
    let buf = encode_output(&meta, b"{}").unwrap();
    assert_eq!(decode_output(&buf).unwrap(), (meta, &b"{}"[..]));
}

#[test]
fn decode_output_accepts_a_status_without_headers() {
    let buf = frame(r#"{"status":204,"extra":true}"#, b"");
    let (meta, body) = decode_output(&buf).unwrap();
    assert_eq!((meta.status, meta.headers.len(), body.len()), (204, 0, 0));
}

#[test]
fn decode_output_rejects_truncated_buffers() {
    for buf in [vec![], vec![1, 0], frame("{}", b"")[..5].to_vec()] {
        let err = decode_output(&buf).unwrap_err();
        assert!(matches!(err, AbiError::Truncated { .. }), "{buf:?}: {err}");
    }
    // A length near u32::MAX must not overflow while checking.
    let err = decode_output(&[0xff, 0xff, 0xff, 0xff, b'{']).unwrap_err();
    assert!(matches!(err, AbiError::Truncated { len: 5, .. }), "{err}");
}

#[test]
fn decode_output_rejects_bad_json() {
    for meta in [
        "{",
        r#"{"headers":[]}"#,
        r#"{"status":"200"}"#,
        r#"{"status":200,"headers":[["a"]]}"#,
    ] {
        let err = decode_output(&frame(meta, b"")).unwrap_err();
        assert!(matches!(err, AbiError::Json(_)), "{meta}: {err}");
    }
}

#[test]
fn decode_output_rejects_statuses_outside_100_to_599() {
    for status in [-1_i64, 0, 99, 600, 70_000] {
        let err = decode_output(&frame(&format!(r#"{{"status":{status}}}"#), b"")).unwrap_err();
        assert!(
            matches!(err, AbiError::StatusOutOfRange(s) if s == status),
            "{err}"
        );
    }
    for status in [100, 599] {
        assert!(decode_output(&frame(&format!(r#"{{"status":{status}}}"#), b"")).is_ok());
    }
}

#[test]
fn ptr_len_packing_round_trips_at_the_edges() {
    for (ptr, len) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (0x8000_0000, 7)] {
        assert_eq!(unpack_ptr_len(pack_ptr_len(ptr, len)), (ptr, len));
    }
    assert_eq!(pack_ptr_len(1, 2), (1 << 32) | 2);
}
