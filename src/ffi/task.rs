//! What a CI runner needs beyond the seed's calls, through the C ABI: the whole state of a
//! container, a wait for its exit that another thread can end (or that no thread blocks on),
//! and the list of the containers the library manages.

use std::ffi::{c_char, CString};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{guard, guard_ready, handle, out_param, str_arg, write_out, GoferContainerState, GoferEngine, GoferError, GoferStatus};
use crate::blocking::{BlockingEngine, Waiter};
use crate::error::{Error, ErrorKind};
use crate::ready::ReadyWait;
use crate::model::*;

/// A container's state: GetState's, with the OOM flag and the times. Plain values, no pointers.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GoferStateInfo {
    pub state: GoferContainerState,
    /// The exit code, whole; 0 until the container has exited.
    pub exit_code: i64,
    /// The kernel killed the process for lack of memory (the engine's own flag).
    pub oom_killed: bool,
    /// When the container started, in nanoseconds since the Unix epoch; 0 if it has not.
    pub started_at_unix_ns: i64,
    /// When it stopped, in nanoseconds since the Unix epoch; 0 while it has not.
    pub finished_at_unix_ns: i64,
}

/// Nanoseconds since the epoch; 0 for none (or a time C cannot hold).
fn unix_ns(time: Option<SystemTime>) -> i64 {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).and_then(|d| i64::try_from(d.as_nanos()).ok()).unwrap_or(0)
}

impl From<GetStateResponse> for GoferStateInfo {
    fn from(s: GetStateResponse) -> Self {
        GoferStateInfo {
            state: s.state.into(),
            exit_code: s.exit_code,
            oom_killed: s.oom_killed,
            started_at_unix_ns: unix_ns(s.started_at),
            finished_at_unix_ns: unix_ns(s.finished_at),
        }
    }
}

/// The state of a container with its OOM flag and times (GetState's, whole). On success writes
/// `*info_out`.
#[no_mangle]
pub extern "C" fn gofer_engine_get_state_info(
    engine: *const GoferEngine,
    id: *const c_char,
    info_out: *mut GoferStateInfo,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let id = str_arg(id, "id")?.to_owned();
        let info_out = out_param(info_out, "info_out")?;
        let response = engine.engine.get_state(GetStateRequest { id })?;
        write_out(info_out, response.into());
        Ok(())
    })
}

/// A wait for one container's exit. Opaque. `gofer_wait_result` blocks on it; `gofer_wait_close`,
/// from any thread, ends that wait. Freed with `gofer_wait_free`. It outlives its engine.
pub struct GoferWait {
    waiter: Wait,
}

/// A wait made on the caller's thread, or by a runtime task (non-blocking).
enum Wait {
    Blocking(Waiter),
    Ready(ReadyWait),
}

/// Prepares a wait for the exit of container `id` (nothing is asked of the engine yet). On
/// success `*wait_out` receives a handle owned by the caller, freed with `gofer_wait_free`.
#[no_mangle]
pub extern "C" fn gofer_engine_wait_container(
    engine: *const GoferEngine,
    id: *const c_char,
    wait_out: *mut *mut GoferWait,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    new_wait(engine, id, wait_out, err_out, |engine, req| {
        crate::validate::container_id("id", &req.id)?;
        Ok(Wait::Blocking(engine.waiter(req)))
    })
}

/// What both waits share; `start` says how the answer will be waited for.
fn new_wait(
    engine: *const GoferEngine,
    id: *const c_char,
    wait_out: *mut *mut GoferWait,
    err_out: *mut *mut GoferError,
    start: impl FnOnce(&BlockingEngine, WaitContainerRequest) -> crate::error::Result<Wait>,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let id = str_arg(id, "id")?.to_owned();
        let wait_out = out_param(wait_out, "wait_out")?;
        let waiter = start(&engine.engine, WaitContainerRequest { id })?;
        write_out(wait_out, Box::into_raw(Box::new(GoferWait { waiter })));
        Ok(())
    })
}

/// Starts a wait for the exit of container `id` that no thread of the caller blocks on: a task
/// of the library's runtime waits, and `gofer_wait_try_result` asks for its answer, with
/// `gofer_wait_fd` to poll. Returns at once; an unknown ID is reported by the result. On success
/// `*wait_out` receives a handle owned by the caller, freed with `gofer_wait_free`.
#[no_mangle]
pub extern "C" fn gofer_engine_wait_container_nonblocking(
    engine: *const GoferEngine,
    id: *const c_char,
    wait_out: *mut *mut GoferWait,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    new_wait(engine, id, wait_out, err_out, |engine, req| Ok(Wait::Ready(engine.wait_ready(req)?)))
}

/// The descriptor of a non-blocking wait: readable once `gofer_wait_try_result` has its answer
/// (and from then on). Owned by the wait: poll it, never read or close it. -1 for NULL or a
/// wait made with `gofer_engine_wait_container`.
#[no_mangle]
pub extern "C" fn gofer_wait_fd(wait: *const GoferWait) -> std::os::fd::RawFd {
    // SAFETY: NULL or a live handle (caller's duty).
    match unsafe { wait.as_ref() }.map(|w| &w.waiter) {
        Some(Wait::Ready(ready)) => ready.raw_fd(),
        _ => -1,
    }
}

/// The answer of a non-blocking wait without waiting: GOFER_OK with the final state in
/// `*info_out` (as `gofer_wait_result`), GOFER_WOULD_BLOCK while the container runs, else the
/// wait's error (GOFER_INVALID_STATE after `gofer_wait_close`). A wait made with
/// `gofer_engine_wait_container` is GOFER_INVALID_STATE.
#[no_mangle]
pub extern "C" fn gofer_wait_try_result(wait: *const GoferWait, info_out: *mut GoferStateInfo, err_out: *mut *mut GoferError) -> GoferStatus {
    guard_ready(err_out, || {
        let Wait::Ready(ready) = &handle(wait, "wait")?.waiter else {
            return Err(Error::new(ErrorKind::InvalidState, "this wait blocks; make it with gofer_engine_wait_container_nonblocking"));
        };
        let info_out = out_param(info_out, "info_out")?;
        let Some(response) = ready.try_result()? else { return Ok(false) };
        write_out(info_out, response.into());
        Ok(true)
    })
}

/// Blocks until the container has exited, then writes its final state to `*info_out`: EXITED or
/// CANCELLED, the exit code, the OOM flag and the times. A container created and not yet
/// started is waited for until it has run. A daemon restart meanwhile does not end the wait
/// (it is asked again for as long as the request timeout). An unknown ID is
/// GOFER_NO_SUCH_CONTAINER; after `gofer_wait_close`, GOFER_INVALID_STATE.
#[no_mangle]
pub extern "C" fn gofer_wait_result(wait: *const GoferWait, info_out: *mut GoferStateInfo, err_out: *mut *mut GoferError) -> GoferStatus {
    guard(err_out, || {
        let wait = handle(wait, "wait")?;
        let info_out = out_param(info_out, "info_out")?;
        let response = match &wait.waiter {
            Wait::Blocking(waiter) => waiter.wait()?,
            Wait::Ready(ready) => ready.result()?,
        };
        write_out(info_out, response.into());
        Ok(())
    })
}

/// Ends the wait: a `gofer_wait_result` blocked in another thread returns GOFER_INVALID_STATE,
/// and so does every later one. Thread-safe; accepts NULL. The handle must still be freed.
#[no_mangle]
pub extern "C" fn gofer_wait_close(wait: *const GoferWait) {
    // SAFETY: NULL or a live handle (caller's duty).
    match unsafe { wait.as_ref() }.map(|w| &w.waiter) {
        Some(Wait::Blocking(waiter)) => waiter.close(),
        Some(Wait::Ready(ready)) => ready.close(),
        None => {}
    }
}

/// Frees a wait. Accepts NULL. No call on it may be running.
#[no_mangle]
pub extern "C" fn gofer_wait_free(wait: *mut GoferWait) {
    super::free_handle(wait);
}

/// One container of a list, as `gofer_container_list_get` gives it. Its pointers are borrowed
/// from the list: valid until `gofer_container_list_free`.
#[repr(C)]
pub struct GoferContainerInfo {
    /// The container's name (the ID it was started with).
    pub name: *const c_char,
    /// Its full ID.
    pub id: *const c_char,
    pub state: GoferStateInfo,
    /// When it was created, in nanoseconds since the Unix epoch (0 if unknown).
    pub created_at_unix_ns: i64,
    /// `label_count` label keys and values, the library's own among them.
    pub label_keys: *const *const c_char,
    pub label_values: *const *const c_char,
    pub label_count: usize,
}

/// The containers this library manages. Opaque; freed with `gofer_container_list_free`.
pub struct GoferContainerList {
    items: Vec<ListedContainer>,
}

struct ListedContainer {
    name: CString,
    id: CString,
    state: GoferStateInfo,
    created_at_unix_ns: i64,
    _labels: Vec<CString>,
    label_keys: Vec<*const c_char>,
    label_values: Vec<*const c_char>,
}

fn c_string(text: String) -> crate::Result<CString> {
    CString::new(text).map_err(|_| Error::new(crate::ErrorKind::Engine, "the engine gave a name or label holding NUL"))
}

impl ListedContainer {
    fn new(c: ContainerSummary) -> crate::Result<Self> {
        let mut labels = Vec::with_capacity(c.labels.len() * 2);
        for (key, value) in c.labels {
            labels.push(c_string(key)?);
            labels.push(c_string(value)?);
        }
        // The CStrings' heap buffers do not move when the vector holding them does.
        let label_keys = labels.iter().step_by(2).map(|k| k.as_ptr()).collect();
        let label_values = labels.iter().skip(1).step_by(2).map(|v| v.as_ptr()).collect();
        Ok(ListedContainer {
            name: c_string(c.name)?,
            id: c_string(c.id)?,
            state: c.state.into(),
            created_at_unix_ns: unix_ns(c.created_at),
            _labels: labels,
            label_keys,
            label_values,
        })
    }
}

/// The containers this library manages (its label), oldest first, with their states: what a
/// runner restarted mid-job follows or cleans up. On success `*list_out` receives a list owned
/// by the caller, freed with `gofer_container_list_free`.
#[no_mangle]
pub extern "C" fn gofer_engine_list_containers(
    engine: *const GoferEngine,
    list_out: *mut *mut GoferContainerList,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let list_out = out_param(list_out, "list_out")?;
        let items = engine.engine.list_containers()?.into_iter().map(ListedContainer::new).collect::<crate::Result<_>>()?;
        write_out(list_out, Box::into_raw(Box::new(GoferContainerList { items })));
        Ok(())
    })
}

/// How many containers `list` holds; 0 when `list` is NULL.
#[no_mangle]
pub extern "C" fn gofer_container_list_len(list: *const GoferContainerList) -> usize {
    // SAFETY: NULL or a live list (caller's duty).
    unsafe { list.as_ref() }.map_or(0, |l| l.items.len())
}

/// Writes container `index` of `list` to `*info_out` (its pointers borrowed from the list).
/// An index past the end is GOFER_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn gofer_container_list_get(
    list: *const GoferContainerList,
    index: usize,
    info_out: *mut GoferContainerInfo,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let list = handle(list, "list")?;
        let info_out = out_param(info_out, "info_out")?;
        let item = list
            .items
            .get(index)
            .ok_or_else(|| Error::invalid_argument("index", format!("{index} is past the list's {} containers", list.items.len())))?;
        write_out(
            info_out,
            GoferContainerInfo {
                name: item.name.as_ptr(),
                id: item.id.as_ptr(),
                state: item.state,
                created_at_unix_ns: item.created_at_unix_ns,
                label_keys: item.label_keys.as_ptr(),
                label_values: item.label_values.as_ptr(),
                label_count: item.label_keys.len(),
            },
        );
        Ok(())
    })
}

/// Frees a list. Accepts NULL.
#[no_mangle]
pub extern "C" fn gofer_container_list_free(list: *mut GoferContainerList) {
    super::free_handle(list);
}
