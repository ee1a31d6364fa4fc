//! The blocking face of the engine, shared by the C ABI and the Python module.
//!
//! Each call blocks its thread on the private runtime ([`crate::runtime`]). Every handle
//! remembers the process that created it and refuses to work in a forked child, whose copy of
//! the parent's connections and runtime would hang. A child does not even drop them: closing a
//! socket the parent's runtime registered would deregister it from the epoll instance both
//! processes share, breaking the parent's connection. They are leaked there instead.

use std::mem::ManuallyDrop;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::docker::{AttachSession, DockerEngine, DockerOptions, LogStream};
use crate::error::{Error, ErrorKind, Result};
use crate::model::*;
use crate::runtime;

/// A [`DockerEngine`] with blocking methods. Thread-safe: share it by reference (or `Arc`).
pub struct BlockingEngine {
    engine: ManuallyDrop<DockerEngine>,
    pid: u32,
}

/// Drops `value` in the process that created it; leaks it in a forked child (see module docs).
fn drop_in_owner<T>(owner: u32, value: &mut ManuallyDrop<T>) {
    if owner == std::process::id() {
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
        Ok(BlockingEngine { engine: ManuallyDrop::new(engine), pid: std::process::id() })
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

    pub fn get_state(&self, request: GetStateRequest) -> Result<GetStateResponse> {
        self.call(self.engine.get_state(request))
    }

    pub fn get_logs(&self, request: GetLogsRequest) -> Result<LogReader> {
        let stream = self.call(self.engine.get_logs(request))?;
        Ok(LogReader::new(stream, self.pid))
    }

    pub fn attach_container(&self, request: AttachContainerRequest) -> Result<Attachment> {
        let session = self.call(self.engine.attach_container(request))?;
        Ok(Attachment { session: ManuallyDrop::new(session), pid: self.pid })
    }

    pub fn prune(&self) -> Result<usize> {
        self.call(self.engine.prune())
    }
}

/// A blocking reader over a [`LogStream`], with the semantics of `read(2)`: `Ok(0)` is the end
/// of the logs, an error is never an end.
///
/// One reader at a time (`&mut self`); [`LogCloser::close`], from any thread, wakes a blocked
/// read, which then fails with `InvalidState`.
pub struct LogReader {
    stream: ManuallyDrop<LogStream>,
    /// Bytes of the last frame that did not fit in the caller's buffer.
    pending: Bytes,
    /// How the stream ended, once it has. A failure is reported by every read after the bytes
    /// that came before it, never turned into an end: a caller that retries must not take a
    /// truncated log for a whole one.
    end: Option<End>,
    closed: watch::Receiver<bool>,
    closer: LogCloser,
    pid: u32,
}

impl Drop for LogReader {
    fn drop(&mut self) {
        drop_in_owner(self.pid, &mut self.stream);
    }
}

/// Closes a [`LogReader`] from any thread, waking a blocked read.
#[derive(Clone)]
pub struct LogCloser {
    signal: std::sync::Arc<watch::Sender<bool>>,
}

impl LogCloser {
    pub fn close(&self) {
        self.signal.send_replace(true);
    }

    pub fn is_closed(&self) -> bool {
        *self.signal.borrow()
    }
}

enum End {
    Complete,
    Failed(Error),
}

enum Woken {
    Closed,
    TimedOut,
    Frame(Option<Result<Bytes>>),
}

impl LogReader {
    fn new(stream: LogStream, pid: u32) -> Self {
        let (tx, rx) = watch::channel(false);
        LogReader {
            stream: ManuallyDrop::new(stream),
            pending: Bytes::new(),
            end: None,
            closed: rx,
            closer: LogCloser { signal: std::sync::Arc::new(tx) },
            pid,
        }
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
        if !self.pending.is_empty() {
            return Ok(Some(self.take_pending(buf)));
        }
        match &self.end {
            Some(End::Complete) => return Ok(Some(0)),
            Some(End::Failed(e)) => return Err(e.repeat()),
            None => {}
        }

        let LogReader { stream, closed, .. } = self;
        let (woken, more) = runtime::block_on(async {
            let first = tokio::select! {
                biased;
                _ = closed.wait_for(|c| *c) => Woken::Closed,
                frame = stream.next() => Woken::Frame(frame),
                _ = sleep_or_forever(wait) => Woken::TimedOut,
            };
            // One engine frame is often one short line. To keep the cost per call low, also
            // take the frames that are already here, while the buffer has room for them.
            let mut more = Vec::new();
            if let Woken::Frame(Some(Ok(ref bytes))) = first {
                let mut room = buf.len().saturating_sub(bytes.len());
                while room > 0 {
                    let Some(next) = futures_util::FutureExt::now_or_never(stream.next()) else {
                        break;
                    };
                    if let Some(Ok(bytes)) = &next {
                        room = room.saturating_sub(bytes.len());
                    } else {
                        room = 0; // the end or an error: nothing follows
                    }
                    more.push(next);
                }
            }
            (first, more)
        })?;

        match woken {
            Woken::Closed => Err(closed_error()),
            Woken::TimedOut => Ok(None),
            Woken::Frame(first) => {
                // Only the last frame taken can overflow the buffer (taking stops when it is
                // full), and an end or an error is always last: every byte before it is
                // delivered now, the error from the next read on.
                let mut n = 0;
                for frame in std::iter::once(first).chain(more) {
                    match frame {
                        Some(Ok(bytes)) => {
                            self.pending = bytes;
                            n += self.take_pending(&mut buf[n..]);
                        }
                        None => self.end = Some(End::Complete),
                        Some(Err(e)) => self.end = Some(End::Failed(e)),
                    }
                }
                match &self.end {
                    Some(End::Failed(e)) if n == 0 => Err(e.repeat()),
                    _ => Ok(Some(n)),
                }
            }
        }
    }

    fn take_pending(&mut self, buf: &mut [u8]) -> usize {
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        bytes::Buf::advance(&mut self.pending, n);
        n
    }
}

fn closed_error() -> Error {
    Error::new(ErrorKind::InvalidState, "the log stream was closed")
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
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
        if self.pid == std::process::id() {
            self.session.close();
        }
    }
}
