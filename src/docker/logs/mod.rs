//! GetLogs: a container's output as a stream of payload bytes (docs/contract.md, "Logs").
//!
//! One log session ([`LogSession`]) reads and decodes the engine's answer
//! ([`frames::LogDecoder`]: transfer coding, frame headers, timestamps) and recovers the end of
//! a log that the engine cut short ([`resume`]), asking for further passes as needed. It is
//! generic over the transport: the async [`LogStream`] and the blocking face's reader drive the
//! same session. What it reads is a [`LogTarget`]: a container's log here, a swarm task's in the
//! swarm engine (a log the engine never ends by itself, which the session watches).

pub(crate) mod frames;
pub(crate) mod resume;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;

use super::errors::{from_answer, Subject};
use super::inspect::{inspect, InspectedState};
use super::{api, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::http::nonblocking::Conn;
use crate::http::{deadline_in, Filled, Opened, Request, Transport};
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

/// What a log session reads: the requests of its passes, and, for a log that the engine never
/// ends by itself, how to tell that what it belongs to has ended.
pub(crate) trait LogTarget: Send {
    /// The logs request of one pass: followed or not, with timestamps or not; `extra` holds the
    /// parameters of a pass after the first.
    fn request(&self, follow: bool, timestamps: bool, extra: &str) -> Request;

    /// How long a stream may stay silent before [`LogTarget::ended`] is asked; `None` for a log
    /// whose stream the engine ends itself.
    fn watch_every(&self) -> Option<Duration> {
        None
    }

    /// Whether what the log belongs to has ended. A followed pass is then closed and the end
    /// of the log asked for without following. An error (what runs it is lost) ends the log.
    fn ended<T: Transport>(&mut self, _t: &T) -> impl Future<Output = Result<bool>> + Send {
        async { Ok(true) }
    }
}

/// A container's log, pinned to its full ID; the engine ends a followed stream at the exit.
pub(crate) struct ContainerLog {
    full_id: String,
}

impl LogTarget for ContainerLog {
    fn request(&self, _follow: bool, timestamps: bool, extra: &str) -> Request {
        api::logs(&self.full_id, timestamps, extra)
    }
}

/// One log as it is being read: the decoder, and the connection of the current pass.
pub(crate) struct LogSession<C, G: LogTarget = ContainerLog> {
    target: G,
    decoder: LogDecoder,
    /// `None` once the log is complete or failed.
    conn: Option<C>,
    /// Whether the connection may carry the next pass's request (the last answer kept it open).
    reusable: bool,
    /// Whether the current pass follows a watched log (see [`LogTarget::watch_every`]).
    following: bool,
    /// Since when the stream has brought nothing (when the next watch is due).
    quiet_since: Instant,
}

impl<C: Send> LogSession<C> {
    /// Looks the container up (an unknown or ambiguous ID fails here, not at the first read)
    /// and opens its log. The full ID pins the stream to that container, even if the name is
    /// reused meanwhile.
    pub(crate) async fn open<T: Transport<Conn = C>>(t: &T, shared: &Shared, request: GetLogsRequest) -> Result<Self> {
        validate::container_id("id", &request.id)?;
        let InspectedState { id: full_id, tty, status, .. } = inspect(t, shared, &request.id).await?;
        let repair = needs_repair(status.as_deref());
        LogSession::open_target(t, ContainerLog { full_id }, tty, repair, false).await
    }
}

impl<C: Send, G: LogTarget> LogSession<C, G> {
    /// Opens the first pass of `target`'s log: with `repair`, timestamped and checked for a cut
    /// end; with `follow`, followed and watched (see [`LogTarget::watch_every`]).
    pub(crate) async fn open_target<T: Transport<Conn = C>>(t: &T, target: G, tty: bool, repair: bool, follow: bool) -> Result<Self> {
        let first = target.request(follow, repair && !tty, "");
        match t.open(&first, None, deadline_in(t.timeout())).await? {
            Opened::Stream(conn, head) => Ok(LogSession {
                target,
                decoder: LogDecoder::new(head.body, tty, repair),
                conn: Some(conn),
                reusable: !head.close,
                following: follow,
                quiet_since: Instant::now(),
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
                if self.following && !self.target.ended(t).await? {
                    return Err(Error::new(ErrorKind::Engine, "logs: the engine ended the stream while the task still runs"));
                }
                self.following = false;
                match self.decoder.finish_pass().map_err(|e| e.context("logs"))? {
                    NextPass::Complete => self.conn = None,
                    NextPass::Replay(query) => {
                        let reuse = self.conn.take().filter(|_| self.reusable);
                        self.next_pass(t, &query, reuse).await?;
                    }
                }
                continue;
            }
            let watch = self.target.watch_every().map(|every| self.quiet_since + every);
            match t.fill(conn, watch).await {
                Ok(Filled::Idle) => return Ok(None),
                Ok(Filled::Eof) => self.decoder.at_eof().map_err(|e| e.context("logs"))?,
                Ok(Filled::Bytes(_)) if watch.is_some() => self.quiet_since = Instant::now(),
                Ok(Filled::Bytes(_)) => {}
                // A watched log is quiet: has what it belongs to ended?
                Err(e) if watch.is_some() && e.kind() == ErrorKind::Timeout && !e.is_interruption() => self.watch(t).await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks whether the watched log's owner has ended; if it has, a followed pass (which would
    /// never end) is closed between two frames, and the end of the log asked for without
    /// following, skipping what was delivered.
    async fn watch<T: Transport<Conn = C>>(&mut self, t: &T) -> Result<()> {
        self.quiet_since = Instant::now();
        if self.target.ended(t).await? && self.following && self.decoder.between_frames() {
            self.following = false;
            self.conn = None;
            if let NextPass::Replay(query) = self.decoder.finish_pass().map_err(|e| e.context("logs"))? {
                self.next_pass(t, &query, None).await?;
            }
        }
        Ok(())
    }

    /// Asks for the next pass (see [`resume`]), on `reuse` when given. A 404 (the container
    /// was removed) ends the log as the engine's own end would.
    async fn next_pass<T: Transport<Conn = C>>(&mut self, t: &T, query: &Query, reuse: Option<C>) -> Result<()> {
        let request = self.target.request(self.following, self.decoder.wants_timestamps(), &query.parameters());
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
fn items<G: LogTarget + 'static>(session: LogSession<Conn, G>, shared: Arc<Shared>, typed: bool) -> Pin<Box<dyn Stream<Item = Result<LogFrame>> + Send>> {
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
        Ok(LogStream::of(session, shared))
    }

    /// The stream of an opened session of any target, read on `shared`'s async client.
    pub(crate) fn of<G: LogTarget + 'static>(session: LogSession<Conn, G>, shared: Arc<Shared>) -> Self {
        LogStream { items: items(session, shared, false) }
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
        Ok(LogFrames::of(session, shared))
    }

    /// The frames of an opened session of any target, read on `shared`'s async client.
    pub(crate) fn of<G: LogTarget + 'static>(session: LogSession<Conn, G>, shared: Arc<Shared>) -> Self {
        LogFrames { items: items(session, shared, true) }
    }
}

impl Stream for LogFrames {
    type Item = Result<LogFrame>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.items.as_mut().poll_next(cx)
    }
}
