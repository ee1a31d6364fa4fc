//! StartContainer, StopContainer and GetState (docs/contract.md), generic over the transport.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, MountTmpfsOptions, MountType, PortBinding};
use serde::Deserialize;

use super::errors::{says_not_running, success, Subject};
use super::inspect::{has_exited, inspect, state_from_inspect};
use super::{api, image, Shared, MANAGED_LABEL};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, Transport};
use crate::model::*;
use crate::validate;

/// Validate, get the image (its pull's progress to `progress`), replace, create and start,
/// report the IDs and the URL.
pub(crate) async fn start<T: Transport>(
    t: &T,
    shared: &Shared,
    req: StartContainerRequest,
    mut progress: Option<ProgressCallback<'_>>,
) -> Result<StartContainerResponse> {
    validate::start_request(&req)?;
    let auth = validate::registry_auth(req.registry_auth.as_ref())?;
    if req.always_pull {
        image::pull(t, &req.image_name, auth, progress.take()).await?;
    }
    remove_if_present(t, &req.id).await?;
    // Whatever had this name is gone now, and its cancellation with it.
    shared.cancelled().forget(&req.id);

    let port_key = req.networking.map(|n| format!("{}/tcp", n.port));
    let create = api::create_container(&req.id, &create_body(&req, port_key.as_deref()))?;
    // The image is usually there already: create at once, and get the image only when the
    // engine says it is missing. A create names no resource but its image, so its 404 means
    // exactly that. This saves the image inspect that asking first would cost every start.
    let mut answer = t.call(&create, deadline_in(t.timeout())).await?;
    if answer.status == 404 && !req.always_pull {
        image::ensure(t, &req.image_name, auth, progress.take()).await?;
        answer = t.call(&create, deadline_in(t.timeout())).await?;
    }
    #[derive(Deserialize)]
    struct Created {
        #[serde(rename = "Id")]
        id: String,
    }
    let Created { id: container_id } = serde_json::from_slice(&success(answer, Subject::Create)?)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to a container create: {e}")))?;
    // The image's ID comes from an inspect, made before the start unless a port is published:
    // the host port the engine picks exists only once the container has started, but an
    // inspect right after the start of a short job waits for the engine to finish handling
    // its exit (it holds the container's lock), about 40 ms on this project's test machine.
    let created = match port_key {
        None => Some(inspect_created(t, &container_id).await?),
        Some(_) => None,
    };
    let started = t.call(&api::start_container(&container_id), deadline_in(t.timeout())).await?;
    success(started, Subject::Container)?;
    let info = match created {
        Some(info) => info,
        None => inspect_created(t, &container_id).await?,
    };
    let url = match port_key {
        None => String::new(),
        Some(key) => {
            let host_port = published_host_port(&info, &key)
                .ok_or_else(|| Error::new(ErrorKind::Engine, format!("the engine published no host port for {key}")))?;
            format!("127.0.0.1:{host_port}")
        }
    };
    Ok(StartContainerResponse { url, container_id, image_id: info.image })
}

/// The stop signal, SIGKILL once the grace period has passed.
///
/// The cancellation is recorded *before* the signal is sent: a caller polling GetState in
/// another thread may see the exit before this call returns, and must see CANCELLED then. It
/// is dropped again when the stop fails, or when the container turns out to have exited on its
/// own before the signal reached it.
pub(crate) async fn stop<T: Transport>(t: &T, shared: &Shared, req: StopContainerRequest) -> Result<()> {
    validate::container_id("id", &req.id)?;
    let inspected = inspect(t, shared, &req.id).await?;
    if has_exited(inspected.status.as_deref()) {
        // Finished on its own: not cancelled, and nothing to stop.
        return Ok(());
    }
    let full_id = inspected.id.clone();
    shared.cancelled().record(full_id.clone(), inspected.name.clone());
    match signal_then_kill(t, &full_id, inspected.stop_signal.as_deref(), req.timeout).await {
        Ok(Signalled::Stopped) => Ok(()),
        Ok(Signalled::AlreadyExited) => {
            shared.cancelled().forget_id(&full_id);
            Ok(())
        }
        Err(e) => {
            shared.cancelled().forget_id(&full_id);
            Err(e)
        }
    }
}

/// The engine's status mapped to the seed's states, exit code whole.
pub(crate) async fn state<T: Transport>(t: &T, shared: &Shared, req: GetStateRequest) -> Result<GetStateResponse> {
    validate::container_id("id", &req.id)?;
    let inspected = inspect(t, shared, &req.id).await?;
    Ok(state_from_inspect(shared, &inspected))
}

/// What a stop found.
enum Signalled {
    Stopped,
    /// The container was not running when the first signal reached it: it exited on its own.
    AlreadyExited,
}

/// Sends the container's stop signal, waits up to `grace` for the exit, then SIGKILL (at once
/// when `grace` is zero), and waits for the container to be down.
///
/// Not the engine's stop endpoint: it counts whole seconds, and a 500 ms grace period would
/// become a second. The kill endpoint takes any signal and the wait endpoint answers when the
/// container stops, so the grace is honoured as given.
async fn signal_then_kill<T: Transport>(t: &T, full_id: &str, stop_signal: Option<&str>, grace: Duration) -> Result<Signalled> {
    if !grace.is_zero() {
        let signal = stop_signal.filter(|s| !s.is_empty()).unwrap_or("SIGTERM");
        if !kill(t, full_id, signal).await? {
            return Ok(Signalled::AlreadyExited);
        }
        if wait_not_running(t, full_id, deadline_in(grace)).await? {
            return Ok(Signalled::Stopped);
        }
    }
    if !kill(t, full_id, "SIGKILL").await? && grace.is_zero() {
        return Ok(Signalled::AlreadyExited);
    }
    // The engine answers the kill before the container is down; the stop is done when it is.
    if !wait_not_running(t, full_id, deadline_in(t.timeout())).await? {
        return Err(Error::new(ErrorKind::Timeout, format!("container stop: still running {:?} after SIGKILL", t.timeout())));
    }
    Ok(Signalled::Stopped)
}

/// Sends `signal`; false when the container was not running (see [`says_not_running`]).
async fn kill<T: Transport>(t: &T, full_id: &str, signal: &str) -> Result<bool> {
    let answer = t.call(&api::kill_container(full_id, signal), deadline_in(t.timeout())).await?;
    if says_not_running(&answer) {
        return Ok(false);
    }
    success(answer, Subject::Container).map(|_| true)
}

/// Waits until `deadline` for the container to be down; false when it still runs then.
async fn wait_not_running<T: Transport>(t: &T, full_id: &str, deadline: Instant) -> Result<bool> {
    match t.call(&api::wait_container(full_id, "not-running"), deadline).await {
        Ok(answer) => success(answer, Subject::Container).map(|_| true),
        Err(e) if e.kind() == ErrorKind::Timeout => Ok(false),
        Err(e) => Err(e),
    }
}

/// Force-removes a container named `id` and its anonymous volumes, if there is one.
async fn remove_if_present<T: Transport>(t: &T, id: &str) -> Result<()> {
    let answer = t.call(&api::remove_container(id, true), deadline_in(t.timeout())).await?;
    match success(answer, Subject::Container) {
        Err(e) if e.kind() == ErrorKind::NoSuchContainer => Ok(()),
        other => other.map(|_| ()),
    }
}

fn create_body(req: &StartContainerRequest, port_key: Option<&str>) -> ContainerCreateBody {
    let env: Vec<String> = req.env_vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let resources = &req.resources;
    let mut host_config = HostConfig {
        memory: resources.memory_bytes,
        // Swap off: memory plus swap is the memory limit itself, so that the limit holds.
        memory_swap: resources.memory_bytes,
        nano_cpus: resources.cpus.map(|cpus| (cpus * 1e9).round() as i64),
        pids_limit: resources.pids_limit,
        shm_size: resources.shm_size_bytes,
        mounts: (!req.mounts.is_empty()).then(|| req.mounts.iter().map(engine_mount).collect()),
        privileged: req.privileged.then_some(true),
        ..Default::default()
    };
    let mut exposed = None;
    if let Some(key) = port_key {
        let binding = PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) };
        host_config.port_bindings = Some(HashMap::from([(key.to_owned(), Some(vec![binding]))]));
        exposed = Some(vec![key.to_owned()]);
    }
    let mut labels: HashMap<String, String> = req.labels.clone().into_iter().collect();
    labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
    ContainerCreateBody {
        image: Some(req.image_name.clone()),
        env: (!env.is_empty()).then_some(env),
        // None is left out (the image's entrypoint). An empty one is sent as [""], as the docker
        // CLI sends `--entrypoint ""`: "none" for Docker and Podman alike (Podman takes [] for
        // "the image's").
        entrypoint: req.entrypoint.as_ref().map(|e| if e.is_empty() { vec![String::new()] } else { e.clone() }),
        cmd: req.command.clone(),
        working_dir: req.working_dir.clone(),
        user: req.user.clone(),
        labels: Some(labels),
        exposed_ports: exposed,
        host_config: Some(host_config),
        ..Default::default()
    }
}

pub(crate) fn engine_mount(mount: &Mount) -> bollard::models::Mount {
    let (typ, source, tmpfs_options) = match &mount.kind {
        MountKind::Bind { source } => (MountType::BIND, Some(source.clone()), None),
        MountKind::Volume { name } => (MountType::VOLUME, Some(name.clone()), None),
        MountKind::Tmpfs { size_bytes } => {
            (MountType::TMPFS, None, Some(MountTmpfsOptions { size_bytes: *size_bytes, ..Default::default() }))
        }
    };
    bollard::models::Mount {
        target: Some(mount.target.clone()),
        source,
        typ: Some(typ),
        read_only: Some(mount.read_only),
        tmpfs_options,
        ..Default::default()
    }
}

/// What a start needs of the container's inspect: its image and the published ports.
#[derive(Deserialize)]
struct Started {
    #[serde(rename = "Image")]
    image: String,
    #[serde(rename = "NetworkSettings")]
    network_settings: Option<NetworkSettings>,
}

#[derive(Deserialize)]
struct NetworkSettings {
    #[serde(rename = "Ports")]
    ports: Option<HashMap<String, Option<Vec<PortBinding>>>>,
}

async fn inspect_created<T: Transport>(t: &T, container_id: &str) -> Result<Started> {
    let answer = t.call(&api::inspect_container(container_id), deadline_in(t.timeout())).await?;
    serde_json::from_slice(&success(answer, Subject::Container)?)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to a container inspect: {e}")))
}

fn published_host_port(info: &Started, key: &str) -> Option<String> {
    let ports = info.network_settings.as_ref()?.ports.as_ref()?;
    let bindings = ports.get(key)?.as_ref()?;
    bindings.iter().filter_map(|b| b.host_port.clone()).find(|p| !p.is_empty())
}
