//! The seed's `Engine` interface: the five operations every scheduler engine offers.

use std::future::Future;

use crate::docker::{AttachSession, LogStream};
use crate::error::Result;
use crate::model::*;

/// A scheduler engine, as Gofer's `scheduler.Engine`.
///
/// Implementations are shared by many tasks at once (`Send + Sync`, methods take `&self`).
pub trait Engine: Send + Sync {
    /// Launches a container (pulling its image when needed), replacing one of the same ID.
    fn start_container(
        &self,
        request: StartContainerRequest,
    ) -> impl Future<Output = Result<StartContainerResponse>> + Send;

    /// Stops a container gracefully, killing it once the timeout has passed.
    fn stop_container(&self, request: StopContainerRequest) -> impl Future<Output = Result<()>> + Send;

    /// The container's state and exit code.
    fn get_state(
        &self,
        request: GetStateRequest,
    ) -> impl Future<Output = Result<GetStateResponse>> + Send;

    /// The container's stdout and stderr from its start, followed until it exits.
    fn get_logs(&self, request: GetLogsRequest) -> impl Future<Output = Result<LogStream>> + Send;

    /// Runs a command with a TTY inside the running container and connects to it.
    fn attach_container(
        &self,
        request: AttachContainerRequest,
    ) -> impl Future<Output = Result<AttachSession>> + Send;
}
