//! The errors of larder-http.

/// What can go wrong starting or running the proxy.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Binding or accepting failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Why an upstream exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Connecting or sending failed (the upstream is unreachable or closed the connection).
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    /// No response header within the response timeout.
    #[error("upstream response header timed out")]
    Timeout,
    /// The response body broke off.
    #[error("upstream body incomplete: {0}")]
    Body(String),
}
