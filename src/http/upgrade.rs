//! Upgraded connections (an exec start with a TTY): the engine's connection is taken over
//! right after the answer's head and handed to the caller as a Unix stream socket.
//!
//! On a unix-socket engine the connection itself goes to the caller (no copy, no extra hop),
//! so the head is read exactly, up to its last byte and not one byte further: what follows is
//! the process's output, the caller's to read. Any other engine's connection is bridged to one
//! end of a socketpair by a task on the runtime, so that the caller still gets a Unix socket.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::blocking::{io_error, timeout_error, Interrupt, CHECK_SLICE};
use super::codec::{self, Answer, BodyKind, Head, MAX_HEAD};
use super::endpoint::AsyncIo;
use super::Upgraded;
use crate::error::{Error, ErrorKind, Result};

/// 101 is the upgrade asked for; engines before API 1.42 may answer 200 and hijack all the same.
pub(crate) fn is_upgraded(status: u16) -> bool {
    status == 101 || status == 200
}

/// How many of `peeked` bytes belong to the head, given the `before` head bytes taken already;
/// and whether the head ends there.
fn head_part(before: &[u8], peeked: &[u8]) -> (usize, bool) {
    // The blank line may straddle what was taken before and what is peeked now.
    let from = before.len().saturating_sub(3);
    let mut joined = before[from..].to_vec();
    joined.extend_from_slice(peeked);
    match codec::find(&joined, b"\r\n\r\n") {
        // The head did not end before this peek, so its end lies within `peeked`.
        Some(i) => (i + 4 - (before.len() - from), true),
        None => (peeked.len(), false),
    }
}

fn parse(head: &[u8]) -> Result<Head> {
    match codec::parse_head(head) {
        Ok(Some((head, _))) => Ok(head),
        Ok(None) => Err(Error::new(ErrorKind::Engine, "exec start: the engine's answer has no end of headers")),
        Err(e) => Err(e.context("exec start")),
    }
}

fn closed_early() -> Error {
    Error::new(ErrorKind::Connection, "exec start: the engine closed the connection")
}

/// Copies what the socket holds into `buf` without taking it (`recv(MSG_PEEK)`).
fn peek(fd: i32, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length, and `fd` is open for the call.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) };
    usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
}

/// An error answer's small body follows its head, usually in the same write: one read takes
/// it. None when the head says there is no body: the engine may keep the connection open.
fn error_body(head: &Head, read: impl FnOnce(&mut [u8]) -> std::io::Result<usize>) -> Result<Vec<u8>> {
    let mut body = vec![0u8; 4096];
    let n = match head.body {
        BodyKind::Length(0) => 0,
        _ => read(&mut body).map_err(|e| io_error("exec start", e))?,
    };
    body.truncate(n);
    Ok(body)
}

/// On a unix-socket engine: the engine's connection itself, read with blocking calls (on the
/// caller's thread, or on the runtime's blocking pool for the async face), since it is handed
/// over as a blocking socket anyway.
pub(super) fn unix_blocking(path: &Path, request: &[u8], deadline: Instant, interrupt: Interrupt<'_>) -> Result<std::result::Result<Upgraded, Answer>> {
    let what = "exec start";
    let mut stream = UnixStream::connect(path).map_err(|e| io_error(what, e))?;
    let limit = deadline.saturating_duration_since(Instant::now());
    stream.set_write_timeout(Some(limit.max(CHECK_SLICE))).map_err(|e| io_error(what, e))?;
    stream.write_all(request).map_err(|e| io_error(what, e))?;
    let mut head = Vec::with_capacity(512);
    let mut peeked = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timeout_error(what, limit));
        }
        let slice = if interrupt.is_some() { left.min(CHECK_SLICE) } else { left };
        stream.set_read_timeout(Some(slice)).map_err(|e| io_error(what, e))?;
        let n = match peek(stream.as_raw_fd(), &mut peeked) {
            Ok(0) => return Err(closed_early()),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted) => {
                if let Some(check) = interrupt {
                    check().map_err(Error::interruption)?;
                }
                continue;
            }
            Err(e) => return Err(io_error(what, e)),
        };
        let (take, complete) = head_part(&head, &peeked[..n]);
        stream.read_exact(&mut peeked[..take]).map_err(|e| io_error(what, e))?;
        head.extend_from_slice(&peeked[..take]);
        if complete {
            break;
        }
        if head.len() > MAX_HEAD {
            return Err(Error::new(ErrorKind::Engine, "exec start: the engine's answer has no end of headers"));
        }
    }
    let parsed = parse(&head)?;
    if is_upgraded(parsed.status) {
        // Blocking and without timeouts, as the caller's descriptor promises.
        stream.set_read_timeout(None).and_then(|_| stream.set_write_timeout(None)).map_err(|e| io_error(what, e))?;
        return Ok(Ok(Upgraded { socket: stream, bridge: None }));
    }
    let body = error_body(&parsed, |buf| stream.read(buf))?;
    Ok(Err(Answer { status: parsed.status, body }))
}

/// On the runtime, on any other engine: the connection bridged to a socketpair.
pub(super) async fn bridged_async(mut connection: Box<dyn AsyncIo>, request: &[u8]) -> Result<std::result::Result<Upgraded, Answer>> {
    let what = "exec start";
    connection.write_all(request).await.map_err(|e| io_error(what, e))?;
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let (head, len) = loop {
        if let Some(found) = codec::parse_head(&bytes).map_err(|e| e.context(what))? {
            break found;
        }
        if bytes.len() > MAX_HEAD {
            return Err(Error::new(ErrorKind::Engine, "exec start: the engine's answer has no end of headers"));
        }
        let n = connection.read(&mut chunk).await.map_err(|e| io_error(what, e))?;
        if n == 0 {
            return Err(closed_early());
        }
        bytes.extend_from_slice(&chunk[..n]);
    };
    let after = bytes.split_off(len);
    if is_upgraded(head.status) {
        return bridge(connection, after, &tokio::runtime::Handle::current());
    }
    Ok(Err(Answer { status: head.status, body: after }))
}

/// Connects the engine's `connection` to one end of a new socketpair, on `runtime`, and hands
/// the other end over. `early_output` arrived with the head.
pub(super) fn bridge(
    mut engine_side: Box<dyn AsyncIo>,
    early_output: Vec<u8>,
    runtime: &tokio::runtime::Handle,
) -> Result<std::result::Result<Upgraded, Answer>> {
    let socket_error = |e: std::io::Error| {
        Error::new(ErrorKind::Internal, format!("cannot create the session socket: {e}")).with_source(e)
    };
    let (user_end, our_end) = UnixStream::pair().map_err(socket_error)?;
    our_end.set_nonblocking(true).map_err(socket_error)?;
    let _entered = runtime.enter();
    let mut our_end = tokio::net::UnixStream::from_std(our_end).map_err(socket_error)?;
    // Bytes flow both ways until both sides are done: the process's exit closes the engine's
    // side, which shuts down ours, so the caller reads end-of-stream; the caller's
    // end-of-stream closes the process's stdin.
    let task = runtime.spawn(async move {
        if our_end.write_all(&early_output).await.is_ok() {
            let _ = tokio::io::copy_bidirectional(&mut our_end, &mut engine_side).await;
        }
    });
    Ok(Ok(Upgraded { socket: user_end, bridge: Some(task.abort_handle()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_ends_at_its_blank_line_wherever_the_peeks_cut_it() {
        let head = b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n";
        let output = b"/ # ";
        let all = [&head[..], &output[..]].concat();
        for cut in 1..head.len() {
            let (take, complete) = head_part(&[], &all[..cut]);
            assert_eq!((take, complete), (cut, false), "cut {cut}");
            let (take, complete) = head_part(&all[..cut], &all[cut..]);
            assert_eq!((take, complete), (head.len() - cut, true), "cut {cut}");
        }
    }

    #[test]
    fn error_answers_take_one_read_and_none_without_a_body() {
        let head = Head { status: 409, body: BodyKind::Length(42), close: false };
        let body = error_body(&head, |buf| {
            buf[..2].copy_from_slice(b"{}");
            Ok(2)
        })
        .unwrap();
        assert_eq!(body, b"{}");
        let empty = Head { status: 404, body: BodyKind::Length(0), close: false };
        assert_eq!(error_body(&empty, |_| panic!("no read without a body")).unwrap(), b"");
    }
}
