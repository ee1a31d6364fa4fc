//! The Docker engine's blocking face: the same operations as [`super::DockerEngine`]'s, run on
//! the blocking client, on the caller's thread ([`crate::http::blocking`]).

use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use super::attach::{self, AttachSession};
use super::logs::{ContainerLog, LogSession, LogTarget};
use super::{container, prune, wait, DockerEngine, DockerOptions, Shared};
use crate::engine::{BlockingLogs, BlockingOps, BlockingSession, Interrupt};
use crate::error::Result;
use crate::http::blocking::{Closer, Conn};
use crate::http::run_blocking;
use crate::model::*;
use crate::ready::{OpenFrames, WaitFuture};

/// A [`DockerEngine`] as the blocking face holds it. A type of its own, so that a Rust caller
/// of `DockerEngine` never meets two methods of the same name.
pub(crate) struct BlockingDocker {
    engine: DockerEngine,
}

impl BlockingDocker {
    pub(crate) fn connect(options: DockerOptions, interrupt: Interrupt<'_>) -> Result<Self> {
        Ok(BlockingDocker { engine: DockerEngine::connect_blocking(options, interrupt)? })
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.engine.shared
    }
}

impl BlockingOps for BlockingDocker {
    fn engine_type(&self) -> EngineType {
        EngineType::Docker
    }

    fn start_container(
        &self,
        request: StartContainerRequest,
        interrupt: Interrupt<'_>,
        progress: Option<ProgressCallback<'_>>,
    ) -> Result<StartContainerResponse> {
        let shared = self.shared();
        run_blocking(container::start(&shared.blocking.call(interrupt), shared, request, progress))?
    }

    fn stop_container(&self, request: StopContainerRequest, interrupt: Interrupt<'_>) -> Result<()> {
        let shared = self.shared();
        run_blocking(container::stop(&shared.blocking.call(interrupt), shared, request))?
    }

    fn get_state(&self, request: GetStateRequest, interrupt: Interrupt<'_>) -> Result<GetStateResponse> {
        let shared = self.shared();
        run_blocking(container::state(&shared.blocking.call(interrupt), shared, request))?
    }

    fn get_logs(&self, request: GetLogsRequest, interrupt: Interrupt<'_>) -> Result<Box<dyn BlockingLogs>> {
        let shared = self.shared();
        let closer = Arc::new(Closer::default());
        let call = shared.blocking.call(interrupt).closed_by(&closer);
        let session = run_blocking(LogSession::open(&call, shared, request))??;
        Ok(reader(session, shared, closer))
    }

    fn attach_container(&self, request: AttachContainerRequest, interrupt: Interrupt<'_>) -> Result<Box<dyn BlockingSession>> {
        let shared = self.shared();
        let session = run_blocking(attach::attach(&shared.blocking.call(interrupt), shared, request))??;
        Ok(Box::new(session))
    }

    fn wait_container(&self, request: WaitContainerRequest, interrupt: Interrupt<'_>, closer: &Closer) -> Result<GetStateResponse> {
        let shared = self.shared();
        run_blocking(wait::wait(&shared.blocking.call(interrupt).closed_by(closer), shared, request))?
    }

    fn list_containers(&self, interrupt: Interrupt<'_>) -> Result<Vec<ContainerSummary>> {
        let shared = self.shared();
        run_blocking(wait::list(&shared.blocking.call(interrupt), shared))?
    }

    fn prune(&self, interrupt: Interrupt<'_>) -> Result<usize> {
        let shared = self.shared();
        run_blocking(prune::prune_once(&shared.blocking.call(interrupt), shared))?
    }

    fn open_log_frames(&self, request: GetLogsRequest) -> OpenFrames {
        crate::engine::open_log_frames(&self.engine, request)
    }

    fn wait_task(&self, request: WaitContainerRequest) -> WaitFuture {
        crate::engine::wait_task(&self.engine, request)
    }
}

/// The blocking face's reader of an opened log session of any target: `shared`'s blocking
/// client, `closer` the close of the call that opened it.
pub(crate) fn reader<G: LogTarget + 'static>(session: LogSession<Conn, G>, shared: &Arc<Shared>, closer: Arc<Closer>) -> Box<dyn BlockingLogs> {
    Box::new(DockerLogs { session, shared: shared.clone(), closer })
}

/// A log session read on the caller's thread.
struct DockerLogs<G: LogTarget = ContainerLog> {
    session: LogSession<Conn, G>,
    shared: Arc<Shared>,
    closer: Arc<Closer>,
}

impl<G: LogTarget> BlockingLogs for DockerLogs<G> {
    fn read(&mut self, out: &mut [u8], wait: Option<Duration>, interrupt: Interrupt<'_>, typed: bool) -> Result<Option<usize>> {
        let call = self.shared.blocking.call(interrupt).closed_by(&self.closer).waiting_at_most(wait);
        run_blocking(self.session.read(&call, out, typed))?
    }

    fn source(&self) -> LogSource {
        self.session.source()
    }

    fn closer(&self) -> Arc<Closer> {
        self.closer.clone()
    }
}

impl BlockingSession for AttachSession {
    fn raw_fd(&self) -> RawFd {
        AttachSession::raw_fd(self)
    }

    fn resize(&self, width: u16, height: u16, interrupt: Interrupt<'_>) -> Result<()> {
        run_blocking(attach::resize(&self.shared.blocking.call(interrupt), self.exec_id(), width, height))?
    }

    fn exit_code(&self, interrupt: Interrupt<'_>) -> Result<Option<i64>> {
        run_blocking(attach::exit_code(&self.shared.blocking.call(interrupt), self.exec_id()))?
    }

    fn close(&self) {
        AttachSession::close(self)
    }
}
