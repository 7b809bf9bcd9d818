//! Errors as one line for logs and answers.

/// `error` and its sources, `: `-separated (a connection error's reason is
/// often two or three sources down).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
