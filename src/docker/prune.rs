//! Prune: the exited containers this library created, and nothing else (docs/contract.md).

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Deserialize;

use super::errors::{success, Subject};
use super::{api, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, Transport};

/// Starts the periodic prune on `runtime`; it ends when the engine is dropped.
pub(super) fn spawn(runtime: &tokio::runtime::Handle, shared: Weak<Shared>, interval: Duration) -> tokio::task::AbortHandle {
    // A failed round (daemon restarting, say) is retried at the next tick; there is no caller
    // to report it to.
    spawn_rounds(runtime, shared, interval, |shared| async move {
        let _ = prune_once(&shared.asynch, &shared).await;
    })
}

/// Runs `round` on `runtime` every `interval`, for as long as `owner` (an engine's state) lives.
pub(crate) fn spawn_rounds<S, F, R>(runtime: &tokio::runtime::Handle, owner: Weak<S>, interval: Duration, round: F) -> tokio::task::AbortHandle
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>) -> R + Send + 'static,
    R: Future<Output = ()> + Send,
{
    runtime
        .spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(owner) = owner.upgrade() else { return };
                round(owner).await;
            }
        })
        .abort_handle()
}

/// What prune reads of a listed container.
#[derive(Deserialize)]
struct Listed {
    #[serde(rename = "Id")]
    id: String,
}

/// Removes every exited container that carries the library's label; returns how many.
pub(crate) async fn prune_once<T: Transport>(t: &T, shared: &Shared) -> Result<usize> {
    let answer = t.call(&api::list_managed(true), deadline_in(t.timeout())).await?;
    let exited: Vec<Listed> = serde_json::from_slice(&success(answer, Subject::Engine)?)
        .map_err(|e| Error::new(ErrorKind::Engine, format!("unexpected answer to a container list: {e}")))?;
    let mut removed = 0;
    for Listed { id } in exited {
        let answer = t.call(&api::remove_container(&id, false), deadline_in(t.timeout())).await;
        if answer.is_ok_and(|a| a.is_success()) {
            shared.cancelled().forget_id(&id);
            removed += 1;
        }
    }
    Ok(removed)
}
