//! The HTTP client of an engine: one pooled hyper client, shared by bollard (as its custom
//! transport) and by the few requests the library makes without bollard.
//!
//! bollard's own clients (`Docker::connect_with_unix`, `connect_with_http`) turn pooling off
//! (`pool_max_idle_per_host(0)`), so every request opened a new connection to the daemon, which
//! costs more than a small request itself (GetState took twice the time of a client that keeps
//! its connection). Owning the client also lets GetState send its inspect on the same pool and
//! decode only the fields it reads ([`super::inspect`]).
//!
//! hyper sends a request again when the daemon had closed its pooled connection before it was
//! written, and drops pooled connections the daemon closes while they are idle, so a restarted
//! daemon is reached again as before.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bollard::{BollardRequest, Docker, API_DEFAULT_VERSION};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;

use super::errors::{from_answer, from_bollard, Subject};
use crate::error::{Error, ErrorKind, Result};

/// How long an unused pooled connection stays open: an idle engine does not hold connections on
/// the daemon forever.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many unused connections the pool keeps: enough for concurrent callers (a C or Go program
/// shares one engine between threads) without piling up descriptors after a burst.
const POOL_MAX_IDLE: usize = 8;

type ResponseFuture =
    Pin<Box<dyn Future<Output = std::result::Result<http::Response<Incoming>, bollard::errors::Error>> + Send>>;

/// Sends one request on the pool. A closure rather than the hyper client itself, so that the
/// unix and TCP clients (different connector types) have one type, and the request body type
/// is bollard's without naming it.
type SendRequest = dyn Fn(BollardRequest) -> ResponseFuture + Send + Sync;

/// A pooled client for one engine address. Cloning shares the pool.
#[derive(Clone)]
pub(crate) struct Transport {
    send: Arc<SendRequest>,
    /// The scheme and authority of every request's URI: `unix://<hex-encoded socket path>`
    /// (hyperlocal's form, which bollard writes too) or `http://host:port`.
    base: String,
}

impl Transport {
    /// A client for the engine on the unix socket at `path`.
    pub(crate) fn unix(path: &str) -> std::result::Result<Self, bollard::errors::Error> {
        // What connect_with_unix checks: a missing socket is reported at connect, not at the
        // first request.
        if !std::path::Path::new(path).exists() {
            return Err(bollard::errors::Error::SocketNotFoundError(path.to_owned()));
        }
        Ok(Self::pooled(hyperlocal::UnixConnector, format!("unix://{}", hex::encode(path))))
    }

    /// A client for the engine at `address` (`host:port`) over plain TCP.
    ///
    /// Pooled as the unix client, rather than bollard's `connect_with_http`, so that a TCP engine
    /// keeps its connections too and GetState's own inspect works the same on both.
    pub(crate) fn tcp(address: &str) -> Self {
        let mut connector = HttpConnector::new();
        // Small requests on a kept connection would otherwise wait for the delayed ACK of the
        // previous answer (Nagle); Go's net/http and the docker CLI turn it off too.
        connector.set_nodelay(true);
        Self::pooled(connector, format!("http://{address}"))
    }

    fn pooled<C>(connector: C, base: String) -> Self
    where
        C: Connect + Clone + Send + Sync + 'static,
    {
        let mut builder = Client::builder(hyper_util::rt::TokioExecutor::new());
        builder.pool_idle_timeout(POOL_IDLE_TIMEOUT);
        builder.pool_max_idle_per_host(POOL_MAX_IDLE);
        let client = builder.build(connector);
        let send = move |request: BollardRequest| -> ResponseFuture {
            let client = client.clone();
            Box::pin(async move { client.request(request).await.map_err(bollard::errors::Error::from) })
        };
        Transport { send: Arc::new(send), base }
    }

    /// A bollard client that sends its requests on this pool. `backstop` is bollard's own
    /// timeout, in whole seconds.
    pub(crate) fn docker(&self, backstop: u64) -> std::result::Result<Docker, bollard::errors::Error> {
        let send = self.send.clone();
        let transport = move |request: BollardRequest| send(request);
        // bollard puts this address into each request's URI, where the connector reads it back.
        Docker::connect_with_custom_transport(transport, Some(self.base.clone()), backstop, API_DEFAULT_VERSION)
    }

    /// GETs `path_and_query` (`/v1.41/containers/x/json`) and returns the body of a successful
    /// answer; an error answer is mapped by its status for `subject`, keeping the engine's
    /// message. Not bounded in time: the caller applies the engine's timeout.
    pub(crate) async fn get(&self, path_and_query: &str, subject: Subject) -> Result<Bytes> {
        let uri = format!("{}{path_and_query}", self.base);
        let request = http::Request::get(uri)
            .body(bollard::body_full(Bytes::new()))
            // Only a path the URI grammar refuses gets here, and paths are built from callers'
            // names, which validate bounds: an argument error, not an internal one.
            .map_err(|e| {
                let shown: String = path_and_query.chars().take(120).collect();
                Error::new(ErrorKind::InvalidArgument, format!("cannot make a request for {shown}: {e}")).with_source(e)
            })?;
        let response = (self.send)(request).await.map_err(|e| from_bollard(e, subject))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| {
            Error::new(ErrorKind::Connection, format!("GET {path_and_query}: the answer broke off: {e}")).with_source(e)
        })?;
        let body = body.to_bytes();
        if status.is_success() {
            Ok(body)
        } else {
            Err(from_answer(status.as_u16(), &body, subject))
        }
    }
}
