//! The one HTTP layer between the engines and the daemon: HTTP/1.1 over a unix socket or TCP,
//! with keep-alive connections kept in a pool.
//!
//! Two clients share the codec ([`codec`]) and the address ([`endpoint`]):
//! - [`blocking::Client`] talks to the daemon on the caller's thread (the blocking face that C,
//!   Go and Python use: one `write(2)` and usually one `read(2)` per request, no runtime, no
//!   hand-off between threads);
//! - [`nonblocking::Client`] does the same on tokio (the async Rust API, the periodic prune).
//!
//! An engine's operations are written once, generic over [`Transport`], which both implement.
//! The blocking transport's futures never wait: each completes on its first poll, having done
//! its I/O on the calling thread, and [`run_blocking`] runs them there.

pub(crate) mod blocking;
mod closer;
pub(crate) mod codec;
pub(crate) mod endpoint;
pub(crate) mod nonblocking;
mod pool;
mod resting;
pub(crate) mod tls;
mod upgrade;

use std::future::Future;
use std::os::unix::net::UnixStream;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub(crate) use codec::{Answer, BodyDecoder, Head, ReadBuffer, Request, Step};
pub(crate) use endpoint::Endpoint;
pub use tls::TlsFiles;

use crate::error::{Error, ErrorKind, Result};

/// While a stream is busy, its reads are spaced at least this far apart. The engine writes a
/// log line at a time, and a reader that keeps up is woken for every one: about 640 wake-ups
/// and reads per MiB of 1 KiB lines, 5,000 with 64-byte lines, and on each the binding's own
/// layers (a cgo call, Python's). Pausing this long before the next read lets one read take
/// what the engine wrote meanwhile: 35 and 100 reads per MiB (C client, 2026-11-29), a third
/// of the reader's CPU per MiB. The pause follows only a read that brought a little, and only
/// for what is left of the spacing, so the line of a quiet container is handed over the moment
/// it arrives, and a line of a busy one at most this much later.
pub(crate) const BUSY_READ_SPACING: Duration = Duration::from_micros(500);
/// A read that brings this much shows a reader behind the engine: the next one goes at once.
pub(crate) const BEHIND: usize = 16 * 1024;

/// A streamed answer was asked for; the engine answered it, or refused it.
pub(crate) enum Opened<C> {
    /// A success status; the body follows on the connection.
    Stream(C, Head),
    /// Any other status, with the (bounded) body that explains it.
    Refused(Answer),
}

/// What one read of a streamed answer brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Filled {
    Bytes(usize),
    /// The engine closed the connection.
    Eof,
    /// Nothing arrived within the wait the caller set (the blocking face's timed reads).
    Idle,
}

/// The caller's end of an upgraded (hijacked) connection: a blocking Unix stream socket, and
/// the task that bridges it to the engine when the engine's connection is not one itself.
pub(crate) struct Upgraded {
    pub socket: UnixStream,
    pub bridge: Option<tokio::task::AbortHandle>,
}

/// How an engine's operations send their requests. Implemented by the async client and by
/// the blocking client's per-call view ([`blocking::Call`]).
pub(crate) trait Transport: Sync {
    /// A connection that carries a streamed answer.
    type Conn: Send;

    /// The request timeout: the longest wait for an answer.
    fn timeout(&self) -> Duration;

    /// Sends `request` and reads the whole answer (bounded in size) before `deadline`.
    fn call(&self, request: &Request, deadline: Instant) -> impl Future<Output = Result<Answer>> + Send;

    /// Sends `request` (on `reuse` when given, else a connection of its own) and reads the
    /// answer's head before `deadline`; the body is the caller's to read with [`Transport::fill`].
    fn open(
        &self,
        request: &Request,
        reuse: Option<Self::Conn>,
        deadline: Instant,
    ) -> impl Future<Output = Result<Opened<Self::Conn>>> + Send;

    /// Reads more of a streamed answer into the connection's buffer, before `deadline` if one
    /// is given.
    fn fill(&self, conn: &mut Self::Conn, deadline: Option<Instant>) -> impl Future<Output = Result<Filled>> + Send;

    /// The bytes read from `conn` and not yet consumed.
    fn buffer(conn: &mut Self::Conn) -> &mut ReadBuffer;

    /// Sends a request that upgrades the connection (an exec start) and hands the connection
    /// over; a refusal is the engine's answer.
    fn upgrade(&self, request: &Request) -> impl Future<Output = Result<std::result::Result<Upgraded, Answer>>> + Send;

    /// Waits `duration` (a retry's back-off).
    fn pause(&self, duration: Duration) -> impl Future<Output = Result<()>> + Send;
}

/// The deadline of a request made now.
pub(crate) fn deadline_in(limit: Duration) -> Instant {
    Instant::now().checked_add(limit).unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
}

/// Reads the body of a streamed answer to its end, handing each decoded piece to `sink`.
/// `each` bounds the wait for every read (a pull: no progress for that long is a timeout),
/// `until` the whole body.
pub(crate) async fn read_body<T: Transport>(
    transport: &T,
    conn: &mut T::Conn,
    head: &Head,
    each: Option<Duration>,
    until: Option<Instant>,
    mut sink: impl FnMut(&[u8]) -> Result<()> + Send,
) -> Result<()> {
    let mut decoder = BodyDecoder::new(head.body);
    loop {
        let buffer = T::buffer(conn);
        match decoder.step(buffer.unread())? {
            Step::Done => return Ok(()),
            Step::Framing(n) => buffer.consume(n),
            Step::Data(n) => {
                sink(&buffer.unread()[..n])?;
                buffer.consume(n);
                decoder.advance(n);
            }
            Step::NeedMore => {
                let deadline = match (each.map(deadline_in), until) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                match transport.fill(conn, deadline).await? {
                    Filled::Eof => decoder.at_eof()?,
                    Filled::Bytes(_) | Filled::Idle => {}
                }
            }
        }
    }
}

/// Runs a future of the blocking transport on the calling thread. Its futures do their I/O
/// when polled and never wait for a wake-up, so one poll completes them; a future that does
/// wait (a bug: something of the async runtime used on the blocking face) is an error, not a
/// hang.
pub(crate) fn run_blocking<F: Future>(future: F) -> Result<F::Output> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(Error::new(
            ErrorKind::Internal,
            "a blocking call waited on the async runtime (a bug in gofer-scheduler)",
        )),
    }
}
