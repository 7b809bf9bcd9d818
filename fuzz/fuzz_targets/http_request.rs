//! Raw HTTP/1 requests as a client sends them: the head read as hyper
//! reads it (`httparse`), then the gateway's own reading. Whatever the
//! bytes, the gateway answers an error or an envelope, and the envelope it
//! would publish decodes again as the runner reads it.
#![no_main]

use bytes::Bytes;
use funcmesh_core::RequestEnvelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(length)) = head.parse(data) else {
        return;
    };
    let (Some(method), Some(target)) = (head.method, head.path) else {
        return;
    };
    let mut request = http::Request::builder().method(method).uri(target);
    for header in head.headers.iter() {
        request = request.header(header.name, header.value);
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let body = Bytes::copy_from_slice(&data[length..]);
    if let Ok(envelope) = funcmesh_gateway::fuzzing::read_request(&parts, body) {
        let again = RequestEnvelope::decode(&envelope.encode()).expect("the envelope decodes");
        assert_eq!(again, envelope);
    }
});
