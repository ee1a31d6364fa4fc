//! Prune: the exited containers this library created, and nothing else (docs/contract.md).

use std::sync::Weak;
use std::time::Duration;

use serde::Deserialize;

use super::errors::{success, Subject};
use super::{api, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{deadline_in, Transport};

/// Starts the periodic prune on `runtime`; it ends when the engine is dropped.
pub(super) fn spawn(runtime: &tokio::runtime::Handle, shared: Weak<Shared>, interval: Duration) -> tokio::task::AbortHandle {
    runtime
        .spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(shared) = shared.upgrade() else { return };
                // A failed round (daemon restarting, say) is retried at the next tick; there is
                // no caller to report it to.
                let _ = prune_once(&shared.asynch, &shared).await;
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
