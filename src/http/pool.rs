//! Idle keep-alive connections of one client, kept for the next request.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long an unused connection is kept: an idle engine does not hold the daemon's forever.
const IDLE_FOR: Duration = Duration::from_secs(30);

pub(crate) struct Pool<C> {
    idle: Mutex<Vec<(C, Instant)>>,
    /// Connections kept at most; more concurrent callers make new ones, as without a pool.
    max: usize,
}

impl<C> Pool<C> {
    pub(crate) fn new(max: usize) -> Self {
        Pool { idle: Mutex::new(Vec::new()), max }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(C, Instant)>> {
        // The vector is consistent between operations, so a poisoned lock is still usable.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently returned connection, if one is fresh enough.
    pub(crate) fn take(&self) -> Option<C> {
        let mut idle = self.lock();
        idle.retain(|(_, since)| since.elapsed() < IDLE_FOR);
        idle.pop().map(|(conn, _)| conn)
    }

    /// Keeps `conn` for the next request (or drops it when the pool is full).
    pub(crate) fn give(&self, conn: C) {
        let mut idle = self.lock();
        if idle.len() < self.max {
            idle.push((conn, Instant::now()));
        }
    }
}
