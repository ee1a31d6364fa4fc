//! WaitContainer and the list of managed containers (docs/contract.md, "WaitContainer",
//! "ListContainers"): what a CI runner needs beyond polling, and to find its tasks again after a
//! restart.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::Deserialize;

use super::errors::{from_answer, success, Subject};
use super::inspect::{has_exited, inspect, state_from_inspect};
use super::{api, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, read_body, Opened, Transport};
use crate::model::{ContainerState, ContainerSummary, GetStateResponse, WaitContainerRequest};
use crate::validate;

/// The pause between two attempts while the engine does not answer (a daemon restart).
const RETRY: Duration = Duration::from_millis(250);

/// How long the engine has not answered, and whether that is longer than a wait survives.
pub(crate) struct Outage {
    since: Option<Instant>,
    limit: Duration,
}

impl Outage {
    /// An outage tolerated for at most `limit` (the request timeout).
    pub(crate) fn new(limit: Duration) -> Self {
        Outage { since: None, limit }
    }

    /// The engine answered: an outage starts again from zero.
    pub(crate) fn over(&mut self) {
        self.since = None;
    }

    /// Lets a connection failure or a timeout pass while the engine has been away for less
    /// than the request timeout: a restarting daemon comes back within seconds.
    pub(crate) fn tolerate(&mut self, e: Error) -> Result<()> {
        if !matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout) || e.is_interruption() {
            return Err(e);
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() >= self.limit {
            return Err(e.context(format_args!("container wait: the engine has not answered for {:?}", self.limit)));
        }
        Ok(())
    }
}

/// Waits until the container has exited and answers its final state, EXITED or CANCELLED.
///
/// The engine's wait endpoint answers at the exit; the state then comes from an inspect (the
/// OOM flag, the times, a cancellation), or, when the container is already being removed or
/// gone by then, from the exit code the wait answered. A container that was created and not yet
/// started is waited for until it has started and exited. While the engine does not answer (a
/// restart), the wait is asked again, for as long as the request timeout.
pub(crate) async fn wait<T: Transport>(t: &T, shared: &Shared, req: WaitContainerRequest) -> Result<GetStateResponse> {
    validate::container_id("id", &req.id)?;
    // An unknown or ambiguous ID fails at once.
    let mut inspected = Some(inspect(t, shared, &req.id).await?);
    let full_id = inspected.as_ref().map(|i| i.id.clone()).unwrap_or_default();
    let mut outage = Outage::new(t.timeout());
    let mut answered: Option<i64> = None;
    loop {
        let current = match inspected.take() {
            Some(current) => current,
            None => match inspect(t, shared, &full_id).await {
                Ok(current) => current,
                // Removed right after its exit (by prune, an auto-remove, a `docker rm`): the
                // wait's answer is all there is.
                Err(e) if e.kind() == ErrorKind::NoSuchContainer && answered.is_some() => {
                    return Ok(from_answer_code(shared, &full_id, answered.unwrap_or_default()));
                }
                Err(e) => {
                    outage.tolerate(e)?;
                    t.pause(RETRY).await?;
                    continue;
                }
            },
        };
        outage.over();
        if has_exited(current.status.as_deref()) {
            return Ok(state_from_inspect(shared, &current));
        }
        if let (Some("removing"), Some(code)) = (current.status.as_deref(), answered) {
            let mut state = from_answer_code(shared, &full_id, code);
            (state.oom_killed, state.started_at, state.finished_at) = (current.oom_killed, current.started_at, current.finished_at);
            return Ok(state);
        }
        let not_started = current.status.as_deref() == Some("created");
        match wait_once(t, shared, &full_id, not_started).await {
            Ok(code) => {
                // A second answer is of a container that ran again (a restart policy): asked
                // again, never in a busy loop.
                if answered.is_some() {
                    t.pause(RETRY).await?;
                }
                answered = code.or(answered);
            }
            Err(e) => {
                outage.tolerate(e)?;
                t.pause(RETRY).await?;
            }
        }
    }
}

/// The final state from the exit code a wait answered, for a container no inspect can see.
fn from_answer_code(shared: &Shared, full_id: &str, exit_code: i64) -> GetStateResponse {
    let cancelled = shared.cancelled().contains(full_id);
    GetStateResponse::new(if cancelled { ContainerState::Cancelled } else { ContainerState::Exited }, exit_code)
}

/// One wait on the engine's endpoint; returns the exit code it answered when the container is
/// no longer running (or, `not_started`, has run and exited), `None` when it answered without
/// one.
async fn wait_once<T: Transport>(t: &T, shared: &Shared, full_id: &str, not_started: bool) -> Result<Option<i64>> {
    // "not-running" answers at once for a container that has not started yet: "next-exit"
    // waits for its exit, but would wait forever for one that exits before the wait is
    // registered, so the state is asked again once the engine has answered the head.
    let condition = if not_started { "next-exit" } else { "not-running" };
    let (mut conn, head) = match t.open(&api::wait_container(full_id, condition), None, deadline_in(t.timeout())).await? {
        Opened::Stream(conn, head) => (conn, head),
        Opened::Refused(answer) => return Err(from_answer(&answer, Subject::Container).context("container wait")),
    };
    if not_started && has_exited(inspect(t, shared, full_id).await?.status.as_deref()) {
        return Ok(None);
    }
    // The answer's body (`{"StatusCode":..}`) comes at the exit.
    let mut body = Vec::new();
    read_body(t, &mut conn, &head, None, None, |bytes| {
        if body.len() + bytes.len() > MAX_ANSWER {
            return Err(Error::new(ErrorKind::Engine, "container wait: the engine's answer is larger than expected"));
        }
        body.extend_from_slice(bytes);
        Ok(())
    })
    .await?;
    Ok(exit_code_of(&body))
}

/// The exit code a wait answered: `StatusCode`, unless the answer also carries an `Error`, in
/// which case its `StatusCode` is no exit code (Podman answers `{"StatusCode":0,"Error":{...
/// "no such container"}}` for a container removed at its exit: a failed job must not read as 0).
fn exit_code_of(body: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct Waited {
        #[serde(rename = "StatusCode")]
        status_code: Option<i64>,
        #[serde(rename = "Error")]
        error: Option<WaitError>,
    }
    #[derive(Deserialize)]
    struct WaitError {
        #[serde(rename = "Message", default)]
        message: String,
    }
    let waited = serde_json::from_slice::<Waited>(body).ok()?;
    match waited.error {
        Some(e) if !e.message.is_empty() => None,
        _ => waited.status_code,
    }
}

/// The largest wait answer read (it is a few dozen bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// What the list reads of a container.
#[derive(Deserialize)]
struct Listed {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Names", default)]
    names: Vec<String>,
    #[serde(rename = "Created", default)]
    created: i64,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The containers that carry the library's label, oldest first, each with its state.
pub(crate) async fn list<T: Transport>(t: &T, shared: &Shared) -> Result<Vec<ContainerSummary>> {
    let answer = t.call(&api::list_managed(false), deadline_in(t.timeout())).await?;
    let mut listed: Vec<Listed> = serde_json::from_slice(&success(answer, Subject::Engine)?)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to a container list: {e}")))?;
    listed.sort_by_key(|l| l.created);
    let mut out = Vec::with_capacity(listed.len());
    for container in listed {
        // The list has no exit code or OOM flag: the inspect has. One removed meanwhile is gone.
        let inspected = match inspect(t, shared, &container.id).await {
            Ok(inspected) => inspected,
            Err(e) if e.kind() == ErrorKind::NoSuchContainer => continue,
            Err(e) => return Err(e),
        };
        let name = container.names.first().map(|n| n.trim_start_matches('/').to_owned()).unwrap_or(inspected.name.clone());
        out.push(ContainerSummary {
            name,
            id: container.id,
            state: state_from_inspect(shared, &inspected),
            created_at: u64::try_from(container.created).ok().and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s))),
            labels: container.labels.unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::exit_code_of;

    #[test]
    fn a_wait_answer_with_an_error_has_no_exit_code() {
        assert_eq!(exit_code_of(br#"{"StatusCode":3,"Error":null}"#), Some(3));
        assert_eq!(exit_code_of(br#"{"StatusCode":0}"#), Some(0));
        assert_eq!(exit_code_of(br#"{"StatusCode":0,"Error":{"Message":""}}"#), Some(0));
        assert_eq!(exit_code_of(br#"{"StatusCode":0,"Error":{"Message":"container x does not exist in database: no such container"}}"#), None);
        assert_eq!(exit_code_of(b"not json"), None);
    }
}
