//! The C ABI: the only `extern "C"` surface of the library.
//!
//! Conventions (after rustls-ffi and wasmtime's C API):
//! - every fallible function returns a [`GoferStatus`] (0 = OK) and writes its results through
//!   trailing out-parameters, only on success;
//! - the optional last argument `GoferError **err_out` receives, on failure only, an owned error
//!   object (no thread-local "last error": a Go goroutine may change OS thread between calls);
//! - every body runs inside [`guard`]: a panic becomes `GOFER_PANIC`, never an unwind across the
//!   boundary;
//! - NULL, invalid UTF-8 and out-of-range numbers are `GOFER_INVALID_ARGUMENT`, naming the
//!   argument.

// The exports take raw pointers from C and dereference them after checking for NULL; making
// them `unsafe fn` would change nothing for a C caller. What a caller must guarantee (live
// handles, valid buffers) is written in the header.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod attach;
mod engine;
mod error;
mod logs;
mod start;
mod strings;
mod task;

pub use attach::*;
pub use engine::*;
pub use error::*;
pub use logs::*;
pub use start::*;
pub use strings::*;
pub use task::*;

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, Result};

/// Runs an export's body: converts its result, or a panic, into a status and an error object.
pub(crate) fn guard(err_out: *mut *mut GoferError, body: impl FnOnce() -> Result<()>) -> GoferStatus {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return GoferStatus::GOFER_OK,
        Ok(Err(e)) => GoferError::from_error(&e),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            // Dropping the payload could itself panic; leaking one small box is the safe choice.
            std::mem::forget(payload);
            GoferError::panic(&what)
        }
    };
    let status = error.status;
    if !err_out.is_null() {
        // SAFETY: the caller passes either NULL or a pointer to a writable `GoferError *`.
        unsafe { *err_out = Box::into_raw(Box::new(error)) };
    }
    status
}

/// [`guard`] for a non-blocking call: `Ok(false)` ("nothing yet") is `GOFER_WOULD_BLOCK`, which
/// writes no error object.
pub(crate) fn guard_ready(err_out: *mut *mut GoferError, body: impl FnOnce() -> Result<bool>) -> GoferStatus {
    let mut ready = true;
    match guard(err_out, || {
        ready = body()?;
        Ok(())
    }) {
        GoferStatus::GOFER_OK if !ready => GoferStatus::GOFER_WOULD_BLOCK,
        status => status,
    }
}

/// Frees a handle made by `Box::into_raw`, NULL allowed; a panic in a destructor is contained.
pub(crate) fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: `ptr` came from Box::into_raw in this library and is freed once (caller's duty).
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(ptr) })));
    }
}

/// Writes `value` through an out-parameter that was checked non-NULL by [`out_param`].
pub(crate) fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: `out` was checked non-NULL; the caller guarantees it points to writable memory.
    unsafe { out.write(value) }
}

/// Fails with an invalid-argument error when an out-parameter is NULL.
pub(crate) fn out_param<T>(out: *mut T, name: &str) -> Result<*mut T> {
    if out.is_null() {
        Err(Error::invalid_argument(name, "is NULL"))
    } else {
        Ok(out)
    }
}

/// Borrows a handle, or fails when it is NULL.
pub(crate) fn handle<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: the caller passes NULL or a live handle obtained from this library.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::invalid_argument(name, "is NULL"))
}
