//! HTTP/1.1 without I/O: requests written to bytes, response heads parsed (httparse), bodies
//! decoded from whatever the caller's reads brought. The clients own the sockets and feed the
//! unread bytes in, so the blocking and the async client decode alike.

use crate::error::{Error, ErrorKind, Result};

/// Longest response head accepted; an engine's is a few hundred bytes.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest body of a request/response call (an inspect document is ~8 KB; a container list of
/// thousands of containers a few MB): a broken or hostile engine cannot make the library
/// allocate without bound.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
/// Size of a connection's read buffer: a whole inspect answer, many log frames.
const BUFFER: usize = 64 * 1024;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Most headers of an answer parsed; the engine sends about eight.
const MAX_HEADERS: usize = 64;

/// One request to the engine's API.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// Names the call in errors ("container inspect").
    pub what: &'static str,
    pub method: &'static str,
    /// After the API version: `/containers/x/json?size=0`.
    pub path: String,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
    /// The `X-Registry-Auth` header's value.
    pub registry_auth: Option<String>,
    /// Whether the path goes under the negotiated API version (all but the version handshake).
    pub versioned: bool,
}

impl Request {
    pub(crate) fn new(what: &'static str, method: &'static str, path: String) -> Self {
        Request { what, method, path, body: None, registry_auth: None, versioned: true }
    }

    pub(crate) fn get(what: &'static str, path: String) -> Self {
        Request::new(what, "GET", path)
    }

    pub(crate) fn post(what: &'static str, path: String) -> Self {
        Request::new(what, "POST", path)
    }

    pub(crate) fn json(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// Records the request and the status it got, at debug level: the method and the path only,
    /// never the body (env values) or a header (credentials).
    pub(crate) fn log(&self, status: u16) {
        log::debug!(target: "gofer_scheduler::http", "{} {} -> {status}", self.method, self.path);
    }

    /// The bytes on the wire; `base` is the API version prefix (`/v1.41`).
    pub(crate) fn encode(&self, base: &str, upgrade: bool) -> Vec<u8> {
        let base = if self.versioned { base } else { "" };
        let mut text = format!(
            "{} {base}{} HTTP/1.1\r\nHost: docker\r\nUser-Agent: gofer-scheduler/{}\r\n",
            self.method,
            self.path,
            env!("CARGO_PKG_VERSION")
        );
        if upgrade {
            text.push_str("Connection: Upgrade\r\nUpgrade: tcp\r\n");
        }
        if let Some(auth) = &self.registry_auth {
            text.push_str(&format!("X-Registry-Auth: {auth}\r\n"));
        }
        let body = self.body.as_deref().unwrap_or_default();
        if self.body.is_some() {
            text.push_str("Content-Type: application/json\r\n");
        }
        if self.body.is_some() || self.method != "GET" {
            text.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        text.push_str("\r\n");
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }
}

/// A whole answer: its status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

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

impl Head {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Parses the response head at the start of `buf`: `Ok(None)` while it is incomplete, else the
/// head and its length in bytes.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(malformed("the engine's answer has no end of headers"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            let shown = String::from_utf8_lossy(&buf[..buf.len().min(80)]).into_owned();
            return Err(malformed(&format!("malformed answer from the engine ({e}): {shown:?}")));
        }
    };
    let status = response.code.unwrap_or(0);
    let (mut chunked, mut length, mut close) = (false, None, response.version == Some(0));
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if header.name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| malformed("malformed Content-Length"))?);
        } else if header.name.eq_ignore_ascii_case("connection") {
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
    Ok(Some((Head { status, body, close }, len)))
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

/// The transfer coding of a response body, decoded without I/O.
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
                Ok(if input.is_empty() { Step::NeedMore } else { Step::Data(left.min(input.len())) })
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
            Phase::ChunkSize => match httparse::parse_chunk_size(input) {
                Ok(httparse::Status::Complete((used, size))) => {
                    let size = usize::try_from(size).map_err(|_| malformed("over-large chunk in the engine's answer"))?;
                    self.phase = if size == 0 { Phase::Trailers } else { Phase::ChunkData(size) };
                    Ok(Step::Framing(used))
                }
                Ok(httparse::Status::Partial) if input.len() > MAX_LINE => {
                    Err(malformed("over-long chunk size line in the engine's answer"))
                }
                Ok(httparse::Status::Partial) => Ok(Step::NeedMore),
                Err(_) => Err(malformed("malformed chunk size in the engine's answer")),
            },
            Phase::Trailers => {
                let Some(line) = find(&input[..input.len().min(MAX_LINE + 2)], b"\r\n") else {
                    if input.len() > MAX_LINE {
                        return Err(malformed("over-long trailer line in the engine's answer"));
                    }
                    return Ok(Step::NeedMore);
                };
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

/// Appends the decodable body bytes at the start of `input` to `body`; returns how many bytes of
/// `input` were consumed. Fails when the body outgrows [`MAX_BODY`].
pub(crate) fn collect_body(decoder: &mut BodyDecoder, input: &[u8], body: &mut Vec<u8>) -> Result<usize> {
    let mut used = 0;
    loop {
        match decoder.step(&input[used..])? {
            Step::Done | Step::NeedMore => return Ok(used),
            Step::Framing(n) => used += n,
            Step::Data(n) => {
                if body.len() + n > MAX_BODY {
                    return Err(malformed("the engine's answer is larger than expected"));
                }
                body.extend_from_slice(&input[used..used + n]);
                used += n;
                decoder.advance(n);
            }
        }
    }
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn malformed(message: &str) -> Error {
    Error::new(ErrorKind::Engine, message.to_owned())
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

/// The error of a read buffer that an item of the answer does not fit.
pub(crate) fn buffer_full() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "an item of the engine's answer exceeds the read buffer")
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

    #[test]
    fn requests_carry_the_version_the_body_and_the_credentials() {
        let mut request = Request::post("container create", "/containers/create?name=a".into()).json(b"{}".to_vec());
        request.registry_auth = Some("e30=".into());
        let text = String::from_utf8(request.encode("/v1.41", false)).unwrap();
        assert!(text.starts_with("POST /v1.41/containers/create?name=a HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("\r\nX-Registry-Auth: e30=\r\n"), "{text}");
        assert!(text.ends_with("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"), "{text}");
        let mut version = Request::get("version handshake", "/version".into());
        version.versioned = false;
        let text = String::from_utf8(version.encode("/v1.41", false)).unwrap();
        assert!(text.starts_with("GET /version HTTP/1.1\r\n") && !text.contains("Content-Length"), "{text}");
    }
}
