//! TLS to a remote engine, as the docker CLI speaks it (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`
//! with `ca.pem`, `cert.pem`, `key.pem`): the engine's certificate verified against the given
//! CA and the address's name, the client's certificate presented. rustls with ring does the
//! cryptography; this module only loads the files and maps the failures to clear errors.
//!
//! No key material ever reaches a message or a `Debug` string: errors name files, never show
//! their contents.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::error::{Error, ErrorKind, Result};

/// The files of a TLS engine: the CA that signed the engine's certificate, and the client's
/// certificate and key (both or neither; an engine started with `--tlsverify` asks for them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`, as `DOCKER_CERT_PATH` holds them (the client
    /// pair only when present).
    pub fn in_dir(dir: &Path) -> Self {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let pair = cert.exists() || key.exists();
        TlsFiles { ca: dir.join("ca.pem"), cert: pair.then_some(cert), key: pair.then_some(key) }
    }
}

/// A loaded TLS configuration and the name the engine's certificate must carry.
#[derive(Clone)]
pub(crate) struct Tls {
    files: TlsFiles,
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).field("server_name", &self.server_name).finish()
    }
}

impl PartialEq for Tls {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files && self.server_name == other.server_name
    }
}

impl Eq for Tls {}

fn unusable(field: &str, path: &Path, why: impl fmt::Display) -> Error {
    Error::invalid_argument(field, format!("{}: {why}", path.display()))
}

fn read_file(field: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| unusable(field, path, format!("cannot be read ({e})")))
}

/// What a PEM parser said, without quoting the file (which may hold a key).
fn pem_problem(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error as Pem;
    match e {
        Pem::NoItemsFound => "holds no PEM item of the expected kind",
        Pem::MissingSectionEnd { .. } | Pem::IllegalSectionStart { .. } => "is not well-formed PEM",
        Pem::Base64Decode(_) => "holds a PEM section that is not base64",
        Pem::SectionTooLarge => "holds a PEM section that is too large",
        _ => "cannot be read as PEM",
    }
}

impl Tls {
    /// Loads `files` for an engine reached at `host` (the name or IP address its certificate
    /// must carry).
    pub(crate) fn load(files: &TlsFiles, host: &str) -> Result<Self> {
        let ca = read_file("tls.ca", &files.ca)?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca) {
            let cert = cert.map_err(|e| unusable("tls.ca", &files.ca, pem_problem(&e)))?;
            roots.add(cert).map_err(|e| unusable("tls.ca", &files.ca, format!("holds a certificate that cannot be used ({e})")))?;
        }
        if roots.is_empty() {
            return Err(unusable("tls.ca", &files.ca, "holds no certificate"));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("TLS: {e}")))?
            .with_root_certificates(roots);
        let config = match (&files.cert, &files.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert_path), Some(key_path)) => {
                let cert = read_file("tls.cert", cert_path)?;
                let chain = CertificateDer::pem_slice_iter(&cert)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| unusable("tls.cert", cert_path, pem_problem(&e)))?;
                if chain.is_empty() {
                    return Err(unusable("tls.cert", cert_path, "holds no certificate"));
                }
                let key = read_file("tls.key", key_path)?;
                let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| unusable("tls.key", key_path, pem_problem(&e)))?;
                builder.with_client_auth_cert(chain, key).map_err(|_| {
                    unusable("tls.key", key_path, format!("is not the key of the certificate in {}", cert_path.display()))
                })?
            }
            (Some(_), None) => return Err(Error::invalid_argument("tls.key", "a client certificate needs its key")),
            (None, Some(_)) => return Err(Error::invalid_argument("tls.cert", "a client key needs its certificate")),
        };
        let server_name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_owned())
            .map_err(|_| Error::invalid_argument("host", format!("{host:?} is not a name or an address a certificate can carry")))?;
        Ok(Tls { files: files.clone(), config: Arc::new(config), server_name })
    }

    /// The TLS session over a blocking connection, its handshake made before `limit` ends.
    pub(crate) fn connect(&self, tcp: TcpStream, limit: Duration) -> io::Result<TlsSocket> {
        let raw = tcp.try_clone()?;
        raw.set_read_timeout(Some(limit))?;
        raw.set_write_timeout(Some(limit))?;
        let session = ClientConnection::new(self.config.clone(), self.server_name.clone()).map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(session, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(explain)?;
        }
        Ok(TlsSocket { stream: Mutex::new(stream), raw })
    }

    /// The TLS session over a connection of the async runtime.
    pub(crate) async fn connect_async(&self, tcp: tokio::net::TcpStream) -> io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        connector.connect(self.server_name.clone(), tcp).await.map_err(explain)
    }
}

/// A failed TLS session, said in words: the cause of an I/O error that [`is_tls_failure`]
/// recognises, so that no one advises starting an engine that answered.
#[derive(Debug)]
struct TlsFailure(String);

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsFailure {}

/// Whether `e`, or a cause of it, is a failed TLS session (an untrusted certificate, a refused
/// client certificate, any other handshake failure).
pub(crate) fn is_tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        let inner = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref());
        if e.is::<TlsFailure>() || inner.is_some_and(|inner| inner.is::<TlsFailure>()) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Says in words what a failed TLS session means for the caller (a refused client certificate
/// shows at the first read, after the handshake: TLS 1.3 sends the refusal then). Any other
/// error is returned as it is.
pub(crate) fn explain(e: io::Error) -> io::Error {
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else { return e };
    let why = match tls {
        rustls::Error::InvalidCertificate(_) => format!("the engine's certificate was not trusted ({tls})"),
        rustls::Error::AlertReceived(_) => format!(
            "the engine refused the TLS handshake ({tls}): it may want a client certificate (cert.pem, key.pem) it trusts"
        ),
        _ => format!("the TLS handshake failed ({tls})"),
    };
    io::Error::new(e.kind(), TlsFailure(why))
}

/// A blocking TLS connection. Reads and writes take the session's lock; the raw socket beside
/// it (the same descriptor) sets timeouts and shuts the connection down from another thread
/// without it.
pub(crate) struct TlsSocket {
    stream: Mutex<StreamOwned<ClientConnection, TcpStream>>,
    raw: TcpStream,
}

impl TlsSocket {
    fn session(&self) -> MutexGuard<'_, StreamOwned<ClientConnection, TcpStream>> {
        // A read or write that panicked leaves the session as a failed one would.
        self.stream.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn raw(&self) -> &TcpStream {
        &self.raw
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.session().read(buf)
    }

    /// Writes all of `buf` and sends it.
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut session = self.session();
        session.write_all(buf)?;
        session.flush()?;
        Ok(buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_session_is_recognised_through_the_error_s_causes() {
        let refused = explain(io::Error::other(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)));
        let e = crate::http::blocking::connect_error("version handshake", &crate::http::Endpoint::parse("test", "tcp://127.0.0.1:1", None).unwrap(), refused);
        assert!(is_tls_failure(&e), "{e}");
        let plain = crate::http::blocking::io_error("x", io::ErrorKind::ConnectionRefused.into());
        assert!(!is_tls_failure(&plain), "{plain}");
    }
}
