//! Strings across the boundary: borrowed NUL-terminated UTF-8 in, owned C strings out.

use std::ffi::{c_char, CStr, CString};

use crate::error::{Error, Result};

/// Longest list a caller may pass (env vars, command arguments). Beyond it the count is more
/// likely garbage than intent, and reading that many pointers could run off the caller's array.
pub(crate) const MAX_LIST_LEN: usize = 1 << 20;

/// Borrows a required string argument.
pub(crate) fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::invalid_argument(name, "is NULL"));
    }
    // SAFETY: non-NULL, and the caller guarantees a NUL-terminated string alive for the call.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| Error::invalid_argument(name, format!("is not valid UTF-8 ({e})")))
}

/// Borrows an optional string argument (NULL = absent).
pub(crate) fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        str_arg(ptr, name).map(Some)
    }
}

/// Reads a list of `count` strings. NULL `ptr` means absent (`None`); a non-NULL `ptr` with
/// `count == 0` is an empty list.
pub(crate) fn opt_str_list(ptr: *const *const c_char, count: usize, name: &str) -> Result<Option<Vec<String>>> {
    if ptr.is_null() {
        if count != 0 {
            return Err(Error::invalid_argument(name, format!("is NULL but its count is {count}")));
        }
        return Ok(None);
    }
    if count > MAX_LIST_LEN {
        return Err(Error::invalid_argument(name, format!("count {count} exceeds {MAX_LIST_LEN}")));
    }
    // SAFETY: non-NULL, and the caller guarantees `count` readable pointers.
    let items = unsafe { std::slice::from_raw_parts(ptr, count) };
    items
        .iter()
        .enumerate()
        .map(|(i, &p)| str_arg(p, &format!("{name}[{i}]")).map(str::to_owned))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Hands an owned string to C (freed with `gofer_string_free`).
pub(crate) fn owned_c_string(text: String) -> Result<*mut c_char> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Error::new(crate::error::ErrorKind::Internal, "a returned string holds a NUL"))
}

/// Frees a string returned by this library. Accepts NULL.
#[no_mangle]
pub extern "C" fn gofer_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from CString::into_raw in this library and is freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// The library's version, e.g. "0.1.0". Static: never free it.
#[no_mangle]
pub extern "C" fn gofer_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
