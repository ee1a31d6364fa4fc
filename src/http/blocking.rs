//! The blocking client: requests made on the caller's thread over a blocking socket, on
//! keep-alive connections kept in a pool.
//!
//! Through a runtime, a blocking call handed its request to a worker, and every chunk of an
//! answer (one per log line) crossed threads twice. Here the calling thread talks to the daemon
//! itself: one `write(2)` and usually one `read(2)` per request, as the docker CLI's own client
//! does on keep-alive connections (benches/analysis.md).
//!
//! A call waits in the socket's receive timeout, set only when it changes. A caller that must
//! react while it waits (Python's Ctrl-C) gives an [`Interrupt`], run every [`CHECK_SLICE`];
//! its error abandons the call. A [`Closer`] ends a stream's waits from another thread.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::closer::Closer;
use super::codec::{self, Answer, BodyDecoder, Head, ReadBuffer, Request};
use super::endpoint::{Endpoint, Socket};
use super::pool::Pool;
use super::{upgrade, Filled, Opened, Transport, Upgraded, BEHIND, BUSY_READ_SPACING};
use crate::error::{Error, ErrorKind, Result};

/// Runs while a blocking call waits, every [`CHECK_SLICE`]; an error abandons the call.
pub type Interrupt<'a> = Option<&'a (dyn Fn() -> Result<()> + Sync)>;

/// How long a wait with an [`Interrupt`] lasts between two checks.
pub(crate) const CHECK_SLICE: Duration = Duration::from_millis(100);
/// Idle connections kept per engine. More threads than this make new connections, as they
/// would without a pool.
const MAX_IDLE: usize = 16;
/// How much later than its deadline a read may end, rather than set the socket's timeout again.
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

/// A blocking connection with its read buffer.
pub(crate) struct Conn {
    /// Shared with a [`Closer`], which may shut it down from another thread.
    pub(super) socket: Arc<Socket>,
    buffer: ReadBuffer,
    /// The socket's current timeout (`Some(None)`: none; `None`: unknown after a failed attempt
    /// to set it), to skip setting it again when it is right (two system calls per read
    /// otherwise, on a GetState that takes two in all).
    timeout_set: Option<Option<Duration>>,
    /// When the last read of a stream returned, and how much it brought (see BUSY_READ_SPACING).
    last_read: Option<(Instant, usize)>,
    /// The call whose answer the connection carries, for errors while it is read.
    what: &'static str,
}

impl Conn {
    pub(crate) fn new(socket: Socket) -> Self {
        Conn {
            socket: Arc::new(socket),
            buffer: ReadBuffer::new(),
            timeout_set: Some(None),
            last_read: None,
            what: "request",
        }
    }

    /// Sets the socket's timeout to about `limit` (`None`: none), unless it already is.
    fn set_timeout(&mut self, limit: Option<Duration>) -> io::Result<()> {
        let fits = match (self.timeout_set, limit) {
            (Some(None), None) => true,
            (Some(Some(t)), Some(l)) => t >= l && t <= l + DEADLINE_SLACK,
            _ => false,
        };
        if fits {
            return Ok(());
        }
        // A little above what is asked, so that the next requests (whose time left is the
        // same engine timeout again) find it right.
        let value = limit.map(|l| l.max(Duration::from_millis(1)) + DEADLINE_SLACK / 2);
        self.timeout_set = None;
        self.socket.set_timeouts(value)?;
        self.timeout_set = Some(value);
        Ok(())
    }

    /// Reads into the buffer until something arrives: before `deadline` (else a `TimedOut`
    /// error), or until `wait_until` (then [`Filled::Idle`]); `interrupt` runs between slices.
    fn read_more(&mut self, deadline: Option<Instant>, wait_until: Option<Instant>, interrupt: Interrupt<'_>) -> std::result::Result<Filled, Failure> {
        loop {
            let now = Instant::now();
            let mut limit: Option<Duration> = None;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(now);
                if left.is_zero() {
                    return Err(Failure::During(io::ErrorKind::TimedOut.into()));
                }
                limit = Some(left);
            }
            if let Some(until) = wait_until {
                let left = until.saturating_duration_since(now);
                if left.is_zero() {
                    return Ok(Filled::Idle);
                }
                limit = Some(limit.map_or(left, |l| l.min(left)));
            }
            if interrupt.is_some() {
                limit = Some(limit.map_or(CHECK_SLICE, |l| l.min(CHECK_SLICE)));
            }
            self.set_timeout(limit).map_err(Failure::During)?;
            let spare = self.buffer.spare();
            if spare.is_empty() {
                return Err(Failure::During(codec::buffer_full()));
            }
            match (&*self.socket).read(spare) {
                Ok(0) => return Ok(Filled::Eof),
                Ok(n) => {
                    self.buffer.filled(n);
                    return Ok(Filled::Bytes(n));
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    if let Some(check) = interrupt {
                        check().map_err(|e| Failure::Answer(e.interruption()))?;
                    }
                }
                Err(e) => return Err(Failure::During(e)),
            }
        }
    }

    /// Writes `request`, then reads until the answer's head is complete.
    fn exchange(&mut self, request: &[u8], deadline: Instant, interrupt: Interrupt<'_>) -> std::result::Result<Head, Failure> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::During(io::ErrorKind::TimedOut.into()));
        }
        self.set_timeout(Some(left)).map_err(Failure::Before)?;
        (&*self.socket).write_all(request).map_err(Failure::Before)?;
        let mut received = false;
        loop {
            if let Some((head, len)) = codec::parse_head(self.buffer.unread()).map_err(Failure::Answer)? {
                self.buffer.consume(len);
                return Ok(head);
            }
            match self.read_more(Some(deadline), None, interrupt) {
                Ok(Filled::Bytes(_)) => received = true,
                // Closed (or reset) before any byte of the answer: on a kept connection, the
                // engine closed it while idle, and never read the request.
                Ok(Filled::Eof) if !received => return Err(Failure::Before(io::ErrorKind::UnexpectedEof.into())),
                Ok(Filled::Eof) => return Err(Failure::During(io::ErrorKind::UnexpectedEof.into())),
                Err(Failure::During(e)) if !received && e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(Failure::Before(e))
                }
                Ok(Filled::Idle) => {}
                Err(other) => return Err(other),
            }
        }
    }

    /// Reads a whole (bounded) body before `deadline`.
    fn read_body(&mut self, head: &Head, deadline: Instant, interrupt: Interrupt<'_>) -> std::result::Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        let mut decoder = BodyDecoder::new(head.body);
        loop {
            let used = codec::collect_body(&mut decoder, self.buffer.unread(), &mut body).map_err(Failure::Answer)?;
            self.buffer.consume(used);
            if decoder.is_done() {
                return Ok(body);
            }
            if self.read_more(Some(deadline), None, interrupt)? == Filled::Eof {
                decoder.at_eof().map_err(Failure::Answer)?;
            }
        }
    }
}

/// Why a request failed, and whether it may be sent again.
enum Failure {
    /// Before any byte of the answer: on a reused connection, the engine had closed it while
    /// idle and never read the request, which may go again on a new one.
    Before(io::Error),
    /// While the answer was arriving, or a timeout.
    During(io::Error),
    /// A malformed answer, or the caller's interrupt.
    Answer(Error),
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The blocking client of one engine: its address, API version, timeout and idle connections.
pub(crate) struct Client {
    endpoint: Endpoint,
    /// "/v1.41"
    base: String,
    timeout: Duration,
    idle: Pool<Conn>,
}

impl Client {
    pub(crate) fn new(endpoint: Endpoint, api_version: &str, timeout: Duration) -> Self {
        Client { endpoint, base: format!("/v{api_version}"), timeout, idle: Pool::new(MAX_IDLE) }
    }

    /// A view of this client for one call of the blocking face.
    pub(crate) fn call<'a>(&'a self, interrupt: Interrupt<'a>) -> Call<'a> {
        Call { client: self, interrupt, closer: None, wait: None }
    }

    /// A pooled connection (and true), else a new one.
    fn checkout(&self, what: &str) -> Result<(Conn, bool)> {
        match self.idle.take() {
            Some(conn) => Ok((conn, true)),
            None => Ok((self.connect(what)?, false)),
        }
    }

    pub(crate) fn connect(&self, what: &str) -> Result<Conn> {
        self.endpoint.connect(self.timeout).map(Conn::new).map_err(|e| connect_error(what, &self.endpoint, e))
    }

    fn failure(&self, what: &str, limit: Duration, failure: Failure) -> Error {
        match failure {
            Failure::Before(e) | Failure::During(e) if is_timeout(&e) => timeout_error(what, limit),
            Failure::Before(e) | Failure::During(e) => io_error(what, e),
            Failure::Answer(e) if e.is_interruption() => e,
            Failure::Answer(e) => e.context(what),
        }
    }
}

pub(crate) fn connect_error(what: &str, endpoint: &Endpoint, e: io::Error) -> Error {
    let e = super::tls::explain(e);
    Error::new(ErrorKind::Connection, format!("{what}: cannot connect to the engine at {endpoint}: {e}")).with_source(e)
}

pub(crate) fn io_error(what: &str, e: io::Error) -> Error {
    let e = super::tls::explain(e);
    Error::new(ErrorKind::Connection, format!("{what}: connection to the engine failed: {e}")).with_source(e)
}

pub(crate) fn timeout_error(what: &str, limit: Duration) -> Error {
    Error::new(ErrorKind::Timeout, format!("{what}: no answer from the engine within {limit:?}"))
}

/// The blocking client as one call of the blocking face uses it: with the caller's
/// [`Interrupt`], a [`Closer`] that follows the connections of a stream, and a wait after
/// which a stream's read gives up ([`Filled::Idle`]).
pub(crate) struct Call<'a> {
    client: &'a Client,
    interrupt: Interrupt<'a>,
    closer: Option<&'a Closer>,
    wait: Option<Duration>,
}

impl<'a> Call<'a> {
    pub(crate) fn closed_by(mut self, closer: &'a Closer) -> Self {
        self.closer = Some(closer);
        self
    }

    pub(crate) fn waiting_at_most(mut self, wait: Option<Duration>) -> Self {
        self.wait = wait;
        self
    }

    /// Fails once the call's [`Closer`] was closed: every request and wait of the call ends
    /// then, with the reason (not the broken connection the close made).
    fn check_open(&self) -> Result<()> {
        match self.closer {
            Some(closer) if closer.is_closed() => Err(Error::new(ErrorKind::InvalidState, "the call was closed")),
            _ => Ok(()),
        }
    }

    /// `result`, or the close's error when the call was closed meanwhile.
    fn unless_closed<T>(&self, result: Result<T>) -> Result<T> {
        match result {
            Err(e) if !e.is_interruption() => self.check_open().and(Err(e)),
            other => other,
        }
    }

    fn call_now(&self, request: &Request, deadline: Instant) -> Result<Answer> {
        let started = Instant::now();
        let (mut conn, head) = self.exchange(request, None, deadline)?;
        let body = conn
            .read_body(&head, deadline, self.interrupt)
            .map_err(|f| self.client.failure(request.what, Self::limit(started, deadline), f))?;
        if !head.close {
            self.client.idle.give(conn);
        }
        Ok(Answer { status: head.status, body })
    }

    fn open_now(&self, request: &Request, reuse: Option<Conn>, deadline: Instant) -> Result<Opened<Conn>> {
        let started = Instant::now();
        // A stream keeps its connection for itself: a new one unless the stream's own is given.
        let reuse = match reuse {
            Some(conn) => Some(conn),
            None => Some(self.client.connect(request.what)?),
        };
        let (mut conn, head) = self.exchange(request, reuse, deadline)?;
        if head.is_success() {
            return Ok(Opened::Stream(conn, head));
        }
        let body = conn
            .read_body(&head, deadline, self.interrupt)
            .map_err(|f| self.client.failure(request.what, Self::limit(started, deadline), f))?;
        Ok(Opened::Refused(Answer { status: head.status, body }))
    }

    fn fill_now(&self, conn: &mut Conn, deadline: Option<Instant>) -> Result<Filled> {
        if let Some((at, n)) = conn.last_read {
            if n < BEHIND {
                if let Some(pause) = BUSY_READ_SPACING.checked_sub(at.elapsed()).filter(|d| !d.is_zero()) {
                    // A close from another thread meanwhile is seen by the read right after.
                    std::thread::sleep(pause);
                }
            }
        }
        let wait_until = self.wait.map(super::deadline_in);
        let started = Instant::now();
        let filled = conn.read_more(deadline, wait_until, self.interrupt).map_err(|f| {
            let limit = deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(started));
            self.client.failure(conn.what, limit, f)
        });
        if let Ok(Filled::Bytes(n)) = filled {
            conn.last_read = Some((Instant::now(), n));
        }
        filled
    }

    fn limit(started: Instant, deadline: Instant) -> Duration {
        deadline.saturating_duration_since(started)
    }

    /// Sends `request` on `conn` (a pooled or given one) and reads the head, once more on a new
    /// connection when a reused one turns out closed. The [`Closer`] follows a stream's own
    /// connection (a given one), never a pooled one, which goes back to the pool for others.
    fn exchange(&self, request: &Request, reuse: Option<Conn>, deadline: Instant) -> Result<(Conn, Head)> {
        let started = Instant::now();
        let bytes = request.encode(&self.client.base, false);
        let closer = self.closer.filter(|_| reuse.is_some());
        let (mut conn, reused) = match reuse {
            Some(conn) => (conn, true),
            None => self.client.checkout(request.what)?,
        };
        conn.what = request.what;
        if let Some(closer) = closer {
            closer.watch(&conn);
        }
        let head = match conn.exchange(&bytes, deadline, self.interrupt) {
            Err(Failure::Before(_)) if reused => {
                conn = self.client.connect(request.what)?;
                conn.what = request.what;
                if let Some(closer) = closer {
                    closer.watch(&conn);
                }
                conn.exchange(&bytes, deadline, self.interrupt)
            }
            other => other,
        }
        .map_err(|f| self.client.failure(request.what, Self::limit(started, deadline), f))?;
        request.log(head.status);
        Ok((conn, head))
    }
}

impl Transport for Call<'_> {
    type Conn = Conn;

    fn timeout(&self) -> Duration {
        self.client.timeout
    }

    async fn call(&self, request: &Request, deadline: Instant) -> Result<Answer> {
        self.check_open()?;
        self.unless_closed(self.call_now(request, deadline))
    }

    async fn open(&self, request: &Request, reuse: Option<Conn>, deadline: Instant) -> Result<Opened<Conn>> {
        self.check_open()?;
        self.unless_closed(self.open_now(request, reuse, deadline))
    }

    async fn fill(&self, conn: &mut Conn, deadline: Option<Instant>) -> Result<Filled> {
        self.check_open()?;
        self.unless_closed(self.fill_now(conn, deadline))
    }

    fn buffer(conn: &mut Conn) -> &mut ReadBuffer {
        &mut conn.buffer
    }

    async fn upgrade(&self, request: &Request) -> Result<std::result::Result<Upgraded, Answer>> {
        let deadline = super::deadline_in(self.client.timeout);
        let bytes = request.encode(&self.client.base, true);
        if let Endpoint::Unix(path) = &self.client.endpoint {
            return upgrade::unix_blocking(path, &bytes, deadline, self.interrupt);
        }
        // Any other engine's session is bridged by a task on the runtime: it is made there.
        let endpoint = self.client.endpoint.clone();
        let limit = self.client.timeout;
        let upgraded = async move {
            let io = endpoint.connect_async().await.map_err(|e| connect_error("exec start", &endpoint, e))?;
            upgrade::bridged_async(io, &bytes).await
        };
        // The timer is made inside the block: it needs the runtime's context.
        match crate::runtime::handle()?.block_on(async move { tokio::time::timeout(limit, upgraded).await }) {
            Ok(result) => result,
            Err(_) => Err(timeout_error(request.what, limit)),
        }
    }

    async fn pause(&self, duration: Duration) -> Result<()> {
        let until = super::deadline_in(duration);
        loop {
            self.check_open()?;
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            // In slices: a close from another thread ends the pause too.
            std::thread::sleep(left.min(CHECK_SLICE));
            if let Some(check) = self.interrupt {
                check().map_err(Error::interruption)?;
            }
        }
    }
}
