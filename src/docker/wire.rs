//! HTTP/1.1 to the engine without a runtime, for the calls of the blocking face that are on the
//! hot path (GetState, the log stream).
//!
//! Through bollard, a blocking call hands its request to a runtime worker, which writes it and
//! reads the answer, and every chunk of a response (one per log line) crosses threads twice.
//! Here the calling thread talks to the daemon itself over a blocking socket: one `write(2)` and
//! usually one `read(2)` per request, as the docker CLI's own client does on keep-alive
//! connections. The parts that do not touch a socket (the response head, the body's transfer
//! coding) are pure, so the async log stream decodes with them too.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::errors::{from_answer, Subject};
use crate::error::{Error, ErrorKind, Result};

/// Longest response head accepted; an engine's is a few hundred bytes.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Size of a connection's read buffer: a whole inspect answer, many log frames.
const BUFFER: usize = 64 * 1024;
/// Largest body of a request/response call (an inspect document is ~8 KB): a broken or hostile
/// engine cannot make the library allocate without bound.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Idle connections kept per engine. More threads than this make new connections, as they
/// would without a pool.
const MAX_IDLE: usize = 16;

/// How a response's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Chunked,
    Length(usize),
    /// Neither a length nor chunks: the body ends when the engine closes the connection.
    UntilClose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub status: u16,
    pub body: BodyKind,
    /// The engine will close the connection after this answer.
    pub close: bool,
}

/// Parses the response head at the start of `buf`: `Ok(None)` while it is incomplete, else the
/// head and its length in bytes.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(malformed("the engine's answer has no end of headers"));
        }
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed(&format!("malformed answer from the engine: {status_line:?}")))?;
    let (mut chunked, mut length, mut close) = (false, None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| malformed("malformed Content-Length"))?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    // Answers that have no body by definition (RFC 9112, 6.3).
    let bodiless = status < 200 || status == 204 || status == 304;
    let body = match (chunked, length) {
        _ if bodiless => BodyKind::Length(0),
        (true, _) => BodyKind::Chunked,
        (false, Some(n)) => BodyKind::Length(n),
        (false, None) => BodyKind::UntilClose,
    };
    if body == BodyKind::UntilClose {
        close = true;
    }
    Ok(Some((Head { status, body, close }, end + 4)))
}

/// What [`BodyDecoder::step`] found at the start of the unread input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Transfer-coding bytes (chunk sizes, CRLFs): consume this many and step again.
    Framing(usize),
    /// This many body bytes are at the start of the input; consume those used with
    /// [`BodyDecoder::advance`].
    Data(usize),
    /// More input is needed.
    NeedMore,
    /// The body is complete.
    Done,
}

/// The transfer coding of a response body, decoded without I/O: the caller owns the buffer and
/// the socket, and feeds the unread bytes in.
#[derive(Debug)]
pub(crate) struct BodyDecoder {
    phase: Phase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    ChunkSize,
    ChunkData(usize),
    ChunkEnd,
    Trailers,
    Sized(usize),
    UntilClose,
    Done,
}

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

impl BodyDecoder {
    pub(crate) fn new(kind: BodyKind) -> Self {
        let phase = match kind {
            BodyKind::Chunked => Phase::ChunkSize,
            BodyKind::Length(0) => Phase::Done,
            BodyKind::Length(n) => Phase::Sized(n),
            BodyKind::UntilClose => Phase::UntilClose,
        };
        BodyDecoder { phase }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub(crate) fn step(&mut self, input: &[u8]) -> Result<Step> {
        match self.phase {
            Phase::Done => Ok(Step::Done),
            Phase::ChunkData(left) | Phase::Sized(left) => {
                if input.is_empty() {
                    Ok(Step::NeedMore)
                } else {
                    Ok(Step::Data(left.min(input.len())))
                }
            }
            Phase::UntilClose => Ok(if input.is_empty() { Step::NeedMore } else { Step::Data(input.len()) }),
            Phase::ChunkEnd => {
                if input.len() < 2 {
                    return Ok(Step::NeedMore);
                }
                if &input[..2] != b"\r\n" {
                    return Err(malformed("a chunk of the engine's answer is not followed by CRLF"));
                }
                self.phase = Phase::ChunkSize;
                Ok(Step::Framing(2))
            }
            Phase::ChunkSize => {
                let Some(line) = line(input)? else { return Ok(Step::NeedMore) };
                let digits = &input[..line];
                let digits = &digits[..digits.iter().position(|&c| c == b';').unwrap_or(digits.len())];
                let size = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                    .ok_or_else(|| malformed("malformed chunk size in the engine's answer"))?;
                self.phase = if size == 0 { Phase::Trailers } else { Phase::ChunkData(size) };
                Ok(Step::Framing(line + 2))
            }
            Phase::Trailers => {
                let Some(line) = line(input)? else { return Ok(Step::NeedMore) };
                if line == 0 {
                    self.phase = Phase::Done;
                }
                Ok(Step::Framing(line + 2))
            }
        }
    }

    /// `n` body bytes (at most what the last [`Step::Data`] offered) were used.
    pub(crate) fn advance(&mut self, n: usize) {
        self.phase = match self.phase {
            Phase::ChunkData(left) if n >= left => Phase::ChunkEnd,
            Phase::ChunkData(left) => Phase::ChunkData(left - n),
            Phase::Sized(left) if n >= left => Phase::Done,
            Phase::Sized(left) => Phase::Sized(left - n),
            other => other,
        };
    }

    /// The engine closed the connection: the end of an until-close body, else a cut answer.
    pub(crate) fn at_eof(&mut self) -> Result<()> {
        match self.phase {
            Phase::Done => Ok(()),
            Phase::UntilClose => {
                self.phase = Phase::Done;
                Ok(())
            }
            _ => Err(Error::new(ErrorKind::Connection, "the engine closed the connection in the middle of an answer")),
        }
    }
}

/// The length of the CRLF-terminated line at the start of `input`, without the CRLF.
fn line(input: &[u8]) -> Result<Option<usize>> {
    match find(&input[..input.len().min(MAX_LINE + 2)], b"\r\n") {
        Some(i) => Ok(Some(i)),
        None if input.len() > MAX_LINE => Err(malformed("over-long line in the engine's answer")),
        None => Ok(None),
    }
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn malformed(message: &str) -> Error {
    Error::new(ErrorKind::Engine, message.to_owned())
}

/// A blocking connection to the engine: a Unix socket or TCP.
pub(crate) enum Sock {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Sock {
    pub(crate) fn connect(host: &str) -> io::Result<Sock> {
        if let Some(path) = host.strip_prefix("unix://") {
            return UnixStream::connect(path).map(Sock::Unix);
        }
        let stream = TcpStream::connect(tcp_address(host))?;
        stream.set_nodelay(true)?;
        Ok(Sock::Tcp(stream))
    }

    /// Ends the connection both ways; a `read(2)` blocked on it (in any thread) returns.
    pub(crate) fn shutdown(&self) {
        // Fails only when already shut down or closed by the peer: nothing left to do then.
        let _ = match self {
            Sock::Unix(s) => s.shutdown(Shutdown::Both),
            Sock::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    /// `limit` must not be zero, which setsockopt takes for "no timeout" (see Conn's).
    fn set_timeouts(&self, limit: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Unix(s) => s.set_read_timeout(limit).and_then(|_| s.set_write_timeout(limit)),
            Sock::Tcp(s) => s.set_read_timeout(limit).and_then(|_| s.set_write_timeout(limit)),
        }
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        match self {
            Sock::Unix(s) => s.as_raw_fd(),
            Sock::Tcp(s) => s.as_raw_fd(),
        }
    }
}

/// `tcp://host:port/` or `http://host:port` → `host:port`.
pub(crate) fn tcp_address(host: &str) -> &str {
    let address = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")).unwrap_or(host);
    address.trim_end_matches('/')
}

// Reads and writes through a shared reference, as std's sockets allow: a stream's closer
// holds the same socket to shut it down from another thread.
impl Read for &Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => (&*s).read(buf),
            Sock::Tcp(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => (&*s).write(buf),
            Sock::Tcp(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A read buffer: bytes read from a connection and not yet consumed.
pub(crate) struct ReadBuffer {
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
}

impl ReadBuffer {
    pub(crate) fn new() -> Self {
        ReadBuffer { buf: vec![0; BUFFER].into_boxed_slice(), pos: 0, end: 0 }
    }

    /// The bytes read and not yet consumed.
    pub(crate) fn unread(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }

    /// Free room after the unread bytes (moved to the front when needed), to read into; then
    /// [`ReadBuffer::filled`]. Empty only when unread bytes fill the whole buffer, which a
    /// caller that consumes what it can never lets happen but for a malformed answer.
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        &mut self.buf[self.end..]
    }

    pub(crate) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }
}

fn buffer_full() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "an item of the engine's answer exceeds the read buffer")
}

/// A blocking connection with its read buffer.
pub(crate) struct Conn {
    /// Shared with whoever may need to shut the connection down from another thread.
    pub sock: Arc<Sock>,
    pub buffer: ReadBuffer,
    /// The socket's current send/receive timeout (`Some(None)`: none; `None`: unknown, after a
    /// failed attempt to set it), to skip setting it again when it is already right (two system
    /// calls per read otherwise, on a GetState that takes two in all).
    timeout_set: Option<Option<Duration>>,
}

/// How much later than its deadline a read may end, rather than set the socket's timeout again.
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

impl Conn {
    fn new(sock: Sock) -> Self {
        Conn { sock: Arc::new(sock), buffer: ReadBuffer::new(), timeout_set: Some(None) }
    }

    pub(crate) fn unread(&self) -> &[u8] {
        self.buffer.unread()
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.buffer.consume(n)
    }

    /// One `read(2)` into the buffer, keeping the unread bytes. `Ok(0)`: the engine closed the
    /// connection.
    pub(crate) fn fill(&mut self) -> io::Result<usize> {
        loop {
            match self.read_once() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// One `read(2)` into the buffer; `Interrupted` is the caller's to handle.
    fn read_once(&mut self) -> io::Result<usize> {
        let Conn { sock, buffer, .. } = self;
        let spare = buffer.spare();
        if spare.is_empty() {
            return Err(buffer_full());
        }
        let n = (&**sock).read(spare)?;
        buffer.filled(n);
        Ok(n)
    }

    /// One `read(2)` that waits at most `wait` (`None`: as long as it takes); `Ok(None)` when
    /// nothing arrived in time. The wait is the socket's receive timeout, set only when it
    /// changes, rather than a `poll(2)` before the read: a log stream of short lines makes
    /// hundreds of reads per MiB, and the poll was a third of their system calls.
    pub(crate) fn fill_within(&mut self, wait: Option<Duration>) -> io::Result<Option<usize>> {
        self.set_timeouts(wait)?;
        // Without a wait, a read neither times out nor gives up on a signal (`fill` retries).
        // With one, a signal ends the wait too: the caller runs its handlers now.
        let read = if wait.is_some() { self.read_once() } else { self.fill() };
        match read {
            Ok(n) => Ok(Some(n)),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets the socket's send and receive timeouts, unless they already are `limit`.
    fn set_timeouts(&mut self, limit: Option<Duration>) -> io::Result<()> {
        // A zero duration means "no timeout" to setsockopt, the opposite of what is meant.
        let limit = limit.map(|d| d.max(Duration::from_millis(1)));
        if self.timeout_set == Some(limit) {
            return Ok(());
        }
        self.timeout_set = None;
        self.sock.set_timeouts(limit)?;
        self.timeout_set = Some(limit);
        Ok(())
    }

    /// Waits up to `wait` for the connection to become readable (or closed).
    pub(crate) fn readable_within(&self, wait: Duration) -> io::Result<bool> {
        if !self.unread().is_empty() {
            return Ok(true);
        }
        let mut pfd = libc::pollfd { fd: self.sock.raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
        }
        Ok(ready > 0)
    }

    /// Sends `request` and reads the answer's head, both within `deadline`. The bytes after the
    /// head stay unread. `Fresh(false)` errors (see [`Failure`]) may be retried on a new
    /// connection: nothing of the answer had arrived.
    fn exchange(&mut self, request: &[u8], deadline: Instant, check: &mut Check<'_>) -> std::result::Result<Head, Failure> {
        self.set_deadline(deadline).map_err(Failure::Before)?;
        (&*self.sock).write_all(request).map_err(Failure::Before)?;
        loop {
            match parse_head(self.unread()) {
                Ok(Some((head, len))) => {
                    self.consume(len);
                    return Ok(head);
                }
                Ok(None) => {}
                Err(e) => return Err(Failure::Answer(e)),
            }
            let got_nothing = self.unread().is_empty();
            self.wait(deadline, check)?;
            self.set_deadline(deadline).map_err(Failure::During)?;
            match self.fill() {
                Ok(0) if got_nothing => return Err(Failure::Before(io::ErrorKind::UnexpectedEof.into())),
                Ok(0) => return Err(Failure::During(io::ErrorKind::UnexpectedEof.into())),
                Ok(_) => {}
                Err(e) if got_nothing && !is_timeout(&e) => return Err(Failure::Before(e)),
                Err(e) => return Err(Failure::During(e)),
            }
        }
    }

    /// Reads a whole (bounded) body within `deadline`.
    fn read_body(&mut self, head: &Head, deadline: Instant, check: &mut Check<'_>) -> std::result::Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        let mut decoder = BodyDecoder::new(head.body);
        loop {
            match decoder.step(self.unread()).map_err(Failure::Answer)? {
                Step::Done => return Ok(body),
                Step::Framing(n) => self.consume(n),
                Step::Data(n) => {
                    if body.len() + n > MAX_BODY {
                        return Err(Failure::Answer(malformed("the engine's answer is larger than expected")));
                    }
                    body.extend_from_slice(&self.unread()[..n]);
                    self.consume(n);
                    decoder.advance(n);
                }
                Step::NeedMore => {
                    self.wait(deadline, check)?;
                    self.set_deadline(deadline).map_err(Failure::During)?;
                    if self.fill().map_err(Failure::During)? == 0 {
                        decoder.at_eof().map_err(Failure::Answer)?;
                    }
                }
            }
        }
    }

    /// With a `check`, waits for the answer in slices of [`CHECK_SLICE`] and runs the check
    /// between them (a Python caller's signal handlers); its error ends the request. Without
    /// one, nothing: the read itself blocks.
    fn wait(&self, deadline: Instant, check: &mut Check<'_>) -> std::result::Result<(), Failure> {
        let Some(check) = check else { return Ok(()) };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.readable_within(left.min(CHECK_SLICE)).map_err(Failure::During)? {
                return Ok(());
            }
            check().map_err(Failure::Answer)?;
        }
    }

    fn set_deadline(&mut self, deadline: Instant) -> io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        // A timeout shorter than what is left would fail early; one a little longer lets a read
        // end at most DEADLINE_SLACK late. The first read of a request on a kept connection
        // finds the timeout of the request before it, which is the same engine timeout.
        if self.timeout_set.flatten().is_some_and(|t| t >= left && t <= left + DEADLINE_SLACK) {
            return Ok(());
        }
        // Set a little above what is left, so that the next requests' first reads (whose time
        // left is the whole engine timeout again) find it right.
        self.set_timeouts(Some(left + DEADLINE_SLACK / 2))
    }

    /// Streams are not bounded by the request timeout once their head has arrived.
    pub(crate) fn clear_deadline(&mut self) -> io::Result<()> {
        self.set_timeouts(None)
    }
}

/// Called between slices of a wait for the engine's answer; an error abandons the request.
pub(crate) type Check<'a> = Option<&'a mut dyn FnMut() -> Result<()>>;

/// How long a wait with a [`Check`] lasts between two checks.
const CHECK_SLICE: Duration = Duration::from_millis(100);

/// Why a request failed, and whether it may be retried.
enum Failure {
    /// Before any byte of the answer: on a reused connection, the engine had closed it while
    /// idle. A GET is safe to send again.
    Before(io::Error),
    /// While the answer was arriving, or a timeout.
    During(io::Error),
    /// The answer was malformed.
    Answer(Error),
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The blocking client of one engine: its address, API version, timeout and idle connections.
pub(crate) struct Wire {
    host: String,
    /// "1.41"
    api_version: String,
    /// "/v1.41"
    base: String,
    timeout: Duration,
    idle: Mutex<Vec<Conn>>,
}

impl Wire {
    pub(crate) fn new(host: &str, api_version: &str, timeout: Duration) -> Self {
        Wire {
            host: host.to_owned(),
            api_version: api_version.to_owned(),
            base: format!("/v{api_version}"),
            timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn api_version(&self) -> &str {
        &self.api_version
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        // The vector is consistent between operations, so a poisoned lock is still usable.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connect(&self, what: &str) -> Result<Conn> {
        Sock::connect(&self.host).map(Conn::new).map_err(|e| {
            Error::new(ErrorKind::Connection, format!("{what}: cannot connect to the engine at {}: {e}", self.host))
                .with_source(e)
        })
    }

    /// The request line and headers of a GET of `path_and_query` (after the API version).
    pub(crate) fn request_text(&self, path_and_query: &str) -> String {
        format!("GET {}{path_and_query} HTTP/1.1\r\nHost: docker\r\nUser-Agent: gofer-scheduler\r\n\r\n", self.base)
    }

    /// A GET whose answer must be 200: its body. Other answers are errors mapped by status
    /// about `subject`. `what` names the call in errors ("container inspect"). With a `check`, it
    /// runs every 100 ms while the engine has not answered (see [`Check`]).
    pub(crate) fn get(
        &self,
        what: &str,
        path_and_query: &str,
        subject: Subject,
        mut check: Check<'_>,
    ) -> Result<Vec<u8>> {
        let deadline = Instant::now() + self.timeout;
        let request = self.request_text(path_and_query);
        // A pooled connection may have been closed by the engine while idle; that shows as a
        // failure before any answer, and the request goes once more on a new connection.
        let pooled = self.idle().pop();
        let (mut conn, reused) = match pooled {
            Some(conn) => (conn, true),
            None => (self.connect(what)?, false),
        };
        let outcome = match conn.exchange(request.as_bytes(), deadline, &mut check) {
            Err(Failure::Before(_)) if reused => {
                conn = self.connect(what)?;
                conn.exchange(request.as_bytes(), deadline, &mut check)
            }
            other => other,
        }
        .and_then(|head| conn.read_body(&head, deadline, &mut check).map(|body| (head, body)));
        let (head, body) = outcome.map_err(|f| self.failure(what, f))?;
        if !head.close {
            let mut idle = self.idle();
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        if head.status != 200 {
            return Err(from_answer(head.status, &body, subject));
        }
        Ok(body)
    }

    /// Sends a GET on a connection of its own (a stream: it is not returned to the pool) and
    /// reads the answer's head within the timeout. A non-200 answer is an error mapped by
    /// status about `subject`.
    pub(crate) fn open(&self, what: &str, path_and_query: &str, subject: Subject) -> Result<(Conn, Head)> {
        let mut conn = self.connect(what)?;
        let head = self.send_on(&mut conn, what, path_and_query, subject)?;
        Ok((conn, head))
    }

    /// Like [`Wire::open`], on a connection that finished its previous answer.
    pub(crate) fn send_on(&self, conn: &mut Conn, what: &str, path_and_query: &str, subject: Subject) -> Result<Head> {
        let deadline = Instant::now() + self.timeout;
        let request = self.request_text(path_and_query);
        let head = conn.exchange(request.as_bytes(), deadline, &mut None).map_err(|f| self.failure(what, f))?;
        if head.status != 200 {
            let body = conn.read_body(&head, deadline, &mut None).map_err(|f| self.failure(what, f))?;
            return Err(from_answer(head.status, &body, subject));
        }
        conn.clear_deadline().map_err(|e| self.failure(what, Failure::During(e)))?;
        Ok(head)
    }

    fn failure(&self, what: &str, failure: Failure) -> Error {
        match failure {
            Failure::Before(e) | Failure::During(e) if is_timeout(&e) => Error::new(
                ErrorKind::Timeout,
                format!("{what}: no answer from the engine within {:?}", self.timeout),
            ),
            Failure::Before(e) | Failure::During(e) => {
                Error::new(ErrorKind::Connection, format!("{what}: connection to the engine failed: {e}")).with_source(e)
            }
            Failure::Answer(e) => e.context(what),
        }
    }
}

/// A connection of the async side (the Rust API's log stream, the attach session).
pub(crate) trait AsyncConnection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncConnection for T {}

pub(crate) async fn connect_async(host: &str) -> io::Result<Box<dyn AsyncConnection>> {
    if let Some(path) = host.strip_prefix("unix://") {
        return Ok(Box::new(tokio::net::UnixStream::connect(path).await?));
    }
    let stream = tokio::net::TcpStream::connect(tcp_address(host)).await?;
    stream.set_nodelay(true)?;
    Ok(Box::new(stream))
}

/// Sends a GET for a stream on `connection` and reads the answer's head into `buffer` (the
/// bytes after it stay there). A 200 gives the head; another status the engine's error.
pub(crate) async fn open_async(
    connection: &mut Box<dyn AsyncConnection>,
    buffer: &mut ReadBuffer,
    request: &str,
    subject: Subject,
) -> Result<Head> {
    connection.write_all(request.as_bytes()).await.map_err(async_io_error)?;
    let head = loop {
        if let Some((head, len)) = parse_head(buffer.unread())? {
            buffer.consume(len);
            break head;
        }
        read_more(connection, buffer).await?;
    };
    if head.status == 200 {
        return Ok(head);
    }
    let mut body = Vec::new();
    let mut decoder = BodyDecoder::new(head.body);
    loop {
        match decoder.step(buffer.unread())? {
            Step::Done => break,
            Step::Framing(n) => buffer.consume(n),
            Step::Data(n) => {
                if body.len() + n > MAX_HEAD {
                    break; // an error message; what arrived is enough to report it
                }
                body.extend_from_slice(&buffer.unread()[..n]);
                buffer.consume(n);
                decoder.advance(n);
            }
            Step::NeedMore => {
                if read_more(connection, buffer).await? == 0 {
                    decoder.at_eof()?;
                }
            }
        }
    }
    Err(from_answer(head.status, &body, subject))
}

/// One read into `buffer`'s free room. `Ok(0)`: the engine closed the connection.
pub(crate) async fn read_more(connection: &mut Box<dyn AsyncConnection>, buffer: &mut ReadBuffer) -> Result<usize> {
    let spare = buffer.spare();
    if spare.is_empty() {
        return Err(async_io_error(buffer_full()));
    }
    let n = connection.read(spare).await.map_err(async_io_error)?;
    buffer.filled(n);
    Ok(n)
}

fn async_io_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Connection, format!("connection to the engine failed: {e}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` to a decoder in pieces of `piece` bytes, as reads would deliver it.
    fn decode(kind: BodyKind, input: &[u8], piece: usize) -> Result<(Vec<u8>, bool)> {
        let mut decoder = BodyDecoder::new(kind);
        let (mut body, mut unread, mut fed) = (Vec::new(), Vec::new(), 0);
        loop {
            match decoder.step(&unread)? {
                Step::Done => return Ok((body, true)),
                Step::Framing(n) => {
                    unread.drain(..n);
                }
                Step::Data(n) => {
                    let used = n.min(3); // consume less than offered, as a full caller buffer does
                    body.extend_from_slice(&unread[..used]);
                    unread.drain(..used);
                    decoder.advance(used);
                }
                Step::NeedMore if fed == input.len() => {
                    decoder.at_eof()?;
                    return Ok((body, decoder.is_done()));
                }
                Step::NeedMore => {
                    let next = (fed + piece).min(input.len());
                    unread.extend_from_slice(&input[fed..next]);
                    fed = next;
                }
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_boundaries() {
        let input = b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n";
        for piece in 1..input.len() {
            let (body, done) = decode(BodyKind::Chunked, input, piece).unwrap();
            assert_eq!(body, b"hello world!");
            assert!(done);
        }
    }

    #[test]
    fn a_cut_chunked_body_is_an_error_not_an_end() {
        let err = decode(BodyKind::Chunked, b"5\r\nhel", 2).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection);
        assert!(decode(BodyKind::Chunked, b"zz\r\n", 4).is_err());
        assert!(decode(BodyKind::Chunked, b"2\r\nabXY", 8).is_err(), "missing CRLF after a chunk");
    }

    #[test]
    fn sized_and_until_close_bodies() {
        assert_eq!(decode(BodyKind::Length(4), b"abcdEXTRA", 2).unwrap().0, b"abcd");
        assert!(decode(BodyKind::Length(4), b"ab", 1).is_err());
        assert_eq!(decode(BodyKind::UntilClose, b"abc", 1).unwrap(), (b"abc".to_vec(), true));
    }

    #[test]
    fn heads_are_parsed_and_bounded() {
        let (head, len) = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nrest").unwrap().unwrap();
        assert_eq!((head.status, head.body, head.close, len), (200, BodyKind::Chunked, false, 47));
        let (head, _) = parse_head(b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((head.status, head.body, head.close), (404, BodyKind::Length(12), true));
        let (head, _) = parse_head(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.body, BodyKind::Length(0));
        let (head, _) = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((head.body, head.close), (BodyKind::UntilClose, true));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-").unwrap().is_none());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(parse_head(&vec![b'x'; MAX_HEAD + 1]).is_err());
    }
}
