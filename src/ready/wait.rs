//! A wait for a container's exit, run by a runtime task and asked for without blocking.

use std::os::fd::RawFd;
use std::sync::{Mutex, MutexGuard};

use super::{Signal, Task, WaitFuture};
use crate::error::{Error, ErrorKind, Result};
use crate::model::GetStateResponse;

/// A wait for a container's exit: [`ReadyWait::try_result`] gives the final state once the
/// task has it, or answers that it is not there yet; [`ReadyWait::raw_fd`] becomes readable
/// when it is. Thread-safe. Dropping it ends the wait.
pub struct ReadyWait {
    shared: Task<Shared>,
}

struct Shared {
    /// `None` until the wait has ended.
    result: Mutex<Option<Result<GetStateResponse>>>,
    signal: Signal,
}

impl ReadyWait {
    /// Starts the task that runs `wait`; returns at once.
    pub(crate) fn start(wait: WaitFuture, pid: u32) -> Result<Self> {
        let shared = Shared { result: Mutex::new(None), signal: Signal::new()? };
        let shared = Task::spawn(shared, |shared| async move { shared.finish(wait.await) }, pid)?;
        Ok(ReadyWait { shared })
    }

    /// The final state once the container has exited, `Ok(None)` before; the wait's error if
    /// it failed (an invalid-state error once closed). Every later call gives the same answer.
    pub fn try_result(&self) -> Result<Option<GetStateResponse>> {
        self.shared.check_process()?;
        match &*self.shared.lock() {
            Some(Ok(state)) => Ok(Some(*state)),
            Some(Err(e)) => Err(e.repeat()),
            None => Ok(None),
        }
    }

    /// Blocks until [`ReadyWait::try_result`] has an answer.
    pub fn result(&self) -> Result<GetStateResponse> {
        loop {
            if let Some(state) = self.try_result()? {
                return Ok(state);
            }
            self.shared.signal.wait();
        }
    }

    /// Readable once the wait has ended (and from then on). Owned by this handle.
    pub fn raw_fd(&self) -> RawFd {
        self.shared.signal.raw_fd()
    }

    /// Ends the wait: its answer becomes an invalid-state error (unless it had ended before).
    /// Thread-safe.
    pub fn close(&self) {
        if self.shared.owned_here() {
            self.shared.stop();
            self.shared.finish(Err(Error::new(ErrorKind::InvalidState, "the wait was closed")));
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Option<Result<GetStateResponse>>> {
        self.result.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the first answer and makes the descriptor readable for good.
    fn finish(&self, result: Result<GetStateResponse>) {
        let mut slot = self.lock();
        if slot.is_none() {
            *slot = Some(result);
            self.signal.raise();
        }
    }
}
