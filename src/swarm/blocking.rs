//! The swarm engine's blocking face: the same operations as [`super::SwarmEngine`]'s, on the
//! manager's and the nodes' blocking clients, on the caller's thread.

use std::sync::Arc;

use super::nodes::Blocking;
use super::{logs, ops, wait, Swarm, SwarmEngine, SwarmOptions};
use crate::docker::blocking::reader;
use crate::engine::{BlockingLogs, BlockingOps, BlockingSession, Closer, Interrupt};
use crate::error::Result;
use crate::http::blocking::Call;
use crate::http::run_blocking;
use crate::model::*;
use crate::ready::{OpenFrames, WaitFuture};

/// A [`SwarmEngine`] as the blocking face holds it.
pub(crate) struct BlockingSwarm {
    engine: SwarmEngine,
}

impl BlockingSwarm {
    pub(crate) fn connect(options: SwarmOptions, interrupt: Interrupt<'_>) -> Result<Self> {
        Ok(BlockingSwarm { engine: SwarmEngine::connect_blocking(options, interrupt)? })
    }

    fn swarm(&self) -> &Swarm {
        &self.engine.swarm
    }

    fn manager<'a>(&'a self, interrupt: Interrupt<'a>) -> Call<'a> {
        self.swarm().manager().blocking.call(interrupt)
    }
}

impl BlockingOps for BlockingSwarm {
    fn engine_type(&self) -> EngineType {
        EngineType::Swarm
    }

    /// The swarm reports no pull progress (the node pulls): `progress` is never called.
    fn start_container(&self, request: StartContainerRequest, interrupt: Interrupt<'_>, _progress: Option<ProgressCallback<'_>>) -> Result<StartContainerResponse> {
        run_blocking(ops::start(&self.manager(interrupt), &Blocking(interrupt), self.swarm(), request))?
    }

    fn stop_container(&self, request: StopContainerRequest, interrupt: Interrupt<'_>) -> Result<()> {
        run_blocking(ops::stop(&self.manager(interrupt), &Blocking(interrupt), self.swarm(), request))?
    }

    fn get_state(&self, request: GetStateRequest, interrupt: Interrupt<'_>) -> Result<GetStateResponse> {
        run_blocking(ops::state(&self.manager(interrupt), &Blocking(interrupt), self.swarm(), request))?
    }

    fn get_logs(&self, request: GetLogsRequest, interrupt: Interrupt<'_>) -> Result<Box<dyn BlockingLogs>> {
        let closer = Arc::new(Closer::default());
        let session = run_blocking(logs::open(&self.manager(interrupt).closed_by(&closer), request))??;
        Ok(reader(session, self.swarm().manager(), closer))
    }

    fn attach_container(&self, request: AttachContainerRequest, interrupt: Interrupt<'_>) -> Result<Box<dyn BlockingSession>> {
        let session = run_blocking(ops::attach(&self.manager(interrupt), &Blocking(interrupt), self.swarm(), request))??;
        Ok(Box::new(session))
    }

    fn wait_container(&self, request: WaitContainerRequest, interrupt: Interrupt<'_>, closer: &Closer) -> Result<GetStateResponse> {
        run_blocking(wait::wait(&self.manager(interrupt).closed_by(closer), &Blocking(interrupt), self.swarm(), request))?
    }

    fn list_containers(&self, interrupt: Interrupt<'_>) -> Result<Vec<ContainerSummary>> {
        run_blocking(wait::list(&self.manager(interrupt), &Blocking(interrupt), self.swarm()))?
    }

    fn prune(&self, interrupt: Interrupt<'_>) -> Result<usize> {
        run_blocking(wait::prune_once(&self.manager(interrupt), self.swarm()))?
    }

    fn open_log_frames(&self, request: GetLogsRequest) -> OpenFrames {
        crate::engine::open_log_frames(&self.engine, request)
    }

    fn wait_task(&self, request: WaitContainerRequest) -> WaitFuture {
        crate::engine::wait_task(&self.engine, request)
    }
}
