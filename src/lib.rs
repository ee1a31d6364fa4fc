//! gofer-scheduler: the container-scheduler engine of the Gofer CI system.
//!
//! The seed's five operations (start, stop, state, logs, attach) and prune, implemented once
//! per engine over one HTTP layer, and shared by every binding (docs/contract.md):
//!
//! - Rust: an [`Engine`] ([`DockerEngine`] or [`SwarmEngine`], async), or a [`BlockingEngine`]
//!   (blocking, any engine type, on the caller's thread);
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
mod http;
pub mod model;
pub mod ready;
pub mod runtime;
pub mod swarm;
mod validate;

pub use blocking::{Attachment, BlockingEngine, Calls, EngineConfig, LogCloser, LogReader};
pub use docker::{AttachSession, DockerEngine, DockerOptions, LogStream, MANAGED_LABEL};
pub use engine::{Engine, Interrupt};
pub use swarm::{SwarmEngine, SwarmOptions};
pub use error::{Error, ErrorKind, Result};
pub use http::TlsFiles;
pub use model::*;
pub use ready::{ReadyLogs, ReadyWait};
