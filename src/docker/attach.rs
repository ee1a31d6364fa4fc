//! AttachContainer: an exec with a TTY, bridged to one end of a socketpair.
//!
//! The caller gets a plain file descriptor (a Unix stream socket): Go wraps it in a real
//! `net.Conn` with deadlines, Python in a `socket.socket`, C uses read/write/poll. Two tasks
//! on the runtime copy bytes between the other end and the engine's hijacked connection.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::ResizeExecOptions;
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::errors::Subject;
use super::{with_timeout, DockerEngine};
use crate::error::{Error, ErrorKind, Result};
use crate::model::AttachContainerRequest;
use crate::validate;

/// One running exec session. Dropping it (or [`AttachSession::close`]) ends the session.
pub struct AttachSession {
    fd: OwnedFd,
    exec_id: String,
    docker: Docker,
    timeout: std::time::Duration,
    bridge: [tokio::task::AbortHandle; 2],
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
        let options = StartExecOptions { detach: false, tty: true, output_capacity: Some(64 * 1024) };
        let started = self
            .request(Subject::Exec, "exec start", self.docker().start_exec(&exec.id, Some(options)))
            .await
            .map_err(|e| not_running_is_said(e, &req.id))?;
        let StartExecResults::Attached { mut output, mut input } = started else {
            return Err(Error::new(ErrorKind::Engine, "the engine did not attach to the exec"));
        };

        let (user_end, our_end) = StdUnixStream::pair().map_err(socket_error)?;
        our_end.set_nonblocking(true).map_err(socket_error)?;
        let our_end = tokio::net::UnixStream::from_std(our_end).map_err(socket_error)?;
        let (mut from_user, mut to_user) = our_end.into_split();

        // Engine → caller. When the process exits the engine ends the stream; shutting down our
        // write side then gives the caller end-of-stream.
        let outbound = tokio::spawn(async move {
            while let Some(Ok(chunk)) = output.next().await {
                if to_user.write_all(&chunk.into_bytes()).await.is_err() {
                    break;
                }
            }
            let _ = to_user.shutdown().await;
        });
        // Caller → engine. The caller's end-of-stream closes the process's stdin.
        let inbound = tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match from_user.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if input.write_all(&buf[..n]).await.is_err() || input.flush().await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = input.shutdown().await;
        });

        Ok(AttachSession {
            fd: OwnedFd::from(user_end),
            exec_id: exec.id,
            docker: self.docker().clone(),
            timeout: self.timeout(),
            bridge: [outbound.abort_handle(), inbound.abort_handle()],
        })
    }
}

impl AttachSession {
    /// The caller's end of the session: a blocking Unix stream socket, owned by the session and
    /// closed with it. Duplicate it to keep it longer.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
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
        for task in &self.bridge {
            task.abort();
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
