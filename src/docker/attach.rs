//! AttachContainer: an exec with a TTY, reached through a Unix stream socket.
//!
//! The caller gets a plain file descriptor: Go wraps it in a real `net.Conn` with deadlines,
//! Python in a `socket.socket`, C uses read/write/poll. The exec start's connection is taken
//! over raw (see `http::upgrade`): bollard's exec stream guessed the framing from each chunk's
//! first byte and garbled TTY output that starts with 0x00-0x02.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use serde::Deserialize;

use super::errors::{from_answer, success, Subject};
use super::{api, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, Transport};
use crate::model::AttachContainerRequest;
use crate::validate;

/// One running exec session. Dropping it (or [`AttachSession::close`]) ends the session.
pub struct AttachSession {
    /// The caller's end: the engine's connection, or the caller's end of the bridge.
    socket: UnixStream,
    exec_id: String,
    pub(super) shared: Arc<Shared>,
    /// The task that copies between the bridge and the engine; `None` when `socket` is the
    /// engine's connection.
    bridge: Option<tokio::task::AbortHandle>,
}

/// Runs the command of `req` in its container with a TTY and connects to it.
pub(crate) async fn attach<T: Transport>(t: &T, shared: &Arc<Shared>, req: AttachContainerRequest) -> Result<AttachSession> {
    validate::attach_request(&req)?;
    #[derive(Deserialize)]
    struct Created {
        #[serde(rename = "Id")]
        id: String,
    }
    let answer = t.call(&api::create_exec(&req.id, &req.command)?, deadline_in(t.timeout())).await?;
    let body = success(answer, Subject::Exec).map_err(|e| not_running_is_said(e, &req.id))?;
    let Created { id: exec_id } = serde_json::from_slice(&body)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to an exec create: {e}")))?;
    let upgraded = t.upgrade(&api::start_exec(&exec_id)).await?.map_err(|answer| {
        not_running_is_said(from_answer(&answer, Subject::Exec), &req.id)
    })?;
    Ok(AttachSession { socket: upgraded.socket, exec_id, shared: shared.clone(), bridge: upgraded.bridge })
}

/// Resizes the TTY of exec `exec_id` (columns × rows).
pub(super) async fn resize<T: Transport>(t: &T, exec_id: &str, width: u16, height: u16) -> Result<()> {
    let answer = t.call(&api::resize_exec(exec_id, width, height), deadline_in(t.timeout())).await?;
    success(answer, Subject::Exec).map(|_| ())
}

/// The exit code of exec `exec_id`, `None` while it runs.
pub(super) async fn exit_code<T: Transport>(t: &T, exec_id: &str) -> Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Inspected {
        #[serde(rename = "Running")]
        running: Option<bool>,
        #[serde(rename = "ExitCode")]
        exit_code: Option<i64>,
    }
    let answer = t.call(&api::inspect_exec(exec_id), deadline_in(t.timeout())).await?;
    let info: Inspected = serde_json::from_slice(&success(answer, Subject::Exec)?)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to an exec inspect: {e}")))?;
    Ok(if info.running.unwrap_or(false) { None } else { info.exit_code })
}

impl AttachSession {
    /// The caller's end of the session: a blocking Unix stream socket, owned by the session and
    /// closed with it. Duplicate it to keep it longer.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    pub fn raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// The engine's ID of the exec.
    pub fn exec_id(&self) -> &str {
        &self.exec_id
    }

    /// Resizes the TTY (columns × rows).
    pub async fn resize(&self, width: u16, height: u16) -> Result<()> {
        resize(&self.shared.asynch, &self.exec_id, width, height).await
    }

    /// The process's exit code, or `None` while it runs.
    pub async fn exit_code(&self) -> Result<Option<i64>> {
        exit_code(&self.shared.asynch, &self.exec_id).await
    }

    /// Ends the session: the connection to the engine is closed and the caller's end reads EOF.
    pub fn close(&self) {
        match &self.bridge {
            // Dropping the bridge's end shuts the caller's end down.
            Some(bridge) => bridge.abort(),
            // A shutdown, not a close: the descriptor stays valid for a caller that still holds
            // its number, and a read blocked on it in another thread wakes with end-of-stream.
            // It fails only when the connection is already down (ENOTCONN), which is the goal.
            None => {
                let _ = self.socket.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

impl Drop for AttachSession {
    fn drop(&mut self) {
        self.close();
    }
}

fn not_running_is_said(e: Error, id: &str) -> Error {
    if e.kind() == ErrorKind::ContainerNotRunning {
        e.context(format_args!("cannot attach to {id}"))
    } else {
        e
    }
}
