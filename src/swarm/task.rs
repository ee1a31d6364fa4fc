//! What the swarm says of a service's task and of the node that runs it, and the seed's state
//! made from it (docs/contract.md, "Swarm").
//!
//! Only the members used are decoded (as for a container inspect): a task document holds its
//! whole spec, and a later engine's new members or state words must not make it unreadable.

use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::api;
use crate::docker::errors::{success, Subject};
use crate::docker::stamps::{parse_stamp, parse_time};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, Transport};
use crate::model::{ContainerState, GetStateResponse};

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Task {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ServiceID", default)]
    pub service_id: String,
    #[serde(rename = "NodeID", default)]
    pub node_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    pub status: Option<TaskStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TaskStatus {
    timestamp: Option<String>,
    pub state: Option<String>,
    message: Option<String>,
    err: Option<String>,
    pub container_status: Option<ContainerStatus>,
    pub port_status: Option<PortStatus>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerStatus {
    #[serde(rename = "ContainerID")]
    pub container_id: Option<String>,
    exit_code: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PortStatus {
    pub ports: Option<Vec<PublishedPort>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PublishedPort {
    pub target_port: Option<i64>,
    pub published_port: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Node {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub description: Option<NodeDescription>,
    #[serde(default)]
    pub status: Option<NodeStatus>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NodeDescription {
    pub hostname: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NodeStatus {
    state: Option<String>,
    message: Option<String>,
    pub addr: Option<String>,
}

impl Node {
    pub(crate) fn hostname(&self) -> &str {
        self.description.as_ref().and_then(|d| d.hostname.as_deref()).unwrap_or("")
    }

    pub(crate) fn addr(&self) -> &str {
        self.status.as_ref().and_then(|s| s.addr.as_deref()).unwrap_or("")
    }

    /// The manager's error when it has lost touch with the node (missed heartbeats): whatever
    /// the node runs is not known any more. A node of unknown state (a manager that has just
    /// restarted) is not lost.
    pub(crate) fn lost(&self, task_id: &str) -> Option<Error> {
        let status = self.status.as_ref()?;
        (status.state.as_deref() == Some("down")).then(|| {
            let why = status.message.as_deref().filter(|m| !m.is_empty()).unwrap_or("no reason given");
            let node = format!("node {} ({}, {})", self.id, self.hostname(), self.addr());
            Error::new(ErrorKind::Connection, format!("task {task_id}: the swarm reports its {node} down: {why}"))
        })
    }
}

/// Where a task stands.
#[derive(Debug)]
pub(crate) enum Phase {
    /// On its way (created, placed, its image pulled, starting: `running` false), or running.
    Active { running: bool },
    /// It ran and ended with this exit code.
    Exited(i64),
    /// The swarm shut it down (its service removed or updated, its node drained).
    ShutDown(i64),
    /// The swarm could not run it, with its reason.
    Refused(Error),
    /// Being removed, or a state word of a later engine.
    Unknown,
}

impl Task {
    fn status(&self) -> TaskStatus {
        self.status.clone().unwrap_or_default()
    }

    pub(crate) fn container_id(&self) -> Option<&str> {
        let status = self.status.as_ref()?.container_status.as_ref()?;
        status.container_id.as_deref().filter(|id| !id.is_empty())
    }

    fn exit_code(&self) -> i64 {
        self.status.as_ref().and_then(|s| s.container_status.as_ref()).and_then(|c| c.exit_code).unwrap_or(0)
    }

    /// The time of its last state change.
    fn changed_at(&self) -> Option<SystemTime> {
        parse_time(self.status.as_ref()?.timestamp.as_deref())
    }

    pub(crate) fn state_word(&self) -> &str {
        self.status.as_ref().and_then(|s| s.state.as_deref()).unwrap_or("")
    }

    pub(crate) fn phase(&self) -> Phase {
        let status = self.status();
        let err = status.err.as_deref().unwrap_or("");
        match self.state_word() {
            "new" | "allocated" | "pending" | "assigned" | "accepted" | "preparing" | "ready" | "starting" => Phase::Active { running: false },
            "running" => Phase::Active { running: true },
            "complete" => Phase::Exited(self.exit_code()),
            // swarmkit's words for a process that ran and exited non-zero.
            "failed" if err.starts_with("task: non-zero exit") => Phase::Exited(self.exit_code()),
            "shutdown" => Phase::ShutDown(self.exit_code()),
            state @ ("failed" | "rejected") => Phase::Refused(refusal(&self.id, state, err)),
            "orphaned" => Phase::Refused(Error::new(
                ErrorKind::Connection,
                format!("task {}: the swarm gave it up: its node was unreachable for too long", self.id),
            )),
            _ => Phase::Unknown,
        }
    }

    /// Why it is not running yet, in the swarm's words (for a start that waits too long).
    pub(crate) fn waiting_for(&self) -> String {
        let status = self.status();
        let why = status.err.filter(|e| !e.is_empty()).or(status.message).unwrap_or_default();
        format!("{} ({why})", self.state_word())
    }

    /// The seed's state; `cancelled` when it was stopped through StopContainer. A task the
    /// swarm could not run, or whose node is lost (`node`), is an error with the swarm's reason.
    pub(crate) fn state(&self, cancelled: bool, node: Option<&Node>) -> Result<GetStateResponse> {
        let ended = |state, code| GetStateResponse { finished_at: self.changed_at(), ..GetStateResponse::new(state, code) };
        Ok(match self.phase() {
            Phase::Active { running } => {
                if let Some(lost) = node.and_then(|n| n.lost(&self.id)) {
                    return Err(lost);
                }
                let started_at = if running { self.changed_at() } else { None };
                GetStateResponse { started_at, ..GetStateResponse::new(ContainerState::Running, 0) }
            }
            Phase::Exited(code) if cancelled => ended(ContainerState::Cancelled, code),
            Phase::Exited(code) => ended(ContainerState::Exited, code),
            Phase::ShutDown(code) => ended(ContainerState::Cancelled, code),
            Phase::Refused(e) => return Err(e),
            Phase::Unknown => GetStateResponse::new(ContainerState::Unknown, 0),
        })
    }
}

/// The error of a task the swarm could not run: a missing image is NoSuchImage, a mount the
/// node refused an invalid argument (the node's words are all there is to tell them apart).
fn refusal(task_id: &str, state: &str, err: &str) -> Error {
    let kind = if err.starts_with("No such image") {
        ErrorKind::NoSuchImage
    } else if err.contains("invalid mount config") {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Engine
    };
    Error::new(kind, format!("task {task_id}: the swarm could not run it ({state}): {err}"))
}

/// The newest task of a list (by creation): a service's current one.
pub(crate) fn newest(tasks: Vec<Task>) -> Option<Task> {
    tasks.into_iter().max_by_key(|t| t.created_at.as_deref().and_then(|c| parse_stamp(c.as_bytes())).unwrap_or(i64::MIN))
}

/// Sends `request` and decodes its answer; a 404 is NoSuchContainer (no such service, task or
/// node), an ambiguous prefix AmbiguousContainerName.
pub(crate) async fn fetch<T: Transport, D: DeserializeOwned>(t: &T, request: &crate::http::Request) -> Result<D> {
    let answer = t.call(request, deadline_in(t.timeout())).await?;
    let body = success(answer, Subject::Container)?;
    serde_json::from_slice(&body)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to a {}: {e}", request.what)).with_source(e))
}

/// A service's current task, `None` while the swarm has made none; its node, when `with_node`
/// and the task has been placed.
pub(crate) struct Observed {
    pub task: Option<Task>,
    pub node: Option<Node>,
}

/// Looks service `key` (its name, ID or ID prefix) up with its current task.
pub(crate) async fn observe<T: Transport>(t: &T, key: &str, with_node: bool) -> Result<Observed> {
    let tasks: Vec<Task> = fetch(t, &api::list_tasks(&[key])).await?;
    let task = newest(tasks);
    let node_id = task.as_ref().filter(|_| with_node).and_then(|task| task.node_id.clone()).filter(|id| !id.is_empty());
    let node = match node_id {
        Some(id) => Some(fetch(t, &api::inspect_node(&id)).await?),
        None => None,
    };
    Ok(Observed { task, node })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(json: &str) -> Task {
        serde_json::from_str(json).unwrap()
    }

    /// The Status of a task of Docker 20.10.24's swarm, as `GET /tasks` gave it.
    const FAILED: &str = r#"{"ID":"t809","ServiceID":"a3xy","NodeID":"hlaw","CreatedAt":"2026-12-02T14:55:45.409631158Z",
        "Status":{"Timestamp":"2026-12-02T14:55:46.383285351Z","State":"failed","Message":"started","Err":"task: non-zero exit (3)",
        "ContainerStatus":{"ContainerID":"98ed","PID":0,"ExitCode":3},"PortStatus":{}},"DesiredState":"shutdown"}"#;

    #[test]
    fn task_states_map_to_the_seed_s() {
        let failed = task(FAILED);
        let state = failed.state(false, None).unwrap();
        assert_eq!((state.state, state.exit_code), (ContainerState::Exited, 3));
        assert!(state.finished_at.is_some());
        assert_eq!(failed.state(true, None).unwrap().state, ContainerState::Cancelled);
        assert_eq!(failed.container_id(), Some("98ed"));
        let with = |state: &str, err: &str| task(&format!(r#"{{"ID":"t","Status":{{"State":"{state}","Err":"{err}"}}}}"#));
        assert_eq!(with("pending", "").state(false, None).unwrap().state, ContainerState::Running);
        assert_eq!(with("complete", "").state(false, None).unwrap().exit_code, 0);
        assert_eq!(with("shutdown", "").state(false, None).unwrap().state, ContainerState::Cancelled);
        assert_eq!(with("remove", "").state(false, None).unwrap().state, ContainerState::Unknown);
        let rejected = with("rejected", "No such image: x:latest").state(false, None).unwrap_err();
        assert_eq!(rejected.kind(), ErrorKind::NoSuchImage);
        assert!(rejected.message().contains("No such image: x:latest"), "{rejected}");
        assert_eq!(with("failed", "starting container failed: boom").state(false, None).unwrap_err().kind(), ErrorKind::Engine);
        assert_eq!(with("orphaned", "").state(false, None).unwrap_err().kind(), ErrorKind::Connection);
    }

    #[test]
    fn a_running_task_on_a_node_reported_down_is_a_connection_error() {
        let running = task(r#"{"ID":"t","NodeID":"n","Status":{"State":"running"}}"#);
        let down: Node = serde_json::from_str(r#"{"ID":"n","Description":{"Hostname":"w2"},"Status":{"State":"down","Message":"heartbeat failure","Addr":"10.0.0.2"}}"#).unwrap();
        let e = running.state(false, Some(&down)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connection);
        assert!(e.message().contains("heartbeat failure") && e.message().contains("10.0.0.2"), "{e}");
        let unknown: Node = serde_json::from_str(r#"{"ID":"n","Status":{"State":"unknown"}}"#).unwrap();
        assert_eq!(running.state(false, Some(&unknown)).unwrap().state, ContainerState::Running);
    }

    #[test]
    fn the_newest_task_is_the_current_one() {
        let old = task(r#"{"ID":"old","CreatedAt":"2026-12-02T14:55:45.1Z"}"#);
        let new = task(r#"{"ID":"new","CreatedAt":"2026-12-02T14:55:46.1Z"}"#);
        assert_eq!(newest(vec![new, old]).unwrap().id, "new");
        assert!(newest(Vec::new()).is_none());
    }
}
