//! Log stream handles: read on the caller's thread, or (opened non-blocking) taken from what a
//! runtime task has read, with a descriptor to poll.

use std::ffi::c_char;
use std::os::fd::RawFd;

use super::{guard, guard_ready, handle, out_param, str_arg, write_out, GoferEngine, GoferError, GoferStatus};
use crate::blocking::{BlockingEngine, LogReader};
use crate::error::{Error, ErrorKind};
use crate::model::{GetLogsRequest, LogSource};
use crate::ready::ReadyLogs;

/// A container's log stream (stdout and stderr merged, payload bytes only). Opaque.
/// One reader at a time; `gofer_logs_close` may be called from any thread. Freed with
/// `gofer_logs_free`.
pub struct GoferLogs {
    reader: Reader,
}

/// How a stream is read: on the caller's thread, or from a runtime task's buffer.
enum Reader {
    Blocking(LogReader),
    Ready(ReadyLogs),
}

impl GoferLogs {
    fn read(&self, buf: &mut [u8]) -> crate::Result<usize> {
        match &self.reader {
            Reader::Blocking(reader) => reader.read(buf),
            Reader::Ready(ready) => ready.read(buf).map(|(n, _)| n),
        }
    }

    fn read_frame(&self, buf: &mut [u8]) -> crate::Result<(usize, LogSource)> {
        match &self.reader {
            Reader::Blocking(reader) => reader.read_frame(buf),
            Reader::Ready(ready) => ready.read(buf),
        }
    }

    fn ready(&self) -> crate::Result<&ReadyLogs> {
        match &self.reader {
            Reader::Ready(ready) => Ok(ready),
            Reader::Blocking(_) => Err(Error::new(
                ErrorKind::InvalidState,
                "this log stream reads blocking; open it with gofer_engine_get_logs_nonblocking",
            )),
        }
    }
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
    open_logs(engine, id, logs_out, err_out, |engine, req| Ok(Reader::Blocking(engine.get_logs(req)?)))
}

/// What both openings share; `open` says how the stream will be read.
fn open_logs(
    engine: *const GoferEngine,
    id: *const c_char,
    logs_out: *mut *mut GoferLogs,
    err_out: *mut *mut GoferError,
    open: impl FnOnce(&BlockingEngine, GetLogsRequest) -> crate::error::Result<Reader>,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let id = str_arg(id, "id")?.to_owned();
        let logs_out = out_param(logs_out, "logs_out")?;
        let reader = open(&engine.engine, GetLogsRequest { id })?;
        write_out(logs_out, Box::into_raw(Box::new(GoferLogs { reader })));
        Ok(())
    })
}

/// Opens the logs of a container for non-blocking reads (`gofer_logs_try_read`, with
/// `gofer_logs_fd` to poll): a task of the library's runtime reads them, at most 256 KiB ahead of
/// the caller, so no thread of the caller waits. Returns at once: the opening goes on in the
/// background, and its error (GOFER_NO_SUCH_CONTAINER for an unknown ID) comes from
/// `gofer_logs_try_open` or the first read. The blocking reads work on such a stream too. On
/// success `*logs_out` receives a new stream owned by the caller, freed with `gofer_logs_free`.
#[no_mangle]
pub extern "C" fn gofer_engine_get_logs_nonblocking(
    engine: *const GoferEngine,
    id: *const c_char,
    logs_out: *mut *mut GoferLogs,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    open_logs(engine, id, logs_out, err_out, |engine, req| Ok(Reader::Ready(engine.get_logs_ready(req)?)))
}

/// The descriptor of a non-blocking stream: readable when `gofer_logs_try_read` (or
/// `gofer_logs_try_open`) is worth calling again. Owned by the stream: poll it, never read or
/// close it. -1 for NULL or a stream opened with `gofer_engine_get_logs`.
#[no_mangle]
pub extern "C" fn gofer_logs_fd(logs: *const GoferLogs) -> RawFd {
    // SAFETY: NULL or a live handle (caller's duty).
    match unsafe { logs.as_ref() }.map(|logs| &logs.reader) {
        Some(Reader::Ready(ready)) => ready.raw_fd(),
        _ => -1,
    }
}

/// Whether a non-blocking stream is open: GOFER_OK once the engine has answered the opening,
/// GOFER_WOULD_BLOCK before (poll `gofer_logs_fd`), else the opening's error. Optional: reads
/// report the same error.
#[no_mangle]
pub extern "C" fn gofer_logs_try_open(logs: *const GoferLogs, err_out: *mut *mut GoferError) -> GoferStatus {
    guard_ready(err_out, || handle(logs, "logs")?.ready()?.try_open())
}

/// Takes up to `capacity` bytes of a non-blocking stream without waiting: GOFER_OK with
/// `*read_out` > 0 bytes, all from the stream `*stream_out` names (`stream_out` may be NULL),
/// or `*read_out` = 0 at the end of the logs; GOFER_WOULD_BLOCK when nothing is there yet
/// (`gofer_logs_fd` becomes readable when something is); else the error, after every byte that
/// came before it (the opening's error included). A stream opened with `gofer_engine_get_logs`
/// is GOFER_INVALID_STATE. `capacity` must be > 0.
#[no_mangle]
pub extern "C" fn gofer_logs_try_read(
    logs: *const GoferLogs,
    buf: *mut u8,
    capacity: usize,
    read_out: *mut usize,
    stream_out: *mut GoferLogStream,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard_ready(err_out, || {
        let ready = handle(logs, "logs")?.ready()?;
        let read_out = out_param(read_out, "read_out")?;
        let buf = caller_buffer(buf, capacity)?;
        let Some((n, source)) = ready.try_read(buf)? else { return Ok(false) };
        write_out(read_out, n);
        if !stream_out.is_null() {
            write_out(stream_out, source.into());
        }
        Ok(true)
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
        let n = logs.read(buf)?;
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

impl From<LogSource> for GoferLogStream {
    fn from(source: LogSource) -> Self {
        match source {
            LogSource::Stdout => GoferLogStream::GOFER_STDOUT,
            LogSource::Stderr => GoferLogStream::GOFER_STDERR,
        }
    }
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
        let (n, source) = logs.read_frame(buf)?;
        write_out(read_out, n);
        write_out(stream_out, source.into());
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
    match unsafe { logs.as_ref() }.map(|logs| &logs.reader) {
        Some(Reader::Blocking(reader)) => reader.closer().close(),
        Some(Reader::Ready(ready)) => ready.close(),
        None => {}
    }
}

/// Frees a log stream and its connection. Accepts NULL. No call on it may be running.
#[no_mangle]
pub extern "C" fn gofer_logs_free(logs: *mut GoferLogs) {
    super::free_handle(logs);
}
