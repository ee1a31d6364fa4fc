//! Ending a blocking stream from another thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::blocking::Conn;
use super::endpoint::Socket;

/// Ends a stream's waits from any thread: marks it closed and shuts its connection down,
/// which wakes a `read(2)` blocked on it.
#[derive(Default)]
pub struct Closer {
    closed: AtomicBool,
    /// The stream's current connection (it changes when a stream needs a new one).
    socket: Mutex<Option<Arc<Socket>>>,
}

impl Closer {
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(socket) = self.socket().as_ref() {
            socket.shutdown();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn socket(&self) -> MutexGuard<'_, Option<Arc<Socket>>> {
        // Holds a socket or nothing; a poisoned lock is still consistent.
        self.socket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the stream onto `conn`; shuts it down at once if the stream was closed meanwhile.
    pub(super) fn watch(&self, conn: &Conn) {
        let mut socket = self.socket();
        if self.is_closed() {
            conn.socket.shutdown();
        }
        *socket = Some(conn.socket.clone());
    }
}

