//! The seed's five operations against the real engine of the test bed: one test per behaviour.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use gofer_scheduler::*;

fn state_req(id: &str) -> GetStateRequest {
    GetStateRequest { id: id.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_then_logs_then_state_reports_exited_zero() {
    let engine = engine().await;
    let name = Name::new("exit0");
    let (state, logs) = run(&engine, shell(&name, "echo hello from gofer")).await;
    assert_eq!(logs, "hello from gofer\n");
    assert_eq!((state.state, state.exit_code), (ContainerState::Exited, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_three_is_reported_as_three() {
    let engine = engine().await;
    let name = Name::new("exit3");
    let (state, _) = run(&engine, shell(&name, "exit 3")).await;
    assert_eq!((state.state, state.exit_code), (ContainerState::Exited, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_the_same_id_twice_replaces_the_first_container() {
    let engine = engine().await;
    let name = Name::new("twice");
    bounded("first start", engine.start_container(shell(&name, "sleep 300"))).await.unwrap();
    let first = docker_cli(&["inspect", "-f", "{{.Id}}", &name]);
    let (state, logs) = run(&engine, shell(&name, "echo second")).await;
    let second = docker_cli(&["inspect", "-f", "{{.Id}}", &name]);
    assert_ne!(first, second, "the running container must have been replaced");
    assert_eq!(logs, "second\n");
    assert_eq!(state.state, ContainerState::Exited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_vars_reach_the_container() {
    let engine = engine().await;
    let name = Name::new("env");
    let mut req = shell(&name, "echo \"$GOFER_A|$GOFER_B|$GOFER_EMPTY|\"");
    req.env_vars.insert("GOFER_A".into(), "one two".into());
    req.env_vars.insert("GOFER_B".into(), "x=y;'\"$".into());
    req.env_vars.insert("GOFER_EMPTY".into(), String::new());
    let (_, logs) = run(&engine, req).await;
    assert_eq!(logs, "one two|x=y;'\"$||\n");
}

/// The entrypoint image runs `/bin/echo image-entrypoint` with CMD `image-cmd`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrypoint_and_command_absent_use_the_image_and_empty_entrypoint_clears_it() {
    let engine = engine().await;
    let bed = bed();
    let case = |entrypoint: Option<Vec<&str>>, command: Option<Vec<&str>>| {
        let name = Name::new("entry");
        let mut req = StartContainerRequest::new(name.0.clone(), bed.entrypoint_image.clone());
        req.entrypoint = entrypoint.map(|v| v.into_iter().map(String::from).collect());
        req.command = command.map(|v| v.into_iter().map(String::from).collect());
        (name, req)
    };
    let (_n1, both_absent) = case(None, None);
    assert_eq!(run(&engine, both_absent).await.1, "image-entrypoint image-cmd\n");
    let (_n2, command_only) = case(None, Some(vec!["mine"]));
    assert_eq!(run(&engine, command_only).await.1, "image-entrypoint mine\n");
    let (_n3, empty_entrypoint) = case(Some(vec![]), Some(vec!["/bin/echo", "no-entrypoint"]));
    assert_eq!(run(&engine, empty_entrypoint).await.1, "no-entrypoint\n");
    let (_n4, own_entrypoint) = case(Some(vec!["/bin/echo", "own"]), None);
    assert_eq!(run(&engine, own_entrypoint).await.1, "own\n", "an entrypoint of ours drops the image's CMD");
    let (_n5, empty_command) = case(None, Some(vec![]));
    assert_eq!(
        run(&engine, empty_command).await.1,
        "image-entrypoint image-cmd\n",
        "an empty command is sent as [] and the engine keeps the image's CMD"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networking_returns_a_local_url_that_reaches_the_container() {
    let engine = engine().await;
    let name = Name::new("net");
    let mut req = shell(&name, "while true; do echo pong | nc -l -p 8080; done");
    req.networking = Some(Networking { port: 8080 });
    let url = bounded("start", engine.start_container(req)).await.unwrap().url;
    let port: u16 = url.strip_prefix("127.0.0.1:").expect("url is 127.0.0.1:N").parse().expect("port");
    assert!(port > 0);

    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        // nc may not listen yet, and docker-proxy accepts before the container does: retry
        // until the container's answer arrives.
        if let Ok(mut conn) = connect_published(&url) {
            conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = conn.write_all(b"ping\n");
            let mut buf = String::new();
            let _ = conn.read_to_string(&mut buf);
            if buf.contains("pong") {
                break buf;
            }
        }
        assert!(Instant::now() < deadline, "no answer from the container through {url}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(answer, "pong\n");
    let plain = Name::new("nonet");
    let resp = bounded("start", engine.start_container(shell(&plain, "true"))).await.unwrap();
    assert_eq!(resp.url, "", "no networking, no URL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_a_grace_period_lets_the_container_exit_cleanly() {
    let engine = engine().await;
    let name = Name::new("grace");
    let script = "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done";
    bounded("start", engine.start_container(shell(&name, script))).await.unwrap();
    let mut logs = bounded("logs", engine.get_logs(GetLogsRequest { id: name.0.clone() })).await.unwrap();
    let first = bounded("first line", logs.next()).await.unwrap().unwrap();
    assert_eq!(&first[..], b"ready\n");

    let started = Instant::now();
    let stop = StopContainerRequest { id: name.0.clone(), timeout: Duration::from_secs(20) };
    bounded("stop", engine.stop_container(stop)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "the container honoured TERM, no need to wait for KILL");
    let rest = read_all(logs).await.unwrap();
    assert_eq!(rest, b"got TERM\n");
    let state = bounded("state", engine.get_state(state_req(&name))).await.unwrap();
    assert_eq!((state.state, state.exit_code), (ContainerState::Cancelled, 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_timeout_zero_kills_and_reports_cancelled_with_the_real_exit_code() {
    let engine = engine().await;
    let name = Name::new("kill");
    bounded("start", engine.start_container(shell(&name, "sleep 300"))).await.unwrap();
    let stop = StopContainerRequest { id: name.0.clone(), timeout: Duration::ZERO };
    bounded("stop", engine.stop_container(stop.clone())).await.unwrap();
    let state = bounded("state", engine.get_state(state_req(&name))).await.unwrap();
    assert_eq!((state.state, state.exit_code), (ContainerState::Cancelled, 137));
    bounded("stop again", engine.stop_container(stop)).await.expect("stopping a stopped container succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_second_stop_timeout_still_sends_term_first() {
    let engine = engine().await;
    let name = Name::new("subsec");
    let script = "trap 'exit 5' TERM; echo ready; while true; do sleep 0.1; done";
    bounded("start", engine.start_container(shell(&name, script))).await.unwrap();
    let mut logs = bounded("logs", engine.get_logs(GetLogsRequest { id: name.0.clone() })).await.unwrap();
    bounded("ready", logs.next()).await.unwrap().unwrap();
    let stop = StopContainerRequest { id: name.0.clone(), timeout: Duration::from_millis(500) };
    bounded("stop", engine.stop_container(stop)).await.unwrap();
    let state = bounded("state", engine.get_state(state_req(&name))).await.unwrap();
    assert_eq!(state.exit_code, 5, "500 ms must not become an immediate SIGKILL (137)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_is_forgotten_when_the_same_id_is_started_again() {
    let engine = engine().await;
    let name = Name::new("recancel");
    bounded("start", engine.start_container(shell(&name, "sleep 300"))).await.unwrap();
    let stop = StopContainerRequest { id: name.0.clone(), timeout: Duration::ZERO };
    bounded("stop", engine.stop_container(stop)).await.unwrap();
    assert_eq!(engine.get_state(state_req(&name)).await.unwrap().state, ContainerState::Cancelled);
    let (state, _) = run(&engine, shell(&name, "exit 0")).await;
    assert_eq!((state.state, state.exit_code), (ContainerState::Exited, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_of_a_running_container_is_running_with_exit_code_zero() {
    let engine = engine().await;
    let name = Name::new("running");
    bounded("start", engine.start_container(shell(&name, "sleep 300"))).await.unwrap();
    let state = bounded("state", engine.get_state(state_req(&name))).await.unwrap();
    assert_eq!((state.state, state.exit_code), (ContainerState::Running, 0));
    docker_cli(&["pause", &name]);
    let state = bounded("state", engine.get_state(state_req(&name))).await.unwrap();
    assert_eq!(state.state, ContainerState::Paused);
    docker_cli(&["unpause", &name]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_id_is_no_such_container_for_every_operation() {
    let engine = engine().await;
    let id = format!("{PREFIX}does-not-exist-{}", std::process::id());
    let stop = engine.stop_container(StopContainerRequest { id: id.clone(), timeout: Duration::ZERO }).await;
    assert_eq!(stop.unwrap_err().kind(), ErrorKind::NoSuchContainer);
    let state = engine.get_state(state_req(&id)).await;
    assert_eq!(state.unwrap_err().kind(), ErrorKind::NoSuchContainer);
    let logs = engine.get_logs(GetLogsRequest { id: id.clone() }).await;
    assert_eq!(logs.err().map(|e| e.kind()), Some(ErrorKind::NoSuchContainer), "fails at the call");
    let attach = engine.attach_container(AttachContainerRequest { id: id.clone(), command: vec!["sh".into()] }).await;
    let err = attach.err().expect("attach to nothing fails");
    assert_eq!(err.kind(), ErrorKind::NoSuchContainer);
    assert!(err.to_string().starts_with("scheduler: entity not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_prefix_shared_by_several_containers_is_ambiguous() {
    let engine = engine().await;
    // 17 containers guarantee two IDs share a first hex digit. Created, never started: cheap.
    let names: Vec<Name> = (0..17).map(|_| Name::new("ambiguous")).collect();
    for name in &names {
        docker_cli(&["create", "--name", name, &bed().image, "true"]);
    }
    let ids = docker_cli(&["ps", "-aq", "--no-trunc"]);
    let mut counts = std::collections::HashMap::new();
    for id in ids.lines() {
        *counts.entry(id.chars().next().unwrap()).or_insert(0) += 1;
    }
    let prefix = counts.iter().find(|(_, &n)| n >= 2).map(|(c, _)| c.to_string()).expect("two IDs share a digit");
    let err = bounded("state", engine.get_state(state_req(&prefix))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AmbiguousContainerName, "{err}");
    let stop = StopContainerRequest { id: prefix.clone(), timeout: Duration::ZERO };
    assert_eq!(engine.stop_container(stop).await.unwrap_err().kind(), ErrorKind::AmbiguousContainerName);
    let logs = engine.get_logs(GetLogsRequest { id: prefix }).await;
    assert_eq!(logs.err().map(|e| e.kind()), Some(ErrorKind::AmbiguousContainerName));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_arguments_are_refused_before_the_engine_is_asked() {
    let engine = engine().await;
    let bad = |id: &str| StartContainerRequest::new(id, bed().image);
    for (req, field) in [(bad("a/b"), "id"), (bad(""), "id"), (StartContainerRequest::new("ok", ""), "image_name")] {
        let err = engine.start_container(req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().starts_with(field), "{err}");
    }
    let err = engine.get_state(state_req("../etc")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_does_not_answer_is_a_connection_error_that_says_what_to_do() {
    let options = DockerOptions {
        host: Some("unix:///nonexistent/docker.sock".into()),
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let err = DockerEngine::connect(options).await.err().expect("no engine there");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("Start dockerd"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_removes_only_exited_containers_created_by_the_library() {
    let engine = engine().await;
    let ours_exited = Name::new("prune-ours");
    let ours_running = Name::new("prune-running");
    let foreign = Name::new("prune-foreign");
    run(&engine, shell(&ours_exited, "true")).await;
    bounded("start", engine.start_container(shell(&ours_running, "sleep 300"))).await.unwrap();
    docker_cli(&["run", "--name", &foreign, &bed().image, "true"]);
    bounded("prune", engine.prune()).await.unwrap();
    let exists = |n: &str| std::process::Command::new("docker").args(["inspect", n]).output().unwrap().status.success();
    assert!(!exists(&ours_exited), "our exited container is pruned");
    assert!(exists(&ours_running), "a running container is kept");
    assert!(exists(&foreign), "a container we did not create is kept");
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_call_from_inside_an_async_runtime_is_an_error_not_a_panic() {
    let err = BlockingEngine::connect(DockerOptions::default()).err().expect("refused inside a runtime");
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    assert!(err.message().contains("async API"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_registry_auth_pair_means_no_credentials_and_half_a_pair_is_refused() {
    let engine = engine().await;
    let name = Name::new("emptyauth");
    let mut req = shell(&name, "echo local");
    req.registry_auth = Some(RegistryAuth { user: String::new(), pass: String::new() });
    let (state, logs) = run(&engine, req).await;
    assert_eq!((state.state, logs.as_str()), (ContainerState::Exited, "local\n"));
    for (user, pass, field) in [("", "secret", "registry_auth.user"), ("someone", "", "registry_auth.pass")] {
        let mut req = shell(&name, "true");
        req.registry_auth = Some(RegistryAuth { user: user.into(), pass: pass.into() });
        let err = engine.start_container(req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.message().starts_with(field), "{err}");
    }
}

/// Gofer cancels with StopContainer in one task while its monitor polls GetState in another:
/// the monitor must see the cancellation, never the kill's exit code as a plain exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_poller_sees_running_then_cancelled_while_a_stop_is_in_flight() {
    let engine = engine().await;
    for round in 0..20 {
        let name = Name::new("stoprace");
        let script = "trap 'exit 143' TERM; echo ready; while true; do sleep 0.05; done";
        bounded("start", engine.start_container(shell(&name, script))).await.unwrap();
        let mut logs = bounded("logs", engine.get_logs(GetLogsRequest { id: name.0.clone() })).await.unwrap();
        bounded("ready", logs.next()).await.unwrap().unwrap();
        // The stop is asked once the poller has its first sample: a stop asked before it makes
        // that first sample CANCELLED already (as the contract says), which is what made this
        // test flake under load (on Podman, whose stop of this script is fast).
        let (sampled, first_sample) = tokio::sync::oneshot::channel();
        let poller = {
            let (engine, id) = (engine.clone(), name.0.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut sampled = Some(sampled);
                loop {
                    let state = engine.get_state(state_req(&id)).await.expect("get_state");
                    if seen.last() != Some(&state.state) {
                        seen.push(state.state);
                    }
                    if let Some(sampled) = sampled.take() {
                        let _ = sampled.send(());
                    }
                    if matches!(state.state, ContainerState::Exited | ContainerState::Cancelled) {
                        return seen;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        bounded("first sample", first_sample).await.expect("the poller sampled");
        let stop = StopContainerRequest { id: name.0.clone(), timeout: Duration::from_secs(10) };
        bounded("stop", engine.stop_container(stop)).await.unwrap();
        let seen = bounded("poller", poller).await.unwrap();
        assert_eq!(seen, [ContainerState::Running, ContainerState::Cancelled], "round {round}");
        let state = engine.get_state(state_req(&name)).await.unwrap();
        assert_eq!((state.state, state.exit_code), (ContainerState::Cancelled, 143), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_second_grace_period_is_honoured_as_given() {
    let engine = engine().await;
    let name = Name::new("grace500");
    let script = "trap '' TERM; echo ready; while true; do sleep 0.05; done";
    bounded("start", engine.start_container(shell(&name, script))).await.unwrap();
    let mut logs = bounded("logs", engine.get_logs(GetLogsRequest { id: name.0.clone() })).await.unwrap();
    bounded("ready", logs.next()).await.unwrap().unwrap();
    let started = Instant::now();
    let stop = StopContainerRequest { id: name.0.clone(), timeout: Duration::from_millis(500) };
    bounded("stop", engine.stop_container(stop)).await.unwrap();
    let took = started.elapsed();
    // The bound only tells 500 ms from no grace at all and from a grace rounded up to a whole
    // second (over 1 s): the engine waits the grace before its kill, and on a loaded 2-core
    // machine the round trips around it have taken up to 0.23 s (0.73 s in all).
    assert!(
        (Duration::from_millis(450)..Duration::from_millis(950)).contains(&took),
        "a process that ignores TERM is killed after the 500 ms grace period, took {took:?}"
    );
    let state = engine.get_state(state_req(&name)).await.unwrap();
    assert_eq!((state.state, state.exit_code), (ContainerState::Cancelled, 137));
}
