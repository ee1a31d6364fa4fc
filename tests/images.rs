//! Getting images: a private registry with credentials, refusals, unknown tags, always-pull.

mod common;

use common::*;
use gofer_scheduler::*;

fn auth(bed: &Bed) -> Option<RegistryAuth> {
    Some(RegistryAuth { user: bed.user.clone(), pass: bed.pass.clone() })
}

/// Pushes a fresh image to the registry under `repo:latest`, whose /marker file says `marker`.
/// Returns the local image ID of what was pushed.
fn push_marked_image(bed: &Bed, repo: &str, marker: &str) -> String {
    let name = Name::new("mark");
    docker_cli(&["run", "--name", &name, &bed.image, "sh", "-c", &format!("echo {marker} > /marker")]);
    let id = docker_cli(&["commit", &name, &format!("{repo}:latest")]);
    docker_cli(&["login", &bed.registry, "-u", &bed.user, "-p", &bed.pass]);
    docker_cli(&["push", &format!("{repo}:latest")]);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_image_is_pulled_with_credentials() {
    let engine = engine().await;
    let bed = bed();
    remove_image(&bed.private_image);
    let name = Name::new("private");
    let mut req = shell(&name, "echo pulled");
    req.image_name = bed.private_image.clone();
    req.registry_auth = auth(&bed);
    let (state, logs) = run(&engine, req).await;
    assert_eq!((state.state, logs.as_str()), (ContainerState::Exited, "pulled\n"));
    remove_container(&name);
    remove_image(&bed.private_image);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_image_without_or_with_wrong_credentials_is_no_such_image() {
    let engine = engine().await;
    let bed = bed();
    // A tag of its own, so that the other test's pull cannot make it present meanwhile.
    let image = format!("{}/gofer/private-busybox:refused-{}", bed.registry, std::process::id());
    docker_cli(&["tag", &bed.image, &image]);
    docker_cli(&["login", &bed.registry, "-u", &bed.user, "-p", &bed.pass]);
    docker_cli(&["push", &image]);
    remove_image(&image);

    for credentials in [None, Some(RegistryAuth { user: bed.user.clone(), pass: "wrong-password".into() })] {
        let name = Name::new("refused");
        let mut req = shell(&name, "true");
        req.image_name = image.clone();
        req.registry_auth = credentials.clone();
        let err = bounded("start", engine.start_container(req)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSuchImage, "{err}");
        assert!(err.to_string().starts_with("scheduler: docker image not found"), "{err}");
        assert!(!err.to_string().contains("wrong-password"), "a password never appears in an error: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tag_or_repository_is_no_such_image() {
    let engine = engine().await;
    let bed = bed();
    for image in [
        format!("{}/gofer/private-busybox:no-such-tag", bed.registry),
        format!("{}/gofer/no-such-repository:latest", bed.registry),
        "127.0.0.1:1/unreachable/registry:latest".to_owned(),
    ] {
        let name = Name::new("unknown");
        let mut req = shell(&name, "true");
        req.image_name = image.clone();
        req.registry_auth = auth(&bed);
        let err = bounded("start", engine.start_container(req)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSuchImage, "{image}: {err}");
        assert!(err.message().contains(&image) || err.message().contains("pull"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_pull_picks_up_a_new_image_pushed_under_the_same_tag() {
    let engine = engine().await;
    let bed = bed();
    let repo = format!("{}/gofer/always-{}", bed.registry, std::process::id());
    let image = format!("{repo}:latest");
    let v1 = push_marked_image(&bed, &repo, "v1");
    let v2 = push_marked_image(&bed, &repo, "v2");
    // Locally the tag points at v1 again; the registry holds v2.
    docker_cli(&["tag", &v1, &image]);

    let marker = |always_pull: bool| {
        let name = Name::new("always");
        let mut req = shell(&name, "cat /marker");
        req.image_name = image.clone();
        req.registry_auth = auth(&bed);
        req.always_pull = always_pull;
        (name, req)
    };
    let (_a, cached) = marker(false);
    assert_eq!(run(&engine, cached).await.1, "v1\n", "without always_pull the local image is used");
    let (_b, pulled) = marker(true);
    assert_eq!(run(&engine, pulled).await.1, "v2\n", "always_pull fetches what the tag now names");

    drop((_a, _b));
    for id in [&image, &v1, &v2] {
        remove_image(id);
    }
}

/// The engine answers 200 and starts streaming progress, then reports that a layer cannot be
/// fetched: the error arrives inside the stream. Made real by deleting a pushed layer's blob
/// through the test registry's API (deletion is enabled in its config).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_that_fails_inside_the_progress_stream_is_no_such_image() {
    let engine = engine().await;
    let bed = bed();
    let repo = format!("{}/gofer/broken-{}", bed.registry, std::process::id());
    let image = format!("{repo}:latest");
    // A layer of its own (random bytes), so that the engine has to download it.
    let name = Name::new("blob");
    docker_cli(&["run", "--name", &name, &bed.image, "sh", "-c", "head -c 4096 /dev/urandom > /junk"]);
    docker_cli(&["commit", &name, &image]);
    docker_cli(&["login", &bed.registry, "-u", &bed.user, "-p", &bed.pass]);
    docker_cli(&["push", &image]);
    remove_image(&image);

    // The classic store pushes a Docker v2 manifest; the containerd store an OCI index whose
    // first entry is the image's manifest.
    let fetch = |reference: &str| -> serde_json::Value {
        let out = std::process::Command::new("curl")
            .args(["-sf", "-u", &format!("{}:{}", bed.user, bed.pass)])
            .args(["-H", "Accept: application/vnd.docker.distribution.manifest.v2+json"])
            .args(["-H", "Accept: application/vnd.oci.image.manifest.v1+json"])
            .args(["-H", "Accept: application/vnd.oci.image.index.v1+json"])
            .arg(format!("http://{}/v2/gofer/broken-{}/manifests/{reference}", bed.registry, std::process::id()))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).expect("manifest JSON")
    };
    let mut manifest = fetch("latest");
    if let Some(first) = manifest["manifests"].as_array().and_then(|m| m.first()) {
        manifest = fetch(first["digest"].as_str().expect("an index entry has a digest"));
    }
    let digest = manifest["layers"].as_array().and_then(|l| l.last()).and_then(|l| l["digest"].as_str()).unwrap();
    let deleted = std::process::Command::new("curl")
        .args(["-sf", "-X", "DELETE", "-u", &format!("{}:{}", bed.user, bed.pass)])
        .arg(format!("http://{}/v2/gofer/broken-{}/blobs/{digest}", bed.registry, std::process::id()))
        .status()
        .unwrap();
    assert!(deleted.success(), "the test registry deletes the layer blob");

    let run_it = Name::new("blob-run");
    let mut req = shell(&run_it, "true");
    req.image_name = image.clone();
    req.registry_auth = auth(&bed);
    let err = bounded("start", engine.start_container(req)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoSuchImage, "{err}");
    assert_eq!(err.http_status(), None, "the answer was a 200: the error came inside the stream");
    assert!(err.message().contains("the registry is missing a layer of the image"), "{err}");
}

/// A pull reports, as it goes, each layer it fetches with its bytes done and in all; the start
/// still succeeds when the callback panics (it is then not called again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_reports_its_progress_per_layer() {
    let engine = engine().await;
    let bed = bed();
    remove_image(&bed.multilayer_image);
    let name = Name::new("progress");
    let mut req = shell(&name, "true");
    req.image_name = bed.multilayer_image.clone();
    req.registry_auth = auth(&bed);
    let mut seen: Vec<PullProgress> = Vec::new();
    let mut record = |p: &PullProgress| seen.push(p.clone());
    bounded("start", engine.start_container_with_progress(req, &mut record)).await.expect("start");
    remove_container(&name);

    // The containerd image store keeps a removed image's layers until its garbage collection,
    // and samples a pull's progress on a timer: a pull there may report no layer at all, or no
    // byte counts (docs/contract.md, "Engine versions"). What it sends is handed over, in order.
    let first = seen.first().map(|p| p.status.as_str()).unwrap_or_default();
    let last = seen.last().map(|p| p.status.as_str()).unwrap_or_default();
    assert!(first.starts_with("Pulling from ") && last.starts_with("Status: Downloaded newer image"), "{seen:#?}");
    let downloaded: std::collections::BTreeSet<&str> =
        seen.iter().filter(|p| p.status == "Pull complete").map(|p| p.layer.as_str()).collect();
    assert!(containerd_store() || downloaded.len() >= 2, "two layers of random bytes are fetched: {seen:#?}");
    for layer in downloaded.iter().filter(|_| !containerd_store()) {
        let sizes: Vec<(u64, u64)> = seen
            .iter()
            .filter(|p| p.layer == *layer && p.status == "Downloading")
            .filter_map(|p| Some((p.current?, p.total?)))
            .collect();
        assert!(!sizes.is_empty(), "layer {layer} reports its download: {seen:#?}");
        assert!(sizes.iter().all(|(c, t)| c <= t), "{layer}: {sizes:?}");
        assert!(sizes.windows(2).all(|w| w[0].0 <= w[1].0), "{layer} counts up: {sizes:?}");
    }

    // A callback that panics is dropped; the pull and the start go on.
    remove_image(&bed.multilayer_image);
    let name = Name::new("progress-panics");
    let mut req = shell(&name, "true");
    req.image_name = bed.multilayer_image.clone();
    req.registry_auth = auth(&bed);
    let mut calls = 0;
    let mut panics = |_: &PullProgress| {
        calls += 1;
        panic!("a caller's bug");
    };
    bounded("start", engine.start_container_with_progress(req, &mut panics)).await.expect("start");
    assert_eq!(calls, 1, "a callback that panicked is not called again");
    remove_container(&name);
    remove_image(&bed.multilayer_image);
}
