//! The engine abstraction: what every scheduler engine offers (the seed's five operations and
//! prune), in the two forms the library hands out.
//!
//! - [`Engine`]: async, for Rust callers that run their own runtime. Each engine names its own
//!   stream and session types.
//! - [`BlockingOps`]: blocking and object-safe, for the blocking face (`BlockingEngine`) that C,
//!   Go and Python hold as "an engine", whatever its type. A new engine type implements both and
//!   is added to the blocking face's `connect` and `EngineConfig`; no binding changes.
//!
//! The behaviour every engine owes is docs/contract.md.

use std::future::Future;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::error::Result;
pub use crate::http::blocking::Closer;
pub use crate::http::blocking::Interrupt;
use crate::model::*;
use crate::ready::{OpenFrames, WaitFuture};

/// A scheduler engine, as Gofer's `scheduler.Engine`, async.
///
/// Implementations are shared by many tasks at once (`Send + Sync`, methods take `&self`).
pub trait Engine: Send + Sync {
    /// A container's log stream: payload bytes, a broken connection as an error item.
    type Logs: Stream<Item = Result<Bytes>> + Send + Unpin;
    /// The same log as frames tagged stdout or stderr.
    type Frames: Stream<Item = Result<LogFrame>> + Send + Unpin;
    /// An attach session: the caller's socket and the process's controls.
    type Session: Send;

    /// Which engine this is.
    fn engine_type(&self) -> EngineType;

    /// Launches a container (pulling its image when needed), replacing one of the same ID.
    fn start_container(&self, request: StartContainerRequest) -> impl Future<Output = Result<StartContainerResponse>> + Send;

    /// [`Engine::start_container`], with the pull's progress handed to `progress` as it comes.
    fn start_container_with_progress(
        &self,
        request: StartContainerRequest,
        progress: ProgressCallback<'_>,
    ) -> impl Future<Output = Result<StartContainerResponse>> + Send;

    /// Stops a container gracefully, killing it once the grace period has passed.
    fn stop_container(&self, request: StopContainerRequest) -> impl Future<Output = Result<()>> + Send;

    /// The container's state and exit code.
    fn get_state(&self, request: GetStateRequest) -> impl Future<Output = Result<GetStateResponse>> + Send;

    /// The container's stdout and stderr from its start, followed until it exits.
    fn get_logs(&self, request: GetLogsRequest) -> impl Future<Output = Result<Self::Logs>> + Send;

    /// The container's log as frames tagged with the stream they came from.
    fn get_log_frames(&self, request: GetLogsRequest) -> impl Future<Output = Result<Self::Frames>> + Send;

    /// Runs a command with a TTY inside the running container and connects to it.
    fn attach_container(&self, request: AttachContainerRequest) -> impl Future<Output = Result<Self::Session>> + Send;

    /// Waits until the container has exited; its final state (EXITED or CANCELLED).
    fn wait_container(&self, request: WaitContainerRequest) -> impl Future<Output = Result<GetStateResponse>> + Send;

    /// The containers this library manages (its label), oldest first.
    fn list_containers(&self) -> impl Future<Output = Result<Vec<ContainerSummary>>> + Send;

    /// Removes the finished containers this library created; returns how many.
    fn prune(&self) -> impl Future<Output = Result<usize>> + Send;
}

/// An engine's blocking face: every call runs on the caller's thread. `interrupt`, when
/// given, runs while a call waits (see [`Interrupt`]).
pub trait BlockingOps: Send + Sync {
    fn engine_type(&self) -> EngineType;
    fn start_container(
        &self,
        request: StartContainerRequest,
        interrupt: Interrupt<'_>,
        progress: Option<ProgressCallback<'_>>,
    ) -> Result<StartContainerResponse>;
    fn stop_container(&self, request: StopContainerRequest, interrupt: Interrupt<'_>) -> Result<()>;
    fn get_state(&self, request: GetStateRequest, interrupt: Interrupt<'_>) -> Result<GetStateResponse>;
    fn get_logs(&self, request: GetLogsRequest, interrupt: Interrupt<'_>) -> Result<Box<dyn BlockingLogs>>;
    fn attach_container(&self, request: AttachContainerRequest, interrupt: Interrupt<'_>) -> Result<Box<dyn BlockingSession>>;
    /// Waits for the exit; `closer`, closed from another thread, ends the wait.
    fn wait_container(&self, request: WaitContainerRequest, interrupt: Interrupt<'_>, closer: &Closer) -> Result<GetStateResponse>;
    fn list_containers(&self, interrupt: Interrupt<'_>) -> Result<Vec<ContainerSummary>>;
    fn prune(&self, interrupt: Interrupt<'_>) -> Result<usize>;
    /// The opening of the log as frames, for the readiness face to run on the private runtime.
    fn open_log_frames(&self, request: GetLogsRequest) -> OpenFrames;
    /// The wait for the exit, for the readiness face to run on the private runtime.
    fn wait_task(&self, request: WaitContainerRequest) -> WaitFuture;
}

/// [`BlockingOps::open_log_frames`] of an engine whose async face is `engine`.
pub(crate) fn open_log_frames<E>(engine: &E, request: GetLogsRequest) -> OpenFrames
where
    E: Engine + Clone + 'static,
    E::Frames: 'static,
{
    let engine = engine.clone();
    Box::pin(async move { Ok(engine.get_log_frames(request).await?.boxed()) })
}

/// [`BlockingOps::wait_task`] of an engine whose async face is `engine`.
pub(crate) fn wait_task<E: Engine + Clone + 'static>(engine: &E, request: WaitContainerRequest) -> WaitFuture {
    let engine = engine.clone();
    Box::pin(async move { engine.wait_container(request).await })
}

/// A log stream read on the caller's thread.
pub trait BlockingLogs: Send {
    /// Reads payload bytes into `out` (not empty): `Ok(Some(0))` is the end of the logs,
    /// `Ok(None)` that nothing arrived within `wait`. With `typed`, the bytes are all from the
    /// stream [`BlockingLogs::source`] names.
    fn read(&mut self, out: &mut [u8], wait: Option<Duration>, interrupt: Interrupt<'_>, typed: bool) -> Result<Option<usize>>;

    /// Where the bytes of the last typed read came from.
    fn source(&self) -> LogSource;

    /// Ends the stream from any thread; a read blocked on it returns.
    fn closer(&self) -> Arc<Closer>;
}

/// An attach session of the blocking face.
pub trait BlockingSession: Send + Sync {
    /// The caller's end: a blocking Unix stream socket, owned by the session.
    fn raw_fd(&self) -> RawFd;
    /// Resizes the TTY (columns × rows).
    fn resize(&self, width: u16, height: u16, interrupt: Interrupt<'_>) -> Result<()>;
    /// The process's exit code, `None` while it runs.
    fn exit_code(&self, interrupt: Interrupt<'_>) -> Result<Option<i64>>;
    /// Ends the session: the caller's end reads end-of-stream. Safe from any thread.
    fn close(&self);
}
