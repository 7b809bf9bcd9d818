//! Checks across an operation's template and parameters, and across
//! operations.

use std::collections::HashMap;

use crate::bundle::{Operation, ParamLocation};

/// The `{name}`s of a path template, in order.
pub(super) fn template_params(path: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        let after = &rest[open + 1..];
        let close = match (rest.as_bytes()[open], after.find(['{', '}'])) {
            (b'{', Some(close)) if after.as_bytes()[close] == b'}' => close,
            _ => return Err(format!("path `{path}` has unbalanced braces")),
        };
        let name = &after[..close];
        if name.is_empty() {
            return Err(format!("path `{path}` has an empty `{{}}`"));
        }
        if names.contains(&name) {
            return Err(format!("path `{path}` uses `{{{name}}}` twice"));
        }
        names.push(name);
        rest = &after[close + 1..];
    }
    Ok(names)
}

/// Every `{name}` is a declared, required path parameter and every
/// declared path parameter is in the template.
pub(super) fn check_path_params(op: &Operation) -> Result<(), String> {
    let label = format!("{} {}", op.method, op.path);
    let template = template_params(&op.path)?;
    let declared: Vec<_> = op
        .parameters
        .iter()
        .filter(|p| p.location == ParamLocation::Path)
        .collect();
    if let Some(name) = template
        .iter()
        .find(|name| !declared.iter().any(|p| p.name == **name))
    {
        return Err(format!(
            "{label}: path parameter `{name}` is in the template but not declared (`in: path`)"
        ));
    }
    for param in declared {
        if !template.contains(&param.name.as_str()) {
            return Err(format!(
                "{label}: path parameter `{}` is declared but not in the template",
                param.name
            ));
        }
        if !param.required {
            return Err(format!(
                "{label}: path parameter `{}` must have `required: true`",
                param.name
            ));
        }
    }
    Ok(())
}

/// Unique operationIds, and no two operations with one method and
/// equivalent templates (`/a/{x}` and `/a/{y}`).
pub(super) fn check_unique(operations: &[Operation]) -> Result<(), String> {
    let mut ids = HashMap::new();
    let mut routes = HashMap::new();
    for op in operations {
        let label = format!("{} {}", op.method, op.path);
        if let Some(first) = ids.insert(op.id.as_str(), label.clone()) {
            return Err(format!(
                "operationId `{}` is used twice: by {first} and by {label}",
                op.id
            ));
        }
        let shape = (op.method.as_str(), template_shape(&op.path));
        if let Some(first) = routes.insert(shape, label.clone()) {
            return Err(format!("{first} and {label} match the same requests"));
        }
    }
    Ok(())
}

/// The template with every `{name}` made `{}`.
fn template_shape(path: &str) -> String {
    let mut shape = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                shape.push_str("{}");
            }
            _ if !in_param => shape.push(c),
            _ => {}
        }
    }
    shape
}
