//! The engine's error answers, mapped to the library's kinds.
//!
//! Decided by HTTP status, never by English text, except where the engine gives nothing else:
//! an ambiguous ID prefix is a 500 "Multiple IDs found ..." on Docker 20.10 and a 400 "multiple
//! IDs found ..." from 26 on, and a failed pull is a 500 (or a message inside a 200 stream)
//! whose only clue to its cause is the registry client's words. What a 404 means depends on
//! what was asked, hence [`Subject`]. The answers that differ between engine versions are all
//! read here (docs/contract.md, "Errors" and "Engine versions").

use crate::error::{Error, ErrorKind};
use crate::http::Answer;

/// What a request was about, to interpret a 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    Container,
    /// A container create: its 404 is the image's, its 400 a request the engine refused
    /// (a mount whose source does not exist, a limit out of range).
    Create,
    Image,
    Exec,
    Engine,
}

/// The only marks of an ambiguous prefix, compared without case: a container's ("Multiple IDs
/// found with provided prefix" on 20.10, "multiple IDs found ..." from 26 on), a swarm service's
/// or task's ("service x is ambiguous (2 matches found)", a 400).
const AMBIGUOUS_MARKS: [&str; 2] = ["multiple ids found", " is ambiguous ("];

/// Podman's words for an ambiguous ID prefix, which it answers with a 404 or a 500.
const PODMAN_AMBIGUOUS_MARK: &str = "more than one result for container ID";

/// Podman's words where Docker answers 409 "is not running" (a kill of an exited container,
/// an exec in a stopped one), in a 500.
const PODMAN_NOT_RUNNING_MARK: &str = "container state improper";

/// Whether an error answer says the container is not running: Docker's 409, Podman's 500.
pub(crate) fn says_not_running(answer: &Answer) -> bool {
    answer.status == 409 || (answer.status == 500 && answer_message(&answer.body).contains(PODMAN_NOT_RUNNING_MARK))
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

/// Maps an error answer to the library's error, keeping the engine's message and status.
pub(crate) fn from_answer(answer: &Answer, subject: Subject) -> Error {
    let message = answer_message(&answer.body);
    let message = if message.is_empty() { format!("the engine answered HTTP {}", answer.status) } else { message };
    from_status(answer.status, message, subject)
}

/// Maps an engine's error status and message to the library's error, keeping both.
pub(crate) fn from_status(status: u16, message: String, subject: Subject) -> Error {
    Error::new(kind_for_status(status, &message, subject), message).with_http_status(status)
}

/// The answer's body when it is a success, else its error.
pub(crate) fn success(answer: crate::http::Answer, subject: Subject) -> crate::Result<Vec<u8>> {
    if answer.is_success() {
        Ok(answer.body)
    } else {
        Err(from_answer(&answer, subject))
    }
}

fn kind_for_status(status: u16, message: &str, subject: Subject) -> ErrorKind {
    match status {
        404 | 500 if message.contains(PODMAN_AMBIGUOUS_MARK) => ErrorKind::AmbiguousContainerName,
        404 => match subject {
            Subject::Container | Subject::Exec => ErrorKind::NoSuchContainer,
            Subject::Image | Subject::Create => ErrorKind::NoSuchImage,
            Subject::Engine => ErrorKind::Engine,
        },
        400 if subject == Subject::Create => ErrorKind::InvalidArgument,
        400 | 500 if contains_any(message, &AMBIGUOUS_MARKS) => ErrorKind::AmbiguousContainerName,
        // 409 on exec is "container is not running" or "is paused" (and on other requests a
        // conflict the engine explains in its message).
        409 if subject == Subject::Exec => ErrorKind::ContainerNotRunning,
        500 if subject == Subject::Exec && message.contains(PODMAN_NOT_RUNNING_MARK) => ErrorKind::ContainerNotRunning,
        _ if subject == Subject::Image => ErrorKind::NoSuchImage,
        _ => ErrorKind::Engine,
    }
}

/// Whether `text` holds one of `marks` (written in lower case), whatever its case.
fn contains_any(text: &str, marks: &[&str]) -> bool {
    let text = text.to_ascii_lowercase();
    marks.iter().any(|mark| text.contains(mark))
}

/// The registry client's words for a registry it could not reach, on every engine version and
/// image store: a failed name lookup, a refused or unreachable address, a timeout.
const UNREACHABLE_MARKS: [&str; 8] = [
    "no such host",
    "connection refused",
    "network is unreachable",
    "no route to host",
    "i/o timeout",
    "server misbehaving",
    "tls handshake timeout",
    "connection reset by peer",
];
/// ... for a registry whose certificate it did not trust.
const CERTIFICATE_MARKS: [&str; 3] = ["x509:", "certificate signed by unknown authority", "certificate is not valid"];
/// ... for a refusal: no credentials, wrong ones, or a repository it will not name.
const REFUSED_MARKS: [&str; 5] =
    ["no basic auth credentials", "unauthorized", "authentication required", "pull access denied", "denied:"];
/// ... for a layer the image names and the registry does not have (the classic store's "blob
/// unknown", the containerd store's "could not fetch content descriptor ... not found",
/// Podman's "reading blob sha256:...: Error fetching blob: ... 404 (Not Found)").
const LAYER_MISSING_MARKS: [&str; 4] =
    ["blob unknown", "unknown blob", "could not fetch content descriptor", "error fetching blob"];
/// ... for a tag or repository the registry does not have.
const MISSING_MARKS: [&str; 3] = ["manifest unknown", "not found", "name unknown"];

/// Why a pull failed, in plain words, from the engine's reason (`None` when its words say
/// nothing we know). The kind stays NoSuchImage whatever the cause: the seed's
/// `ErrNoSuchImage` is "could not be pulled" (docs/contract.md, "Errors").
pub(crate) fn pull_failure_cause(reason: &str) -> Option<&'static str> {
    if contains_any(reason, &UNREACHABLE_MARKS) {
        Some("the registry could not be reached")
    } else if contains_any(reason, &CERTIFICATE_MARKS) {
        Some("the registry's TLS certificate was not trusted")
    } else if contains_any(reason, &REFUSED_MARKS) {
        Some("the registry refused access (no credentials, wrong ones, or no such repository)")
    } else if contains_any(reason, &LAYER_MISSING_MARKS) {
        Some("the registry is missing a layer of the image")
    } else if contains_any(reason, &MISSING_MARKS) {
        Some("the registry has no such image or tag")
    } else {
        None
    }
}

/// The message of a failed pull of `image`: its cause in plain words, then the engine's own.
pub(crate) fn pull_failure(image: &str, reason: &str) -> String {
    match pull_failure_cause(reason) {
        Some(cause) => format!("pull of {image}: {cause} ({reason})"),
        None => format!("pull of {image}: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &[u8]) -> Answer {
        Answer { status, body: body.to_vec() }
    }

    #[test]
    fn not_found_depends_on_what_was_asked() {
        let missing = answer(404, br#"{"message":"x"}"#);
        assert_eq!(from_answer(&missing, Subject::Container).kind(), ErrorKind::NoSuchContainer);
        assert_eq!(from_answer(&missing, Subject::Image).kind(), ErrorKind::NoSuchImage);
        assert_eq!(from_answer(&missing, Subject::Engine).kind(), ErrorKind::Engine);
    }

    #[test]
    fn ambiguous_prefix_is_recognised_on_old_and_new_engines() {
        // 20.10's 500, 26.1's and 28.5's 400, as each engine answered.
        for (status, msg) in [
            (500, "Multiple IDs found with provided prefix: a"),
            (400, "multiple IDs found with provided prefix: a"),
            (400, "Multiple IDs found with provided prefix: a"),
        ] {
            let e = from_status(status, msg.into(), Subject::Container);
            assert_eq!(e.kind(), ErrorKind::AmbiguousContainerName);
            assert_eq!(e.http_status(), Some(status));
            assert_eq!(e.message(), msg);
        }
        assert_eq!(from_status(500, "boom".into(), Subject::Container).kind(), ErrorKind::Engine);
        let swarm = "service h is ambiguous (2 matches found)";
        assert_eq!(from_status(400, swarm.into(), Subject::Container).kind(), ErrorKind::AmbiguousContainerName);
    }

    #[test]
    fn answers_keep_the_engine_message_and_status() {
        let e = from_answer(&answer(404, br#"{"message":"No such container: x"}"#), Subject::Container);
        assert_eq!((e.kind(), e.message(), e.http_status()), (ErrorKind::NoSuchContainer, "No such container: x", Some(404)));
        let e = from_answer(&answer(500, br#"{"message":"Multiple IDs found with provided prefix: a"}"#), Subject::Container);
        assert_eq!(e.kind(), ErrorKind::AmbiguousContainerName);
        assert_eq!(from_answer(&answer(409, b""), Subject::Exec).kind(), ErrorKind::ContainerNotRunning);
        assert_eq!(from_answer(&answer(502, b"bad gateway\n"), Subject::Container).message(), "bad gateway");
        assert_eq!(from_answer(&answer(500, b""), Subject::Container).message(), "the engine answered HTTP 500");
        assert_eq!(from_answer(&answer(500, b"denied"), Subject::Image).kind(), ErrorKind::NoSuchImage);
        let bind = answer(400, br#"{"message":"invalid mount config for type \"bind\": bind source path does not exist: /x"}"#);
        assert_eq!(from_answer(&bind, Subject::Create).kind(), ErrorKind::InvalidArgument);
        assert_eq!(from_answer(&answer(404, b""), Subject::Create).kind(), ErrorKind::NoSuchImage);
    }

    #[test]
    fn podman_s_words_for_docker_s_statuses_are_recognised() {
        let ambiguous = br#"{"message":"more than one result for container ID 0: container already exists"}"#;
        assert_eq!(from_answer(&answer(404, ambiguous), Subject::Container).kind(), ErrorKind::AmbiguousContainerName);
        assert_eq!(from_answer(&answer(500, ambiguous), Subject::Container).kind(), ErrorKind::AmbiguousContainerName);
        let stopped = answer(500, br#"{"message":"can only create exec sessions on running containers: container state improper"}"#);
        assert_eq!(from_answer(&stopped, Subject::Exec).kind(), ErrorKind::ContainerNotRunning);
        assert!(says_not_running(&stopped) && says_not_running(&answer(409, b"")));
        assert!(!says_not_running(&answer(500, b"boom")));
    }

    #[test]
    fn a_failed_pull_says_why_in_plain_words_on_every_engine() {
        // The engines' own words (docs/contract.md, "Engine versions").
        let cases = [
            (r#"Get "https://nonexistent.invalid/v2/": dial tcp: lookup nonexistent.invalid on 10.255.255.53:53: no such host"#, "could not be reached"),
            (r#"Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused"#, "could not be reached"),
            (r#"failed to resolve reference "127.0.0.1:5999/x:latest": failed to do request: Head "https://127.0.0.1:5999/v2/x/manifests/latest": dial tcp 127.0.0.1:5999: connect: connection refused"#, "could not be reached"),
            ("dial tcp: lookup r on 10.255.255.53:53: dial udp 10.255.255.53:53: connect: network is unreachable", "could not be reached"),
            ("Get \"https://r/v2/\": x509: certificate signed by unknown authority", "certificate was not trusted"),
            (r#"Head "http://10.0.0.1:5000/v2/p/manifests/latest": no basic auth credentials"#, "refused access"),
            ("unauthorized: authentication required", "refused access"),
            (r#"failed to resolve reference "r/p:latest": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"#, "refused access"),
            ("manifest for r/p:t not found: manifest unknown: manifest unknown", "no such image or tag"),
            (r#"failed to resolve reference "r/p:t": r/p:t: not found"#, "no such image or tag"),
            ("failed to copy: httpReadSeeker: failed open: could not fetch content descriptor sha256:ca61 (application/vnd.oci.image.layer.v1.tar+gzip) from remote: not found", "missing a layer"),
            ("error pulling image configuration: download failed after attempts=1: blob unknown: blob unknown to registry", "missing a layer"),
            ("reading blob sha256:7d4d: Error fetching blob: invalid status code from registry 404 (Not Found)", "missing a layer"),
        ];
        for (reason, cause) in cases {
            let message = pull_failure("r/p:t", reason);
            assert!(message.starts_with("pull of r/p:t: ") && message.contains(cause), "{reason}: {message}");
            assert!(message.ends_with(&format!("({reason})")), "the engine's words are kept: {message}");
        }
        assert_eq!(pull_failure("i", "something new"), "pull of i: something new");
    }
}
