//! The blocking driver of the log decoder: the caller's thread reads the engine's socket
//! itself, with no runtime and no other thread involved. Each read costs at most one `read(2)`
//! (none when decoded bytes are already buffered; a read with a wait bounds it by the socket's
//! receive timeout, not by a `poll(2)` first), and payload bytes are copied once, from the
//! socket buffer into the caller's.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::frames::LogDecoder;
use super::{logs_path, needs_repair};
use super::resume::{NextPass, Query};
use crate::docker::errors::Subject;
use crate::docker::inspect::InspectedState;
use crate::docker::wire::{Conn, Sock, Wire};
use crate::error::{Error, ErrorKind, Result};

pub(crate) struct BlockingLogs {
    wire: Arc<Wire>,
    conn: Conn,
    decoder: LogDecoder,
    full_id: String,
    /// Whether the connection may carry the next pass's request.
    reusable: bool,
    shutdown: Arc<Shutdown>,
    pace: ReadPace,
}

/// Ends a stream from any thread: marks it closed and shuts its connection down, which wakes
/// a `read(2)` blocked on it.
#[derive(Default)]
pub(crate) struct Shutdown {
    closed: AtomicBool,
    /// The stream's current connection (it changes when a pass needs a new one).
    socket: Mutex<Option<Arc<Sock>>>,
}

impl Shutdown {
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(socket) = self.socket().as_ref() {
            socket.shutdown();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn socket(&self) -> std::sync::MutexGuard<'_, Option<Arc<Sock>>> {
        // Holds a socket or nothing; a poisoned lock is still consistent.
        self.socket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the stream onto `conn`; shuts it down at once if the stream was closed meanwhile.
    fn watch(&self, conn: &Conn) {
        let mut socket = self.socket();
        if self.is_closed() {
            conn.sock.shutdown();
        }
        *socket = Some(conn.sock.clone());
    }
}

impl BlockingLogs {
    /// Opens the log stream of the container `inspected` (its full ID pins the stream to it).
    pub(crate) fn open(wire: Arc<Wire>, inspected: InspectedState) -> Result<Self> {
        let InspectedState { id: full_id, tty, status, .. } = inspected;
        let repair = needs_repair(status.as_deref());
        let (conn, head) = wire.open("logs", &logs_path(&full_id, repair && !tty, None), Subject::Container)?;
        let shutdown = Arc::new(Shutdown::default());
        shutdown.watch(&conn);
        Ok(BlockingLogs {
            wire,
            conn,
            decoder: LogDecoder::new(head.body, tty, repair),
            full_id,
            reusable: !head.close,
            shutdown,
            pace: ReadPace::default(),
        })
    }

    pub(crate) fn shutdown(&self) -> Arc<Shutdown> {
        self.shutdown.clone()
    }

    /// Reads payload bytes into `out` (not empty). `Ok(Some(0))` is the end of the logs;
    /// `Ok(None)`: nothing arrived within `wait`.
    pub(crate) fn read(&mut self, out: &mut [u8], wait: Option<Duration>) -> Result<Option<usize>> {
        loop {
            let (used, n) = self.decoder.decode(self.conn.unread(), out).map_err(|e| e.context("logs"))?;
            self.conn.consume(used);
            if n > 0 {
                return Ok(Some(n));
            }
            if self.decoder.misaligned() {
                // The rest of this answer is not wanted: a new connection asks again.
                let query = self.decoder.realign().map_err(|e| e.context("logs"))?;
                self.reusable = false;
                if !self.next_pass(&query)? {
                    return Ok(Some(0));
                }
                continue;
            }
            if self.decoder.body_done() {
                match self.decoder.finish_pass().map_err(|e| e.context("logs"))? {
                    NextPass::Complete => return Ok(Some(0)),
                    NextPass::Replay(query) => {
                        if !self.next_pass(&query)? {
                            return Ok(Some(0));
                        }
                        continue;
                    }
                }
            }
            if let Some(pause) = self.pace.pause() {
                // A close from another thread meanwhile is seen by the read right after.
                std::thread::sleep(pause);
            }
            match self.conn.fill_within(wait).map_err(|e| io_error("logs", e))? {
                None => return Ok(None),
                Some(0) => self.decoder.at_eof().map_err(|e| e.context("logs"))?,
                Some(n) => self.pace.filled(n),
            }
        }
    }

    /// Requests the next pass (see `resume`); false when the container is gone (404), which
    /// ends the stream as the engine's own end would.
    fn next_pass(&mut self, query: &Query) -> Result<bool> {
        let path = logs_path(&self.full_id, self.decoder.wants_timestamps(), Some(query));
        let on_same = if self.reusable {
            Some(self.wire.send_on(&mut self.conn, "logs", &path, Subject::Container))
        } else {
            None
        };
        let head = match on_same {
            Some(Ok(head)) => head,
            Some(Err(e)) if e.http_status() == Some(404) => return Ok(false),
            // The engine closed the connection (or said it would): a new one.
            Some(Err(e)) if e.kind() != ErrorKind::Connection => return Err(e),
            Some(Err(_)) | None => match self.wire.open("logs", &path, Subject::Container) {
                Ok((conn, head)) => {
                    self.shutdown.watch(&conn);
                    self.conn = conn;
                    head
                }
                Err(e) if e.http_status() == Some(404) => return Ok(false),
                Err(e) => return Err(e),
            },
        };
        self.decoder.begin_pass(head.body);
        self.reusable = !head.close;
        Ok(true)
    }
}

/// While a stream is busy, its reads are spaced at least this far apart. The engine writes a
/// log line at a time, and a reader that keeps up is woken for every one: about 640 wake-ups
/// and reads per MiB of 1 KiB lines, 5,000 with 64-byte lines, and on each the binding's own
/// layers (a cgo call, Python's). Pausing this long before the next read lets one read take
/// what the engine wrote meanwhile: 35 and 100 reads per MiB (C client, 2026-11-29), a third
/// of the reader's CPU per MiB, and the engine, sharing the two cores, writes faster (64-byte
/// lines: 24 MiB/s instead of 15).
/// The pause follows only a read that brought a little, and only for what is left of the
/// spacing, so the line of a quiet container is handed over the moment it arrives, and a line of
/// a busy one at most this much later.
///
/// The async stream ([`super::LogStream`]) is not paced: tokio's I/O driver is woken by every
/// write of the engine whether or not the task reads (edge-triggered epoll), so a paused task
/// saved nothing there (2.78 ms/MiB with the pause, 2.74 without, 1 KiB lines).
const BUSY_READ_SPACING: Duration = Duration::from_micros(500);

/// A read that brings this much shows a reader that is behind the engine: the next one goes at
/// once, so that the spacing never limits the throughput.
const BEHIND: usize = 16 * 1024;

/// The pace of a stream's reads: when the last read that brought bytes returned, and how many.
#[derive(Default)]
struct ReadPace {
    last: Option<(Instant, usize)>,
}

impl ReadPace {
    /// How long to wait before the next read: what is left of [`BUSY_READ_SPACING`] after a
    /// read that brought less than [`BEHIND`], else nothing.
    fn pause(&self) -> Option<Duration> {
        let (at, n) = self.last?;
        if n >= BEHIND {
            return None;
        }
        BUSY_READ_SPACING.checked_sub(at.elapsed()).filter(|d| !d.is_zero())
    }

    /// A read brought `n` bytes (not zero).
    fn filled(&mut self, n: usize) {
        self.last = Some((Instant::now(), n));
    }
}

fn io_error(what: &str, e: io::Error) -> Error {
    Error::new(ErrorKind::Connection, format!("{what}: connection to the engine failed: {e}")).with_source(e)
}
