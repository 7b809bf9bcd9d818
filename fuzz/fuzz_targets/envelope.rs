//! Envelopes as they come off a broker: whatever the bytes, decoding
//! answers an envelope or an error, and what decodes encodes to bytes that
//! decode to the same envelope.
#![no_main]

use funcmesh_core::{RequestEnvelope, ResponseEnvelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = RequestEnvelope::decode(data) {
        let again =
            RequestEnvelope::decode(&request.encode()).expect("a request re-encoded decodes");
        assert_eq!(again, request);
        let _ = RequestEnvelope::decode_at(data, u64::MAX);
    }
    if let Ok(response) = ResponseEnvelope::decode(data) {
        let again =
            ResponseEnvelope::decode(&response.encode()).expect("a response re-encoded decodes");
        assert_eq!(again, response);
    }
});
