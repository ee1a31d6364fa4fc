//! The swarm engine: the contract's operations (docs/contract.md, "Swarm") on a Docker Swarm,
//! each task a replicated-job service of one task that runs once.
//!
//! The manager is a Docker engine like any other to the HTTP layer: the swarm engine holds a
//! [`DockerEngine`] connected to it (its clients and its set of stopped tasks), asks it about
//! services, tasks and nodes, and reads task logs with the Docker engine's log session. What the
//! manager does not proxy (exec, signals) goes to the node that runs the task, through its own
//! engine ([`nodes`]).
//!
//! - `spec`: a request as a service; `task`: what the swarm says of a task and its node;
//! - `ops`: start, stop, state, attach; `wait`: wait, list, prune; `logs`: the task's log;
//! - `blocking`: the blocking face, as the Docker engine's.

mod api;
pub(crate) mod blocking;
mod logs;
mod nodes;
mod ops;
mod spec;
mod task;
mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

pub use spec::ID_LABEL;

use crate::docker::{self, AttachSession, DockerEngine, DockerOptions, LogFrames, LogStream, PruneTask};
use crate::engine::{Engine, Interrupt};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{run_blocking, Transport};
use crate::model::*;
use nodes::{Async, Nodes};

/// How to reach and use a swarm.
#[derive(Clone, Debug, Default)]
pub struct SwarmOptions {
    /// The manager, as a Docker engine is reached (address, TLS, request timeout), and the
    /// periodic prune of the services whose task has ended.
    pub manager: DockerOptions,
    /// Each node's own engine, for attach and stop (the swarm proxies neither): node → engine
    /// address (`tcp://10.0.0.2:2376`, `unix:///...`). A node is named by its ID, its hostname
    /// or its address, as `docker node inspect` shows them. The manager's TLS files are used
    /// for them too. Without a node's engine, attach and stop of its tasks fail with an invalid
    /// argument naming `nodes`.
    pub nodes: BTreeMap<String, String>,
}

/// What the handles of one swarm engine share: the manager's Docker engine and the nodes'.
pub(crate) struct Swarm {
    manager: DockerEngine,
    nodes: Nodes,
}

impl Swarm {
    /// The manager's clients and the set of services stopped through this engine.
    pub(crate) fn manager(&self) -> &Arc<docker::Shared> {
        &self.manager.shared
    }
}

/// Checks that the engine is an active manager of a swarm: any other engine is refused at
/// creation with what to do.
async fn check_manager<T: Transport>(t: &T, options: &DockerOptions) -> Result<()> {
    #[derive(Deserialize)]
    struct Info {
        #[serde(rename = "Swarm")]
        swarm: Option<SwarmInfo>,
    }
    #[derive(Deserialize)]
    struct SwarmInfo {
        #[serde(rename = "LocalNodeState", default)]
        state: String,
        #[serde(rename = "ControlAvailable", default)]
        control: bool,
    }
    let info: Info = task::fetch(t, &api::info()).await?;
    let (state, control) = info.swarm.map_or((String::new(), false), |s| (s.state, s.control));
    if state == "active" && control {
        return Ok(());
    }
    let at = options.host.as_deref().unwrap_or("DOCKER_HOST or the default socket");
    let what = if state == "active" { "a worker, not a manager" } else { "in no swarm" };
    Err(Error::new(
        ErrorKind::Engine,
        format!("the engine at {at} is {what} (swarm state {state:?}): give the address of a swarm manager (docker swarm init)"),
    ))
}

/// The swarm implementation of [`Engine`]. Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SwarmEngine {
    swarm: Arc<Swarm>,
    _prune: Option<Arc<PruneTask>>,
}

impl SwarmEngine {
    /// Connects to the manager, checks that it manages a swarm, and checks the nodes' addresses
    /// (the nodes' engines are connected on first use). With `options.manager.prune`, a task on
    /// the current runtime removes the managed services whose task has ended.
    pub async fn connect(options: SwarmOptions) -> Result<Self> {
        let nodes = Nodes::new(options.nodes.clone(), &options.manager)?;
        let manager = DockerEngine::connect(DockerOptions { prune: false, ..options.manager.clone() }).await?;
        check_manager(&manager.shared.asynch, &options.manager).await?;
        let runtime = match options.manager.prune {
            true => Some(tokio::runtime::Handle::try_current().or_else(|_| crate::runtime::handle().map(|rt| rt.handle().clone()))?),
            false => None,
        };
        Ok(Self::with(manager, nodes, &options, runtime))
    }

    /// [`SwarmEngine::connect`] on the caller's thread; the prune, if any, runs on the
    /// library's private runtime.
    pub(crate) fn connect_blocking(options: SwarmOptions, interrupt: Interrupt<'_>) -> Result<Self> {
        let nodes = Nodes::new(options.nodes.clone(), &options.manager)?;
        let manager = DockerEngine::connect_blocking(DockerOptions { prune: false, ..options.manager.clone() }, interrupt)?;
        run_blocking(check_manager(&manager.shared.blocking.call(interrupt), &options.manager))??;
        let runtime = match options.manager.prune {
            true => Some(crate::runtime::handle()?.handle().clone()),
            false => None,
        };
        Ok(Self::with(manager, nodes, &options, runtime))
    }

    fn with(manager: DockerEngine, nodes: Nodes, options: &SwarmOptions, runtime: Option<tokio::runtime::Handle>) -> Self {
        let swarm = Arc::new(Swarm { manager, nodes });
        let prune = runtime.map(|rt| {
            // A failed round (a manager restarting) is tried again at the next tick.
            let round = |swarm: Arc<Swarm>| async move {
                let _ = wait::prune_once(&swarm.manager().asynch, &swarm).await;
            };
            Arc::new(PruneTask(docker::prune::spawn_rounds(&rt, Arc::downgrade(&swarm), options.manager.prune_interval, round)))
        });
        SwarmEngine { swarm, _prune: prune }
    }

    /// The request timeout this engine applies.
    pub fn timeout(&self) -> std::time::Duration {
        self.swarm.manager().asynch.timeout()
    }

    fn asynch(&self) -> &crate::http::nonblocking::Client {
        &self.swarm.manager().asynch
    }
}

impl Engine for SwarmEngine {
    type Logs = LogStream;
    type Frames = LogFrames;
    type Session = AttachSession;

    fn engine_type(&self) -> EngineType {
        EngineType::Swarm
    }

    async fn start_container(&self, request: StartContainerRequest) -> Result<StartContainerResponse> {
        ops::start(self.asynch(), &Async, &self.swarm, request).await
    }

    /// As [`Engine::start_container`]: the node that runs the task pulls its image, and the
    /// swarm reports no progress of it, so `progress` is never called.
    async fn start_container_with_progress(&self, request: StartContainerRequest, _progress: ProgressCallback<'_>) -> Result<StartContainerResponse> {
        ops::start(self.asynch(), &Async, &self.swarm, request).await
    }

    async fn stop_container(&self, request: StopContainerRequest) -> Result<()> {
        ops::stop(self.asynch(), &Async, &self.swarm, request).await
    }

    async fn get_state(&self, request: GetStateRequest) -> Result<GetStateResponse> {
        ops::state(self.asynch(), &Async, &self.swarm, request).await
    }

    async fn get_logs(&self, request: GetLogsRequest) -> Result<LogStream> {
        let session = logs::open(self.asynch(), request).await?;
        Ok(LogStream::of(session, self.swarm.manager().clone()))
    }

    async fn get_log_frames(&self, request: GetLogsRequest) -> Result<LogFrames> {
        let session = logs::open(self.asynch(), request).await?;
        Ok(LogFrames::of(session, self.swarm.manager().clone()))
    }

    async fn attach_container(&self, request: AttachContainerRequest) -> Result<AttachSession> {
        ops::attach(self.asynch(), &Async, &self.swarm, request).await
    }

    async fn wait_container(&self, request: WaitContainerRequest) -> Result<GetStateResponse> {
        wait::wait(self.asynch(), &Async, &self.swarm, request).await
    }

    async fn list_containers(&self) -> Result<Vec<ContainerSummary>> {
        wait::list(self.asynch(), &Async, &self.swarm).await
    }

    async fn prune(&self) -> Result<usize> {
        wait::prune_once(self.asynch(), &self.swarm).await
    }
}

