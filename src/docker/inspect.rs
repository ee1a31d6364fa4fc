//! What the library reads from a container inspect: the full ID, the status, the exit code and
//! whether the container has a TTY, and the seed's state made from them.
//!
//! The inspect document is several KB (every `HostConfig` member, mounts, networks). Decoding
//! all of it into bollard's `ContainerInspectResponse` cost 60–80 µs of CPU per GetState, most of
//! the call (benches/analysis.md, state); here serde skips every member but these four.
//! [`parse_state`] is a pure function of the answer's body.

use serde::Deserialize;

use std::time::SystemTime;

use super::errors::{success, Subject};
use super::stamps::parse_time;
use super::{api, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, Transport};
use crate::model::{ContainerState, GetStateResponse};

/// The members of a container inspect that the library uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InspectedState {
    /// The full ID, which pins later requests to this container even if its name is reused.
    pub id: String,
    /// The engine's status word (`created`, `running`, `exited`...), `None` if it gave none.
    pub status: Option<String>,
    pub exit_code: i64,
    /// A container with a TTY writes its output unframed.
    pub tty: bool,
    /// The container's name, without the engine's leading `/`.
    pub name: String,
    /// The signal that stops the container gracefully (the image's `STOPSIGNAL`), if set.
    pub stop_signal: Option<String>,
    /// The engine's own out-of-memory flag.
    pub oom_killed: bool,
    pub started_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    id: String,
    name: Option<String>,
    state: Option<State>,
    config: Option<Config>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    status: Option<String>,
    exit_code: Option<i64>,
    #[serde(rename = "OOMKilled")]
    oom_killed: Option<bool>,
    started_at: Option<String>,
    finished_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    tty: Option<bool>,
    stop_signal: Option<String>,
}

/// Decodes the body of a successful `GET /containers/{id}/json`.
pub(crate) fn parse_state(body: &[u8]) -> Result<InspectedState> {
    let inspect: Inspect = serde_json::from_slice(body).map_err(|e| {
        Error::new(ErrorKind::Engine, format!("unexpected answer from the engine to a container inspect: {e}"))
            .with_source(e)
    })?;
    let state = inspect.state.unwrap_or(State { status: None, exit_code: None, oom_killed: None, started_at: None, finished_at: None });
    let (tty, stop_signal) = match inspect.config {
        Some(config) => (config.tty.unwrap_or(false), config.stop_signal),
        None => (false, None),
    };
    let name = inspect.name.map(|n| n.trim_start_matches('/').to_owned()).unwrap_or_default();
    Ok(InspectedState {
        id: inspect.id,
        status: state.status,
        exit_code: state.exit_code.unwrap_or(0),
        tty,
        name,
        stop_signal,
        oom_killed: state.oom_killed.unwrap_or(false),
        started_at: parse_time(state.started_at.as_deref()),
        finished_at: parse_time(state.finished_at.as_deref()),
    })
}

/// The seed's state for the engine's `status`. The exit code counts only once the container
/// has exited; `cancelled` says that it was stopped through StopContainer.
pub(crate) fn state_of(status: Option<&str>, exit_code: i64, cancelled: bool) -> (ContainerState, i64) {
    match status {
        Some("created" | "running") => (ContainerState::Running, 0),
        Some("paused") => (ContainerState::Paused, 0),
        Some("restarting") => (ContainerState::Restarting, 0),
        _ if has_exited(status) && cancelled => (ContainerState::Cancelled, exit_code),
        _ if has_exited(status) => (ContainerState::Exited, exit_code),
        // "removing", a status word of a later engine, or none.
        _ => (ContainerState::Unknown, 0),
    }
}

/// Whether the engine's `status` is that of a container that has stopped for good. Podman says
/// "stopped" between the exit (its exit code known) and its cleanup, then "exited".
pub(crate) fn has_exited(status: Option<&str>) -> bool {
    matches!(status, Some("exited" | "dead" | "stopped"))
}

/// Inspects container `id` (a name, a full ID or an ID prefix), decoding only what
/// [`InspectedState`] holds. A container the engine does not know cannot be asked about again
/// under `id`: its cancellation, if any, is dropped (see `cancelled`).
pub(crate) async fn inspect<T: Transport>(transport: &T, shared: &Shared, id: &str) -> Result<InspectedState> {
    let answer = transport.call(&api::inspect_container(id), deadline_in(transport.timeout())).await;
    match answer.and_then(|answer| success(answer, Subject::Container)) {
        Ok(body) => parse_state(&body),
        Err(e) => {
            if e.kind() == ErrorKind::NoSuchContainer {
                shared.cancelled().forget(id);
            }
            Err(e)
        }
    }
}

/// GetState's answer for an inspected container: its state, CANCELLED if it was stopped
/// through this engine.
pub(crate) fn state_from_inspect(shared: &Shared, inspected: &InspectedState) -> GetStateResponse {
    let cancelled = shared.cancelled().contains(&inspected.id);
    let (state, exit_code) = state_of(inspected.status.as_deref(), inspected.exit_code, cancelled);
    GetStateResponse {
        exit_code,
        state,
        oom_killed: inspected.oom_killed,
        started_at: inspected.started_at,
        finished_at: inspected.finished_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers of Docker 20.10.24 (API 1.41) to `GET /v1.41/containers/{name}/json`.
    const EXITED: &[u8] = include_bytes!("testdata/inspect-exited.json");
    const RUNNING_TTY: &[u8] = include_bytes!("testdata/inspect-running-tty.json");

    #[test]
    fn an_engine_s_inspect_answer_gives_id_status_exit_code_tty_and_name() {
        let exited = parse_state(EXITED).expect("a real inspect answer decodes");
        assert_eq!(
            exited,
            InspectedState {
                id: "7a6fedf8edcf8d044f7ed869656c8b7b338ece52d624006c765efa45d3d19b66".into(),
                status: Some("exited".into()),
                exit_code: 3,
                tty: false,
                name: "gofer-test-perf-state".into(),
                stop_signal: None,
                oom_killed: false,
                started_at: parse_time(Some("2026-11-28T00:11:27.326001074Z")),
                finished_at: parse_time(Some("2026-11-28T00:11:27.324089146Z")),
            }
        );
        let running = parse_state(RUNNING_TTY).expect("a real inspect answer decodes");
        assert_eq!(running.status.as_deref(), Some("running"));
        assert_eq!(running.exit_code, 0);
        assert!(running.tty);
        assert_eq!(running.id.len(), 64);
    }

    #[test]
    fn missing_members_are_defaults_and_a_missing_id_or_bad_json_is_an_engine_error() {
        let bare = parse_state(br#"{"Id":"abc"}"#).expect("only Id is required");
        assert_eq!(bare, InspectedState {
            id: "abc".into(),
            status: None,
            exit_code: 0,
            tty: false,
            name: String::new(),
            stop_signal: None,
            oom_killed: false,
            started_at: None,
            finished_at: None,
        });
        let nulls = parse_state(br#"{"Id":"abc","State":null,"Config":{"Tty":null}}"#).expect("nulls decode");
        assert_eq!(nulls, bare);
        for body in [&br#"{"State":{"Status":"running"}}"#[..], b"", b"{", b"[]", br#"{"Id":7}"#] {
            let e = parse_state(body).expect_err("not an inspect answer");
            assert_eq!(e.kind(), ErrorKind::Engine, "{body:?}");
        }
    }

    #[test]
    fn engine_status_maps_to_the_seed_states() {
        let s = |status, code, cancelled| state_of(Some(status), code, cancelled);
        assert_eq!(s("created", 0, false).0, ContainerState::Running);
        assert_eq!(s("running", 7, true), (ContainerState::Running, 0));
        assert_eq!(s("paused", 0, false).0, ContainerState::Paused);
        assert_eq!(s("restarting", 0, false).0, ContainerState::Restarting);
        assert_eq!(s("exited", 3, false), (ContainerState::Exited, 3));
        assert_eq!(s("dead", 137, true), (ContainerState::Cancelled, 137));
        assert_eq!(s("exited", 1 << 40, false).1, 1 << 40);
        assert_eq!(s("stopped", 3, false), (ContainerState::Exited, 3), "Podman's word before its cleanup");
        assert_eq!(s("removing", 0, false).0, ContainerState::Unknown);
        assert_eq!(s("", 0, false).0, ContainerState::Unknown);
        assert_eq!(state_of(None, 0, false).0, ContainerState::Unknown);
    }
}
