//! The Docker engine: the contract's operations (docs/contract.md) over the Docker Engine API.
//!
//! Every operation is written once, generic over the HTTP layer's [`Transport`]: the async face
//! ([`DockerEngine`], the [`Engine`] trait) runs it on the async client, the blocking face
//! ([`blocking::BlockingDocker`], held by [`crate::BlockingEngine`]) on the blocking client, on
//! the caller's thread. Both clients share one address, API version and timeout, and the set of
//! containers stopped through this engine (so that GetState can tell CANCELLED from EXITED).

pub(crate) mod api;
pub(crate) mod attach;
pub(crate) mod blocking;
mod cancelled;
pub(crate) mod container;
pub(crate) mod errors;
mod image;
pub(crate) mod inspect;
pub(crate) mod logs;
pub(crate) mod prune;
pub(crate) mod stamps;
pub(crate) mod wait;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use attach::AttachSession;
pub use logs::{LogFrames, LogStream};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::http::{self, deadline_in, Endpoint, TlsFiles, Transport};
use crate::model::*;
use cancelled::Cancelled;

pub use crate::model::MANAGED_LABEL;

/// How to reach and use the Docker engine.
#[derive(Clone, Debug)]
pub struct DockerOptions {
    /// Engine address (`unix:///path`, `tcp://host:port`, `http://host:port`,
    /// `https://host:port`). `None`: the `DOCKER_HOST` environment variable, else
    /// `unix:///var/run/docker.sock`, as the docker CLI.
    pub host: Option<String>,
    /// TLS to a `tcp://` or `https://` engine: the CA, client certificate and key. `None`: as
    /// the docker CLI, TLS when `DOCKER_TLS_VERIFY` is set (or the address is `https://`), with
    /// `ca.pem`, `cert.pem` and `key.pem` from `DOCKER_CERT_PATH`, else `~/.docker`. The
    /// engine's certificate is always verified, its name included.
    pub tls: Option<TlsFiles>,
    /// Longest wait for the engine's answer to one request. Streams (logs, attach) are not cut
    /// by it; a pull is cut when the engine says nothing for this long.
    pub timeout: Duration,
    /// Periodically remove exited containers that this library created.
    pub prune: bool,
    pub prune_interval: Duration,
}

impl Default for DockerOptions {
    fn default() -> Self {
        DockerOptions {
            host: None,
            tls: None,
            timeout: Duration::from_secs(60),
            prune: false,
            prune_interval: Duration::from_secs(15 * 60),
        }
    }
}

impl DockerOptions {
    fn check(&self) -> Result<Endpoint> {
        if self.timeout.is_zero() {
            return Err(Error::invalid_argument("timeout", "must be greater than zero"));
        }
        if self.prune && self.prune_interval.is_zero() {
            return Err(Error::invalid_argument("prune_interval", "must be greater than zero"));
        }
        Endpoint::resolve(self.host.as_deref(), self.tls.as_ref())
    }
}

/// What the handles of one engine share: its clients and its cancellations. Streams and
/// sessions hold it too, so they outlive the engine handle that opened them.
pub(crate) struct Shared {
    pub(crate) asynch: http::nonblocking::Client,
    pub(crate) blocking: http::blocking::Client,
    /// Full IDs of containers stopped through StopContainer (see `cancelled`).
    cancelled: Mutex<Cancelled>,
}

impl Shared {
    fn new(endpoint: Endpoint, api_version: &str, timeout: Duration) -> Self {
        Shared {
            asynch: http::nonblocking::Client::new(endpoint.clone(), api_version, timeout),
            blocking: http::blocking::Client::new(endpoint, api_version, timeout),
            cancelled: Mutex::new(Cancelled::default()),
        }
    }

    pub(crate) fn cancelled(&self) -> MutexGuard<'_, Cancelled> {
        // The set is always consistent between operations, so a poisoned lock is still usable.
        self.cancelled.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The version handshake, which doubles as the liveness check: an engine that does not
/// answer it is reported now, with what to do, instead of at the first task.
async fn handshake<T: Transport>(transport: &T, endpoint: &Endpoint) -> Result<String> {
    let answer = transport.call(&api::version(), deadline_in(transport.timeout())).await;
    let body = answer.and_then(|a| errors::success(a, errors::Subject::Engine)).map_err(|e| {
        // An engine that refused our TLS session is running: say what to check instead.
        let message = if http::tls::is_tls_failure(&e) {
            format!(
                "the Docker engine at {endpoint} refused the TLS session ({}). Check the CA, \
                 certificate and key given (or DOCKER_CERT_PATH's ca.pem, cert.pem, key.pem)",
                e.message()
            )
        } else {
            format!(
                "the Docker engine at {endpoint} does not answer ({}). Start dockerd (or the \
                 docker service), or set DOCKER_HOST to the address of a running engine",
                e.message()
            )
        };
        Error::new(e.kind(), message).with_source(e)
    })?;
    api::negotiate(&body)
}

/// Aborts the periodic prune when the last engine handle goes.
pub(crate) struct PruneTask(pub(crate) tokio::task::AbortHandle);

impl Drop for PruneTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The Docker implementation of [`Engine`]. Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct DockerEngine {
    pub(crate) shared: Arc<Shared>,
    _prune: Option<Arc<PruneTask>>,
}

impl DockerEngine {
    /// Connects to the engine, negotiates the API version and checks that it answers.
    ///
    /// With `options.prune`, a task on the current runtime removes exited managed containers
    /// every `prune_interval`.
    pub async fn connect(options: DockerOptions) -> Result<Self> {
        let endpoint = options.check()?;
        let greeter = http::nonblocking::Client::new(endpoint.clone(), "0", options.timeout);
        let api_version = handshake(&greeter, &endpoint).await?;
        let runtime = match options.prune {
            true => Some(tokio::runtime::Handle::try_current().or_else(|_| crate::runtime::handle().map(|rt| rt.handle().clone()))?),
            false => None,
        };
        Ok(Self::with(endpoint, &api_version, &options, runtime))
    }

    /// [`DockerEngine::connect`] on the caller's thread; the prune task, if any, runs on the
    /// library's private runtime.
    pub(crate) fn connect_blocking(options: DockerOptions, interrupt: crate::engine::Interrupt<'_>) -> Result<Self> {
        let endpoint = options.check()?;
        let greeter = http::blocking::Client::new(endpoint.clone(), "0", options.timeout);
        let api_version = http::run_blocking(handshake(&greeter.call(interrupt), &endpoint))??;
        let runtime = match options.prune {
            true => Some(crate::runtime::handle()?.handle().clone()),
            false => None,
        };
        Ok(Self::with(endpoint, &api_version, &options, runtime))
    }

    fn with(endpoint: Endpoint, api_version: &str, options: &DockerOptions, runtime: Option<tokio::runtime::Handle>) -> Self {
        let shared = Arc::new(Shared::new(endpoint, api_version, options.timeout));
        let prune = runtime.map(|rt| Arc::new(PruneTask(prune::spawn(&rt, Arc::downgrade(&shared), options.prune_interval))));
        DockerEngine { shared, _prune: prune }
    }

    /// The request timeout this engine applies.
    pub fn timeout(&self) -> Duration {
        self.shared.asynch.timeout()
    }
}

impl Engine for DockerEngine {
    type Logs = LogStream;
    type Frames = LogFrames;
    type Session = AttachSession;

    fn engine_type(&self) -> EngineType {
        EngineType::Docker
    }

    async fn start_container(&self, request: StartContainerRequest) -> Result<StartContainerResponse> {
        container::start(&self.shared.asynch, &self.shared, request, None).await
    }

    async fn start_container_with_progress(
        &self,
        request: StartContainerRequest,
        progress: ProgressCallback<'_>,
    ) -> Result<StartContainerResponse> {
        container::start(&self.shared.asynch, &self.shared, request, Some(progress)).await
    }

    async fn stop_container(&self, request: StopContainerRequest) -> Result<()> {
        container::stop(&self.shared.asynch, &self.shared, request).await
    }

    async fn get_state(&self, request: GetStateRequest) -> Result<GetStateResponse> {
        container::state(&self.shared.asynch, &self.shared, request).await
    }

    async fn get_logs(&self, request: GetLogsRequest) -> Result<LogStream> {
        LogStream::open(self.shared.clone(), request).await
    }

    async fn get_log_frames(&self, request: GetLogsRequest) -> Result<LogFrames> {
        LogFrames::open(self.shared.clone(), request).await
    }

    async fn attach_container(&self, request: AttachContainerRequest) -> Result<AttachSession> {
        attach::attach(&self.shared.asynch, &self.shared, request).await
    }

    async fn wait_container(&self, request: WaitContainerRequest) -> Result<GetStateResponse> {
        wait::wait(&self.shared.asynch, &self.shared, request).await
    }

    async fn list_containers(&self) -> Result<Vec<ContainerSummary>> {
        wait::list(&self.shared.asynch, &self.shared).await
    }

    async fn prune(&self) -> Result<usize> {
        prune::prune_once(&self.shared.asynch, &self.shared).await
    }
}
