//! Getting the image of a task onto the engine.

use bollard::auth::DockerCredentials;
use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;

use super::errors::{from_bollard, Subject};
use super::DockerEngine;
use crate::error::{Error, ErrorKind, Result};
use crate::model::RegistryAuth;
use crate::validate::split_image_reference;

impl DockerEngine {
    /// Makes sure `image` is present: pulled when `always_pull`, else only when missing.
    ///
    /// Presence is asked with an image inspect, which resolves names as the engine does
    /// (`docker.io/library/x:latest` is `x`); a list filter on `reference` would not.
    pub(super) async fn ensure_image(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        always_pull: bool,
    ) -> Result<()> {
        if !always_pull {
            match self.request(Subject::Image, "image inspect", self.docker().inspect_image(image)).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::NoSuchImage => {}
                Err(e) => return Err(e),
            }
        }
        self.pull(image, auth).await
    }

    /// Pulls `image`, consuming the progress stream to its end.
    ///
    /// The engine reports many failures (refused credentials, unknown manifest) as an error
    /// message inside a 200 stream; bollard turns those into stream errors, which end up as
    /// NoSuchImage with the engine's reason. The request timeout applies to each progress
    /// message: a large image may take long, a silent registry may not.
    async fn pull(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<()> {
        let (repository, tag) = split_image_reference(image);
        let options = CreateImageOptions {
            from_image: Some(repository.to_owned()),
            tag: Some(tag.to_owned()),
            ..Default::default()
        };
        let credentials = auth.map(|a| DockerCredentials {
            username: Some(a.user.clone()),
            password: Some(a.pass.clone()),
            serveraddress: Some(registry_of(repository).to_owned()),
            ..Default::default()
        });
        let mut progress = self.docker().create_image(Some(options), None, credentials);
        let limit = self.timeout();
        loop {
            match tokio::time::timeout(limit, progress.next()).await {
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("pull of {image}: no progress from the engine within {limit:?}"),
                    ))
                }
                Ok(None) => return Ok(()),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => {
                    return Err(from_bollard(e, Subject::Image).context(format_args!("pull of {image}")))
                }
            }
        }
    }
}

/// The registry host of a repository, as the docker CLI puts it in the auth config.
fn registry_of(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "https://index.docker.io/v1/",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_is_the_first_component_only_when_it_looks_like_a_host() {
        assert_eq!(super::registry_of("127.0.0.1:5000/a/b"), "127.0.0.1:5000");
        assert_eq!(super::registry_of("localhost/x"), "localhost");
        assert_eq!(super::registry_of("library/busybox"), "https://index.docker.io/v1/");
        assert_eq!(super::registry_of("busybox"), "https://index.docker.io/v1/");
    }
}
