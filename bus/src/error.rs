/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The queue is at its length limit; the caller should shed load.
    #[error("queue {queue} is full ({limit} messages waiting)")]
    QueueFull {
        /// The queue's name.
        queue: String,
        /// Its configured limit.
        limit: usize,
    },
    /// The queue was never declared.
    #[error("queue {0} does not exist")]
    UnknownQueue(String),
    /// The bus URL names a broker this build does not support.
    #[error("unsupported bus scheme {0}; supported: inproc, amqp, nats, kafka")]
    UnsupportedScheme(String),
    /// The bus URL cannot be used (bad syntax, port, or namespace).
    #[error("{0}")]
    InvalidUrl(String),
    /// The broker cannot be reached right now; retry later.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused this message for good (larger than it takes, or a
    /// property it does not accept): sending it again would be refused again.
    #[error("the broker refused the message: {0}")]
    Refused(String),
    /// The bus is shutting down.
    #[error("the bus is closed")]
    Closed,
}

/// `error` and its sources, `: `-separated (a connection error's reason is
/// often two or three sources down), as one line for logs and answers.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
