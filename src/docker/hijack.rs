//! The exec-start request, made by hand so that the attach stream is raw bytes.
//!
//! bollard's exec start guesses, for every chunk, whether the bytes are a framed (8-byte header)
//! or a raw TTY stream by looking at the first byte: TTY output that happens to start a chunk
//! with 0x00, 0x01 or 0x02 is taken for a frame header and corrupted or stalled. An exec with a
//! TTY is never framed, so here the connection is taken over right after the HTTP upgrade and
//! passed on as it is.
//!
//! On a unix-socket engine the connection itself goes to the caller (no copy, no extra hop), so
//! the response head is read exactly, up to its last byte and not one byte further: whatever
//! follows is the process's output, and the caller's to read.

use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::errors::{from_answer, Subject};
use super::wire::{self, AsyncConnection, BodyKind, Head, MAX_HEAD};
use crate::error::{Error, ErrorKind, Result};

/// The connection of a started exec, taken over after the response head.
pub(crate) enum Hijacked {
    /// A unix-socket engine's connection, as a blocking socket outside any runtime, positioned
    /// at the process's first output byte.
    Direct(std::os::unix::net::UnixStream),
    /// A TCP engine's connection, and the first output bytes that arrived with the head.
    Bridged { connection: Box<dyn AsyncConnection>, early_output: Vec<u8> },
}

/// Starts exec `exec_id` (TTY, attached) on the engine at `host` with API `version` ("1.41").
pub(crate) async fn start_exec(host: &str, version: &str, exec_id: &str, timeout: Duration) -> Result<Hijacked> {
    let start = async {
        let body = r#"{"Detach":false,"Tty":true}"#;
        let request = format!(
            "POST /v{version}/exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n\
             Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if let Some(path) = host.strip_prefix("unix://") {
            let mut stream = tokio::net::UnixStream::connect(path).await.map_err(io_error)?;
            stream.write_all(request.as_bytes()).await.map_err(io_error)?;
            let head = parse(&read_head_exactly(&mut stream).await?)?.0;
            if is_upgraded(head.status) {
                // Out of the runtime (deregistered from its reactor) and blocking, as the
                // caller's descriptor promises.
                let stream = stream.into_std().map_err(io_error)?;
                stream.set_nonblocking(false).map_err(io_error)?;
                return Ok(Hijacked::Direct(stream));
            }
            // An error answer: its small body follows the head, usually in the same write. One
            // read takes it, as on TCP; none when the head says there is no body, since the
            // engine may keep the connection open and the read would wait for the timeout.
            let mut body = vec![0u8; 4096];
            let n = match head.body {
                BodyKind::Length(0) => 0,
                _ => stream.read(&mut body).await.map_err(io_error)?,
            };
            return Err(error_answer(head.status, &body[..n]));
        }
        let mut connection = wire::connect_async(host).await.map_err(io_error)?;
        connection.write_all(request.as_bytes()).await.map_err(io_error)?;
        let (head, bytes) = read_head(&mut connection).await?;
        if is_upgraded(head.status) {
            return Ok(Hijacked::Bridged { connection, early_output: bytes });
        }
        Err(error_answer(head.status, &bytes))
    };
    match tokio::time::timeout(timeout, start).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(ErrorKind::Timeout, format!("exec start: no answer from the engine within {timeout:?}"))),
    }
}

/// 101 is the upgrade asked for; engines before API 1.42 may answer 200 and hijack all the same.
fn is_upgraded(status: u16) -> bool {
    status == 101 || status == 200
}

/// Reads the response head and not one byte more: each read takes only what a peek showed to
/// be head. Returns the head, its blank line included.
async fn read_head_exactly(stream: &mut tokio::net::UnixStream) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut peeked = [0u8; 4096];
    loop {
        let n = peek(stream, &mut peeked).await.map_err(io_error)?;
        if n == 0 {
            return Err(closed_early());
        }
        // The blank line may straddle what was taken before and what is peeked now.
        let before = head.len();
        let from = before.saturating_sub(3);
        head.extend_from_slice(&peeked[..n]);
        let end = wire::find(&head[from..], b"\r\n\r\n").map(|i| from + i + 4);
        // The head did not end before this peek, so `end` lies past `before`.
        let take = end.map_or(n, |end| end - before);
        head.truncate(before + take);
        stream.read_exact(&mut peeked[..take]).await.map_err(io_error)?;
        if end.is_some() {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(no_end_of_head());
        }
    }
}

/// Copies what the socket holds into `buf` without taking it (`recv(MSG_PEEK)`), waiting until
/// something is there. 0 is the end of the stream.
async fn peek(stream: &tokio::net::UnixStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let fd = stream.as_raw_fd();
    loop {
        stream.readable().await?;
        let peeked = stream.try_io(tokio::io::Interest::READABLE, || {
            // SAFETY: `buf` is valid for writes of its length, and `fd` is the stream's,
            // open for as long as `stream` is borrowed.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK | libc::MSG_DONTWAIT) };
            usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
        });
        match peeked {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// Reads up to the end of the response head; returns the head and the bytes that followed it.
async fn read_head(connection: &mut Box<dyn AsyncConnection>) -> Result<(Head, Vec<u8>)> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((head, len)) = wire::parse_head(&bytes).map_err(|e| e.context("exec start"))? {
            return Ok((head, bytes.split_off(len)));
        }
        let n = connection.read(&mut chunk).await.map_err(io_error)?;
        if n == 0 {
            return Err(closed_early());
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// A whole response head, parsed (what `read_head_exactly` returns always is one).
fn parse(head: &[u8]) -> Result<(Head, usize)> {
    wire::parse_head(head).map_err(|e| e.context("exec start"))?.ok_or_else(no_end_of_head)
}

fn closed_early() -> Error {
    Error::new(ErrorKind::Connection, "exec start: the engine closed the connection")
}

fn no_end_of_head() -> Error {
    Error::new(ErrorKind::Engine, "exec start: the engine's answer has no end of headers")
}

/// An error answer's body is JSON `{"message": "..."}`; read what arrived with the head (the
/// engine sends small errors in one piece). Mapped as every other exec request's error: 404 is
/// an unknown container or exec, 409 a container that is not running.
fn error_answer(status: u16, body: &[u8]) -> Error {
    from_answer(status, body, Subject::Exec)
}

fn io_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Connection, format!("exec start: {e}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_keep_the_engine_message_and_status() {
        let e = error_answer(409, br#"{"message":"Container abc is not running"}"#);
        assert_eq!(e.kind(), ErrorKind::ContainerNotRunning);
        assert_eq!(e.message(), "Container abc is not running");
        assert_eq!(e.http_status(), Some(409));
        assert_eq!(error_answer(404, b"").kind(), ErrorKind::NoSuchContainer);
        assert_eq!(error_answer(500, b"plain text\n").message(), "plain text");
    }

    #[tokio::test]
    async fn the_head_is_read_to_its_blank_line_and_the_output_after_it_is_left() {
        // The blank line split across two writes, and output that follows it at once.
        let (mut engine, mut client) = tokio::net::UnixStream::pair().expect("a socket pair");
        let writer = tokio::spawn(async move {
            engine.write_all(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r").await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            engine.write_all(b"\n/ # ").await?;
            Ok::<_, std::io::Error>(engine)
        });
        let head = read_head_exactly(&mut client).await.expect("a head");
        assert_eq!(head, b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n");
        let engine = writer.await.expect("the writer ran").expect("the writes went through");
        drop(engine);
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.expect("the rest");
        assert_eq!(rest, b"/ # ");
    }

    #[test]
    fn heads_give_their_status_and_body_length() {
        let head = b"HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\ncontent-length: 42\r\n\r\n";
        let (parsed, _) = parse(head).expect("a head");
        assert_eq!((parsed.status, parsed.body), (409, BodyKind::Length(42)));
        let (upgraded, _) = parse(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n").expect("a head");
        assert_eq!((upgraded.status, upgraded.body), (101, BodyKind::Length(0)), "an upgrade has no body to read");
        assert_eq!(parse(b"garbage\r\n\r\n").expect_err("no status").kind(), ErrorKind::Engine);
    }
}
