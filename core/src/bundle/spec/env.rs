//! `${VAR}` references in the fields that route to a bundle, filled in
//! before either dialect reads them.

use serde_json::Value;

use crate::bundle::Vars;

/// Fills in Swagger 2.0's `host` and `basePath` and every OpenAPI 3
/// `servers[].url` (only the first routes, but a reference that cannot be
/// filled is an error wherever it is). Fields of another type are left for
/// the dialect to reject.
pub(super) fn fill_routing(doc: &mut Value, vars: &mut Vars) -> Result<(), String> {
    for key in ["host", "basePath"] {
        if let Some(Value::String(text)) = doc.get_mut(key) {
            *text = vars.expand(text).map_err(|e| format!("`{key}`: {e}"))?;
        }
    }
    let Some(Value::Array(servers)) = doc.get_mut("servers") else {
        return Ok(());
    };
    for (index, server) in servers.iter_mut().enumerate() {
        if let Some(Value::String(url)) = server.get_mut("url") {
            *url = vars
                .expand(url)
                .map_err(|e| format!("servers[{index}].url: {e}"))?;
        }
    }
    Ok(())
}
