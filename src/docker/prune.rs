//! The optional periodic prune: exited containers this library created, and nothing else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;

use super::cancelled::Cancelled;
use super::errors::Subject;
use super::{with_timeout, MANAGED_LABEL};
use crate::error::Result;

/// Starts the prune loop on the current runtime; the engine aborts it when dropped.
pub(super) fn spawn(
    docker: Docker,
    interval: Duration,
    timeout: Duration,
    cancelled: Arc<Mutex<Cancelled>>,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // A failed round (daemon restarting, say) is retried at the next tick; there is no
            // caller to report it to.
            let _ = prune_once(&docker, timeout, &cancelled).await;
        }
    })
    .abort_handle()
}

/// Removes every exited container that carries [`MANAGED_LABEL`]; returns how many.
pub(crate) async fn prune_once(
    docker: &Docker,
    timeout: Duration,
    cancelled: &Mutex<Cancelled>,
) -> Result<usize> {
    let filters = HashMap::from([
        ("status".to_owned(), vec!["exited".to_owned()]),
        ("label".to_owned(), vec![format!("{MANAGED_LABEL}=true")]),
    ]);
    let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    let exited = with_timeout(timeout, "container list", docker.list_containers(Some(options)), Subject::Engine).await?;
    let mut removed = 0;
    for id in exited.into_iter().filter_map(|c| c.id) {
        let options = RemoveContainerOptions { v: true, ..Default::default() };
        if with_timeout(timeout, "container remove", docker.remove_container(&id, Some(options)), Subject::Container)
            .await
            .is_ok()
        {
            cancelled.lock().unwrap_or_else(|p| p.into_inner()).forget_id(&id);
            removed += 1;
        }
    }
    Ok(removed)
}
