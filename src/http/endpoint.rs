//! Where the engine is: its address, parsed once, from the caller's option or `DOCKER_HOST`
//! (the only place that variable is read), and the sockets that reach it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::tls::{Tls, TlsFiles, TlsSocket};
use crate::error::{Error, Result};

/// The docker CLI's default address.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// The docker CLI's ports for a `tcp://` address that names none: plain HTTP, and TLS.
const DEFAULT_TCP_PORT: u16 = 2375;
const DEFAULT_TLS_PORT: u16 = 2376;

/// An engine address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `unix:///path/to/docker.sock`
    Unix(PathBuf),
    /// `tcp://host:port` (`http://` too): plain HTTP; with `tls`, HTTPS (`https://`, or a
    /// `tcp://` address with TLS files).
    Tcp { authority: String, tls: Option<Tls> },
}

/// Where the docker CLI looks for TLS files: `DOCKER_CERT_PATH`, else `~/.docker`.
fn cert_dir() -> PathBuf {
    match std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".docker"),
    }
}

impl Endpoint {
    /// The address the docker CLI would use: `explicit` when given, else `DOCKER_HOST`, else
    /// the default socket; with TLS when `tls` is given, when `DOCKER_TLS_VERIFY` is set (the
    /// files then in `DOCKER_CERT_PATH`, else `~/.docker`) or for an `https://` address.
    pub(crate) fn resolve(explicit: Option<&str>, tls: Option<&TlsFiles>) -> Result<Self> {
        let (field, address) = match explicit {
            Some(address) => ("host", address.to_owned()),
            None => match std::env::var("DOCKER_HOST") {
                Ok(address) if !address.is_empty() => ("DOCKER_HOST", address),
                _ => ("host", DEFAULT_HOST.to_owned()),
            },
        };
        let from_env = std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
        let files = match tls {
            Some(files) => Some(files.clone()),
            None if from_env || address.starts_with("https://") => Some(TlsFiles::in_dir(&cert_dir())),
            None => None,
        };
        // The environment's TLS applies to TCP addresses only, as for the docker CLI.
        let files = files.filter(|_| tls.is_some() || !address.starts_with("unix://"));
        Endpoint::parse(field, &address, files.as_ref())
    }

    /// Parses an address; `field` names where it came from, for the error.
    pub(crate) fn parse(field: &str, address: &str, tls: Option<&TlsFiles>) -> Result<Self> {
        let unsupported = |why: &str| Error::invalid_argument(field, format!("{address:?}: {why}"));
        if let Some(path) = address.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(unsupported("names no socket path"));
            }
            if tls.is_some() {
                return Err(unsupported("TLS applies to tcp:// and https:// addresses"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let rest = match address.strip_prefix("https://") {
            Some(rest) if tls.is_some() => Some(rest),
            Some(_) => return Err(unsupported("an https:// address needs TLS files")),
            None => address.strip_prefix("tcp://").or_else(|| address.strip_prefix("http://")),
        };
        let Some(rest) = rest else {
            return Err(unsupported("only unix://, tcp://, http:// and https:// engine addresses are supported"));
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) || authority.contains(char::is_whitespace) {
            return Err(unsupported("is not host:port"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            // "[::1]" alone ends in ']': a bracketed IPv6 address without a port.
            Some((host, port)) if !host.is_empty() && !port.contains(']') => {
                (host, Some(port.parse::<u16>().map_err(|_| unsupported("has an invalid port"))?))
            }
            _ => (authority, None),
        };
        let port = port.unwrap_or(if tls.is_some() { DEFAULT_TLS_PORT } else { DEFAULT_TCP_PORT });
        let tls = tls.map(|files| Tls::load(files, host)).transpose()?;
        Ok(Endpoint::Tcp { authority: format!("{host}:{port}"), tls })
    }

    /// A blocking connection to the engine; a TLS handshake made within `limit`.
    pub(crate) fn connect(&self, limit: Duration) -> io::Result<Socket> {
        match self {
            Endpoint::Unix(path) => UnixStream::connect(path).map(Socket::Unix),
            Endpoint::Tcp { authority, tls } => {
                let stream = TcpStream::connect(authority.as_str())?;
                // Small requests on a kept connection would otherwise wait for the delayed ACK
                // of the previous answer (Nagle); Go's net/http and the docker CLI turn it off.
                stream.set_nodelay(true)?;
                keep_alive(socket2::SockRef::from(&stream))?;
                match tls {
                    None => Ok(Socket::Tcp(stream)),
                    Some(tls) => tls.connect(stream, limit).map(Socket::Tls),
                }
            }
        }
    }

    /// A connection to the engine on the async runtime.
    pub(crate) async fn connect_async(&self) -> io::Result<Box<dyn AsyncIo>> {
        match self {
            Endpoint::Unix(path) => Ok(Box::new(super::resting::RestingUnix::connect(path).await?)),
            Endpoint::Tcp { authority, tls } => {
                let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
                stream.set_nodelay(true)?;
                keep_alive(socket2::SockRef::from(&stream))?;
                match tls {
                    None => Ok(Box::new(stream)),
                    Some(tls) => Ok(Box::new(tls.connect_async(stream).await?)),
                }
            }
        }
    }
}

/// TCP keep-alive probes on an engine connection: a stream (a followed log, a wait) that the
/// engine's host stops answering without closing it fails after about a minute
/// (30 s idle, then 3 probes 10 s apart), as Go's net/http dialer arranges for the docker CLI.
fn keep_alive(socket: socket2::SockRef<'_>) -> io::Result<()> {
    let probes = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    socket.set_tcp_keepalive(&probes)
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { authority, tls: None } => write!(f, "tcp://{authority}"),
            Endpoint::Tcp { authority, tls: Some(_) } => write!(f, "https://{authority}"),
        }
    }
}

/// A connection of the async side.
pub(crate) trait AsyncIo: AsyncRead + AsyncWrite + Unpin + Send {
    /// Pauses between two reads of a busy stream ([`super::BUSY_READ_SPACING`]); a Unix
    /// connection leaves the runtime's epoll set meanwhile ([`super::resting`]).
    fn rest(&mut self, pause: Duration) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + '_>> {
        Box::pin(async move {
            tokio::time::sleep(pause).await;
            Ok(())
        })
    }
}

impl AsyncIo for super::resting::RestingUnix {
    fn rest(&mut self, pause: Duration) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + '_>> {
        Box::pin(super::resting::RestingUnix::rest(self, pause))
    }
}
impl AsyncIo for tokio::net::TcpStream {}
impl AsyncIo for tokio_rustls::client::TlsStream<tokio::net::TcpStream> {}

/// A blocking connection to the engine.
pub(crate) enum Socket {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(TlsSocket),
}

impl Socket {
    /// Ends the connection both ways; a `read(2)` blocked on it (in any thread) returns.
    pub(crate) fn shutdown(&self) {
        // Fails only when already shut down or closed by the peer: nothing left to do then.
        let _ = match self {
            Socket::Unix(s) => s.shutdown(Shutdown::Both),
            Socket::Tcp(s) => s.shutdown(Shutdown::Both),
            Socket::Tls(s) => s.raw().shutdown(Shutdown::Both),
        };
    }

    /// `limit` must not be zero, which setsockopt takes for "no timeout".
    pub(crate) fn set_timeouts(&self, limit: Option<Duration>) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.set_read_timeout(limit).and_then(|_| s.set_write_timeout(limit)),
            Socket::Tcp(s) => s.set_read_timeout(limit).and_then(|_| s.set_write_timeout(limit)),
            Socket::Tls(s) => s.raw().set_read_timeout(limit).and_then(|_| s.raw().set_write_timeout(limit)),
        }
    }
}

// Reads and writes through a shared reference, as std's sockets allow: a stream's closer
// holds the same socket to shut it down from another thread.
impl Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Unix(s) => (&*s).read(buf),
            Socket::Tcp(s) => (&*s).read(buf),
            Socket::Tls(s) => s.read(buf),
        }
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Unix(s) => (&*s).write(buf),
            Socket::Tcp(s) => (&*s).write(buf),
            Socket::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_as_the_docker_cli_reads_them() {
        assert_eq!(Endpoint::parse("host", "unix:///run/d.sock", None).unwrap(), Endpoint::Unix("/run/d.sock".into()));
        let tcp = |a: &str| Endpoint::Tcp { authority: a.into(), tls: None };
        assert_eq!(Endpoint::parse("host", "tcp://127.0.0.1:2375/", None).unwrap(), tcp("127.0.0.1:2375"));
        assert_eq!(Endpoint::parse("host", "http://docker:80", None).unwrap(), tcp("docker:80"));
        assert_eq!(Endpoint::parse("host", "tcp://docker", None).unwrap(), tcp("docker:2375"));
        assert_eq!(Endpoint::parse("host", "tcp://[::1]:1234", None).unwrap(), tcp("[::1]:1234"));
        assert_eq!(Endpoint::parse("host", "tcp://[::1]", None).unwrap(), tcp("[::1]:2375"));
        for bad in ["", "unix://", "ssh://u@h", "https://h:2376", "npipe:////./pipe/x", "tcp://", "tcp://h:x", "tcp://h:1/a", "tcp://h:99999"] {
            let e = Endpoint::parse("DOCKER_HOST", bad, None).expect_err(bad);
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().starts_with("DOCKER_HOST"), "{e}");
        }
        assert_eq!(Endpoint::parse("host", "unix:///a", None).unwrap().to_string(), "unix:///a");
        assert_eq!(tcp("h:1").to_string(), "tcp://h:1");
        let missing = TlsFiles { ca: "/nonexistent/ca.pem".into(), cert: None, key: None };
        let e = Endpoint::parse("host", "tcp://h", Some(&missing)).unwrap_err();
        assert!(e.message().starts_with("tls.ca: /nonexistent/ca.pem: cannot be read"), "{e}");
        let e = Endpoint::parse("host", "unix:///a", Some(&missing)).unwrap_err();
        assert!(e.message().contains("TLS applies to tcp://"), "{e}");
    }
}
