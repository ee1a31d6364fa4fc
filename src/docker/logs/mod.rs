//! GetLogs: a container's output as a stream of payload bytes (docs/contract.md, "Logs").
//!
//! One log session ([`LogSession`]) reads and decodes the engine's answer
//! ([`frames::LogDecoder`]: transfer coding, frame headers, timestamps) and recovers the end of
//! a log that the engine cut short ([`resume`]), asking for further passes as needed. It is
//! generic over the transport: the async [`LogStream`] and the blocking face's reader drive the
//! same session.

mod frames;
mod resume;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use super::errors::{from_answer, Subject};
use super::inspect::{inspect, InspectedState};
use super::{api, Shared};
use crate::error::Result;
use crate::http::nonblocking::Conn;
use crate::http::{deadline_in, Filled, Opened, Transport};
use crate::model::{GetLogsRequest, LogFrame, LogSource};
use crate::validate;
use frames::LogDecoder;
use resume::{NextPass, Query};

/// Whether a log stream must be checked for a cut end (see [`resume`]). The engine cuts only
/// follow streams of containers that stop while followed; the log of a container that has
/// already exited is read from the file to its end, and needs neither the timestamps (which cost
/// the engine about a fifth more time for 1 KiB lines) nor the extra request.
fn needs_repair(status: Option<&str>) -> bool {
    !super::inspect::has_exited(status)
}

/// One container's log as it is being read: the decoder, and the connection of the current pass.
pub(crate) struct LogSession<C> {
    full_id: String,
    decoder: LogDecoder,
    /// `None` once the log is complete or failed.
    conn: Option<C>,
    /// Whether the connection may carry the next pass's request (the last answer kept it open).
    reusable: bool,
}

impl<C: Send> LogSession<C> {
    /// Looks the container up (an unknown or ambiguous ID fails here, not at the first read)
    /// and opens its log. The full ID pins the stream to that container, even if the name is
    /// reused meanwhile.
    pub(crate) async fn open<T: Transport<Conn = C>>(t: &T, shared: &Shared, request: GetLogsRequest) -> Result<Self> {
        validate::container_id("id", &request.id)?;
        let InspectedState { id: full_id, tty, status, .. } = inspect(t, shared, &request.id).await?;
        let repair = needs_repair(status.as_deref());
        let first = api::logs(&full_id, repair && !tty, "");
        match t.open(&first, None, deadline_in(t.timeout())).await? {
            Opened::Stream(conn, head) => Ok(LogSession {
                full_id,
                decoder: LogDecoder::new(head.body, tty, repair),
                conn: Some(conn),
                reusable: !head.close,
            }),
            Opened::Refused(answer) => Err(from_answer(&answer, Subject::Container).context("logs")),
        }
    }

    /// Reads payload bytes into `out` (not empty): `Ok(Some(0))` is the end of the log,
    /// `Ok(None)` that nothing arrived within the transport's wait. With `typed`, the bytes are
    /// all of one stream, [`LogSession::source`]. After an error, the session holds no
    /// connection and reads as ended; the caller reports the error. A caller's interruption
    /// comes between two reads and leaves the session as it was.
    pub(crate) async fn read<T: Transport<Conn = C>>(&mut self, t: &T, out: &mut [u8], typed: bool) -> Result<Option<usize>> {
        let result = self.next_bytes(t, out, typed).await;
        if result.as_ref().is_err_and(|e| !e.is_interruption()) {
            self.conn = None;
        }
        result
    }

    /// Where the bytes of the last typed read came from.
    pub(crate) fn source(&self) -> LogSource {
        self.decoder.source()
    }

    async fn next_bytes<T: Transport<Conn = C>>(&mut self, t: &T, out: &mut [u8], typed: bool) -> Result<Option<usize>> {
        loop {
            let Some(conn) = self.conn.as_mut() else { return Ok(Some(0)) };
            let buffer = T::buffer(conn);
            let (used, n) = self.decoder.decode(buffer.unread(), out, typed).map_err(|e| e.context("logs"))?;
            buffer.consume(used);
            if n > 0 {
                return Ok(Some(n));
            }
            if self.decoder.misaligned() {
                // The rest of this answer is not wanted: a new connection asks again.
                let query = self.decoder.realign().map_err(|e| e.context("logs"))?;
                self.conn = None;
                self.next_pass(t, &query, None).await?;
                continue;
            }
            if self.decoder.body_done() {
                match self.decoder.finish_pass().map_err(|e| e.context("logs"))? {
                    NextPass::Complete => self.conn = None,
                    NextPass::Replay(query) => {
                        let reuse = self.conn.take().filter(|_| self.reusable);
                        self.next_pass(t, &query, reuse).await?;
                    }
                }
                continue;
            }
            match t.fill(conn, None).await? {
                Filled::Idle => return Ok(None),
                Filled::Eof => self.decoder.at_eof().map_err(|e| e.context("logs"))?,
                Filled::Bytes(_) => {}
            }
        }
    }

    /// Asks for the next pass (see [`resume`]), on `reuse` when given. A 404 (the container
    /// was removed) ends the log as the engine's own end would.
    async fn next_pass<T: Transport<Conn = C>>(&mut self, t: &T, query: &Query, reuse: Option<C>) -> Result<()> {
        let request = api::logs(&self.full_id, self.decoder.wants_timestamps(), &query.parameters());
        match t.open(&request, reuse, deadline_in(t.timeout())).await? {
            Opened::Stream(conn, head) => {
                self.decoder.begin_pass(head.body);
                self.reusable = !head.close;
                self.conn = Some(conn);
            }
            Opened::Refused(answer) if answer.status == 404 => {}
            Opened::Refused(answer) => return Err(from_answer(&answer, Subject::Container).context("logs")),
        }
        Ok(())
    }
}

/// Most payload bytes one item of the stream carries.
const ITEM: usize = 64 * 1024;

/// The items of a log stream: the session read to its end on the async client, one read per
/// item; with `typed`, each item from one stream.
fn items(session: LogSession<Conn>, shared: Arc<Shared>, typed: bool) -> Pin<Box<dyn Stream<Item = Result<LogFrame>> + Send>> {
    let state = Some((session, shared, vec![0u8; ITEM]));
    Box::pin(futures_util::stream::unfold(state, move |state| async move {
        let (mut session, shared, mut out) = state?;
        loop {
            return match session.read(&shared.asynch, &mut out, typed).await {
                Ok(None) => continue,
                Ok(Some(0)) => None,
                Ok(Some(n)) => {
                    let frame = LogFrame { source: session.source(), data: Bytes::copy_from_slice(&out[..n]) };
                    Some((Ok(frame), Some((session, shared, out))))
                }
                Err(e) => Some((Err(e), None)),
            };
        }
    }))
}

/// A container's stdout and stderr, merged in the engine's order, followed until the container
/// exits. Yields payload bytes only (no frame headers, no timestamps).
///
/// The stream is pulled, not pushed: nothing is read from the engine until the consumer asks,
/// so memory stays bounded whatever the container writes. Dropping the stream closes the
/// connection. A broken connection is an error item, never a silent end; nothing follows it.
pub struct LogStream {
    items: Pin<Box<dyn Stream<Item = Result<LogFrame>> + Send>>,
}

impl LogStream {
    pub(super) async fn open(shared: Arc<Shared>, request: GetLogsRequest) -> Result<Self> {
        let session = LogSession::open(&shared.asynch, &shared, request).await?;
        Ok(LogStream { items: items(session, shared, false) })
    }
}

impl Stream for LogStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.items.as_mut().poll_next(cx).map(|item| item.map(|frame| frame.map(|f| f.data)))
    }
}

/// The same log as [`LogStream`], as frames tagged with the stream they came from: stdout and
/// stderr apart, in the engine's order.
pub struct LogFrames {
    items: Pin<Box<dyn Stream<Item = Result<LogFrame>> + Send>>,
}

impl LogFrames {
    pub(super) async fn open(shared: Arc<Shared>, request: GetLogsRequest) -> Result<Self> {
        let session = LogSession::open(&shared.asynch, &shared, request).await?;
        Ok(LogFrames { items: items(session, shared, true) })
    }
}

impl Stream for LogFrames {
    type Item = Result<LogFrame>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.items.as_mut().poll_next(cx)
    }
}
