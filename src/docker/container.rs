//! StartContainer, StopContainer and GetState.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, RemoveContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;

use super::errors::{from_bollard, Subject};
use super::{DockerEngine, MANAGED_LABEL};
use crate::error::{Error, ErrorKind, Result};
use crate::model::*;
use crate::validate;

impl DockerEngine {
    /// SPEC.md StartContainer: validate, get the image, replace, create and start, report URL.
    pub async fn start_container(&self, req: StartContainerRequest) -> Result<StartContainerResponse> {
        validate::start_request(&req)?;
        let auth = validate::registry_auth(req.registry_auth.as_ref())?;
        if req.always_pull {
            self.ensure_image(&req.image_name, auth, true).await?;
        }
        self.remove_if_present(&req.id).await?;
        // Whatever had this name is gone now, and its cancellation with it.
        self.cancelled().forget(&req.id);

        let port_key = req.networking.map(|n| format!("{}/tcp", n.port));
        let body = create_body(&req, port_key.as_deref());
        let options = CreateContainerOptions { name: Some(req.id.clone()), ..Default::default() };
        let create = || {
            let call = self.docker().create_container(Some(options.clone()), body.clone());
            self.request(Subject::Container, "container create", call)
        };
        // The image is usually there already: create at once, and get the image only when the
        // engine says it is missing. A create names no resource but its image, so its 404 means
        // exactly that. This saves the image inspect that asking first would cost every start.
        match create().await {
            Err(e) if e.http_status() == Some(404) && !req.always_pull => {
                self.ensure_image(&req.image_name, auth, false).await?;
                create().await?;
            }
            other => {
                other?;
            }
        }
        self.request(Subject::Container, "container start", self.docker().start_container(&req.id, None))
            .await?;

        // Only a published port needs the inspect: the engine picks the host port at start.
        let url = match port_key {
            None => String::new(),
            Some(key) => {
                let info = self.inspect(&req.id).await?;
                let host_port = published_host_port(&info, &key).ok_or_else(|| {
                    Error::new(ErrorKind::Engine, format!("the engine published no host port for {key}"))
                })?;
                format!("127.0.0.1:{host_port}")
            }
        };
        Ok(StartContainerResponse { url })
    }

    /// SPEC.md StopContainer: the stop signal, SIGKILL once the grace period has passed.
    ///
    /// The cancellation is recorded *before* the signal is sent: a caller polling GetState in
    /// another thread may see the exit before this call returns, and must see CANCELLED then.
    /// It is dropped again when the stop fails, or when the container turns out to have
    /// exited on its own before the signal reached it.
    pub async fn stop_container(&self, req: StopContainerRequest) -> Result<()> {
        validate::container_id("id", &req.id)?;
        let inspected = self.inspect_state(&req.id).await?;
        if matches!(inspected.status.as_deref(), Some("exited" | "dead")) {
            // Finished on its own: not cancelled, and nothing to stop.
            return Ok(());
        }
        let full_id = inspected.id.clone();
        self.cancelled().record(full_id.clone(), inspected.name.clone());
        match self.signal_then_kill(&full_id, inspected.stop_signal.as_deref(), req.timeout).await {
            Ok(Signalled::Stopped) => Ok(()),
            Ok(Signalled::AlreadyExited) => {
                self.cancelled().forget_id(&full_id);
                Ok(())
            }
            Err(e) => {
                self.cancelled().forget_id(&full_id);
                Err(e)
            }
        }
    }

    /// Sends the container's stop signal, waits up to `grace` for the exit, then SIGKILL (at
    /// once when `grace` is zero), and waits for the container to be down.
    ///
    /// Not the engine's stop endpoint: it counts whole seconds, and a 500 ms grace period
    /// would become a second. The engine's kill endpoint takes any signal, and its wait
    /// endpoint ends the wait when the container stops, so the grace is honoured as given.
    async fn signal_then_kill(&self, full_id: &str, stop_signal: Option<&str>, grace: Duration) -> Result<Signalled> {
        if !grace.is_zero() {
            let signal = stop_signal.filter(|s| !s.is_empty()).unwrap_or("SIGTERM");
            if !self.kill(full_id, signal).await? {
                return Ok(Signalled::AlreadyExited);
            }
            if self.wait_not_running(full_id, grace).await? {
                return Ok(Signalled::Stopped);
            }
        }
        if !self.kill(full_id, "SIGKILL").await? && grace.is_zero() {
            return Ok(Signalled::AlreadyExited);
        }
        // The engine answers the kill before the container is down; the stop is done when it is.
        self.wait_not_running(full_id, self.timeout()).await?;
        Ok(Signalled::Stopped)
    }

    /// Sends `signal`; false when the container was not running (the engine's 409).
    async fn kill(&self, full_id: &str, signal: &str) -> Result<bool> {
        let options = KillContainerOptions { signal: signal.to_owned() };
        match self.request(Subject::Container, "container kill", self.docker().kill_container(full_id, Some(options))).await {
            Ok(()) => Ok(true),
            Err(e) if e.http_status() == Some(409) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits up to `limit` for the container to be down; false when it is still running then.
    async fn wait_not_running(&self, full_id: &str, limit: Duration) -> Result<bool> {
        let options = WaitContainerOptions { condition: "not-running".to_owned() };
        let mut wait = self.docker().wait_container(full_id, Some(options));
        match tokio::time::timeout(limit, wait.next()).await {
            Err(_elapsed) => Ok(false),
            // bollard reports a non-zero exit code as an error of the wait: still an exit.
            Ok(Some(Ok(_)) | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. })) | None) => Ok(true),
            Ok(Some(Err(e))) => Err(from_bollard(e, Subject::Container).context("container wait")),
        }
    }

    /// SPEC.md GetState: the engine's status mapped to the seed's states, exit code whole.
    pub async fn get_state(&self, req: GetStateRequest) -> Result<GetStateResponse> {
        validate::container_id("id", &req.id)?;
        let inspected = self.inspect_state(&req.id).await?;
        Ok(self.state_from_inspect(&inspected))
    }

    /// The complete inspect, decoded by bollard: for what [`DockerEngine::inspect_state`] does
    /// not hold (the published ports).
    pub(super) async fn inspect(&self, id: &str) -> Result<ContainerInspectResponse> {
        self.request(Subject::Container, "container inspect", self.docker().inspect_container(id, None))
            .await
    }

    /// Force-removes a container named `id` and its anonymous volumes, if there is one.
    async fn remove_if_present(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        match self
            .request(Subject::Container, "container remove", self.docker().remove_container(id, Some(options)))
            .await
        {
            Err(e) if e.kind() == ErrorKind::NoSuchContainer => Ok(()),
            other => other,
        }
    }
}

fn create_body(req: &StartContainerRequest, port_key: Option<&str>) -> ContainerCreateBody {
    let env: Vec<String> = req.env_vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut host_config = HostConfig::default();
    let mut exposed = None;
    if let Some(key) = port_key {
        let binding = PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) };
        host_config.port_bindings = Some(HashMap::from([(key.to_owned(), Some(vec![binding]))]));
        exposed = Some(vec![key.to_owned()]);
    }
    ContainerCreateBody {
        image: Some(req.image_name.clone()),
        env: (!env.is_empty()).then_some(env),
        // Some(empty) is sent as [] and None is left out: the engine treats an empty
        // entrypoint as "none" and a missing one as "the image's".
        entrypoint: req.entrypoint.clone(),
        cmd: req.command.clone(),
        labels: Some(HashMap::from([(MANAGED_LABEL.to_owned(), "true".to_owned())])),
        exposed_ports: exposed,
        host_config: Some(host_config),
        ..Default::default()
    }
}

fn published_host_port(info: &ContainerInspectResponse, key: &str) -> Option<String> {
    let ports = info.network_settings.as_ref()?.ports.as_ref()?;
    let bindings = ports.get(key)?.as_ref()?;
    bindings.iter().filter_map(|b| b.host_port.clone()).find(|p| !p.is_empty())
}

/// What a stop found.
enum Signalled {
    Stopped,
    /// The container was not running when the first signal reached it: it exited on its own.
    AlreadyExited,
}
