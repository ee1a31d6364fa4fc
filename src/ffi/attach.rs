//! Attach session handles.

use std::ffi::c_char;

use super::{guard, handle, opt_str_list, out_param, str_arg, write_out, GoferEngine, GoferError, GoferStatus};
use crate::blocking::Attachment;
use crate::error::Error;
use crate::model::AttachContainerRequest;

/// An exec session inside a running container (TTY, stdin attached). Opaque. Freed with
/// `gofer_attach_free`.
pub struct GoferAttach {
    attachment: Attachment,
}

/// Runs `command` (`command_count` strings, at least one) inside the running container `id`
/// with a TTY, and connects to it. On success `*attach_out` receives a session owned by the
/// caller. Talk to the process through `gofer_attach_fd`. A container that is not running gives
/// GOFER_CONTAINER_NOT_RUNNING; an unknown one GOFER_NO_SUCH_CONTAINER.
#[no_mangle]
pub extern "C" fn gofer_engine_attach_container(
    engine: *const GoferEngine,
    id: *const c_char,
    command: *const *const c_char,
    command_count: usize,
    attach_out: *mut *mut GoferAttach,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let engine = handle(engine, "engine")?;
        let id = str_arg(id, "id")?.to_owned();
        let attach_out = out_param(attach_out, "attach_out")?;
        let command = opt_str_list(command, command_count, "command")?
            .ok_or_else(|| Error::invalid_argument("command", "is NULL"))?;
        let attachment = engine.engine.attach_container(AttachContainerRequest { id, command })?;
        write_out(attach_out, Box::into_raw(Box::new(GoferAttach { attachment })));
        Ok(())
    })
}

/// The session's file descriptor: a blocking Unix stream socket. Bytes written go to the
/// process's stdin; bytes read are its TTY output; read returns 0 once the process has exited.
/// Borrowed: owned by the session and closed by `gofer_attach_free` (dup() it to keep it).
/// Returns -1 when `attach` is NULL.
#[no_mangle]
pub extern "C" fn gofer_attach_fd(attach: *const GoferAttach) -> i32 {
    // SAFETY: NULL or a live handle (caller's duty).
    unsafe { attach.as_ref() }.map_or(-1, |a| a.attachment.raw_fd())
}

/// Resizes the session's TTY to `width` columns and `height` rows.
#[no_mangle]
pub extern "C" fn gofer_attach_resize(
    attach: *const GoferAttach,
    width: u16,
    height: u16,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || handle(attach, "attach")?.attachment.resize(width, height))
}

/// Whether the process has exited and, if so, its exit code. On success writes `*exited_out`
/// and `*exit_code_out` (0 while running).
#[no_mangle]
pub extern "C" fn gofer_attach_exit_code(
    attach: *const GoferAttach,
    exited_out: *mut bool,
    exit_code_out: *mut i64,
    err_out: *mut *mut GoferError,
) -> GoferStatus {
    guard(err_out, || {
        let attach = handle(attach, "attach")?;
        let exited_out = out_param(exited_out, "exited_out")?;
        let exit_code_out = out_param(exit_code_out, "exit_code_out")?;
        let code = attach.attachment.exit_code()?;
        write_out(exited_out, code.is_some());
        write_out(exit_code_out, code.unwrap_or(0));
        Ok(())
    })
}

/// Ends the session: the connection to the engine is closed and the descriptor reads
/// end-of-stream. Thread-safe; accepts NULL. The handle must still be freed.
#[no_mangle]
pub extern "C" fn gofer_attach_close(attach: *const GoferAttach) {
    // SAFETY: NULL or a live handle (caller's duty).
    if let Some(a) = unsafe { attach.as_ref() } {
        a.attachment.close();
    }
}

/// Ends the session and frees it, closing its descriptor. Accepts NULL.
#[no_mangle]
pub extern "C" fn gofer_attach_free(attach: *mut GoferAttach) {
    super::free_handle(attach);
}
