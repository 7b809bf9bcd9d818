use std::time::Duration;

/// A boxed error from a body or a transport.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What goes wrong in the gateway. [`rescue`](crate::rescue) turns each into
/// an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request body is larger than the configured limit.
    #[error("request body larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The client did not finish sending its body before the deadline.
    #[error("request body not received within {} ms", .timeout.as_millis())]
    BodyTimeout {
        /// The time the client had.
        timeout: Duration,
    },
    /// The request body could not be read (the client went away mid-body).
    #[error("reading the request body failed")]
    ReadBody(#[source] BoxError),
    /// The request is malformed.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// No reply arrived before the deadline.
    #[error("no reply within {} ms", .timeout.as_millis())]
    Timeout {
        /// The time the client was given.
        timeout: Duration,
    },
    /// Too many requests are in flight already.
    #[error("more than {limit} requests in flight")]
    Overloaded {
        /// The configured limit.
        limit: usize,
    },
    /// The reply consumers stopped before the reply arrived.
    #[error("the reply channel closed before the reply arrived")]
    ReplyLost,
    /// A reply carried something HTTP cannot (an invalid status).
    #[error("invalid reply: {0}")]
    BadReply(String),
    /// Publishing the request failed.
    #[error("publishing to {queue}")]
    Publish {
        /// The queue published to.
        queue: String,
        /// Why.
        #[source]
        source: funcmesh_bus::Error,
    },
    /// Setting up the gateway's own queue failed.
    #[error("setting up reply queue {queue}")]
    Setup {
        /// The reply queue.
        queue: String,
        /// Why.
        #[source]
        source: funcmesh_bus::Error,
    },
    /// The configuration cannot work.
    #[error("invalid gateway config: {0}")]
    Config(&'static str),
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
