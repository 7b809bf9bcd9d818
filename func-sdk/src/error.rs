//! The handler error: an HTTP status and a message, answered as
//! `{"error": "..."}`.

use std::fmt;

/// A handler result whose error becomes a JSON error response.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error a handler answers with: a status (400 for bad input, 500 for
/// anything else unless said otherwise) and a message for the client.
///
/// Any [`std::error::Error`] converts into it as a 500, so `?` works on
/// whatever a handler calls. Like `anyhow::Error`, it does not implement
/// `std::error::Error` itself, which is what makes that blanket conversion
/// possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: u16,
    message: String,
}

impl Error {
    /// An error with any status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the client sent something the handler cannot use.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 500: the handler failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// The status this error answers with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        Self::internal(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_std_error_becomes_a_500_with_its_message() {
        fn parse() -> Result<u8> {
            Ok("300".parse::<u8>()?)
        }
        let err = parse().unwrap_err();
        assert_eq!(err.status(), 500);
        assert_eq!(err.message(), "number too large to fit in target type");
    }

    #[test]
    fn constructors_set_the_status() {
        assert_eq!(Error::bad_request("x").status(), 400);
        assert_eq!(Error::not_found("x").status(), 404);
        assert_eq!(Error::new(418, "teapot").to_string(), "teapot (418)");
    }
}
