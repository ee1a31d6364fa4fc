//! The exec-start request, made by hand so that the attach stream is raw bytes.
//!
//! bollard's exec start guesses, for every chunk, whether the bytes are a framed (8-byte header)
//! or a raw TTY stream by looking at the first byte: TTY output that happens to start a chunk
//! with 0x00, 0x01 or 0x02 is taken for a frame header and corrupted or stalled. An exec with a
//! TTY is never framed, so here the connection is taken over right after the HTTP upgrade and
//! passed on as it is.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::errors::{answer_message, from_status, Subject};
use crate::error::{Error, ErrorKind, Result};

/// A connection to the engine, over a Unix socket or TCP.
pub(crate) trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// The hijacked connection of a started exec, and the first output bytes that arrived with the
/// response headers.
pub(crate) struct Hijacked {
    pub connection: Box<dyn Connection>,
    pub early_output: Vec<u8>,
}

/// Longest response head accepted; an engine's is a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;

/// Starts exec `exec_id` (TTY, attached) on the engine at `host` with API `version` ("1.41").
pub(crate) async fn start_exec(host: &str, version: &str, exec_id: &str, timeout: Duration) -> Result<Hijacked> {
    let start = async {
        let mut connection = connect(host).await?;
        let body = r#"{"Detach":false,"Tty":true}"#;
        let request = format!(
            "POST /v{version}/exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n\
             Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        connection.write_all(request.as_bytes()).await.map_err(io_error)?;
        let (status, head_len, mut bytes) = read_head(&mut connection).await?;
        if status == 101 || status == 200 {
            let early_output = bytes.split_off(head_len);
            return Ok(Hijacked { connection, early_output });
        }
        Err(error_answer(status, &bytes[head_len..]))
    };
    match tokio::time::timeout(timeout, start).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(ErrorKind::Timeout, format!("exec start: no answer from the engine within {timeout:?}"))),
    }
}

async fn connect(host: &str) -> Result<Box<dyn Connection>> {
    if let Some(path) = host.strip_prefix("unix://") {
        let stream = tokio::net::UnixStream::connect(path).await.map_err(io_error)?;
        return Ok(Box::new(stream));
    }
    let address = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")).unwrap_or(host);
    let stream = tokio::net::TcpStream::connect(address.trim_end_matches('/')).await.map_err(io_error)?;
    stream.set_nodelay(true).map_err(io_error)?;
    Ok(Box::new(stream))
}

/// Reads up to the end of the response head; returns the status, the head's length and every
/// byte read so far (the head and whatever followed it).
async fn read_head(connection: &mut Box<dyn Connection>) -> Result<(u16, usize, Vec<u8>)> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]);
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok())
                .ok_or_else(|| Error::new(ErrorKind::Engine, format!("exec start: malformed answer {head:?}")))?;
            return Ok((status, end + 4, bytes));
        }
        if bytes.len() > MAX_HEAD {
            return Err(Error::new(ErrorKind::Engine, "exec start: the engine's answer has no end of headers"));
        }
        let n = connection.read(&mut chunk).await.map_err(io_error)?;
        if n == 0 {
            return Err(Error::new(ErrorKind::Connection, "exec start: the engine closed the connection"));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// An error answer's body is JSON `{"message": "..."}`; read what arrived with the head (the
/// engine sends small errors in one piece). Mapped as every other exec request's error: 404 is
/// an unknown container or exec, 409 a container that is not running.
fn error_answer(status: u16, body: &[u8]) -> Error {
    from_status(status, answer_message(body), Subject::Exec)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
}
