//! Log stream handles.

use std::ffi::c_char;

use super::{guard, handle, out_param, str_arg, write_out, GoferEngine, GoferError, GoferStatus};
use crate::blocking::LogReader;
use crate::error::Error;
use crate::model::GetLogsRequest;

/// A container's log stream (stdout and stderr merged, payload bytes only). Opaque.
/// One reader at a time; `gofer_logs_close` may be called from any thread. Freed with
/// `gofer_logs_free`.
pub struct GoferLogs {
    reader: LogReader,
}

/// Opens the logs of a container, from its start, following it until it exits. An unknown ID
/// fails here (GOFER_NO_SUCH_CONTAINER). On success `*logs_out` receives a new stream owned by
/// the caller, freed with `gofer_logs_free`.
#[no_mangle]
pub extern "C" fn gofer_engine_get_logs(
    engine: *const GoferEngine,
    id: *const c_char,
    logs_out: *mut *mut GoferLogs,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let id = str_arg(id, "id")?.to_owned();
        let logs_out = out_param(logs_out, "logs_out")?;
        let reader = engine.engine.get_logs(GetLogsRequest { id })?;
        write_out(logs_out, Box::into_raw(Box::new(GoferLogs { reader })));
        Ok(())
    })
}

/// Reads up to `capacity` bytes into `buf`, blocking until some are available. On success
/// `*read_out` is the number of bytes written, and 0 means the end of the logs (the container
/// exited and everything was read). A broken connection is an error (GOFER_CONNECTION), never a
/// 0. After `gofer_logs_close`, returns GOFER_INVALID_STATE. `capacity` must be > 0.
#[no_mangle]
pub extern "C" fn gofer_logs_read(
    logs: *const GoferLogs,
    buf: *mut u8,
    capacity: usize,
    read_out: *mut usize,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let logs = handle(logs, "logs")?;
        let read_out = out_param(read_out, "read_out")?;
        let buf = out_param(buf, "buf")?;
        if capacity == 0 {
            return Err(Error::invalid_argument("capacity", "must be greater than 0"));
        }
        if capacity > isize::MAX as usize {
            return Err(Error::invalid_argument("capacity", "is larger than any buffer"));
        }
        // SAFETY: non-NULL; the caller guarantees `capacity` writable bytes at `buf`.
        let buf = unsafe { std::slice::from_raw_parts_mut(buf, capacity) };
        let n = logs.reader.read(buf)?;
        write_out(read_out, n);
        Ok(())
    })
}

/// Closes the stream: a read blocked in another thread returns GOFER_INVALID_STATE, and so does
/// every later read. Thread-safe; accepts NULL. The handle must still be freed.
#[no_mangle]
pub extern "C" fn gofer_logs_close(logs: *const GoferLogs) {
    // SAFETY: NULL or a live handle (caller's duty).
    if let Some(logs) = unsafe { logs.as_ref() } {
        logs.reader.closer().close();
    }
}

/// Frees a log stream and its connection. Accepts NULL. No call on it may be running.
#[no_mangle]
pub extern "C" fn gofer_logs_free(logs: *mut GoferLogs) {
    super::free_handle(logs);
}
