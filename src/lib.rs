//! gofer-scheduler: the container-scheduler engine of the Gofer CI system.
//!
//! The seed's five operations (start, stop, state, logs, attach) implemented once, over the
//! Docker Engine API (bollard), and shared by every binding:
//!
//! - Rust: [`DockerEngine`] (async, implements [`Engine`]) or [`BlockingEngine`] (blocking, on a
//!   private runtime);
//! - C: `include/gofer_scheduler.h` over the [`ffi`] module;
//! - Go (`bindings/go`, over the C ABI) and Python (`bindings/python`, over [`BlockingEngine`]).
//!
//! Errors are one [`Error`] type whose [`ErrorKind`] maps one to one onto C status codes, Go
//! error values and Python exception classes.

pub mod blocking;
pub mod docker;
pub mod engine;
pub mod error;
pub mod ffi;
pub mod model;
pub mod runtime;
mod validate;

pub use blocking::{BlockingEngine, LogCloser, LogReader};
pub use docker::{AttachSession, DockerEngine, DockerOptions, LogStream, MANAGED_LABEL};
pub use engine::Engine;
pub use error::{Error, ErrorKind, Result};
pub use model::*;
