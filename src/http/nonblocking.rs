//! The async client: the same requests as the blocking one, on tokio, for the async Rust API
//! and the periodic prune. Keep-alive connections are kept in a pool, as on the blocking side.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::blocking::{connect_error, io_error, timeout_error};
use super::codec::{self, Answer, BodyDecoder, Head, ReadBuffer, Request};
use super::endpoint::{AsyncIo, Endpoint};
use super::pool::Pool;
use super::{upgrade, Filled, Opened, Transport, Upgraded, BEHIND, BUSY_READ_SPACING};
use crate::error::{Error, Result};

/// Idle connections kept per engine: enough for concurrent callers of one engine without piling
/// up descriptors after a burst.
const MAX_IDLE: usize = 8;

/// A connection with its read buffer.
pub(crate) struct Conn {
    io: Box<dyn AsyncIo>,
    buffer: ReadBuffer,
    /// The call whose answer the connection carries, for errors while it is read.
    what: &'static str,
    /// When the last read of a stream returned, and how much it brought (see
    /// [`BUSY_READ_SPACING`]).
    last_read: Option<(Instant, usize)>,
}

/// Why a request failed, and whether it may be sent again (see the blocking client's).
enum Failure {
    Before(io::Error),
    During(io::Error),
    Answer(Error),
}

impl Conn {
    fn new(io: Box<dyn AsyncIo>) -> Self {
        Conn { io, buffer: ReadBuffer::new(), what: "request", last_read: None }
    }

    async fn read_more(&mut self) -> io::Result<usize> {
        let spare = self.buffer.spare();
        if spare.is_empty() {
            return Err(codec::buffer_full());
        }
        let n = self.io.read(spare).await?;
        self.buffer.filled(n);
        Ok(n)
    }

    async fn exchange(&mut self, request: &[u8]) -> std::result::Result<Head, Failure> {
        self.io.write_all(request).await.map_err(Failure::Before)?;
        let mut received = false;
        loop {
            if let Some((head, len)) = codec::parse_head(self.buffer.unread()).map_err(Failure::Answer)? {
                self.buffer.consume(len);
                return Ok(head);
            }
            match self.read_more().await {
                Ok(0) if !received => return Err(Failure::Before(io::ErrorKind::UnexpectedEof.into())),
                Ok(0) => return Err(Failure::During(io::ErrorKind::UnexpectedEof.into())),
                Ok(_) => received = true,
                Err(e) if !received && e.kind() == io::ErrorKind::ConnectionReset => return Err(Failure::Before(e)),
                Err(e) => return Err(Failure::During(e)),
            }
        }
    }

    async fn read_body(&mut self, head: &Head) -> std::result::Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        let mut decoder = BodyDecoder::new(head.body);
        loop {
            let used = codec::collect_body(&mut decoder, self.buffer.unread(), &mut body).map_err(Failure::Answer)?;
            self.buffer.consume(used);
            if decoder.is_done() {
                return Ok(body);
            }
            if self.read_more().await.map_err(Failure::During)? == 0 {
                decoder.at_eof().map_err(Failure::Answer)?;
            }
        }
    }
}

/// The async client of one engine.
pub(crate) struct Client {
    endpoint: Endpoint,
    base: String,
    timeout: Duration,
    idle: Pool<Conn>,
}

impl Client {
    pub(crate) fn new(endpoint: Endpoint, api_version: &str, timeout: Duration) -> Self {
        Client { endpoint, base: format!("/v{api_version}"), timeout, idle: Pool::new(MAX_IDLE) }
    }

    async fn connect(&self, what: &'static str) -> Result<Conn> {
        let mut conn = self.endpoint.connect_async().await.map(Conn::new).map_err(|e| connect_error(what, &self.endpoint, e))?;
        conn.what = what;
        Ok(conn)
    }

    fn failure(what: &str, failure: Failure) -> Error {
        match failure {
            Failure::Before(e) | Failure::During(e) => io_error(what, e),
            Failure::Answer(e) => e.context(what),
        }
    }

    /// Sends `request` on `conn` (pooled or given) and reads the head, once more on a new
    /// connection when a reused one turns out closed.
    async fn exchange(&self, request: &Request, mut conn: Conn, reused: bool) -> Result<(Conn, Head)> {
        let bytes = request.encode(&self.base, false);
        conn.what = request.what;
        let (conn, head) = match conn.exchange(&bytes).await {
            Ok(head) => (conn, head),
            Err(Failure::Before(_)) if reused => {
                let mut conn = self.connect(request.what).await?;
                let head = conn.exchange(&bytes).await.map_err(|f| Self::failure(request.what, f))?;
                (conn, head)
            }
            Err(f) => return Err(Self::failure(request.what, f)),
        };
        request.log(head.status);
        Ok((conn, head))
    }

    async fn bounded<T>(&self, what: &str, deadline: Instant, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let started = Instant::now();
        match tokio::time::timeout_at(deadline.into(), work).await {
            Ok(result) => result,
            Err(_) => Err(timeout_error(what, deadline.saturating_duration_since(started))),
        }
    }
}

impl Transport for Client {
    type Conn = Conn;

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn call(&self, request: &Request, deadline: Instant) -> Result<Answer> {
        self.bounded(request.what, deadline, async {
            let (conn, reused) = match self.idle.take() {
                Some(conn) => (conn, true),
                None => (self.connect(request.what).await?, false),
            };
            let (mut conn, head) = self.exchange(request, conn, reused).await?;
            let body = conn.read_body(&head).await.map_err(|f| Self::failure(request.what, f))?;
            if !head.close {
                self.idle.give(conn);
            }
            Ok(Answer { status: head.status, body })
        })
        .await
    }

    async fn open(&self, request: &Request, reuse: Option<Conn>, deadline: Instant) -> Result<Opened<Conn>> {
        self.bounded(request.what, deadline, async {
            let reused = reuse.is_some();
            let conn = match reuse {
                Some(conn) => conn,
                None => self.connect(request.what).await?,
            };
            let (mut conn, head) = self.exchange(request, conn, reused).await?;
            if head.is_success() {
                return Ok(Opened::Stream(conn, head));
            }
            let body = conn.read_body(&head).await.map_err(|f| Self::failure(request.what, f))?;
            Ok(Opened::Refused(Answer { status: head.status, body }))
        })
        .await
    }

    async fn fill(&self, conn: &mut Conn, deadline: Option<Instant>) -> Result<Filled> {
        let what = conn.what;
        // A busy stream is read in fewer, larger pieces, as on the blocking side.
        if let Some((at, n)) = conn.last_read {
            if n < BEHIND {
                if let Some(pause) = BUSY_READ_SPACING.checked_sub(at.elapsed()).filter(|d| !d.is_zero()) {
                    conn.io.rest(pause).await.map_err(|e| io_error(what, e))?;
                }
            }
        }
        let read = async { conn.read_more().await.map_err(|e| io_error(what, e)) };
        let n = match deadline {
            Some(deadline) => self.bounded(what, deadline, read).await?,
            None => read.await?,
        };
        conn.last_read = Some((Instant::now(), n));
        Ok(if n == 0 { Filled::Eof } else { Filled::Bytes(n) })
    }

    fn buffer(conn: &mut Conn) -> &mut ReadBuffer {
        &mut conn.buffer
    }

    async fn upgrade(&self, request: &Request) -> Result<std::result::Result<Upgraded, Answer>> {
        let bytes = request.encode(&self.base, true);
        self.bounded(request.what, super::deadline_in(self.timeout), async move {
            match &self.endpoint {
                Endpoint::Unix(path) => {
                    let (path, deadline) = (path.clone(), super::deadline_in(self.timeout));
                    let blocking = move || upgrade::unix_blocking(&path, &bytes, deadline, None);
                    tokio::task::spawn_blocking(blocking).await.map_err(|e| {
                        Error::new(crate::error::ErrorKind::Internal, format!("exec start: {e}"))
                    })?
                }
                Endpoint::Tcp { .. } => {
                    let conn = self.connect(request.what).await?;
                    upgrade::bridged_async(conn.io, &bytes).await
                }
            }
        })
        .await
    }

    async fn pause(&self, duration: Duration) -> Result<()> {
        tokio::time::sleep(duration).await;
        Ok(())
    }
}
