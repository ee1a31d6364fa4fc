//! Finding and greeting the daemon.

use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};

use super::errors::Subject;
use super::with_timeout;
use crate::error::{Error, ErrorKind, Result};

const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Connects as the docker CLI does and checks that the daemon answers.
///
/// The version handshake doubles as the liveness check: an engine that does not answer it is
/// reported now, with what to do, instead of at the first task.
/// Returns the client and the address it was made for.
pub(super) async fn connect(host: Option<&str>, timeout: Duration) -> Result<(Docker, String)> {
    let from_env = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    let host = host.map(str::to_owned).or(from_env).unwrap_or_else(|| DEFAULT_HOST.to_owned());

    // bollard's own timeout has a resolution of whole seconds and covers only the response
    // headers; ours (with_timeout) is the one that counts. Theirs is a backstop above it.
    let backstop = timeout.as_secs().saturating_add(1);
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        pooled_unix_client(path, backstop)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(&host, backstop, API_DEFAULT_VERSION)
    } else {
        return Err(Error::invalid_argument(
            "DOCKER_HOST",
            format!("{host:?}: only unix://, tcp:// and http:// engine addresses are supported"),
        ));
    }
    .map_err(|e| {
        let message = unreachable_message(&host, &e.to_string());
        Error::new(ErrorKind::Connection, message).with_source(e)
    })?;

    let docker = with_timeout(timeout, "version handshake", docker.negotiate_version(), Subject::Engine)
        .await
        .map_err(|e| Error::new(e.kind(), unreachable_message(&host, e.message())).with_source(e))?;
    Ok((docker, host))
}

/// A bollard client on the unix socket at `path` that keeps its connections.
///
/// bollard's own unix client (`Docker::connect_with_unix`) turns pooling off
/// (`pool_max_idle_per_host(0)`), so every request opens a new connection to the daemon, which
/// costs more than a small request itself (GetState took twice the time of a client that keeps
/// its connection). The same hyper client with pooling is handed to bollard as a custom
/// transport. hyper sends a request again when the daemon had closed its pooled connection
/// before it was written, and drops pooled connections the daemon closes while they are idle, so
/// a restarted daemon is reached again as before.
fn pooled_unix_client(path: &str, backstop: u64) -> std::result::Result<Docker, bollard::errors::Error> {
    // What connect_with_unix checks: a missing socket is reported now, as before, not at the
    // first request.
    if !std::path::Path::new(path).exists() {
        return Err(bollard::errors::Error::SocketNotFoundError(path.to_owned()));
    }
    let mut builder = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    // Idle connections are closed after a while, so that an idle engine does not hold them on
    // the daemon forever, and at most a few are kept: enough for concurrent callers (a C or Go
    // program shares one engine between threads) without piling up descriptors after a burst.
    builder.pool_idle_timeout(POOL_IDLE_TIMEOUT);
    builder.pool_max_idle_per_host(POOL_MAX_IDLE);
    let client = builder.build(hyperlocal::UnixConnector);
    let transport = move |request: bollard::BollardRequest| {
        let client = client.clone();
        async move { client.request(request).await.map_err(bollard::errors::Error::from) }
    };
    // bollard writes this address into each request's URI; hyperlocal's connector reads the
    // socket path back from the hex-encoded host, as with bollard's own unix client.
    let address = format!("unix://{}", hex::encode(path));
    Docker::connect_with_custom_transport(transport, Some(address), backstop, API_DEFAULT_VERSION)
}

/// How long an unused pooled connection stays open.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many unused connections the pool keeps.
const POOL_MAX_IDLE: usize = 8;

fn unreachable_message(host: &str, cause: &str) -> String {
    format!(
        "the Docker engine at {host} does not answer ({cause}). Start dockerd (or the docker \
         service), or set DOCKER_HOST to the address of a running engine"
    )
}
