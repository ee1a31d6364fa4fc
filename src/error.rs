//! The one error type of the library.
//!
//! Every failure carries an [`ErrorKind`] that callers branch on. The kind maps one to one onto a
//! C status code (`GoferStatus`), a Go error value and a Python exception class, so a binding
//! converts errors without knowing where they came from. The message keeps the engine's own
//! words (and the HTTP status when the engine answered), so nothing is lost on the way up.

use std::fmt;

/// What went wrong, as a caller needs to branch on it.
///
/// The first three are the seed's sentinel errors; their texts ([`ErrorKind::sentinel_text`])
/// are part of the contract with Gofer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The ID names no container (`ErrNoSuchContainer`).
    NoSuchContainer,
    /// The image could not be obtained: unknown repository or tag, refused credentials,
    /// unreachable registry (`ErrNoSuchImage`).
    NoSuchImage,
    /// The ID is a prefix of several container IDs (`ErrAmbiguousContainerName`).
    AmbiguousContainerName,
    /// The caller passed something unusable: NULL, invalid UTF-8, a bad container name, a port
    /// out of range... Nothing was sent to the engine.
    InvalidArgument,
    /// The engine could not be reached, or the connection broke during a call or a stream.
    Connection,
    /// The engine did not answer within the request timeout.
    Timeout,
    /// The operation needs a running container and this one is not (attach to an exited or
    /// paused container).
    ContainerNotRunning,
    /// The engine answered with an error that fits no other kind.
    Engine,
    /// The handle cannot be used here: a stream that was closed, an engine created by a parent
    /// process before `fork()`, a blocking call made from inside an async runtime.
    InvalidState,
    /// A bug in this library (a caught panic). Please report it.
    Internal,
}

impl ErrorKind {
    /// The seed's exact text for the three sentinel errors, `None` for the other kinds.
    pub fn sentinel_text(self) -> Option<&'static str> {
        match self {
            ErrorKind::NoSuchContainer => Some("scheduler: entity not found"),
            ErrorKind::NoSuchImage => Some("scheduler: docker image not found"),
            ErrorKind::AmbiguousContainerName => Some(
                "scheduler: more than one container was found for the given container name",
            ),
            _ => None,
        }
    }

    /// A short, stable description used as the prefix of every message of this kind.
    pub fn description(self) -> &'static str {
        if let Some(text) = self.sentinel_text() {
            return text;
        }
        match self {
            ErrorKind::InvalidArgument => "scheduler: invalid argument",
            ErrorKind::Connection => "scheduler: cannot reach the docker engine",
            ErrorKind::Timeout => "scheduler: the docker engine did not answer in time",
            ErrorKind::ContainerNotRunning => "scheduler: container is not running",
            ErrorKind::Engine => "scheduler: docker engine error",
            ErrorKind::InvalidState => "scheduler: handle cannot be used here",
            _ => "scheduler: internal error",
        }
    }
}

/// An error of this library: a kind, a human message, and where it applies the engine's HTTP
/// status and the underlying cause.
pub struct Error {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a detail message (the kind's description is added by `Display`).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), http_status: None, source: None }
    }

    /// An invalid-argument error naming the argument at fault.
    pub fn invalid_argument(argument: &str, why: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidArgument, format!("{argument}: {why}"))
    }

    pub(crate) fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Puts `context` in front of the message; kind, status and cause are kept.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The same error again (kind, message, status), for a failure reported more than once;
    /// the cause stays with the first report.
    pub(crate) fn repeat(&self) -> Self {
        Error { kind: self.kind, message: self.message.clone(), http_status: self.http_status, source: None }
    }

    /// What went wrong, to branch on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The detail: the engine's own words, or what was wrong with an argument.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the engine's answer, when the engine answered with an error.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.kind.description())
        } else {
            write!(f, "{}: {}", self.kind.description(), self.message)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("http_status", &self.http_status)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_errors_display_the_seed_texts_first() {
        let e = Error::new(ErrorKind::NoSuchContainer, "No such container: x");
        assert_eq!(e.to_string(), "scheduler: entity not found: No such container: x");
        assert_eq!(
            Error::new(ErrorKind::NoSuchImage, "").to_string(),
            "scheduler: docker image not found"
        );
        assert_eq!(
            ErrorKind::AmbiguousContainerName.sentinel_text(),
            Some("scheduler: more than one container was found for the given container name")
        );
    }
}
