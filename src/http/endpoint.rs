//! Where the engine is: its address, parsed once, from the caller's option or `DOCKER_HOST`
//! (the only place that variable is read), and the sockets that reach it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Result};

/// The docker CLI's default address.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// The docker CLI's port for a `tcp://` address that names none (plain HTTP).
const DEFAULT_TCP_PORT: u16 = 2375;

/// An engine address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///path/to/docker.sock`
    Unix(PathBuf),
    /// `tcp://host:port` or `http://host:port`: plain HTTP.
    Tcp { authority: String },
}

impl Endpoint {
    /// The address the docker CLI would use: `explicit` when given, else `DOCKER_HOST`, else
    /// the default socket.
    pub fn resolve(explicit: Option<&str>) -> Result<Self> {
        match explicit {
            Some(address) => Endpoint::parse("host", address),
            None => match std::env::var("DOCKER_HOST") {
                Ok(address) if !address.is_empty() => Endpoint::parse("DOCKER_HOST", &address),
                _ => Endpoint::parse("host", DEFAULT_HOST),
            },
        }
    }

    /// Parses an address; `field` names where it came from, for the error.
    pub fn parse(field: &str, address: &str) -> Result<Self> {
        let unsupported = |why: &str| Error::invalid_argument(field, format!("{address:?}: {why}"));
        if let Some(path) = address.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(unsupported("names no socket path"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let Some(rest) = address.strip_prefix("tcp://").or_else(|| address.strip_prefix("http://")) else {
            return Err(unsupported("only unix://, tcp:// and http:// engine addresses are supported"));
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) || authority.contains(char::is_whitespace) {
            return Err(unsupported("is not host:port"));
        }
        let has_port = match authority.rsplit_once(':') {
            // "[::1]" alone ends in ']': a bracketed IPv6 address without a port.
            Some((host, port)) => !host.is_empty() && !port.contains(']') && {
                port.parse::<u16>().map_err(|_| unsupported("has an invalid port"))?;
                true
            },
            None => false,
        };
        let authority = if has_port { authority.to_owned() } else { format!("{authority}:{DEFAULT_TCP_PORT}") };
        Ok(Endpoint::Tcp { authority })
    }

    /// A blocking connection to the engine.
    pub(crate) fn connect(&self) -> io::Result<Socket> {
        match self {
            Endpoint::Unix(path) => UnixStream::connect(path).map(Socket::Unix),
            Endpoint::Tcp { authority } => {
                let stream = TcpStream::connect(authority.as_str())?;
                // Small requests on a kept connection would otherwise wait for the delayed ACK
                // of the previous answer (Nagle); Go's net/http and the docker CLI turn it off.
                stream.set_nodelay(true)?;
                Ok(Socket::Tcp(stream))
            }
        }
    }

    /// A connection to the engine on the async runtime.
    pub(crate) async fn connect_async(&self) -> io::Result<Box<dyn AsyncIo>> {
        match self {
            Endpoint::Unix(path) => Ok(Box::new(tokio::net::UnixStream::connect(path).await?)),
            Endpoint::Tcp { authority } => {
                let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { authority } => write!(f, "tcp://{authority}"),
        }
    }
}

/// A connection of the async side.
pub(crate) trait AsyncIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncIo for T {}

/// A blocking connection to the engine.
pub(crate) enum Socket {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Socket {
    /// Ends the connection both ways; a `read(2)` blocked on it (in any thread) returns.
    pub(crate) fn shutdown(&self) {
        // Fails only when already shut down or closed by the peer: nothing left to do then.
        let _ = match self {
            Socket::Unix(s) => s.shutdown(Shutdown::Both),
            Socket::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    /// `limit` must not be zero, which setsockopt takes for "no timeout".
    pub(crate) fn set_timeouts(&self, limit: Option<Duration>) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.set_read_timeout(limit).and_then(|_| s.set_write_timeout(limit)),
            Socket::Tcp(s) => s.set_read_timeout(limit).and_then(|_| s.set_write_timeout(limit)),
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
        }
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Unix(s) => (&*s).write(buf),
            Socket::Tcp(s) => (&*s).write(buf),
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
        assert_eq!(Endpoint::parse("host", "unix:///run/d.sock").unwrap(), Endpoint::Unix("/run/d.sock".into()));
        let tcp = |a: &str| Endpoint::Tcp { authority: a.into() };
        assert_eq!(Endpoint::parse("host", "tcp://127.0.0.1:2375/").unwrap(), tcp("127.0.0.1:2375"));
        assert_eq!(Endpoint::parse("host", "http://docker:80").unwrap(), tcp("docker:80"));
        assert_eq!(Endpoint::parse("host", "tcp://docker").unwrap(), tcp("docker:2375"));
        assert_eq!(Endpoint::parse("host", "tcp://[::1]:1234").unwrap(), tcp("[::1]:1234"));
        assert_eq!(Endpoint::parse("host", "tcp://[::1]").unwrap(), tcp("[::1]:2375"));
        for bad in ["", "unix://", "ssh://u@h", "https://h:2376", "npipe:////./pipe/x", "tcp://", "tcp://h:x", "tcp://h:1/a", "tcp://h:99999"] {
            let e = Endpoint::parse("DOCKER_HOST", bad).expect_err(bad);
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().starts_with("DOCKER_HOST"), "{e}");
        }
        assert_eq!(Endpoint::parse("host", "unix:///a").unwrap().to_string(), "unix:///a");
        assert_eq!(tcp("h:1").to_string(), "tcp://h:1");
    }
}
