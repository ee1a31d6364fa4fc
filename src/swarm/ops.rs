//! StartContainer, StopContainer, GetState and AttachContainer on a swarm (docs/contract.md,
//! "Swarm"), generic over the manager's transport and the face that reaches the nodes.

use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::nodes::Face;
use super::task::{fetch, observe, Node, Observed, Phase, Task};
use super::{api, spec, Swarm};
use crate::docker::errors::{success, Subject};
use crate::docker::{api as docker_api, inspect, AttachSession};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, Transport};
use crate::model::*;
use crate::validate;

/// The first pause between two looks at a task that is on its way; it doubles up to [`POLL_MAX`].
pub(crate) const POLL_MIN: Duration = Duration::from_millis(20);
/// The longest pause between two looks at a task (the swarm has no wait endpoint): how late a
/// wait may learn of an exit, at worst.
pub(crate) const POLL_MAX: Duration = Duration::from_millis(250);

/// A pause between looks at a task that grows from [`POLL_MIN`] to [`POLL_MAX`].
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff(POLL_MIN)
    }

    pub(crate) async fn pause<T: Transport>(&mut self, t: &T) -> Result<()> {
        t.pause(self.0).await?;
        self.0 = (self.0 * 2).min(POLL_MAX);
        Ok(())
    }
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "ID")]
    id: String,
}

/// Validate, replace the service of the same ID, create it, and wait until its task runs (or
/// has already ended): the swarm's reason when it cannot run it, the URL of a published port.
pub(crate) async fn start<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm, req: StartContainerRequest) -> Result<StartContainerResponse> {
    validate::start_request(&req)?;
    let auth = validate::registry_auth(req.registry_auth.as_ref())?;
    spec::check(&req)?;
    let name = spec::service_name(&req.id);
    remove_if_present(t, &name).await?;
    swarm.manager().cancelled().forget(&name);
    let auth = auth.map(|auth| docker_api::registry_auth(&req.image_name, auth)).transpose()?;
    let answer = t.call(&api::create_service(&spec::service(&req, &name), auth)?, deadline_in(t.timeout())).await?;
    let Created { id: service_id } = serde_json::from_slice(&success(answer, Subject::Create)?)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to a service create: {e}")))?;
    let started = match until_started(t, &service_id).await {
        Ok(started) => started,
        Err(e) => {
            // Nothing runs: the service goes, so that the swarm does not keep trying.
            let _ = remove_if_present(t, &service_id).await;
            return Err(e);
        }
    };
    let url = match req.networking {
        None => String::new(),
        Some(networking) => published_url(&started, networking.port)?,
    };
    // The image's ID is known to the node only: empty when its engine is not in the map (or
    // does not answer; the task runs all the same).
    let image_id = match (&started.node, started.task.as_ref().and_then(Task::container_id)) {
        (Some(node), Some(container)) if !swarm.nodes.is_empty() => match container_details(face, swarm, node, container).await {
            Ok(details) => details.image,
            Err(e) => {
                log::debug!("service {service_id}: no image ID from the task's node: {e}");
                String::new()
            }
        },
        _ => String::new(),
    };
    Ok(StartContainerResponse { url, container_id: service_id, image_id })
}

/// Waits until the service's task runs or has ended. A task the swarm refuses is its error; one
/// that stays in a state (pending for want of a node, say) longer than the request timeout is
/// a timeout with the swarm's reason.
async fn until_started<T: Transport>(t: &T, service_id: &str) -> Result<Observed> {
    let mut backoff = Backoff::new();
    let mut current = (String::new(), Instant::now());
    loop {
        let observed = observe(t, service_id, true).await?;
        if let Some(task) = &observed.task {
            match task.phase() {
                Phase::Refused(e) => return Err(e),
                Phase::Active { running: false } => {}
                _ => return Ok(observed),
            }
            let state = task.state_word().to_owned();
            if state != current.0 {
                current = (state, Instant::now());
            } else if current.1.elapsed() >= t.timeout() {
                let why = format!("service {service_id}: the swarm left its task {} for {:?}", task.waiting_for(), t.timeout());
                return Err(Error::new(ErrorKind::Timeout, why));
            }
        } else if current.1.elapsed() >= t.timeout() {
            return Err(Error::new(ErrorKind::Timeout, format!("service {service_id}: the swarm made no task in {:?}", t.timeout())));
        }
        backoff.pause(t).await?;
    }
}

/// `node address:published port` of the task's host-mode port.
fn published_url(started: &Observed, port: u16) -> Result<String> {
    let published = started.task.as_ref().and_then(|task| {
        let ports = task.status.as_ref()?.port_status.as_ref()?.ports.as_ref()?;
        ports.iter().find(|p| p.target_port == Some(i64::from(port))).and_then(|p| p.published_port)
    });
    match (published, started.node.as_ref().map(Node::addr).filter(|a| !a.is_empty())) {
        (Some(published), Some(addr)) => Ok(format!("{addr}:{published}")),
        _ => Err(Error::new(ErrorKind::Engine, format!("the swarm published no host port for {port}/tcp"))),
    }
}

/// Removes service `key` if there is one.
pub(crate) async fn remove_if_present<T: Transport>(t: &T, key: &str) -> Result<()> {
    let answer = t.call(&api::remove_service(key), deadline_in(t.timeout())).await?;
    match success(answer, Subject::Container) {
        Err(e) if e.kind() == ErrorKind::NoSuchContainer => Ok(()),
        other => other.map(|_| ()),
    }
}

/// What a node's engine says of a task's container beyond the swarm: the image, the OOM flag,
/// the start and finish times.
pub(crate) struct Details {
    image: String,
    oom_killed: bool,
    started_at: Option<SystemTime>,
    finished_at: Option<SystemTime>,
}

async fn container_details<F: Face>(face: &F, swarm: &Swarm, node: &Node, container_id: &str) -> Result<Details> {
    let engine = swarm.nodes.engine(face, node, container_id).await?;
    let answer = face.call(&engine, &docker_api::inspect_container(container_id)).await?;
    let body = success(answer, Subject::Container)?;
    #[derive(Deserialize)]
    struct Image {
        #[serde(rename = "Image")]
        image: String,
    }
    let Image { image } = serde_json::from_slice(&body)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to a container inspect: {e}")))?;
    let state = inspect::parse_state(&body)?;
    Ok(Details { image, oom_killed: state.oom_killed, started_at: state.started_at, finished_at: state.finished_at })
}

/// A service: its ID (what later calls are pinned to) and name.
pub(crate) struct Service {
    pub id: String,
    pub name: String,
}

pub(crate) async fn inspect_service<T: Transport>(t: &T, swarm: &Swarm, key: &str) -> Result<Service> {
    #[derive(Deserialize)]
    struct Inspected {
        #[serde(rename = "ID")]
        id: String,
        #[serde(rename = "Spec")]
        spec: Option<bollard::models::ServiceSpec>,
    }
    match fetch::<_, Inspected>(t, &api::inspect_service(key)).await {
        Ok(Inspected { id, spec }) => Ok(Service { id, name: spec.and_then(|s| s.name).unwrap_or_default() }),
        Err(e) => {
            if e.kind() == ErrorKind::NoSuchContainer {
                swarm.manager().cancelled().forget(key);
            }
            Err(e)
        }
    }
}

/// The task's state; a task that has ended on a node whose engine is known gets that engine's
/// OOM flag and times.
pub(crate) async fn state_of<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm, observed: &Observed) -> Result<GetStateResponse> {
    let Some(task) = &observed.task else {
        // Created, and not yet given a task.
        return Ok(GetStateResponse::new(ContainerState::Running, 0));
    };
    let cancelled = swarm.manager().cancelled().contains(&task.service_id);
    let mut state = task.state(cancelled, observed.node.as_ref())?;
    let ended = matches!(state.state, ContainerState::Exited | ContainerState::Cancelled);
    if let (true, Some(container)) = (ended, task.container_id()) {
        if let Some(details) = ended_details(t, face, swarm, observed, container).await {
            (state.oom_killed, state.started_at) = (details.oom_killed, details.started_at);
            state.finished_at = details.finished_at.or(state.finished_at);
        }
    }
    Ok(state)
}

/// Best effort: the swarm's own answer stands when the node is not in the map or does not
/// answer (it may be the very node that was lost).
async fn ended_details<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm, observed: &Observed, container: &str) -> Option<Details> {
    if swarm.nodes.is_empty() {
        return None;
    }
    let node = match &observed.node {
        Some(node) => node.clone(),
        None => fetch(t, &api::inspect_node(observed.task.as_ref()?.node_id.as_deref().filter(|id| !id.is_empty())?)).await.ok()?,
    };
    container_details(face, swarm, &node, container).await.ok()
}

pub(crate) async fn state<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm, req: GetStateRequest) -> Result<GetStateResponse> {
    validate::container_id("id", &req.id)?;
    let key = spec::service_name(&req.id);
    let observed = observe(t, &key, true).await.inspect_err(|e| forget_if_gone(swarm, &key, e))?;
    state_of(t, face, swarm, &observed).await
}

fn forget_if_gone(swarm: &Swarm, key: &str, e: &Error) {
    if e.kind() == ErrorKind::NoSuchContainer {
        swarm.manager().cancelled().forget(key);
    }
}

/// Stops the task on its node's engine, as a single engine stops a container (the swarm's own
/// stop counts whole seconds, and removes the task with its exit code): the stop signal, the
/// grace period to the millisecond, then SIGKILL. CANCELLED from the moment it is asked; once
/// the container is down, the call waits (at most the request timeout) for the swarm to say so.
pub(crate) async fn stop<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm, req: StopContainerRequest) -> Result<()> {
    validate::container_id("id", &req.id)?;
    let service = inspect_service(t, swarm, &spec::service_name(&req.id)).await?;
    let mut backoff = Backoff::new();
    let started = Instant::now();
    let (task, node) = loop {
        let observed = observe(t, &service.id, true).await?;
        match (observed.task, observed.node) {
            (Some(task), Some(node)) if matches!(task.phase(), Phase::Active { running: true }) => break (task, node),
            // Ended on its own (or never ran): not cancelled, nothing to stop.
            (Some(task), _) if !matches!(task.phase(), Phase::Active { .. }) => return Ok(()),
            _ if started.elapsed() >= t.timeout() => {
                return Err(Error::new(ErrorKind::Timeout, format!("service {}: its task did not start within {:?}", service.id, t.timeout())))
            }
            _ => backoff.pause(t).await?,
        }
    };
    let Some(container) = task.container_id().map(str::to_owned) else {
        return Err(Error::new(ErrorKind::Engine, format!("task {}: the swarm names no container of a running task", task.id)));
    };
    let engine = swarm.nodes.engine(face, &node, &task.id).await?;
    swarm.manager().cancelled().record(service.id.clone(), service.name.clone());
    let stopped = face.stop(&engine, StopContainerRequest { id: container.clone(), timeout: req.timeout }).await;
    // The node's engine knows whether its signal stopped the container, or found it exited.
    let by_us = engine.shared.cancelled().contains(&container);
    engine.shared.cancelled().forget_id(&container);
    if stopped.is_err() || !by_us {
        swarm.manager().cancelled().forget_id(&service.id);
    }
    stopped?;
    let deadline = Instant::now() + t.timeout();
    while Instant::now() < deadline {
        let observed = observe(t, &service.id, false).await?;
        if !observed.task.as_ref().is_some_and(|task| matches!(task.phase(), Phase::Active { .. })) {
            break;
        }
        backoff.pause(t).await?;
    }
    Ok(())
}

/// An exec on the node that runs the task, through that node's engine.
pub(crate) async fn attach<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm, req: AttachContainerRequest) -> Result<AttachSession> {
    validate::attach_request(&req)?;
    let observed = observe(t, &spec::service_name(&req.id), true).await?;
    let not_running = |why: &str| Error::new(ErrorKind::ContainerNotRunning, format!("cannot attach to {}: its task {why}", req.id));
    let Some(task) = observed.task else { return Err(not_running("does not exist yet")) };
    match task.phase() {
        Phase::Active { running: true } => {}
        Phase::Active { running: false } => return Err(not_running(&format!("is not running yet: {}", task.waiting_for()))),
        Phase::Refused(e) => return Err(e),
        _ => return Err(not_running("has ended")),
    }
    let node = observed.node.ok_or_else(|| not_running("is on no node"))?;
    if let Some(lost) = node.lost(&task.id) {
        return Err(lost);
    }
    let container = task.container_id().ok_or_else(|| not_running("has no container"))?.to_owned();
    let engine = swarm.nodes.engine(face, &node, &task.id).await?;
    face.attach(&engine, AttachContainerRequest { id: container, command: req.command }).await
}
