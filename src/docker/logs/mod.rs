//! GetLogs: a container's output as a stream of payload bytes.
//!
//! The logs request is made by hand, not through bollard, and its answer is decoded by
//! [`frames::LogDecoder`]: the frame layer must see each frame's timestamp to recover the end
//! of a log that the engine cut short ([`resume`]), and decoding in place costs a copy per
//! byte instead of an allocation per frame. Two drivers feed the decoder: [`LogStream`] (async,
//! the Rust API) and [`reader::BlockingLogs`] (the caller's thread, for C, Go and Python).

mod frames;
pub(crate) mod reader;
mod resume;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncRead;

use super::errors::Subject;
use super::inspect::InspectedState;
use super::wire::{self, AsyncConnection, Head, ReadBuffer, Wire};
use super::DockerEngine;
use crate::error::{Error, ErrorKind, Result};
use crate::model::GetLogsRequest;
use crate::validate;
use frames::LogDecoder;
use resume::{NextPass, Query};

/// The request path of a container's logs, after the API version. `pass` is set for the passes
/// after the first.
fn logs_path(full_id: &str, timestamps: bool, pass: Option<&Query>) -> String {
    let mut path = format!("/containers/{full_id}/logs?follow=1&stdout=1&stderr=1");
    if timestamps {
        path.push_str("&timestamps=1");
    }
    if let Some(pass) = pass {
        path.push_str(&pass.parameters());
    }
    path
}

/// Whether a log stream must be checked for a cut end (see [`resume`]). The engine cuts only
/// follow streams of containers that stop while followed; the log of a container that has
/// already exited is read from the file to its end, and needs neither the timestamps (which cost
/// the engine about a fifth more time for 1 KiB lines) nor the extra request.
fn needs_repair(status: Option<&str>) -> bool {
    !matches!(status, Some("exited" | "dead"))
}

/// A container's stdout and stderr, merged in the engine's order, followed until the container
/// exits. Yields payload bytes only (no frame headers, no timestamps).
///
/// The stream is pulled, not pushed: nothing is read from the engine until the consumer asks,
/// so memory stays bounded whatever the container writes. Dropping the stream closes the
/// connection. A broken connection is an error item, never a silent end.
pub struct LogStream {
    connection: Option<Box<dyn AsyncConnection>>,
    buffer: ReadBuffer,
    out: Box<[u8]>,
    decoder: LogDecoder,
    full_id: String,
    /// The engine's address, API version and timeout (for the requests of later passes).
    wire: Arc<Wire>,
    /// Whether the connection may carry the next request (the last answer did not close it).
    reusable: bool,
    state: State,
}

enum State {
    Reading,
    /// Asking the engine for the next pass; `None` from the future: the container is gone.
    Replaying(Pin<Box<dyn Future<Output = Result<Option<Opened>>> + Send>>),
    Finished,
}

struct Opened {
    connection: Box<dyn AsyncConnection>,
    buffer: ReadBuffer,
    head: Head,
}

/// Most payload bytes one item of the stream carries.
const ITEM: usize = 64 * 1024;

impl DockerEngine {
    /// SPEC.md GetLogs. The container is looked up first, so that an unknown or ambiguous ID
    /// fails here rather than at the first read.
    pub async fn get_logs(&self, req: GetLogsRequest) -> Result<LogStream> {
        validate::container_id("id", &req.id)?;
        // The full ID pins the stream to the container just inspected, even if the name is
        // reused meanwhile.
        let InspectedState { id: full_id, tty, status, .. } = self.inspect_state(&req.id).await?;
        let repair = needs_repair(status.as_deref());
        let wire = self.inner.wire.clone();
        let request = wire.request_text(&logs_path(&full_id, repair && !tty, None));
        let opened = open(wire.clone(), None, request, false).await?;
        let Some(Opened { connection, buffer, head }) = opened else {
            return Err(Error::new(ErrorKind::Internal, "logs: the first request cannot end the stream"));
        };
        Ok(LogStream {
            connection: Some(connection),
            buffer,
            out: vec![0; ITEM].into_boxed_slice(),
            decoder: LogDecoder::new(head.body, tty, repair),
            full_id,
            wire,
            reusable: !head.close,
            state: State::Reading,
        })
    }
}

/// Sends `request` (on `reuse`, else a new connection) and reads the answer's head, within the
/// engine's timeout. With `missing_is_end`, a 404 (the container was removed) is `Ok(None)`.
async fn open(
    wire: Arc<Wire>,
    mut reuse: Option<Box<dyn AsyncConnection>>,
    request: String,
    missing_is_end: bool,
) -> Result<Option<Opened>> {
    let (host, timeout) = (wire.host(), wire.timeout());
    let attempt = async {
        loop {
            let reused = reuse.is_some();
            let mut connection = match reuse.take() {
                Some(c) => c,
                None => wire::connect_async(host).await.map_err(|e| {
                    Error::new(ErrorKind::Connection, format!("logs: cannot connect to the engine at {host}: {e}"))
                        .with_source(e)
                })?,
            };
            let mut buffer = ReadBuffer::new();
            return match wire::open_async(&mut connection, &mut buffer, &request, Subject::Container).await {
                Ok(head) => Ok(Some(Opened { connection, buffer, head })),
                Err(e) if missing_is_end && e.http_status() == Some(404) => Ok(None),
                // The engine may have closed the kept connection meanwhile: once more on a new one.
                Err(e) if reused && e.kind() == ErrorKind::Connection => continue,
                Err(e) => Err(e.context("logs")),
            };
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(ErrorKind::Timeout, format!("logs: no answer from the engine within {timeout:?}"))),
    }
}

impl LogStream {
    fn fail(&mut self, error: Error) -> Poll<Option<Result<Bytes>>> {
        self.state = State::Finished;
        self.connection = None;
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for LogStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Finished => return Poll::Ready(None),
                State::Replaying(next) => match next.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(Some(opened))) => {
                        this.decoder.begin_pass(opened.head.body);
                        this.reusable = !opened.head.close;
                        this.connection = Some(opened.connection);
                        this.buffer = opened.buffer;
                        this.state = State::Reading;
                    }
                    Poll::Ready(Ok(None)) => {
                        this.state = State::Finished;
                        this.connection = None;
                    }
                    Poll::Ready(Err(e)) => return this.fail(e),
                },
                State::Reading => {
                    let (used, n) = match this.decoder.decode(this.buffer.unread(), &mut this.out) {
                        Ok(progress) => progress,
                        Err(e) => return this.fail(e.context("logs")),
                    };
                    this.buffer.consume(used);
                    if n > 0 {
                        return Poll::Ready(Some(Ok(Bytes::copy_from_slice(&this.out[..n]))));
                    }
                    if this.decoder.misaligned() {
                        // The rest of this answer is not wanted: a new connection asks again.
                        let query = match this.decoder.realign() {
                            Ok(query) => query,
                            Err(e) => return this.fail(e.context("logs")),
                        };
                        let path = logs_path(&this.full_id, this.decoder.wants_timestamps(), Some(&query));
                        this.connection = None;
                        let next = open(this.wire.clone(), None, this.wire.request_text(&path), true);
                        this.state = State::Replaying(Box::pin(next));
                        continue;
                    }
                    if this.decoder.body_done() {
                        match this.decoder.finish_pass() {
                            Err(e) => return this.fail(e.context("logs")),
                            Ok(NextPass::Complete) => {
                                this.state = State::Finished;
                                this.connection = None;
                            }
                            Ok(NextPass::Replay(query)) => {
                                let path = logs_path(&this.full_id, this.decoder.wants_timestamps(), Some(&query));
                                let request = this.wire.request_text(&path);
                                let reuse = this.connection.take().filter(|_| this.reusable);
                                let next = open(this.wire.clone(), reuse, request, true);
                                this.state = State::Replaying(Box::pin(next));
                            }
                        }
                        continue;
                    }
                    let Some(connection) = this.connection.as_mut() else {
                        return this.fail(Error::new(ErrorKind::Internal, "logs: no connection"));
                    };
                    let spare = this.buffer.spare();
                    if spare.is_empty() {
                        return this.fail(Error::new(ErrorKind::Engine, "logs: an item of the engine's answer exceeds the read buffer"));
                    }
                    let mut read = tokio::io::ReadBuf::new(spare);
                    match Pin::new(connection).poll_read(cx, &mut read) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            let error = Error::new(ErrorKind::Connection, format!("logs: connection to the engine failed: {e}"))
                                .with_source(e);
                            return this.fail(error);
                        }
                        Poll::Ready(Ok(())) => {
                            let n = read.filled().len();
                            this.buffer.filled(n);
                            if n == 0 {
                                if let Err(e) = this.decoder.at_eof() {
                                    return this.fail(e.context("logs"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
