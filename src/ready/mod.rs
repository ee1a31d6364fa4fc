//! The readiness face: log reads and waits that never block, each with a descriptor that
//! becomes readable when it is worth calling again (docs/contract.md, "Readiness").
//!
//! A caller with a thousand running tasks must not park a thread in each blocking read. Here
//! the work is a task on the private runtime ([`crate::runtime`]): it drives the engine's async
//! operation (the same log session and wait as the Rust API) and leaves what it gets in a small
//! buffer, raising a [`Signal`] when there is something to take. The caller's call takes from
//! the buffer or answers "would block" at once. Go hands the descriptor to its netpoller, Python
//! to its event loop, C to poll(2)/epoll; the runtime's two threads serve every stream.

mod logs;
mod signal;
mod wait;

pub use logs::ReadyLogs;
pub(crate) use signal::Signal;
pub use wait::ReadyWait;

use std::future::Future;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use tokio::task::AbortHandle;

use crate::error::Result;
use crate::model::{GetStateResponse, LogFrame};
use crate::runtime;

/// The opening of a log as frames, run on the private runtime.
pub type OpenFrames = BoxFuture<'static, Result<BoxStream<'static, Result<LogFrame>>>>;

/// A wait for a container's exit, run on the private runtime.
pub type WaitFuture = BoxFuture<'static, Result<GetStateResponse>>;

/// A task of the private runtime and the state it shares with its handle: the task stops when
/// the handle goes. In a forked child both belong to the parent's runtime and are left alone.
struct Task<S> {
    shared: ManuallyDrop<Arc<S>>,
    task: ManuallyDrop<AbortHandle>,
    pid: u32,
}

impl<S: Send + Sync + 'static> Task<S> {
    /// Spawns `work` with its share of `shared`; returns at once.
    fn spawn<F>(shared: S, work: impl FnOnce(Arc<S>) -> F, pid: u32) -> Result<Self>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let shared = Arc::new(shared);
        let task = runtime::handle()?.spawn(work(Arc::clone(&shared))).abort_handle();
        Ok(Task { shared: ManuallyDrop::new(shared), task: ManuallyDrop::new(task), pid })
    }

    /// Whether this process made the task (not a forked child).
    fn owned_here(&self) -> bool {
        self.pid == runtime::current_pid()
    }

    /// Stops the task (in the process that made it).
    fn stop(&self) {
        if self.owned_here() {
            self.task.abort();
        }
    }

    /// Fails in a forked child.
    fn check_process(&self) -> Result<()> {
        runtime::check_same_process(self.pid)
    }
}

impl<S> Deref for Task<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.shared
    }
}

impl<S> Drop for Task<S> {
    fn drop(&mut self) {
        if self.pid == runtime::current_pid() {
            self.task.abort();
            // SAFETY: dropped once, here, and not used afterwards.
            unsafe {
                ManuallyDrop::drop(&mut self.task);
                ManuallyDrop::drop(&mut self.shared);
            }
        }
    }
}
