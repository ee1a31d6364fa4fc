//! Getting the image of a task onto the engine.

use bollard::models::{ErrorDetail, ProgressDetail};
use serde::Deserialize;

use super::api;
use super::errors::{from_answer, pull_failure, success, Subject};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, read_body, Opened, Transport};
use crate::model::{ProgressCallback, PullProgress, RegistryAuth};

/// Longest message of a pull's progress stream (they are a few hundred bytes).
const MAX_MESSAGE: usize = 1024 * 1024;

/// Makes sure `image` is present, pulling it when it is not.
///
/// Presence is asked with an image inspect, which resolves names as the engine does
/// (`docker.io/library/x:latest` is `x`); a list filter on `reference` would not.
pub(crate) async fn ensure<T: Transport>(
    t: &T,
    image: &str,
    auth: Option<&RegistryAuth>,
    progress: Option<ProgressCallback<'_>>,
) -> Result<()> {
    let answer = t.call(&api::inspect_image(image), deadline_in(t.timeout())).await?;
    match success(answer, Subject::Image) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NoSuchImage && e.http_status() == Some(404) => pull(t, image, auth, progress).await,
        Err(e) => Err(e),
    }
}

/// One message of a pull's progress stream.
#[derive(Deserialize)]
struct Progress {
    #[serde(rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
    error: Option<String>,
    id: Option<String>,
    status: Option<String>,
    #[serde(rename = "progressDetail")]
    progress_detail: Option<ProgressDetail>,
}

/// Hands a progress message to the caller's callback; one that panics is dropped, and the pull
/// goes on without it.
fn report(progress: &mut Option<ProgressCallback<'_>>, message: Progress) {
    let Some(callback) = progress.as_mut() else { return };
    let detail = message.progress_detail.unwrap_or_default();
    let update = PullProgress {
        layer: message.id.unwrap_or_default(),
        status: message.status.unwrap_or_default(),
        current: detail.current.and_then(|c| u64::try_from(c).ok()),
        total: detail.total.and_then(|t| u64::try_from(t).ok()).filter(|t| *t > 0),
    };
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&update))).is_err() {
        *progress = None;
    }
}

/// Pulls `image`, reading the progress stream to its end.
///
/// The engine reports many failures (refused credentials, unknown manifest) as an error
/// message inside a 200 stream: those are NoSuchImage with the engine's reason, as are error
/// answers. The request timeout applies to each progress message: a large image may take long,
/// a silent registry may not. Every message goes to `progress`, if given, as it comes.
pub(crate) async fn pull<T: Transport>(
    t: &T,
    image: &str,
    auth: Option<&RegistryAuth>,
    mut progress: Option<ProgressCallback<'_>>,
) -> Result<()> {
    let request = api::pull_image(image, auth)?;
    let (mut conn, head) = match t.open(&request, None, deadline_in(t.timeout())).await? {
        Opened::Stream(conn, head) => (conn, head),
        Opened::Refused(answer) => {
            let e = from_answer(&answer, Subject::Image);
            let message = pull_failure(image, e.message());
            return Err(Error::new(e.kind(), message).with_http_status(answer.status));
        }
    };
    let mut line = Vec::new();
    let mut failure: Option<Error> = None;
    let mut on_message = |message: &[u8]| -> Result<()> {
        let text = message.trim_ascii();
        if text.is_empty() || failure.is_some() {
            return Ok(());
        }
        let message: Progress = serde_json::from_slice(text).map_err(|e| {
            Error::new(ErrorKind::Engine, format!("pull of {image}: unexpected progress message from the engine: {e}"))
        })?;
        let reason = message.error_detail.as_ref().and_then(|d| d.message.clone()).or(message.error.clone());
        match reason {
            Some(reason) => failure = Some(Error::new(ErrorKind::NoSuchImage, pull_failure(image, &reason))),
            None => report(&mut progress, message),
        }
        Ok(())
    };
    read_body(t, &mut conn, &head, Some(t.timeout()), None, |bytes| {
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            line.extend_from_slice(piece);
            if line.len() > MAX_MESSAGE {
                return Err(Error::new(ErrorKind::Engine, format!("pull of {image}: over-long progress message")));
            }
            if line.ends_with(b"\n") {
                on_message(&line)?;
                line.clear();
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| match e.kind() {
        ErrorKind::Timeout => Error::new(ErrorKind::Timeout, format!("pull of {image}: no progress from the engine within {:?}", t.timeout())),
        _ => e.context(format_args!("pull of {image}")),
    })?;
    on_message(&line)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
