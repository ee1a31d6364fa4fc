//! A minimal blocking HTTP/1.1 client for the Docker API over the unix socket: the raw
//! client's engine (src/bin/raw.rs), also used by the prototypes (src/bin/proto.rs).
//! Keep-alive, no runtime, no JSON library; bodies are passed on in place as they arrive.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

const BUF: usize = 64 * 1024;
const SOCKET: &str = "/var/run/docker.sock";

pub struct Conn {
    pub s: UnixStream,
    pub buf: Box<[u8]>,
    pub pos: usize,
    pub end: usize,
    /// "/v1.41"
    pub base: String,
}

pub struct Head {
    pub status: u16,
    length: Option<usize>,
    chunked: bool,
}

pub fn socket_path() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => h["unix://".len()..].to_owned(),
        _ => SOCKET.to_owned(),
    }
}

pub fn err(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::Other, msg)
}

impl Conn {
    pub fn open(timeout: Duration) -> io::Result<Conn> {
        let s = UnixStream::connect(socket_path())?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        let mut c = Conn { s, buf: vec![0u8; BUF].into_boxed_slice(), pos: 0, end: 0, base: String::new() };
        let (status, body) = c.request("GET", "/version", None)?;
        if status != 200 {
            return Err(err(format!("GET /version: {status}")));
        }
        let v = scan_str(&body, b"\"ApiVersion\":\"").ok_or_else(|| err("no ApiVersion".into()))?;
        c.base = format!("/v{v}");
        Ok(c)
    }

    /// A second connection to the same engine with the same API version.
    pub fn another(&self, timeout: Duration) -> io::Result<Conn> {
        let s = UnixStream::connect(socket_path())?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        Ok(Conn { s, buf: vec![0u8; BUF].into_boxed_slice(), pos: 0, end: 0, base: self.base.clone() })
    }

    pub fn send(&mut self, method: &str, path: &str, body: Option<&str>, extra: &str) -> io::Result<()> {
        let mut req = format!("{method} {}{path} HTTP/1.1\r\nHost: docker\r\n{extra}", self.base);
        match body {
            Some(b) => {
                req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n", b.len()));
                req.push_str(b);
            }
            None => req.push_str("\r\n"),
        }
        self.s.write_all(req.as_bytes())
    }

    /// Reads more bytes into the buffer (keeping the unread ones).
    pub fn fill(&mut self) -> io::Result<()> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        let n = self.s.read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += n;
        Ok(())
    }

    /// The next CRLF-terminated line (without the CRLF), as a range of the buffer.
    pub fn line(&mut self) -> io::Result<(usize, usize)> {
        loop {
            if let Some(i) = find(&self.buf[self.pos..self.end], b"\r\n") {
                let (start, stop) = (self.pos, self.pos + i);
                self.pos = stop + 2;
                return Ok((start, stop));
            }
            self.fill()?;
        }
    }

    pub fn read_head(&mut self) -> io::Result<Head> {
        let (a, b) = self.line()?;
        let status_line = std::str::from_utf8(&self.buf[a..b]).map_err(|_| err("bad status line".into()))?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| err(format!("bad status line {status_line:?}")))?;
        let mut head = Head { status, length: None, chunked: false };
        loop {
            let (a, b) = self.line()?;
            if a == b {
                return Ok(head);
            }
            let h = &self.buf[a..b];
            if let Some(v) = header_value(h, b"content-length") {
                head.length = std::str::from_utf8(v).ok().and_then(|s| s.trim().parse().ok());
            } else if let Some(v) = header_value(h, b"transfer-encoding") {
                head.chunked = v.eq_ignore_ascii_case(b"chunked");
            }
        }
    }

    /// Passes the body to `f` piece by piece, as it arrives.
    pub fn body(&mut self, head: &Head, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        if head.status == 204 || head.status == 304 || head.status < 200 {
            return Ok(());
        }
        if head.chunked {
            loop {
                let (a, b) = self.line()?;
                let hex = &self.buf[a..b];
                let hex = &hex[..hex.iter().position(|&c| c == b';').unwrap_or(hex.len())];
                let size = usize::from_str_radix(std::str::from_utf8(hex).unwrap_or("x"), 16)
                    .map_err(|_| err("bad chunk size".into()))?;
                if size == 0 {
                    while { let (a, b) = self.line()?; a != b } {}
                    return Ok(());
                }
                self.pass(size, f)?;
                let (a, b) = self.line()?;
                if a != b {
                    return Err(err("chunk not followed by CRLF".into()));
                }
            }
        }
        match head.length {
            Some(n) => self.pass(n, f),
            None => Err(err("a body with neither a length nor chunks".into())),
        }
    }

    pub fn pass(&mut self, mut remaining: usize, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        while remaining > 0 {
            if self.pos == self.end {
                self.fill()?;
            }
            let n = remaining.min(self.end - self.pos);
            f(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            remaining -= n;
        }
        Ok(())
    }

    pub fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> io::Result<(u16, Vec<u8>)> {
        self.send(method, path, body, "")?;
        let head = self.read_head()?;
        let mut out = Vec::new();
        self.body(&head, &mut |d| out.extend_from_slice(d))?;
        Ok((head.status, out))
    }

    pub fn expect(&mut self, method: &str, path: &str, body: Option<&str>, ok: &[u16]) -> io::Result<Vec<u8>> {
        let (status, out) = self.request(method, path, body)?;
        if !ok.contains(&status) {
            return Err(err(format!("{method} {path}: {status} {}", String::from_utf8_lossy(&out))));
        }
        Ok(out)
    }

    /// (status, exit code) of a container.
    pub fn state(&mut self, id: &str) -> io::Result<(String, i64)> {
        let body = self.expect("GET", &format!("/containers/{id}/json"), None, &[200])?;
        let state = find(&body, b"\"State\":").ok_or_else(|| err("no State".into()))?;
        let body = &body[state..];
        let status = scan_str(body, b"\"Status\":\"").ok_or_else(|| err("no Status".into()))?;
        let code = scan_int(body, b"\"ExitCode\":").ok_or_else(|| err("no ExitCode".into()))?;
        Ok((status, code))
    }

    /// StartContainer's sequence for a name that may exist: remove, create, start.
    pub fn start(&mut self, name: &str, image: &str, env: &[(&str, &str)], cmd: &[&str]) -> io::Result<()> {
        self.expect("DELETE", &format!("/containers/{name}?force=1&v=1"), None, &[204, 404])?;
        let env: Vec<String> = env.iter().map(|(k, v)| format!("\"{k}={v}\"")).collect();
        let cmd: Vec<String> = cmd.iter().map(|c| format!("\"{c}\"")).collect();
        let body = format!(
            "{{\"Image\":\"{image}\",\"Env\":[{}],\"Cmd\":[{}],\"Labels\":{{\"{MANAGED}\":\"true\"}},\"HostConfig\":{{}}}}",
            env.join(","),
            cmd.join(",")
        );
        self.expect("POST", &format!("/containers/create?name={name}"), Some(&body), &[201])?;
        self.expect("POST", &format!("/containers/{name}/start"), None, &[204, 304])?;
        Ok(())
    }

    /// Waits on the engine's wait endpoint until the container is no longer running; its exit
    /// code. The head comes at once, the body (`{"StatusCode":..}`) at the exit.
    pub fn wait(&mut self, id: &str) -> io::Result<i64> {
        let body = self.expect("POST", &format!("/containers/{id}/wait?condition=not-running"), None, &[200])?;
        scan_int(&body, b"\"StatusCode\":").ok_or_else(|| err(format!("wait: no StatusCode in {}", String::from_utf8_lossy(&body))))
    }

    /// Follows the logs to their end, passing every payload byte to `f`.
    pub fn logs(&mut self, id: &str, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        self.send("GET", &format!("/containers/{id}/logs?follow=1&stdout=1&stderr=1"), None, "")?;
        let head = self.read_head()?;
        if head.status != 200 {
            let mut out = Vec::new();
            self.body(&head, &mut |d| out.extend_from_slice(d))?;
            return Err(err(format!("logs: {} {}", head.status, String::from_utf8_lossy(&out))));
        }
        let mut frames = Frames { hdr: [0; 8], hdr_len: 0, remaining: 0 };
        self.body(&head, &mut |d| frames.feed(d, f))?;
        if frames.remaining != 0 || frames.hdr_len != 0 {
            return Err(err("logs ended inside a frame".into()));
        }
        Ok(())
    }
}

pub const MANAGED: &str = "dev.gofer.scheduler.managed";

/// The engine's stream framing: an 8-byte header (stream, 0, 0, 0, big-endian length).
pub struct Frames {
    hdr: [u8; 8],
    hdr_len: usize,
    remaining: usize,
}

impl Frames {
    pub fn feed(&mut self, mut data: &[u8], out: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            if self.remaining == 0 {
                let take = (8 - self.hdr_len).min(data.len());
                self.hdr[self.hdr_len..self.hdr_len + take].copy_from_slice(&data[..take]);
                self.hdr_len += take;
                data = &data[take..];
                if self.hdr_len == 8 {
                    self.remaining = u32::from_be_bytes([self.hdr[4], self.hdr[5], self.hdr[6], self.hdr[7]]) as usize;
                    self.hdr_len = 0;
                }
                continue;
            }
            let n = self.remaining.min(data.len());
            out(&data[..n]);
            self.remaining -= n;
            data = &data[n..];
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let colon = line.iter().position(|&c| c == b':')?;
    if !line[..colon].eq_ignore_ascii_case(name) {
        return None;
    }
    let v = &line[colon + 1..];
    let start = v.iter().position(|&c| c != b' ').unwrap_or(v.len());
    Some(&v[start..])
}

pub fn scan_str(hay: &[u8], key: &[u8]) -> Option<String> {
    let i = find(hay, key)? + key.len();
    let len = hay[i..].iter().position(|&c| c == b'"')?;
    Some(String::from_utf8_lossy(&hay[i..i + len]).into_owned())
}

pub fn scan_int(hay: &[u8], key: &[u8]) -> Option<i64> {
    let i = find(hay, key)? + key.len();
    let len = hay[i..].iter().position(|&c| !(c == b'-' || c.is_ascii_digit()))?;
    std::str::from_utf8(&hay[i..i + len]).ok()?.parse().ok()
}

