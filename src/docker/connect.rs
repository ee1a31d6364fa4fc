//! Finding and greeting the daemon.

use std::time::Duration;

use bollard::Docker;

use super::errors::Subject;
use super::transport::Transport;
use super::with_timeout;
use crate::error::{Error, ErrorKind, Result};

const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Connects as the docker CLI does and checks that the daemon answers.
///
/// The version handshake doubles as the liveness check: an engine that does not answer it is
/// reported now, with what to do, instead of at the first task.
/// Returns the bollard client, the pooled transport it sends its requests on, and the address
/// both were made for.
pub(super) async fn connect(host: Option<&str>, timeout: Duration) -> Result<(Docker, Transport, String)> {
    let from_env = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    let host = host.map(str::to_owned).or(from_env).unwrap_or_else(|| DEFAULT_HOST.to_owned());

    let transport = if let Some(path) = host.strip_prefix("unix://") {
        Transport::unix(path)
    } else if let Some(address) = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")) {
        Ok(Transport::tcp(address.trim_end_matches('/')))
    } else {
        return Err(Error::invalid_argument(
            "DOCKER_HOST",
            format!("{host:?}: only unix://, tcp:// and http:// engine addresses are supported"),
        ));
    };
    // bollard's own timeout has a resolution of whole seconds and covers only the response
    // headers; ours (with_timeout) is the one that counts. Theirs is a backstop above it.
    let backstop = timeout.as_secs().saturating_add(1);
    let (docker, transport) = transport
        .and_then(|transport| Ok((transport.docker(backstop)?, transport)))
        .map_err(|e| {
            let message = unreachable_message(&host, &e.to_string());
            Error::new(ErrorKind::Connection, message).with_source(e)
        })?;

    let docker = with_timeout(timeout, "version handshake", docker.negotiate_version(), Subject::Engine)
        .await
        .map_err(|e| Error::new(e.kind(), unreachable_message(&host, e.message())).with_source(e))?;
    Ok((docker, transport, host))
}

fn unreachable_message(host: &str, cause: &str) -> String {
    format!(
        "the Docker engine at {host} does not answer ({cause}). Start dockerd (or the docker \
         service), or set DOCKER_HOST to the address of a running engine"
    )
}
