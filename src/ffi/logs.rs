//! Log stream handles.

use std::ffi::c_char;

use super::{guard, handle, out_param, str_arg, write_out, GoferEngine, GoferError, GoferStatus};
use crate::blocking::LogReader;
use crate::error::Error;
use crate::model::{GetLogsRequest, LogSource};

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
        let buf = caller_buffer(buf, capacity)?;
        let n = logs.reader.read(buf)?;
        write_out(read_out, n);
        Ok(())
    })
}

/// Which stream a frame read by `gofer_logs_read_frame` came from.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoferLogStream {
    GOFER_STDOUT = 1,
    GOFER_STDERR = 2,
}

/// Reads the next frame of the log: like `gofer_logs_read`, but the bytes written are all from
/// one of the process's streams, which `*stream_out` receives. Frames of stdout and stderr come
/// in the engine's order. On success `*read_out` is the number of bytes, 0 at the end of the
/// logs. Frames and plain reads may be mixed on one stream.
#[no_mangle]
pub extern "C" fn gofer_logs_read_frame(
    logs: *const GoferLogs,
    buf: *mut u8,
    capacity: usize,
    read_out: *mut usize,
    stream_out: *mut GoferLogStream,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let logs = handle(logs, "logs")?;
        let read_out = out_param(read_out, "read_out")?;
        let stream_out = out_param(stream_out, "stream_out")?;
        let buf = caller_buffer(buf, capacity)?;
        let (n, source) = logs.reader.read_frame(buf)?;
        write_out(read_out, n);
        write_out(stream_out, match source {
            LogSource::Stdout => GoferLogStream::GOFER_STDOUT,
            LogSource::Stderr => GoferLogStream::GOFER_STDERR,
        });
        Ok(())
    })
}

/// The caller's buffer of `capacity` bytes, checked.
fn caller_buffer<'a>(buf: *mut u8, capacity: usize) -> crate::Result<&'a mut [u8]> {
    let buf = out_param(buf, "buf")?;
    if capacity == 0 {
        return Err(Error::invalid_argument("capacity", "must be greater than 0"));
    }
    if capacity > isize::MAX as usize {
        return Err(Error::invalid_argument("capacity", "is larger than any buffer"));
    }
    // SAFETY: non-NULL; the caller guarantees `capacity` writable bytes at `buf`.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf, capacity) })
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
