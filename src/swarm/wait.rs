//! WaitContainer, ListContainers and prune on a swarm (docs/contract.md, "Swarm").
//!
//! The swarm has no wait endpoint and no task events: a wait looks at the task, more and more
//! seldom up to [`super::ops::POLL_MAX`], until it has ended.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, UNIX_EPOCH};

use serde::Deserialize;

use super::nodes::Face;
use super::ops::{remove_if_present, state_of, Backoff};
use super::task::{fetch, newest, observe, Node, Observed, Phase, Task};
use super::{api, spec, Swarm};
use crate::docker::stamps::parse_stamp;
use crate::docker::wait::Outage;
use crate::error::{ErrorKind, Result};
use crate::http::Transport;
use crate::model::{ContainerState, ContainerSummary, GetStateResponse, WaitContainerRequest};
use crate::validate;

/// Waits until the service's task has ended: EXITED or CANCELLED, as GetState. The swarm's
/// reason when it could not run the task, and a lost node, end the wait with their error; a
/// manager that does not answer (a restart) is asked again for as long as the request timeout.
pub(crate) async fn wait<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm, req: WaitContainerRequest) -> Result<GetStateResponse> {
    validate::container_id("id", &req.id)?;
    // An unknown or ambiguous ID fails at once; later looks are pinned to the service's ID.
    let mut observed = Some(observe(t, &spec::service_name(&req.id), true).await?);
    let mut service_id = String::new();
    let mut outage = Outage::new(t.timeout());
    let mut backoff = Backoff::new();
    loop {
        let current = match observed.take() {
            Some(current) => Ok(current),
            None if service_id.is_empty() => Ok(observe(t, &spec::service_name(&req.id), true).await?),
            None => observe(t, &service_id, true).await,
        };
        match current {
            Ok(current) => {
                outage.over();
                if let Some(task) = &current.task {
                    service_id.clone_from(&task.service_id);
                }
                if let Some(state) = ended(t, face, swarm, &current).await? {
                    return Ok(state);
                }
            }
            Err(e) => outage.tolerate(e)?,
        }
        backoff.pause(t).await?;
    }
}

/// The final state once the task has ended; `None` while it has not.
async fn ended<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm, observed: &Observed) -> Result<Option<GetStateResponse>> {
    let state = state_of(t, face, swarm, observed).await?;
    Ok(matches!(state.state, ContainerState::Exited | ContainerState::Cancelled).then_some(state))
}

/// What the list reads of a service.
#[derive(Deserialize)]
struct Listed {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "CreatedAt", default)]
    created_at: Option<String>,
    #[serde(rename = "Spec", default)]
    spec: Option<ListedSpec>,
}

#[derive(Deserialize)]
struct ListedSpec {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The managed services, oldest first, each with its current task (`None` while it has none).
async fn managed<T: Transport>(t: &T) -> Result<Vec<(Listed, Option<Task>)>> {
    let mut services: Vec<Listed> = fetch(t, &api::list_managed_services()).await?;
    if services.is_empty() {
        return Ok(Vec::new());
    }
    services.sort_by_key(|s| s.created_at.as_deref().and_then(|c| parse_stamp(c.as_bytes())).unwrap_or(0));
    let ids: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
    let tasks: Vec<Task> = match fetch(t, &api::list_tasks(&ids)).await {
        Ok(tasks) => tasks,
        // A service removed while the list was made: its tasks are asked for service by service.
        Err(e) if e.kind() == ErrorKind::NoSuchContainer => managed_tasks_each(t, &ids).await?,
        Err(e) => return Err(e),
    };
    let mut by_service: HashMap<String, Vec<Task>> = HashMap::new();
    for task in tasks {
        by_service.entry(task.service_id.clone()).or_default().push(task);
    }
    Ok(services
        .into_iter()
        .map(|s| {
            let task = by_service.remove(&s.id).and_then(newest);
            (s, task)
        })
        .collect())
}

/// The tasks of each service that still exists.
async fn managed_tasks_each<T: Transport>(t: &T, ids: &[&str]) -> Result<Vec<Task>> {
    let mut all = Vec::new();
    for id in ids {
        match fetch::<_, Vec<Task>>(t, &api::list_tasks(&[id])).await {
            Ok(tasks) => all.extend(tasks),
            Err(e) if e.kind() == ErrorKind::NoSuchContainer => {}
            Err(e) => return Err(e),
        }
    }
    Ok(all)
}

/// The services this library started (its label), oldest first, each named by the ID it was
/// started with, with its task's state (UNKNOWN for one the swarm could not run or whose node
/// is lost: GetState tells why).
pub(crate) async fn list<T: Transport, F: Face>(t: &T, face: &F, swarm: &Swarm) -> Result<Vec<ContainerSummary>> {
    let services = managed(t).await?;
    let nodes: Vec<Node> = if services.is_empty() { Vec::new() } else { fetch(t, &api::list_nodes()).await? };
    let mut out = Vec::with_capacity(services.len());
    for (service, task) in services {
        let node = task.as_ref().and_then(|task| nodes.iter().find(|n| Some(&n.id) == task.node_id.as_ref()).cloned());
        let observed = Observed { task, node };
        let state = state_of(t, face, swarm, &observed).await.unwrap_or_else(|_| GetStateResponse::new(ContainerState::Unknown, 0));
        let spec = service.spec.unwrap_or(ListedSpec { name: String::new(), labels: None });
        let labels = spec.labels.unwrap_or_default();
        let created_at = service
            .created_at
            .as_deref()
            .and_then(|c| u64::try_from(parse_stamp(c.as_bytes())?).ok())
            .and_then(|n| UNIX_EPOCH.checked_add(Duration::from_nanos(n)));
        out.push(ContainerSummary {
            name: labels.get(spec::ID_LABEL).cloned().unwrap_or(spec.name),
            id: service.id,
            state,
            created_at,
            labels,
        });
    }
    Ok(out)
}

/// Removes every managed service whose task has ended (or that the swarm could not run);
/// returns how many. Never a service without the library's label, nor one still running.
pub(crate) async fn prune_once<T: Transport>(t: &T, swarm: &Swarm) -> Result<usize> {
    let mut removed = 0;
    for (service, task) in managed(t).await? {
        let finished = task.is_some_and(|task| !matches!(task.phase(), Phase::Active { .. } | Phase::Unknown));
        if finished && remove_if_present(t, &service.id).await.is_ok() {
            swarm.manager().cancelled().forget_id(&service.id);
            removed += 1;
        }
    }
    Ok(removed)
}
