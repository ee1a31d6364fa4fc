//! Finding and greeting the daemon.

use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};

use super::errors::Subject;
use super::with_timeout;
use crate::error::{Error, ErrorKind, Result};

const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Connects as the docker CLI does and checks that the daemon answers.
///
/// The version handshake doubles as the liveness check: an engine that does not answer it is
/// reported now, with what to do, instead of at the first task.
/// Returns the client and the address it was made for.
pub(super) async fn connect(host: Option<&str>, timeout: Duration) -> Result<(Docker, String)> {
    let from_env = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    let host = host.map(str::to_owned).or(from_env).unwrap_or_else(|| DEFAULT_HOST.to_owned());

    // bollard's own timeout has a resolution of whole seconds and covers only the response
    // headers; ours (with_timeout) is the one that counts. Theirs is a backstop above it.
    let backstop = timeout.as_secs().saturating_add(1);
    let docker = if host.starts_with("unix://") {
        Docker::connect_with_unix(&host, backstop, API_DEFAULT_VERSION)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(&host, backstop, API_DEFAULT_VERSION)
    } else {
        return Err(Error::invalid_argument(
            "DOCKER_HOST",
            format!("{host:?}: only unix://, tcp:// and http:// engine addresses are supported"),
        ));
    }
    .map_err(|e| {
        let message = unreachable_message(&host, &e.to_string());
        Error::new(ErrorKind::Connection, message).with_source(e)
    })?;

    let docker = with_timeout(timeout, "version handshake", docker.negotiate_version(), Subject::Engine)
        .await
        .map_err(|e| Error::new(e.kind(), unreachable_message(&host, e.message())).with_source(e))?;
    Ok((docker, host))
}

fn unreachable_message(host: &str, cause: &str) -> String {
    format!(
        "the Docker engine at {host} does not answer ({cause}). Start dockerd (or the docker \
         service), or set DOCKER_HOST to the address of a running engine"
    )
}
