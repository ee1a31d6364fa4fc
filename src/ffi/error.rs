//! Status codes and owned error objects.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use strum::IntoEnumIterator;

use crate::error::{Error, ErrorKind};

/// The result of every fallible call. 0 is success; the three sentinels of Gofer's `scheduler`
/// package come first. The values are contiguous from 0.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::EnumIter, strum::IntoStaticStr)]
pub enum GoferStatus {
    GOFER_OK = 0,
    /// The ID names no container ("scheduler: entity not found").
    GOFER_NO_SUCH_CONTAINER = 1,
    /// The image could not be obtained ("scheduler: docker image not found").
    GOFER_NO_SUCH_IMAGE = 2,
    /// The ID is a prefix of several containers ("scheduler: more than one container was found
    /// for the given container name").
    GOFER_AMBIGUOUS_CONTAINER_NAME = 3,
    /// NULL, invalid UTF-8, a bad name or an out-of-range number; nothing was sent to the engine.
    GOFER_INVALID_ARGUMENT = 4,
    /// The engine cannot be reached, or the connection broke.
    GOFER_CONNECTION = 5,
    /// The engine did not answer within the request timeout.
    GOFER_TIMEOUT = 6,
    /// The container is not running (attach).
    GOFER_CONTAINER_NOT_RUNNING = 7,
    /// Any other error answered by the engine; the message has its words.
    GOFER_ENGINE = 8,
    /// The handle cannot be used here: closed stream, engine from before fork(), call from
    /// inside an async runtime.
    GOFER_INVALID_STATE = 9,
    /// A bug in the library.
    GOFER_INTERNAL = 10,
    /// A panic was caught at the boundary (a bug in the library); the process is intact.
    GOFER_PANIC = 11,
    /// Not an error: a non-blocking call has nothing to give yet (as EAGAIN). Call it again
    /// once the handle's descriptor is readable. No error object is written.
    GOFER_WOULD_BLOCK = 12,
}

impl GoferStatus {
    /// The one table from error kinds to statuses; a new kind does not compile without its row.
    pub(crate) fn of(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NoSuchContainer => GoferStatus::GOFER_NO_SUCH_CONTAINER,
            ErrorKind::NoSuchImage => GoferStatus::GOFER_NO_SUCH_IMAGE,
            ErrorKind::AmbiguousContainerName => GoferStatus::GOFER_AMBIGUOUS_CONTAINER_NAME,
            ErrorKind::InvalidArgument => GoferStatus::GOFER_INVALID_ARGUMENT,
            ErrorKind::Connection => GoferStatus::GOFER_CONNECTION,
            ErrorKind::Timeout => GoferStatus::GOFER_TIMEOUT,
            ErrorKind::ContainerNotRunning => GoferStatus::GOFER_CONTAINER_NOT_RUNNING,
            ErrorKind::Engine => GoferStatus::GOFER_ENGINE,
            ErrorKind::InvalidState => GoferStatus::GOFER_INVALID_STATE,
            ErrorKind::Internal => GoferStatus::GOFER_INTERNAL,
        }
    }

    /// The status whose value is `value`.
    pub(crate) fn from_value(value: i32) -> Option<Self> {
        GoferStatus::iter().find(|s| *s as i32 == value)
    }

    /// The kind's text that messages of this status start with; "" for `GOFER_OK`. A caught
    /// panic reads as an internal error, the kind no other status has.
    fn description(self) -> &'static str {
        if matches!(self, GoferStatus::GOFER_OK | GoferStatus::GOFER_WOULD_BLOCK) {
            return "";
        }
        ErrorKind::iter().find(|k| GoferStatus::of(*k) == self).unwrap_or(ErrorKind::Internal).description()
    }
}

/// NUL-terminated copies of static texts, made once: what C gets for a name or a description.
pub(crate) fn static_c_str(table: &'static OnceLock<Vec<CString>>, index: usize, make: impl FnOnce() -> Vec<String>) -> *const c_char {
    let texts = table.get_or_init(|| make().into_iter().map(c_message).collect());
    texts.get(index).map_or(c"".as_ptr(), |t| t.as_ptr())
}

/// An error: status, message, and the engine's HTTP status when it answered. Opaque; owned by
/// the caller once returned through `err_out`, freed with `gofer_error_free`.
pub struct GoferError {
    pub(crate) status: GoferStatus,
    message: CString,
    http_status: u16,
}

impl GoferError {
    pub(crate) fn from_error(e: &Error) -> Self {
        GoferError { status: GoferStatus::of(e.kind()), message: c_message(e.to_string()), http_status: e.http_status().unwrap_or(0) }
    }

    pub(crate) fn panic(what: &str) -> Self {
        GoferError {
            status: GoferStatus::GOFER_PANIC,
            message: c_message(format!("{} (panic): {what}", ErrorKind::Internal.description())),
            http_status: 0,
        }
    }
}

/// A message can quote caller input that holds a NUL; C strings cannot, so NULs become '?'.
fn c_message(text: String) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let cleaned: Vec<u8> = e.into_vec().into_iter().map(|b| if b == 0 { b'?' } else { b }).collect();
        CString::new(cleaned).unwrap_or_default()
    })
}

/// The status of `err`; `GOFER_INVALID_ARGUMENT` when `err` is NULL.
#[no_mangle]
pub extern "C" fn gofer_error_status(err: *const GoferError) -> GoferStatus {
    // SAFETY: NULL or a live error from this library.
    match unsafe { err.as_ref() } {
        Some(e) => e.status,
        None => GoferStatus::GOFER_INVALID_ARGUMENT,
    }
}

/// The message of `err`, UTF-8, NUL-terminated. Borrowed: valid until `gofer_error_free(err)`.
/// Sentinel errors start with the seed's text (e.g. "scheduler: entity not found: ...").
/// Returns "" when `err` is NULL.
#[no_mangle]
pub extern "C" fn gofer_error_message(err: *const GoferError) -> *const c_char {
    // SAFETY: NULL or a live error from this library.
    match unsafe { err.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// The HTTP status of the engine's answer when the engine answered with an error, else 0.
#[no_mangle]
pub extern "C" fn gofer_error_http_status(err: *const GoferError) -> u16 {
    // SAFETY: NULL or a live error from this library.
    unsafe { err.as_ref() }.map_or(0, |e| e.http_status)
}

/// Frees an error returned through `err_out`. Accepts NULL.
#[no_mangle]
pub extern "C" fn gofer_error_free(err: *mut GoferError) {
    super::free_handle(err);
}

/// A static name for a status ("GOFER_NO_SUCH_CONTAINER", ...); "GOFER_UNKNOWN_STATUS" for a
/// value that is no status. Never free it.
#[no_mangle]
pub extern "C" fn gofer_status_name(status: i32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    match GoferStatus::from_value(status) {
        Some(s) => static_c_str(&NAMES, s as usize, || GoferStatus::iter().map(|s| <&str>::from(s).to_owned()).collect()),
        None => c"GOFER_UNKNOWN_STATUS".as_ptr(),
    }
}

/// The text that messages of a status start with: the error kind's description ("scheduler:
/// entity not found" for GOFER_NO_SUCH_CONTAINER, ...); "" for GOFER_OK, GOFER_WOULD_BLOCK and
/// a value that is no status. Static: never free it. The Go binding's tests compare its sentinels with these.
#[no_mangle]
pub extern "C" fn gofer_status_description(status: i32) -> *const c_char {
    static TEXTS: OnceLock<Vec<CString>> = OnceLock::new();
    match GoferStatus::from_value(status) {
        Some(s) => static_c_str(&TEXTS, s as usize, || GoferStatus::iter().map(|s| s.description().to_owned()).collect()),
        None => c"".as_ptr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn text(p: *const c_char) -> String {
        // SAFETY: the functions above return static NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    #[test]
    fn every_status_is_contiguous_and_named_and_every_kind_has_its_own() {
        for (i, status) in GoferStatus::iter().enumerate() {
            assert_eq!(status as usize, i, "statuses are contiguous from 0");
            assert_eq!(text(gofer_status_name(i as i32)), format!("{status:?}"));
        }
        assert_eq!(text(gofer_status_name(-1)), "GOFER_UNKNOWN_STATUS");
        assert_eq!(text(gofer_status_name(GoferStatus::iter().count() as i32)), "GOFER_UNKNOWN_STATUS");
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::iter() {
            let status = GoferStatus::of(kind);
            assert!(seen.insert(status), "{kind:?} shares its status");
            assert_eq!(text(gofer_status_description(status as i32)), kind.description());
        }
        assert_eq!(text(gofer_status_description(0)), "");
    }
}
