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
/// are part of the contract with Gofer. Each kind has one C status (`GoferStatus::of`), one Go
/// error value and one Python exception class; the tests of each binding walk
/// [`ErrorKind::iter`] (or the statuses made from it) and fail on a kind without its own.
///
/// Not `#[non_exhaustive]`, on purpose: the bindings match it exhaustively, so that a new kind
/// does not build until each binding has its counterpart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::EnumIter, strum::IntoStaticStr)]
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
    /// Every kind, in declaration order.
    pub fn iter() -> impl Iterator<Item = ErrorKind> {
        <ErrorKind as strum::IntoEnumIterator>::iter()
    }

    /// The kind's name as written here ("NoSuchContainer"): the Python exception class and the
    /// Go sentinel (with `Err` in front) carry it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// A short, stable description used as the prefix of every message of this kind; for the
    /// three sentinels, the seed's exact text.
    pub fn description(self) -> &'static str {
        match self {
            ErrorKind::NoSuchContainer => "scheduler: entity not found",
            ErrorKind::NoSuchImage => "scheduler: docker image not found",
            ErrorKind::AmbiguousContainerName => {
                "scheduler: more than one container was found for the given container name"
            }
            ErrorKind::InvalidArgument => "scheduler: invalid argument",
            ErrorKind::Connection => "scheduler: cannot reach the docker engine",
            ErrorKind::Timeout => "scheduler: the docker engine did not answer in time",
            ErrorKind::ContainerNotRunning => "scheduler: container is not running",
            ErrorKind::Engine => "scheduler: docker engine error",
            ErrorKind::InvalidState => "scheduler: handle cannot be used here",
            ErrorKind::Internal => "scheduler: internal error",
        }
    }

    /// The seed's exact text for the three sentinel errors, `None` for the other kinds.
    pub fn sentinel_text(self) -> Option<&'static str> {
        let sentinel = match self {
            ErrorKind::NoSuchContainer | ErrorKind::NoSuchImage | ErrorKind::AmbiguousContainerName => true,
            ErrorKind::InvalidArgument
            | ErrorKind::Connection
            | ErrorKind::Timeout
            | ErrorKind::ContainerNotRunning
            | ErrorKind::Engine
            | ErrorKind::InvalidState
            | ErrorKind::Internal => false,
        };
        sentinel.then(|| self.description())
    }
}

/// An error of this library: a kind, a human message, and where it applies the engine's HTTP
/// status and the underlying cause.
pub struct Error {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// Raised by a caller's interrupt hook (see `engine::Interrupt`): the call was abandoned
    /// between two reads, and a stream it was reading can go on.
    interruption: bool,
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a detail message (the kind's description is added by `Display`).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), http_status: None, source: None, interruption: false }
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
        Error { kind: self.kind, message: self.message.clone(), http_status: self.http_status, source: None, interruption: false }
    }

    /// Marks an error raised by a caller's interrupt hook.
    pub(crate) fn interruption(mut self) -> Self {
        self.interruption = true;
        self
    }

    /// Whether this error came from a caller's interrupt hook rather than from the engine.
    pub(crate) fn is_interruption(&self) -> bool {
        self.interruption
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
