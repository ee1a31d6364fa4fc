//! StartContainer, StopContainer and GetState.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions, StopContainerOptions};

use super::errors::Subject;
use super::{with_timeout, DockerEngine, MANAGED_LABEL};
use crate::error::{Error, ErrorKind, Result};
use crate::model::*;
use crate::validate;

impl DockerEngine {
    /// SPEC.md StartContainer: validate, get the image, replace, create and start, report URL.
    pub async fn start_container(&self, req: StartContainerRequest) -> Result<StartContainerResponse> {
        validate::start_request(&req)?;
        if req.always_pull {
            self.ensure_image(&req.image_name, req.registry_auth.as_ref(), true).await?;
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
                self.ensure_image(&req.image_name, req.registry_auth.as_ref(), false).await?;
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

    /// SPEC.md StopContainer: the stop signal, SIGKILL after the timeout, remembered as cancelled.
    pub async fn stop_container(&self, req: StopContainerRequest) -> Result<()> {
        validate::container_id("id", &req.id)?;
        let inspected = self.inspect_state(&req.id).await?;
        let full_id = inspected.id;
        let was_active = !matches!(inspected.status.as_deref(), Some("exited" | "dead"));

        let grace = stop_grace_seconds(req.timeout);
        let options = StopContainerOptions { t: Some(grace), ..Default::default() };
        // The engine answers only once the container is down, so the wait is the grace period
        // plus the usual request timeout.
        let limit = self.timeout().saturating_add(Duration::from_secs(grace as u64));
        with_timeout(limit, "container stop", self.docker().stop_container(&full_id, Some(options)), Subject::Container)
            .await?;

        // Recorded only after a successful stop, and only when the container was still going:
        // one that had already finished on its own was not cancelled.
        if was_active {
            self.cancelled().record(full_id, inspected.name);
        }
        Ok(())
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

/// The API's stop timeout is whole seconds. Rounding down would turn a 500 ms grace period into
/// an immediate kill, so any fraction rounds up; zero stays zero (kill at once).
fn stop_grace_seconds(timeout: Duration) -> i32 {
    let secs = timeout.as_secs().saturating_add(u64::from(timeout.subsec_nanos() > 0));
    i32::try_from(secs).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_second_stop_timeouts_round_up_instead_of_killing_at_once() {
        assert_eq!(stop_grace_seconds(Duration::ZERO), 0);
        assert_eq!(stop_grace_seconds(Duration::from_millis(1)), 1);
        assert_eq!(stop_grace_seconds(Duration::from_millis(500)), 1);
        assert_eq!(stop_grace_seconds(Duration::from_secs(10)), 10);
        assert_eq!(stop_grace_seconds(Duration::from_millis(10_001)), 11);
        assert_eq!(stop_grace_seconds(Duration::MAX), i32::MAX);
    }
}
