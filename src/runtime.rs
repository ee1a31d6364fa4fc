//! The private tokio runtime of the blocking face (C, Go, Python): it runs the periodic prune and
//! the bridges of attach sessions to engines that are not on a unix socket, and the tasks of the
//! readiness face (the `ready` module). Blocking calls themselves run on the caller's thread (see
//! `http::blocking`).
//!
//! Built lazily on first use, so that loading the library costs nothing. It is fork-aware: a
//! forked child has none of its parent's runtime threads, so a runtime built by another process
//! is abandoned (never dropped: dropping would wait for threads that do not exist in the child)
//! and the child gets a fresh one for the engines it creates. Handles created before the fork are
//! refused by [`check_same_process`], because their connections belong to the parent.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, Once};

use crate::error::{Error, ErrorKind, Result};

/// The runtime of this process, with the pid that built it.
static RUNTIME: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);

/// One worker thread: the work is I/O (the readiness face's log streams and waits, the prune's
/// requests, the bridges' copies) and decoding, a fraction of a core even for thousands of
/// streams; a second worker only added the cost of waking and stealing between the two.
const WORKER_THREADS: usize = 1;

/// The runtime for this process, built on first use (and again in a forked child).
pub fn handle() -> Result<&'static tokio::runtime::Runtime> {
    let pid = current_pid();
    // A panic while holding this lock cannot leave the Option half-written, so a poisoned lock
    // is still usable.
    let mut slot = RUNTIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, rt)) = *slot {
        if owner == pid {
            return Ok(rt);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("gofer-scheduler")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Internal, format!("cannot start the I/O runtime: {e}"))
                .with_source(e)
        })?;
    // Leaked on purpose: one per process lifetime (plus one per fork), and a forked child must
    // never run the parent's runtime destructor.
    let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// Refuses a blocking call where tokio forbids blocking: on a thread that is running an async
/// runtime, where waiting would stall that runtime's other tasks. Blocking threads of a runtime
/// (`spawn_blocking`) are fine. tokio has no public "may I block here?" query, so its own
/// refusal to `block_on` there, a panic raised before anything runs, is turned into the error.
pub fn check_may_block() -> Result<()> {
    let runtime = handle()?;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(async {}))) {
        Ok(()) => Ok(()),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if message.contains(NESTED_RUNTIME_PANIC) {
                Err(Error::new(
                    ErrorKind::InvalidState,
                    "a blocking call was made from inside an async runtime; use the async API instead",
                ))
            } else {
                std::panic::resume_unwind(payload)
            }
        }
    }
}

/// The start of tokio's message when `block_on` is called from inside a runtime.
const NESTED_RUNTIME_PANIC: &str = "Cannot start a runtime from within a runtime";

/// Fails when a handle created by process `owner` is used by another process (after `fork()`).
pub fn check_same_process(owner: u32) -> Result<()> {
    let pid = current_pid();
    if owner == pid {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidState,
            format!(
                "this handle was created by process {owner} and cannot be used after fork() in \
                 process {pid}; create a new engine in the child"
            ),
        ))
    }
}

/// This process's id, 0 until first asked for and again in a forked child.
static PID: AtomicU32 = AtomicU32::new(0);
static FORGET_PID_IN_CHILD: Once = Once::new();
/// Set when the fork handler could not be registered: the pid is then asked for every time.
static PID_CACHE_OFF: AtomicBool = AtomicBool::new(false);

extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

/// This process's id, without a system call once known. Every call on a handle compares it with
/// the handle's owner (the fork check), a log read among them, and `getpid(2)` each time was two
/// of a Python log read's five system calls. A `pthread_atfork` handler forgets it in a child:
/// `fork()` and everything built on it (Python's `os.fork`, `multiprocessing`) run the handler.
/// A child made by a raw `clone`/`vfork`/`_Fork` does not, and must exec (or exit) without
/// calling this library, as POSIX already asks of a child of a threaded process.
pub fn current_pid() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    // Registered before the first pid is cached, so that no fork can inherit a cached value.
    FORGET_PID_IN_CHILD.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic (async-signal-safe). It
        // fails only without memory (ENOMEM); the cache then stays off and every call asks.
        if unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) } != 0 {
            PID_CACHE_OFF.store(true, Ordering::Relaxed);
        }
    });
    let pid = std::process::id();
    if !PID_CACHE_OFF.load(Ordering::Relaxed) {
        PID.store(pid, Ordering::Relaxed);
    }
    pid
}
