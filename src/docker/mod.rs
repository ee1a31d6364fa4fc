//! The Docker engine: the seed's five operations over bollard.
//!
//! One [`DockerEngine`] holds one bollard client (a pooled connection to the daemon), the request
//! timeout, and the set of containers stopped through it (so that GetState can tell CANCELLED
//! from EXITED). Cloning is cheap and shares all of that.

mod attach;
mod cancelled;
mod connect;
mod container;
mod errors;
mod hijack;
mod image;
pub(crate) mod inspect;
pub(crate) mod logs;
mod prune;
mod transport;
pub(crate) mod wire;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;

pub use attach::AttachSession;
use cancelled::Cancelled;
pub use logs::LogStream;

use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::model::*;
use errors::{from_bollard, Subject};
use transport::Transport;

/// The label put on every container this library creates; prune removes only those.
pub const MANAGED_LABEL: &str = "dev.gofer.scheduler.managed";

/// How to reach and use the Docker engine.
#[derive(Clone, Debug)]
pub struct DockerOptions {
    /// Engine address (`unix:///path`, `tcp://host:port`, `http://host:port`). `None`: the
    /// `DOCKER_HOST` environment variable, else `unix:///var/run/docker.sock`, as the docker CLI.
    pub host: Option<String>,
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
            timeout: Duration::from_secs(60),
            prune: false,
            prune_interval: Duration::from_secs(15 * 60),
        }
    }
}

/// The Docker implementation of [`Engine`].
#[derive(Clone)]
pub struct DockerEngine {
    inner: Arc<Inner>,
}

struct Inner {
    docker: Docker,
    /// The pooled client bollard sends its requests on, for the requests made without bollard
    /// on the same connections (see `inspect`).
    transport: Transport,
    /// The blocking client of the hot paths (see `wire`), for the blocking face. It also holds
    /// the engine's address, the negotiated API version and the request timeout, which the
    /// requests made without bollard use.
    wire: Arc<wire::Wire>,
    /// Full IDs of containers stopped through StopContainer. Keyed by full ID, not by the name
    /// the caller used: a container started again under the same name gets a new ID, so its
    /// cancellation is forgotten by construction, and a stop by name matches a state by ID.
    cancelled: Arc<Mutex<Cancelled>>,
    prune_task: Option<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.prune_task {
            task.abort();
        }
    }
}

impl DockerEngine {
    /// Connects to the engine, negotiates the API version and checks that it answers.
    ///
    /// With `options.prune`, a background task on the current runtime removes exited managed
    /// containers every `prune_interval`.
    pub async fn connect(options: DockerOptions) -> Result<Self> {
        if options.timeout.is_zero() {
            return Err(Error::invalid_argument("timeout", "must be greater than zero"));
        }
        if options.prune && options.prune_interval.is_zero() {
            return Err(Error::invalid_argument("prune_interval", "must be greater than zero"));
        }
        let (docker, transport, host) = connect::connect(options.host.as_deref(), options.timeout).await?;
        let version = docker.client_version();
        let api_version = format!("{}.{}", version.major_version, version.minor_version);
        let wire = Arc::new(wire::Wire::new(&host, &api_version, options.timeout));
        let cancelled = Arc::new(Mutex::new(Cancelled::default()));
        let prune_task = options.prune.then(|| {
            prune::spawn(docker.clone(), options.prune_interval, options.timeout, cancelled.clone())
        });
        Ok(DockerEngine {
            inner: Arc::new(Inner {
                docker,
                transport,
                wire,
                cancelled,
                prune_task,
            }),
        })
    }

    /// The request timeout this engine applies.
    pub fn timeout(&self) -> Duration {
        self.inner.wire.timeout()
    }

    /// Removes now what the periodic prune would: exited containers created by this library.
    /// Returns how many were removed.
    pub async fn prune(&self) -> Result<usize> {
        prune::prune_once(&self.inner.docker, self.timeout(), &self.inner.cancelled).await
    }

    /// The blocking client of this engine, for the blocking face's hot paths.
    pub(crate) fn wire(&self) -> &Arc<wire::Wire> {
        &self.inner.wire
    }

    fn docker(&self) -> &Docker {
        &self.inner.docker
    }

    /// The API version negotiated with the engine ("1.41").
    pub(crate) fn api_version(&self) -> &str {
        self.inner.wire.api_version()
    }

    /// Runs one bollard request with the engine's timeout, translating its error.
    async fn request<T>(
        &self,
        subject: Subject,
        what: &str,
        call: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T> {
        with_timeout(self.timeout(), what, call, subject).await
    }

    /// Runs one request made without bollard with the engine's timeout.
    async fn bounded<T>(&self, what: &str, call: impl Future<Output = Result<T>>) -> Result<T> {
        bounded(self.timeout(), what, call).await
    }

    fn cancelled(&self) -> std::sync::MutexGuard<'_, Cancelled> {
        // The set is always consistent between operations, so a poisoned lock is still usable.
        self.inner.cancelled.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs bollard's `call` within `limit`, translating its error for `subject`; a call that
/// outlives the limit is a Timeout error naming `what`.
pub(crate) async fn with_timeout<T>(
    limit: Duration,
    what: &str,
    call: impl Future<Output = Result<T, bollard::errors::Error>>,
    subject: Subject,
) -> Result<T> {
    bounded(limit, what, async { call.await.map_err(|e| from_bollard(e, subject)) }).await
}

/// Runs `call` within `limit`; a call that outlives it is a Timeout error naming `what`.
pub(crate) async fn bounded<T>(limit: Duration, what: &str, call: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!("{what}: no answer from the engine within {limit:?}"),
        )),
    }
}

impl Engine for DockerEngine {
    async fn start_container(&self, request: StartContainerRequest) -> Result<StartContainerResponse> {
        DockerEngine::start_container(self, request).await
    }

    async fn stop_container(&self, request: StopContainerRequest) -> Result<()> {
        DockerEngine::stop_container(self, request).await
    }

    async fn get_state(&self, request: GetStateRequest) -> Result<GetStateResponse> {
        DockerEngine::get_state(self, request).await
    }

    async fn get_logs(&self, request: GetLogsRequest) -> Result<LogStream> {
        DockerEngine::get_logs(self, request).await
    }

    async fn attach_container(&self, request: AttachContainerRequest) -> Result<AttachSession> {
        DockerEngine::attach_container(self, request).await
    }
}
