//! Translation of bollard's errors into the library's kinds.
//!
//! Decided by HTTP status, never by English text, except where the engine gives nothing else:
//! an ambiguous ID prefix is a 500 (Docker 20.10) or a 400 (later versions) whose only mark is
//! "Multiple IDs found". What a 404 means depends on what was asked, hence [`Subject`].

use bollard::errors::Error as BollardError;

use crate::error::{Error, ErrorKind};

/// What a request was about, to interpret a 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    Container,
    Image,
    Exec,
    Engine,
}

const AMBIGUOUS_MARK: &str = "Multiple IDs found";

/// Maps a bollard error to the library's error, keeping the engine's message and status.
pub(crate) fn from_bollard(err: BollardError, subject: Subject) -> Error {
    match err {
        BollardError::DockerResponseServerError { status_code, ref message } => {
            from_status(status_code, message.clone(), subject).with_source(err)
        }
        BollardError::RequestTimeoutError => {
            Error::new(ErrorKind::Timeout, "no answer within the request timeout").with_source(err)
        }
        BollardError::DockerStreamError { ref error } => {
            // An error inside a 200 stream: for pulls this is how refused credentials and
            // unknown manifests often arrive.
            let kind = if subject == Subject::Image { ErrorKind::NoSuchImage } else { ErrorKind::Engine };
            let message = error.clone();
            Error::new(kind, message).with_source(err)
        }
        BollardError::IOError { .. }
        | BollardError::HyperResponseError { .. }
        | BollardError::HyperLegacyError { .. }
        | BollardError::SocketNotFoundError(_)
        | BollardError::HttpClientError { .. } => {
            let message = err.to_string();
            Error::new(ErrorKind::Connection, message).with_source(err)
        }
        BollardError::JsonDataError { .. } | BollardError::JsonSerdeError { .. } => {
            let message = format!("unexpected answer from the engine: {err}");
            Error::new(ErrorKind::Engine, message).with_source(err)
        }
        other => {
            let message = other.to_string();
            Error::new(ErrorKind::Engine, message).with_source(other)
        }
    }
}

/// Maps an engine's error answer (HTTP `status` and its `message`) to the library's error,
/// keeping both. For the requests made without bollard (exec start, GetState's inspect).
pub(crate) fn from_status(status: u16, message: String, subject: Subject) -> Error {
    Error::new(kind_for_status(status, &message, subject), message).with_http_status(status)
}

/// The message of an engine's error answer: the `message` of its JSON body, else the body as
/// text (a proxy in front of the engine may answer in plain text).
pub(crate) fn answer_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Answer {
        message: String,
    }
    match serde_json::from_slice::<Answer>(body) {
        Ok(answer) => answer.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    }
}

/// Maps an error answer the library read itself (without bollard) from its status and body.
pub(crate) fn from_answer(status: u16, body: &[u8], subject: Subject) -> Error {
    let message = answer_message(body);
    let message = if message.is_empty() { format!("the engine answered HTTP {status}") } else { message };
    from_status(status, message, subject)
}

fn kind_for_status(status: u16, message: &str, subject: Subject) -> ErrorKind {
    match status {
        404 => match subject {
            Subject::Container | Subject::Exec => ErrorKind::NoSuchContainer,
            Subject::Image => ErrorKind::NoSuchImage,
            Subject::Engine => ErrorKind::Engine,
        },
        400 | 500 if message.contains(AMBIGUOUS_MARK) => ErrorKind::AmbiguousContainerName,
        // 409 on exec is "container is not running" or "is paused" (and on other requests a
        // conflict the engine explains in its message).
        409 if subject == Subject::Exec => ErrorKind::ContainerNotRunning,
        _ if subject == Subject::Image => ErrorKind::NoSuchImage,
        _ => ErrorKind::Engine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> BollardError {
        BollardError::DockerResponseServerError { status_code, message: message.into() }
    }

    #[test]
    fn not_found_depends_on_what_was_asked() {
        assert_eq!(from_bollard(server(404, "x"), Subject::Container).kind(), ErrorKind::NoSuchContainer);
        assert_eq!(from_bollard(server(404, "x"), Subject::Image).kind(), ErrorKind::NoSuchImage);
        assert_eq!(from_bollard(server(404, "x"), Subject::Engine).kind(), ErrorKind::Engine);
    }

    #[test]
    fn ambiguous_prefix_is_recognised_on_old_and_new_engines() {
        let msg = "Multiple IDs found with provided prefix: a";
        for status in [400, 500] {
            let e = from_bollard(server(status, msg), Subject::Container);
            assert_eq!(e.kind(), ErrorKind::AmbiguousContainerName);
            assert_eq!(e.http_status(), Some(status));
            assert_eq!(e.message(), msg);
        }
        assert_eq!(from_bollard(server(500, "boom"), Subject::Container).kind(), ErrorKind::Engine);
    }

    #[test]
    fn answers_made_without_bollard_are_mapped_as_bollard_s() {
        let message = answer_message(br#"{"message":"No such container: x"}"#);
        assert_eq!(message, "No such container: x");
        let e = from_status(404, message, Subject::Container);
        assert_eq!(e.kind(), ErrorKind::NoSuchContainer);
        assert_eq!(e.http_status(), Some(404));
        assert_eq!(e.message(), "No such container: x");
        assert_eq!(answer_message(b"Bad Gateway\n"), "Bad Gateway");
        let ambiguous = answer_message(br#"{"message":"Multiple IDs found with provided prefix: a"}"#);
        assert_eq!(from_status(400, ambiguous, Subject::Container).kind(), ErrorKind::AmbiguousContainerName);
    }

    #[test]
    fn answers_read_without_bollard_map_like_bollard_errors() {
        let e = from_answer(404, br#"{"message":"No such container: x"}"#, Subject::Container);
        assert_eq!((e.kind(), e.message(), e.http_status()), (ErrorKind::NoSuchContainer, "No such container: x", Some(404)));
        let e = from_answer(500, br#"{"message":"Multiple IDs found with provided prefix: a"}"#, Subject::Container);
        assert_eq!(e.kind(), ErrorKind::AmbiguousContainerName);
        assert_eq!(from_answer(409, b"", Subject::Exec).kind(), ErrorKind::ContainerNotRunning);
        assert_eq!(from_answer(502, b"bad gateway\n", Subject::Container).message(), "bad gateway");
        assert_eq!(from_answer(500, b"", Subject::Container).message(), "the engine answered HTTP 500");
    }

    #[test]
    fn errors_inside_a_pull_stream_mean_no_such_image() {
        let e = from_bollard(BollardError::DockerStreamError { error: "denied".into() }, Subject::Image);
        assert_eq!(e.kind(), ErrorKind::NoSuchImage);
        assert_eq!(e.message(), "denied");
    }
}
