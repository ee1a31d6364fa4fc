//! AttachContainer: an exec with a TTY, reached through a Unix stream socket.
//!
//! The caller gets a plain file descriptor: Go wraps it in a real `net.Conn` with deadlines,
//! Python in a `socket.socket`, C uses read/write/poll. On a unix-socket engine it is the
//! engine's hijacked connection itself, so the caller's reads and writes go straight to the
//! daemon. A TCP engine's connection is bridged instead to one end of a socketpair (a task on
//! the runtime copies between the other end and the engine), so that the caller still gets a
//! Unix socket.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;

use bollard::exec::CreateExecOptions;
use bollard::query_parameters::ResizeExecOptions;
use bollard::Docker;
use tokio::io::AsyncWriteExt;

use super::errors::Subject;
use super::hijack::{self, Hijacked};
use super::{with_timeout, DockerEngine};
use crate::error::{Error, ErrorKind, Result};
use crate::model::AttachContainerRequest;
use crate::validate;

/// One running exec session. Dropping it (or [`AttachSession::close`]) ends the session.
pub struct AttachSession {
    /// The caller's end: the engine's connection, or the caller's end of the bridge.
    socket: StdUnixStream,
    exec_id: String,
    docker: Docker,
    timeout: std::time::Duration,
    /// The task that copies between the bridge and a TCP engine; `None` when `socket` is the
    /// engine's connection.
    bridge: Option<tokio::task::AbortHandle>,
}

impl DockerEngine {
    /// SPEC.md AttachContainer.
    pub async fn attach_container(&self, req: AttachContainerRequest) -> Result<AttachSession> {
        validate::container_id("id", &req.id)?;
        if req.command.is_empty() {
            return Err(Error::invalid_argument("command", "must name a program to run"));
        }
        if req.command.iter().any(|a| a.contains('\0')) {
            return Err(Error::invalid_argument("command", "an argument contains NUL"));
        }
        let config = CreateExecOptions {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(true),
            cmd: Some(req.command.clone()),
            ..Default::default()
        };
        let exec = self
            .request(Subject::Exec, "exec create", self.docker().create_exec(&req.id, config))
            .await
            .map_err(|e| not_running_is_said(e, &req.id))?;
        let hijacked = hijack::start_exec(self.inner.wire.host(), self.api_version(), &exec.id, self.timeout())
            .await
            .map_err(|e| not_running_is_said(e, &req.id))?;
        let (socket, bridge) = match hijacked {
            Hijacked::Direct(connection) => (connection, None),
            Hijacked::Bridged { connection, early_output } => {
                let (user_end, bridge) = bridge_to_socketpair(connection, early_output)?;
                (user_end, Some(bridge))
            }
        };
        Ok(AttachSession {
            socket,
            exec_id: exec.id,
            docker: self.docker().clone(),
            timeout: self.timeout(),
            bridge,
        })
    }
}

/// Connects a TCP engine's `connection` to one end of a new socketpair and returns the other
/// end, with the task that copies between them.
fn bridge_to_socketpair(
    mut engine_side: Box<dyn super::wire::AsyncConnection>,
    early_output: Vec<u8>,
) -> Result<(StdUnixStream, tokio::task::AbortHandle)> {
    let (user_end, our_end) = StdUnixStream::pair().map_err(socket_error)?;
    our_end.set_nonblocking(true).map_err(socket_error)?;
    let mut our_end = tokio::net::UnixStream::from_std(our_end).map_err(socket_error)?;

    // Bytes flow both ways until both sides are done: the process's exit closes the engine's
    // side, which shuts down ours, so the caller reads end-of-stream; the caller's
    // end-of-stream closes the process's stdin.
    let bridge = tokio::spawn(async move {
        if our_end.write_all(&early_output).await.is_ok() {
            let _ = tokio::io::copy_bidirectional(&mut our_end, &mut engine_side).await;
        }
    });
    Ok((user_end, bridge.abort_handle()))
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
        let options = ResizeExecOptions { w: i32::from(width), h: i32::from(height) };
        with_timeout(self.timeout, "exec resize", self.docker.resize_exec(&self.exec_id, options), Subject::Exec)
            .await
    }

    /// The process's exit code, or `None` while it runs.
    pub async fn exit_code(&self) -> Result<Option<i64>> {
        let info =
            with_timeout(self.timeout, "exec inspect", self.docker.inspect_exec(&self.exec_id), Subject::Exec)
                .await?;
        Ok(if info.running.unwrap_or(false) { None } else { info.exit_code })
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

fn socket_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("cannot create the session socket: {e}")).with_source(e)
}
