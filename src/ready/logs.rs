//! A container's log, pumped by a runtime task into a small buffer and read without blocking.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::StreamExt;
use tokio::sync::Notify;

use super::{OpenFrames, Signal, Task};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{LogFrame, LogSource};

/// Bytes the task reads ahead of the caller before it waits for room: enough to keep a fast
/// stream flowing across the hand-over to another thread (64 KiB cost a Go reader a sixth of
/// its throughput), and bounded, because a busy process holds one buffer per stream (only a
/// reader that falls behind fills it). One frame of up to 64 KiB may come on top.
const AHEAD: usize = 256 * 1024;

/// A container's log, read without blocking: [`ReadyLogs::try_read`] takes what the runtime
/// task has read so far, or answers that nothing is there yet; [`ReadyLogs::raw_fd`] becomes
/// readable when it is worth asking again. Thread-safe; one reader at a time is what makes
/// sense. Dropping it stops the task and closes its connection.
pub struct ReadyLogs {
    pipe: Task<Pipe>,
}

/// What the task and the reader share.
struct Pipe {
    state: Mutex<State>,
    signal: Signal,
    /// Wakes the task when the reader has made room.
    room: Notify,
}

#[derive(Default)]
struct State {
    frames: VecDeque<LogFrame>,
    /// Bytes of the front frame already read.
    taken: usize,
    buffered: usize,
    opened: bool,
    /// How the log ended, once the task has seen it; read after every byte before it.
    end: Option<End>,
    closed: bool,
}

enum End {
    Complete,
    Failed(Error),
}

impl ReadyLogs {
    /// Starts the task that opens the log (`open`) and reads it. Returns at once: an error of
    /// the opening (an unknown container) comes from [`ReadyLogs::try_open`] or the first read.
    pub(crate) fn start(open: OpenFrames, pid: u32) -> Result<Self> {
        let pipe = Pipe { state: Mutex::new(State::default()), signal: Signal::new()?, room: Notify::new() };
        Ok(ReadyLogs { pipe: Task::spawn(pipe, |pipe| pump(pipe, open), pid)? })
    }

    /// Whether the log is open: `Ok(true)` once it is, `Ok(false)` while the engine has not
    /// answered yet, the error of the opening if it failed.
    pub fn try_open(&self) -> Result<bool> {
        self.pipe.check_process()?;
        let state = self.pipe.lock();
        match &state.end {
            _ if state.closed => Err(closed_error()),
            _ if state.opened => Ok(true),
            Some(End::Failed(e)) => Err(e.repeat()),
            Some(End::Complete) => Ok(true),
            None => {
                self.pipe.signal.clear();
                Ok(false)
            }
        }
    }

    /// Takes up to `buf.len()` bytes, all from one of the process's streams: `Ok(Some((n,
    /// source)))` with `n > 0`; `Ok(Some((0, _)))` at the end of the log; `Ok(None)` when
    /// nothing is there yet (the descriptor then becomes readable when something is). A failure
    /// comes after every byte read before it, and again at every later call.
    pub fn try_read(&self, buf: &mut [u8]) -> Result<Option<(usize, LogSource)>> {
        self.pipe.check_process()?;
        if buf.is_empty() {
            return Ok(Some((0, LogSource::Stdout)));
        }
        let mut state = self.pipe.lock();
        if state.closed {
            return Err(closed_error());
        }
        if let Some(frame) = state.frames.front() {
            let rest = &frame.data[state.taken..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            let source = frame.source;
            let whole = n == rest.len();
            let was_full = state.buffered >= AHEAD;
            state.buffered -= n;
            state.taken = if whole { 0 } else { state.taken + n };
            if whole {
                state.frames.pop_front();
            }
            if was_full && state.buffered < AHEAD {
                self.pipe.room.notify_one();
            }
            return Ok(Some((n, source)));
        }
        match &state.end {
            Some(End::Complete) => Ok(Some((0, LogSource::Stdout))),
            Some(End::Failed(e)) => Err(e.repeat()),
            None => {
                self.pipe.signal.clear();
                Ok(None)
            }
        }
    }

    /// [`ReadyLogs::try_read`] that waits until there is an answer: the blocking read of a
    /// readiness handle (a close from another thread ends it).
    pub fn read(&self, buf: &mut [u8]) -> Result<(usize, LogSource)> {
        loop {
            match self.try_read(buf)? {
                Some(read) => return Ok(read),
                None => self.pipe.signal.wait(),
            }
        }
    }

    /// Bytes the task has read ahead and the caller has not taken yet: at most [`AHEAD`] plus
    /// one frame. A snapshot (the task may add more at once); for monitoring and tests.
    pub fn buffered(&self) -> usize {
        self.pipe.lock().buffered
    }

    /// Readable when [`ReadyLogs::try_read`] (or [`ReadyLogs::try_open`]) is worth calling
    /// again. Owned by this handle: do not close it.
    pub fn raw_fd(&self) -> RawFd {
        self.pipe.signal.raw_fd()
    }

    /// Stops the task and its connection: every later call fails with an invalid-state error,
    /// and a blocked [`ReadyLogs::read`] returns. Thread-safe.
    pub fn close(&self) {
        if !self.pipe.owned_here() {
            return;
        }
        self.pipe.stop();
        let mut state = self.pipe.lock();
        state.closed = true;
        state.frames.clear();
        self.pipe.signal.raise();
    }
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state whole; a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Something the reader can take has appeared: raise the signal if the reader may have
    /// found nothing (and cleared it) since the last raise.
    fn publish(&self, change: impl FnOnce(&mut State)) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        let was_empty = state.frames.is_empty() && state.end.is_none();
        let was_opened = state.opened;
        change(&mut state);
        if was_empty || !was_opened {
            self.signal.raise();
        }
        true
    }

    async fn wait_for_room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.lock();
                if state.buffered < AHEAD || state.closed {
                    return;
                }
            }
            notified.await;
        }
    }
}

/// The task: opens the log, then moves its frames into the pipe, never more than [`AHEAD`]
/// bytes ahead of the reader.
async fn pump(pipe: Arc<Pipe>, open: OpenFrames) {
    let mut frames = match open.await {
        Ok(frames) => frames,
        Err(e) => {
            pipe.publish(|s| s.end = Some(End::Failed(e)));
            return;
        }
    };
    if !pipe.publish(|s| s.opened = true) {
        return;
    }
    while let Some(item) = frames.next().await {
        let frame = match item {
            Ok(frame) => frame,
            Err(e) => {
                pipe.publish(|s| s.end = Some(End::Failed(e)));
                return;
            }
        };
        if !pipe.publish(|s| {
            s.buffered += frame.data.len();
            s.frames.push_back(frame);
        }) {
            return;
        }
        pipe.wait_for_room().await;
    }
    pipe.publish(|s| s.end = Some(End::Complete));
}

fn closed_error() -> Error {
    Error::new(ErrorKind::InvalidState, "the log stream was closed")
}
