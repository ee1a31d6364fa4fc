//! GetLogs on a swarm: the task's log through the manager, with the Docker engine's log
//! session (frames, timestamps, the repair of a cut end).
//!
//! A followed task log never ends by itself, not even when the task has: the session watches
//! the task while the stream is quiet, and once it has ended closes the followed stream and
//! reads the end of the log without following. A task whose node the manager reports lost ends
//! the log with a connection error.

use std::time::Duration;

use super::ops::Backoff;
use super::task::{fetch, observe, Node, Phase, Task};
use super::{api, spec};
use crate::docker::logs::{LogSession, LogTarget};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{Request, Transport};
use crate::model::GetLogsRequest;
use crate::validate;

/// How long a followed task log may stay quiet before the task is looked at.
const WATCH: Duration = Duration::from_millis(500);

/// A task's log, pinned to the task.
pub(crate) struct TaskLog {
    task_id: String,
}

impl LogTarget for TaskLog {
    fn request(&self, follow: bool, timestamps: bool, extra: &str) -> Request {
        api::task_logs(&self.task_id, follow, timestamps, extra)
    }

    fn watch_every(&self) -> Option<Duration> {
        Some(WATCH)
    }

    async fn ended<T: Transport>(&mut self, t: &T) -> Result<bool> {
        let task: Task = match fetch(t, &api::inspect_task(&self.task_id)).await {
            Ok(task) => task,
            // Removed with its service: nothing more will come.
            Err(e) if e.kind() == ErrorKind::NoSuchContainer => return Ok(true),
            Err(e) => return Err(e),
        };
        // The log lives on the task's node, ended or not: a lost node ends the log with its error
        // (the manager's stream would stay quiet for ever).
        if let Some(node_id) = task.node_id.as_deref().filter(|id| !id.is_empty()) {
            let node: Node = fetch(t, &api::inspect_node(node_id)).await?;
            if let Some(lost) = node.lost(&task.id) {
                return Err(lost.context("logs"));
            }
        }
        Ok(!matches!(task.phase(), Phase::Active { .. }))
    }
}

/// Looks the service up (an unknown or ambiguous ID fails here) and opens its task's log:
/// followed while the task runs, read to its end when it has ended.
pub(crate) async fn open<T: Transport>(t: &T, request: GetLogsRequest) -> Result<LogSession<T::Conn, TaskLog>> {
    validate::container_id("id", &request.id)?;
    let key = spec::service_name(&request.id);
    let mut backoff = Backoff::new();
    let started = std::time::Instant::now();
    let (task, node) = loop {
        let observed = observe(t, &key, true).await?;
        if let Some(task) = observed.task {
            break (task, observed.node);
        }
        if started.elapsed() >= t.timeout() {
            return Err(Error::new(ErrorKind::Timeout, format!("logs: the swarm made no task for {} in {:?}", request.id, t.timeout())));
        }
        backoff.pause(t).await?;
    };
    let follow = match task.phase() {
        Phase::Refused(e) => return Err(e),
        Phase::Active { .. } => true,
        _ => false,
    };
    if let Some(lost) = node.as_ref().and_then(|n| n.lost(&task.id)) {
        return Err(lost.context("logs"));
    }
    // A followed log is read with timestamps, to read its end again once it is closed.
    LogSession::open_target(t, TaskLog { task_id: task.id }, false, follow, follow).await
}
