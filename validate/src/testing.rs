//! Builders for hand-made operations, for the validator's tests and the
//! runner's (feature `testing`).

use funcmesh_core::bundle::{Operation, ParamLocation, Parameter, RequestBody};
use serde_json::Value;

/// An operation with no parameters and no body.
pub fn op(id: &str, method: &str, path: &str) -> Operation {
    Operation {
        id: id.into(),
        method: method.into(),
        path: path.into(),
        parameters: Vec::new(),
        body: None,
    }
}

/// A parameter.
pub fn param(name: &str, location: ParamLocation, required: bool, schema: Value) -> Parameter {
    Parameter {
        name: name.into(),
        location,
        required,
        schema,
    }
}

/// A request body.
pub fn body(required: bool, content_types: &[&str], schema: Option<Value>) -> RequestBody {
    RequestBody {
        required,
        content_types: content_types.iter().map(|s| (*s).to_owned()).collect(),
        schema,
        urlencoded_schema: None,
        multipart_schema: None,
    }
}
