//! The blocking face of the engine, shared by the C ABI and the Python module.
//!
//! Each call blocks its thread on the private runtime ([`crate::runtime`]). Every handle
//! remembers the process that created it and refuses to work in a forked child, whose copy of
//! the parent's connections and runtime would hang. A child does not even drop them: closing a
//! socket the parent's runtime registered would deregister it from the epoll instance both
//! processes share, breaking the parent's connection. They are leaked there instead.

use std::mem::ManuallyDrop;
use std::time::Duration;

use std::sync::Arc;

use crate::docker::logs::reader::{BlockingLogs, Shutdown};
use crate::docker::{AttachSession, DockerEngine, DockerOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::model::*;
use crate::runtime;
use crate::validate;

/// A [`DockerEngine`] with blocking methods. Thread-safe: share it by reference (or `Arc`).
pub struct BlockingEngine {
    engine: ManuallyDrop<DockerEngine>,
    pid: u32,
}

/// Drops `value` in the process that created it; leaks it in a forked child (see module docs).
fn drop_in_owner<T>(owner: u32, value: &mut ManuallyDrop<T>) {
    if owner == runtime::current_pid() {
        // SAFETY: called once, from Drop, and `value` is not used afterwards.
        unsafe { ManuallyDrop::drop(value) }
    }
}

impl Drop for BlockingEngine {
    fn drop(&mut self) {
        drop_in_owner(self.pid, &mut self.engine);
    }
}

impl BlockingEngine {
    /// Connects to the engine (see [`DockerEngine::connect`]).
    pub fn connect(options: DockerOptions) -> Result<Self> {
        // connect() spawns the prune task, so it must run inside the private runtime.
        let engine = runtime::block_on(DockerEngine::connect(options))??;
        Ok(BlockingEngine { engine: ManuallyDrop::new(engine), pid: runtime::current_pid() })
    }

    /// The async engine inside, for callers that run their own runtime.
    pub fn engine(&self) -> &DockerEngine {
        &self.engine
    }

    fn call<F: std::future::Future<Output = Result<T>>, T>(&self, f: F) -> Result<T> {
        runtime::check_same_process(self.pid)?;
        runtime::block_on(f)?
    }

    pub fn start_container(&self, request: StartContainerRequest) -> Result<StartContainerResponse> {
        self.call(self.engine.start_container(request))
    }

    pub fn stop_container(&self, request: StopContainerRequest) -> Result<()> {
        self.call(self.engine.stop_container(request))
    }

    /// Made on the calling thread over the engine's blocking client: no runtime worker is
    /// involved (through one, each call cost several thread wake-ups: benches/analysis.md).
    pub fn get_state(&self, request: GetStateRequest) -> Result<GetStateResponse> {
        self.state(request, None)
    }

    /// [`BlockingEngine::get_state`] that runs `check` every 100 ms while the engine has not
    /// answered; its error abandons the call. For a caller that must react to signals (Python's
    /// Ctrl-C) while it waits.
    pub fn get_state_checked(
        &self,
        request: GetStateRequest,
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<GetStateResponse> {
        self.state(request, Some(check))
    }

    fn state(&self, request: GetStateRequest, check: crate::docker::wire::Check<'_>) -> Result<GetStateResponse> {
        runtime::check_same_process(self.pid)?;
        validate::container_id("id", &request.id)?;
        let inspected = self.engine.inspect_state_blocking(&request.id, check)?;
        Ok(self.engine.state_from_inspect(&inspected))
    }

    /// The logs are read on the caller's thread from a connection of their own (no runtime,
    /// no hand-off between threads for each chunk): see `docker::logs::reader`.
    pub fn get_logs(&self, request: GetLogsRequest) -> Result<LogReader> {
        runtime::check_same_process(self.pid)?;
        validate::container_id("id", &request.id)?;
        // Looked up first: an unknown or ambiguous ID fails here, not at the first read.
        let inspected = self.engine.inspect_state_blocking(&request.id, None)?;
        let logs = BlockingLogs::open(self.engine.wire().clone(), inspected)?;
        Ok(LogReader::new(logs, self.pid))
    }

    pub fn attach_container(&self, request: AttachContainerRequest) -> Result<Attachment> {
        let session = self.call(self.engine.attach_container(request))?;
        Ok(Attachment { session: ManuallyDrop::new(session), pid: self.pid })
    }

    pub fn prune(&self) -> Result<usize> {
        self.call(self.engine.prune())
    }
}

/// A container's logs read on the caller's thread, with the semantics of `read(2)`: `Ok(0)` is
/// the end of the logs, an error is never an end.
///
/// One reader at a time (`&mut self`); [`LogCloser::close`], from any thread, wakes a blocked
/// read, which then fails with `InvalidState`. The reader talks to the engine over a blocking
/// socket of its own (see `docker::logs::reader`): no runtime is involved, so it is safe to
/// drop anywhere, also in a forked child.
pub struct LogReader {
    logs: BlockingLogs,
    /// How the stream ended, once it has. A failure is reported by every read after the bytes
    /// that came before it, never turned into an end: a caller that retries must not take a
    /// truncated log for a whole one.
    end: Option<End>,
    closer: LogCloser,
    pid: u32,
}

/// Closes a [`LogReader`] from any thread, waking a blocked read.
#[derive(Clone)]
pub struct LogCloser {
    shutdown: Arc<Shutdown>,
}

impl LogCloser {
    pub fn close(&self) {
        self.shutdown.close();
    }

    pub fn is_closed(&self) -> bool {
        self.shutdown.is_closed()
    }
}

enum End {
    Complete,
    Failed(Error),
}

impl LogReader {
    fn new(logs: BlockingLogs, pid: u32) -> Self {
        let closer = LogCloser { shutdown: logs.shutdown() };
        LogReader { logs, end: None, closer, pid }
    }

    /// A handle that closes this reader from another thread.
    pub fn closer(&self) -> LogCloser {
        self.closer.clone()
    }

    /// Reads up to `buf.len()` bytes, blocking until at least one is available. `Ok(0)` means
    /// the logs ended (the container exited and all its output was read).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            if let Some(n) = self.read_for(buf, None)? {
                return Ok(n);
            }
        }
    }

    /// Like [`LogReader::read`] but waits at most `wait`: `Ok(None)` when nothing arrived in
    /// that time. Lets a caller (Python) check for signals between waits.
    pub fn read_timeout(&mut self, buf: &mut [u8], wait: Duration) -> Result<Option<usize>> {
        self.read_for(buf, Some(wait))
    }

    fn read_for(&mut self, buf: &mut [u8], wait: Option<Duration>) -> Result<Option<usize>> {
        runtime::check_same_process(self.pid)?;
        if self.closer.is_closed() {
            return Err(closed_error());
        }
        if buf.is_empty() {
            return Ok(Some(0));
        }
        match &self.end {
            Some(End::Complete) => return Ok(Some(0)),
            Some(End::Failed(e)) => return Err(e.repeat()),
            None => {}
        }
        match self.logs.read(buf, wait) {
            Ok(Some(0)) => {
                self.end = Some(End::Complete);
                Ok(Some(0))
            }
            Ok(read) => Ok(read),
            // A close from another thread shuts the connection down under a blocked read:
            // whatever the read saw then, the reason is the close.
            Err(_) if self.closer.is_closed() => Err(closed_error()),
            Err(e) => {
                let again = e.repeat();
                self.end = Some(End::Failed(e));
                Err(again)
            }
        }
    }
}

fn closed_error() -> Error {
    Error::new(ErrorKind::InvalidState, "the log stream was closed")
}

/// A blocking handle on an [`AttachSession`].
pub struct Attachment {
    session: ManuallyDrop<AttachSession>,
    pid: u32,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        drop_in_owner(self.pid, &mut self.session);
    }
}

impl Attachment {
    /// The caller's end of the session (owned by the attachment, closed with it).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.session.raw_fd()
    }

    pub fn session(&self) -> &AttachSession {
        &self.session
    }

    pub fn resize(&self, width: u16, height: u16) -> Result<()> {
        runtime::check_same_process(self.pid)?;
        runtime::block_on(self.session.resize(width, height))?
    }

    /// The process's exit code, `None` while it runs.
    pub fn exit_code(&self) -> Result<Option<i64>> {
        runtime::check_same_process(self.pid)?;
        runtime::block_on(self.session.exit_code())?
    }

    /// Ends the session; the caller's end reads end-of-stream. Safe from any thread.
    ///
    /// Does nothing in a forked child: the session's socket may be the engine's connection
    /// itself, which the child shares with the parent, and shutting it down there would end
    /// the parent's session too.
    pub fn close(&self) {
        if self.pid == runtime::current_pid() {
            self.session.close();
        }
    }
}
