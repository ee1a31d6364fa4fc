//! The blocking face, shared by the C ABI and the Python module: an engine chosen by type, its
//! log reader and its attach sessions.
//!
//! Every call runs on the caller's thread (see `http::blocking`). A caller that must react
//! while a call waits (Python's Ctrl-C) passes an [`Interrupt`] hook through
//! [`BlockingEngine::interruptible`] and the `*_interruptible` methods: the one way a blocking
//! call is cut short from inside.
//!
//! Every handle remembers the process that created it and refuses to work in a forked child,
//! whose copy of the parent's connections would be shared with the parent. A child does not
//! even drop them: closing a socket the parent's runtime registered would deregister it from
//! the epoll instance both processes share, breaking the parent's connection. They are leaked
//! there instead.

use std::mem::ManuallyDrop;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::docker::blocking::BlockingDocker;
use crate::docker::DockerOptions;
use crate::engine::{BlockingLogs, BlockingOps, BlockingSession, Interrupt};
use crate::error::{Error, ErrorKind, Result};
use crate::engine::Closer;
use crate::model::*;
use crate::ready::{ReadyLogs, ReadyWait};
use crate::runtime;
use crate::swarm::blocking::BlockingSwarm;
use crate::swarm::SwarmOptions;

/// Which engine to connect to, and how.
#[derive(Clone, Debug)]
pub enum EngineConfig {
    Docker(DockerOptions),
    Swarm(SwarmOptions),
}

impl EngineConfig {
    pub fn engine_type(&self) -> EngineType {
        match self {
            EngineConfig::Docker(_) => EngineType::Docker,
            EngineConfig::Swarm(_) => EngineType::Swarm,
        }
    }
}

impl From<SwarmOptions> for EngineConfig {
    fn from(options: SwarmOptions) -> Self {
        EngineConfig::Swarm(options)
    }
}

impl From<DockerOptions> for EngineConfig {
    fn from(options: DockerOptions) -> Self {
        EngineConfig::Docker(options)
    }
}

/// Drops `value` in the process that created it; leaks it in a forked child (see module docs).
fn drop_in_owner<T>(owner: u32, value: &mut ManuallyDrop<T>) {
    if owner == runtime::current_pid() {
        // SAFETY: called once, from Drop, and `value` is not used afterwards.
        unsafe { ManuallyDrop::drop(value) }
    }
}

/// An engine with blocking methods. Thread-safe: share it by reference (or `Arc`).
pub struct BlockingEngine {
    ops: ManuallyDrop<Arc<dyn BlockingOps>>,
    pid: u32,
}

impl Drop for BlockingEngine {
    fn drop(&mut self) {
        drop_in_owner(self.pid, &mut self.ops);
    }
}

impl BlockingEngine {
    /// Connects to the engine `config` names and checks that it answers.
    pub fn connect(config: impl Into<EngineConfig>) -> Result<Self> {
        Self::connect_interruptible(config, None)
    }

    /// [`BlockingEngine::connect`] that runs `interrupt` while it waits.
    pub fn connect_interruptible(config: impl Into<EngineConfig>, interrupt: Interrupt<'_>) -> Result<Self> {
        runtime::check_may_block()?;
        let ops: Arc<dyn BlockingOps> = match config.into() {
            EngineConfig::Docker(options) => Arc::new(BlockingDocker::connect(options, interrupt)?),
            EngineConfig::Swarm(options) => Arc::new(BlockingSwarm::connect(options, interrupt)?),
        };
        Ok(BlockingEngine { ops: ManuallyDrop::new(ops), pid: runtime::current_pid() })
    }

    pub fn engine_type(&self) -> EngineType {
        self.ops.engine_type()
    }

    /// This engine's calls, with `interrupt` run while each waits; its error abandons the call.
    pub fn interruptible<'a>(&'a self, interrupt: &'a (dyn Fn() -> Result<()> + Sync)) -> Calls<'a> {
        Calls { engine: self, interrupt: Some(interrupt) }
    }

    fn calls(&self) -> Calls<'_> {
        Calls { engine: self, interrupt: None }
    }

    pub fn start_container(&self, request: StartContainerRequest) -> Result<StartContainerResponse> {
        self.calls().start_container(request)
    }

    /// [`BlockingEngine::start_container`], with the pull's progress handed to `progress`, on
    /// the calling thread, as it comes.
    pub fn start_container_with_progress(&self, request: StartContainerRequest, progress: ProgressCallback<'_>) -> Result<StartContainerResponse> {
        self.calls().start_container_with_progress(request, progress)
    }

    pub fn stop_container(&self, request: StopContainerRequest) -> Result<()> {
        self.calls().stop_container(request)
    }

    pub fn get_state(&self, request: GetStateRequest) -> Result<GetStateResponse> {
        self.calls().get_state(request)
    }

    /// The logs are read on the caller's thread from a connection of their own.
    pub fn get_logs(&self, request: GetLogsRequest) -> Result<LogReader> {
        self.calls().get_logs(request)
    }

    pub fn attach_container(&self, request: AttachContainerRequest) -> Result<Attachment> {
        self.calls().attach_container(request)
    }

    /// Waits until the container has exited (see [`Calls::wait_container`]).
    pub fn wait_container(&self, request: WaitContainerRequest) -> Result<GetStateResponse> {
        self.calls().wait_container(request)
    }

    /// The logs, read by a task of the private runtime and taken without blocking (see
    /// [`ReadyLogs`]). Returns at once; the opening's error comes with the first read.
    pub fn get_logs_ready(&self, request: GetLogsRequest) -> Result<ReadyLogs> {
        crate::validate::container_id("id", &request.id)?;
        ReadyLogs::start(self.calls().ops()?.open_log_frames(request), self.pid)
    }

    /// A wait run by a task of the private runtime, asked for without blocking (see [`ReadyWait`]).
    pub fn wait_ready(&self, request: WaitContainerRequest) -> Result<ReadyWait> {
        crate::validate::container_id("id", &request.id)?;
        ReadyWait::start(self.calls().ops()?.wait_task(request), self.pid)
    }

    /// A wait that another thread can end (see [`Waiter`]).
    pub fn waiter(&self, request: WaitContainerRequest) -> Waiter {
        Waiter { engine: ManuallyDrop::new(Arc::clone(&self.ops)), request, closer: Arc::new(Closer::default()), pid: self.pid }
    }

    pub fn list_containers(&self) -> Result<Vec<ContainerSummary>> {
        self.calls().list_containers()
    }

    pub fn prune(&self) -> Result<usize> {
        self.calls().prune()
    }
}

/// The calls of a [`BlockingEngine`], with or without an interrupt hook.
pub struct Calls<'a> {
    engine: &'a BlockingEngine,
    interrupt: Interrupt<'a>,
}

impl Calls<'_> {
    fn ops(&self) -> Result<&dyn BlockingOps> {
        runtime::check_same_process(self.engine.pid)?;
        Ok(&**self.engine.ops)
    }

    pub fn start_container(&self, request: StartContainerRequest) -> Result<StartContainerResponse> {
        self.ops()?.start_container(request, self.interrupt, None)
    }

    pub fn start_container_with_progress(&self, request: StartContainerRequest, progress: ProgressCallback<'_>) -> Result<StartContainerResponse> {
        self.ops()?.start_container(request, self.interrupt, Some(progress))
    }

    pub fn stop_container(&self, request: StopContainerRequest) -> Result<()> {
        self.ops()?.stop_container(request, self.interrupt)
    }

    pub fn get_state(&self, request: GetStateRequest) -> Result<GetStateResponse> {
        self.ops()?.get_state(request, self.interrupt)
    }

    pub fn get_logs(&self, request: GetLogsRequest) -> Result<LogReader> {
        let source = self.ops()?.get_logs(request, self.interrupt)?;
        Ok(LogReader::new(source, self.engine.pid))
    }

    pub fn attach_container(&self, request: AttachContainerRequest) -> Result<Attachment> {
        let session = self.ops()?.attach_container(request, self.interrupt)?;
        Ok(Attachment { session: ManuallyDrop::new(session), pid: self.engine.pid })
    }

    /// Waits until the container has exited and gives its final state, EXITED or CANCELLED,
    /// with its exit code, OOM flag and times. A daemon restart meanwhile does not end it.
    pub fn wait_container(&self, request: WaitContainerRequest) -> Result<GetStateResponse> {
        self.ops()?.wait_container(request, self.interrupt, &Closer::default())
    }

    /// The containers this library manages, oldest first: what a runner restarted mid-job
    /// follows or cleans up.
    pub fn list_containers(&self) -> Result<Vec<ContainerSummary>> {
        self.ops()?.list_containers(self.interrupt)
    }

    pub fn prune(&self) -> Result<usize> {
        self.ops()?.prune(self.interrupt)
    }
}

/// One wait for a container's exit, which [`Waiter::close`] ends from any thread (the C ABI's
/// wait handle). It holds its own share of the engine, so it outlives the engine handle.
pub struct Waiter {
    engine: ManuallyDrop<Arc<dyn BlockingOps>>,
    request: WaitContainerRequest,
    closer: Arc<Closer>,
    pid: u32,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        drop_in_owner(self.pid, &mut self.engine);
    }
}

impl Waiter {
    /// Waits (see [`Calls::wait_container`]); after [`Waiter::close`], an invalid-state error.
    pub fn wait(&self) -> Result<GetStateResponse> {
        self.wait_interruptible(None)
    }

    pub fn wait_interruptible(&self, interrupt: Interrupt<'_>) -> Result<GetStateResponse> {
        runtime::check_same_process(self.pid)?;
        if self.closer.is_closed() {
            return Err(Error::new(ErrorKind::InvalidState, "the wait was closed"));
        }
        self.engine.wait_container(self.request.clone(), interrupt, &self.closer)
    }

    /// Ends a wait blocked in another thread, and every later one. Thread-safe.
    pub fn close(&self) {
        self.closer.close();
    }
}

/// A container's logs read on the caller's thread, with the semantics of `read(2)`: `Ok(0)` is
/// the end of the logs, an error is never an end.
///
/// Thread-safe, one read at a time (concurrent reads take turns). [`LogCloser::close`], from any
/// thread, wakes a blocked read, which then fails with `InvalidState`. The C ABI and the Python
/// module use it as it is.
pub struct LogReader {
    state: ManuallyDrop<Mutex<Reading>>,
    closer: LogCloser,
    pid: u32,
}

struct Reading {
    source: Box<dyn BlockingLogs>,
    /// How the stream ended, once it has. A failure is reported by every read after the bytes
    /// that came before it, never turned into an end: a caller that retries must not take a
    /// truncated log for a whole one.
    end: Option<End>,
}

enum End {
    Complete,
    Failed(Error),
}

/// Closes a [`LogReader`] from any thread, waking a blocked read.
#[derive(Clone)]
pub struct LogCloser {
    closer: Arc<Closer>,
}

impl LogCloser {
    pub fn close(&self) {
        self.closer.close();
    }

    pub fn is_closed(&self) -> bool {
        self.closer.is_closed()
    }
}

impl Drop for LogReader {
    fn drop(&mut self) {
        drop_in_owner(self.pid, &mut self.state);
    }
}

impl LogReader {
    fn new(source: Box<dyn BlockingLogs>, pid: u32) -> Self {
        let closer = LogCloser { closer: source.closer() };
        LogReader { state: ManuallyDrop::new(Mutex::new(Reading { source, end: None })), closer, pid }
    }

    /// A handle that closes this reader from another thread.
    pub fn closer(&self) -> LogCloser {
        self.closer.clone()
    }

    /// Reads up to `buf.len()` bytes, blocking until at least one is available. `Ok(0)` means
    /// the logs ended (the container exited and all its output was read).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.read_for(buf, None, None).map(|n| n.unwrap_or(0))
    }

    /// Like [`LogReader::read`] but waits at most `wait`: `Ok(None)` when nothing arrived.
    pub fn read_timeout(&self, buf: &mut [u8], wait: Duration) -> Result<Option<usize>> {
        self.read_for(buf, Some(wait), None)
    }

    /// [`LogReader::read`] that runs `interrupt` while it waits. Its error abandons the read
    /// and leaves the stream as it was: the next read goes on where this one stopped.
    pub fn read_interruptible(&self, buf: &mut [u8], interrupt: &(dyn Fn() -> Result<()> + Sync)) -> Result<usize> {
        self.read_for(buf, None, Some(interrupt)).map(|n| n.unwrap_or(0))
    }

    /// Reads the next frame: up to `buf.len()` bytes, all from one stream, and which. `Ok((0,
    /// _))` is the end of the logs. Frames and plain reads may be mixed on one reader.
    pub fn read_frame(&self, buf: &mut [u8]) -> Result<(usize, LogSource)> {
        self.read_frame_interruptible(buf, None)
    }

    pub fn read_frame_interruptible(&self, buf: &mut [u8], interrupt: Interrupt<'_>) -> Result<(usize, LogSource)> {
        let mut source = LogSource::Stdout;
        let n = self.read_with(buf, None, interrupt, Some(&mut source))?.unwrap_or(0);
        Ok((n, source))
    }

    fn lock(&self) -> MutexGuard<'_, Reading> {
        // A read that panicked left the source as a failed read would; a poisoned lock is
        // still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_for(&self, buf: &mut [u8], wait: Option<Duration>, interrupt: Interrupt<'_>) -> Result<Option<usize>> {
        self.read_with(buf, wait, interrupt, None)
    }

    /// A read; with `source`, a typed one that says where its bytes came from.
    fn read_with(&self, buf: &mut [u8], wait: Option<Duration>, interrupt: Interrupt<'_>, source: Option<&mut LogSource>) -> Result<Option<usize>> {
        runtime::check_same_process(self.pid)?;
        if self.closer.is_closed() {
            return Err(closed_error());
        }
        if buf.is_empty() {
            return Ok(Some(0));
        }
        let mut reading = self.lock();
        match &reading.end {
            Some(End::Complete) => return Ok(Some(0)),
            Some(End::Failed(e)) => return Err(e.repeat()),
            None => {}
        }
        let typed = source.is_some();
        let read = loop {
            break match reading.source.read(buf, wait, interrupt, typed) {
                // Without a wait, nothing-yet means read again.
                Ok(None) if wait.is_none() => continue,
                Ok(Some(0)) => {
                    reading.end = Some(End::Complete);
                    Ok(Some(0))
                }
                Ok(read) => Ok(read),
                Err(e) if e.is_interruption() => Err(e),
                // A close from another thread shuts the connection down under a blocked read:
                // whatever the read saw then, the reason is the close.
                Err(_) if self.closer.is_closed() => Err(closed_error()),
                Err(e) => {
                    let again = e.repeat();
                    reading.end = Some(End::Failed(e));
                    Err(again)
                }
            };
        };
        if let (Some(source), Ok(Some(n))) = (source, &read) {
            if *n > 0 {
                *source = reading.source.source();
            }
        }
        read
    }
}

fn closed_error() -> Error {
    Error::new(ErrorKind::InvalidState, "the log stream was closed")
}

/// An attach session of the blocking face.
pub struct Attachment {
    session: ManuallyDrop<Box<dyn BlockingSession>>,
    pid: u32,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        drop_in_owner(self.pid, &mut self.session);
    }
}

impl Attachment {
    /// The caller's end of the session (owned by the attachment, closed with it).
    pub fn raw_fd(&self) -> RawFd {
        self.session.raw_fd()
    }

    pub fn resize(&self, width: u16, height: u16) -> Result<()> {
        self.resize_interruptible(width, height, None)
    }

    pub fn resize_interruptible(&self, width: u16, height: u16, interrupt: Interrupt<'_>) -> Result<()> {
        runtime::check_same_process(self.pid)?;
        self.session.resize(width, height, interrupt)
    }

    /// The process's exit code, `None` while it runs.
    pub fn exit_code(&self) -> Result<Option<i64>> {
        self.exit_code_interruptible(None)
    }

    pub fn exit_code_interruptible(&self, interrupt: Interrupt<'_>) -> Result<Option<i64>> {
        runtime::check_same_process(self.pid)?;
        self.session.exit_code(interrupt)
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
