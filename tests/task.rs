//! The task contract a CI runner needs (docs/contract.md): wait for the exit, the OOM flag,
//! limits, mounts, process settings, typed logs and the list of managed containers, against the
//! real engine of the test bed.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use futures_util::StreamExt;
use gofer_scheduler::*;

const MIB: i64 = 1024 * 1024;

fn state_req(id: &str) -> GetStateRequest {
    GetStateRequest { id: id.into() }
}

fn wait_req(id: &str) -> WaitContainerRequest {
    WaitContainerRequest { id: id.into() }
}

/// Runs `script` with `req`'s settings and returns its state and logs.
async fn run_with(engine: &DockerEngine, name: &Name, script: &str, set: impl FnOnce(&mut StartContainerRequest)) -> (GetStateResponse, String) {
    let mut req = shell(name, script);
    set(&mut req);
    run(engine, req).await
}

/// busybox `dd` reads into a buffer of `bs` bytes: 64 MiB of memory touched at once. `exec`:
/// dd is the container's main process, whose death by OOM is the container's exit.
const ALLOCATES_64_MIB: &str = "exec dd if=/dev/zero of=/dev/null bs=64M count=1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_memory_limit_is_reported_oom_killed_in_state_wait_and_list() {
    let engine = engine().await;
    let name = Name::new("oom");
    let mut req = shell(&name, ALLOCATES_64_MIB);
    req.resources.memory_bytes = Some(32 * MIB);
    bounded("start", engine.start_container(req)).await.unwrap();
    let waited = bounded("wait", engine.wait_container(wait_req(&name))).await.unwrap();
    assert_eq!((waited.state, waited.exit_code, waited.oom_killed), (ContainerState::Exited, 137, true), "{waited:?}");
    let state = bounded("state", engine.get_state(state_req(&name))).await.unwrap();
    assert!(state.oom_killed, "{state:?}");
    let listed = bounded("list", engine.list_containers()).await.unwrap();
    let ours = listed.iter().find(|c| c.name == name.0).expect("the job is listed");
    assert!(ours.state.oom_killed && ours.state.exit_code == 137, "{ours:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_with_signal_9_exits_137_without_the_oom_flag() {
    let engine = engine().await;
    let name = Name::new("kill9");
    // The main process (PID 1 of its namespace) cannot get SIGKILL from inside: a child shell
    // kills itself, and the main one exits with its status.
    bounded("start", engine.start_container(shell(&name, "sh -c 'kill -9 $$'; exit $?"))).await.unwrap();
    let waited = bounded("wait", engine.wait_container(wait_req(&name))).await.unwrap();
    assert_eq!((waited.state, waited.exit_code, waited.oom_killed), (ContainerState::Exited, 137, false), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_started_before_and_after_the_exit_return_the_exit_code_and_times() {
    let engine = engine().await;
    let name = Name::new("wait");
    bounded("start", engine.start_container(shell(&name, "sleep 1; exit 5"))).await.unwrap();
    let before = bounded("wait before the exit", engine.wait_container(wait_req(&name))).await.unwrap();
    let returned = SystemTime::now();
    assert_eq!((before.state, before.exit_code), (ContainerState::Exited, 5));
    let (started, finished) = (before.started_at.expect("started"), before.finished_at.expect("finished"));
    assert!(started < finished, "{before:?}");
    let late = returned.duration_since(finished).unwrap_or_default();
    // The figure is in the benchmark; this bound only catches a wait that polls slowly.
    assert!(late < Duration::from_millis(500), "the wait returned {late:?} after the exit");
    let after = bounded("wait after the exit", engine.wait_container(wait_req(&name))).await.unwrap();
    assert_eq!(after, before);
    let state = bounded("state", engine.get_state(state_req(&name))).await.unwrap();
    assert_eq!(state, before, "GetState gives the same state, flag and times");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_does_not_return_for_a_container_that_has_not_started() {
    let engine = engine().await;
    let name = Name::new("created");
    docker_cli(&["create", "--name", &name, "--label", "dev.gofer.scheduler.managed=true", &bed().image, "sh", "-c", "exit 4"]);
    let wait = tokio::spawn({
        let (engine, id) = (engine.clone(), name.0.clone());
        async move { engine.wait_container(wait_req(&id)).await }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!wait.is_finished(), "the wait returned before the container ran");
    docker_cli(&["start", &name]);
    let waited = bounded("wait", wait).await.unwrap().unwrap();
    assert_eq!((waited.state, waited.exit_code), (ContainerState::Exited, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_wait_gives_cancelled() {
    let engine = engine().await;
    let name = Name::new("waitstop");
    bounded("start", engine.start_container(shell(&name, "sleep 300"))).await.unwrap();
    let wait = tokio::spawn({
        let (engine, id) = (engine.clone(), name.0.clone());
        async move { engine.wait_container(wait_req(&id)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stop = StopContainerRequest { id: name.0.clone(), timeout: Duration::ZERO };
    bounded("stop", engine.stop_container(stop)).await.unwrap();
    let waited = bounded("wait", wait).await.unwrap().unwrap();
    assert_eq!((waited.state, waited.exit_code), (ContainerState::Cancelled, 137));
}

#[test]
fn a_blocking_wait_is_ended_by_a_close_from_another_thread() {
    let engine = BlockingEngine::connect(DockerOptions::default()).unwrap();
    let name = Name::new("waitclose");
    engine.start_container(shell(&name, "sleep 300")).unwrap();
    let waiter = std::sync::Arc::new(engine.waiter(wait_req(&name)));
    let closer = {
        let waiter = waiter.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            waiter.close();
        })
    };
    let started = Instant::now();
    let err = waiter.wait().expect_err("a closed wait has no answer");
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "the close woke the wait after {:?}", started.elapsed());
    closer.join().unwrap();
    assert_eq!(waiter.wait().unwrap_err().kind(), ErrorKind::InvalidState, "closed for good");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_an_unknown_container_is_no_such_container() {
    let engine = engine().await;
    let err = engine.wait_container(wait_req(&format!("{PREFIX}no-such-{}", std::process::id()))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoSuchContainer, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_pids_and_shm_limits_are_visible_inside_the_container() {
    let engine = engine().await;
    let name = Name::new("limits");
    // cgroup v1 and v2 name the files differently; print whichever exists.
    let script = "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null | head -1; \
                  cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | head -1; \
                  cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | head -1; \
                  df -k /dev/shm | tail -1";
    let (state, logs) = run_with(&engine, &name, script, |r| {
        r.resources = Resources { memory_bytes: Some(64 * MIB), cpus: Some(0.5), pids_limit: Some(32), shm_size_bytes: Some(16 * MIB) };
    })
    .await;
    assert_eq!(state.state, ContainerState::Exited, "{logs}");
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines[0].starts_with("50000"), "half a CPU is 50 ms per 100 ms: {logs}");
    assert_eq!(lines[1], "32", "{logs}");
    assert_eq!(lines[2], (64 * MIB).to_string(), "{logs}");
    let shm_kib: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(shm_kib[1], "16384", "/dev/shm is 16 MiB: {logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_is_stopped_at_the_pids_limit() {
    let engine = engine().await;
    let name = Name::new("pids");
    // 50 background sleeps against a limit of 20 processes: a fork fails, and the shell with it.
    let script = "for i in $(seq 1 50); do sleep 2 & done; wait; echo all 50 ran";
    let (state, logs) = run_with(&engine, &name, script, |r| r.resources.pids_limit = Some(20)).await;
    assert!(logs.contains("can't fork"), "forks past the limit fail: {logs}");
    assert!(!logs.contains("all 50 ran"), "{logs}");
    assert_eq!(state.state, ContainerState::Exited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_mounts_read_write_and_read_only_and_tmpfs_reach_the_container() {
    let engine = engine().await;
    let dir = std::env::temp_dir().join(format!("gofer-test-bind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("input"), "from the host\n").unwrap();
    let source = dir.to_string_lossy().into_owned();
    let name = Name::new("mounts");
    let script = "cat /rw/input; echo written > /rw/output; \
                  (echo x > /ro/refused) 2>/dev/null && echo WRITABLE || echo read-only refused; \
                  echo t > /scratch/t && df -k /scratch | tail -1";
    let (state, logs) = run_with(&engine, &name, script, |r| {
        r.mounts = vec![
            Mount { kind: MountKind::Bind { source: source.clone() }, target: "/rw".into(), read_only: false },
            Mount { kind: MountKind::Bind { source: source.clone() }, target: "/ro".into(), read_only: true },
            Mount { kind: MountKind::Tmpfs { size_bytes: Some(8 * MIB) }, target: "/scratch".into(), read_only: false },
        ];
    })
    .await;
    let written = std::fs::read_to_string(dir.join("output"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(state.state, ContainerState::Exited, "{logs}");
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines[..2], ["from the host", "read-only refused"], "{logs}");
    assert_eq!(written.unwrap(), "written\n");
    assert_eq!(lines[2].split_whitespace().nth(1), Some("8192"), "the tmpfs is 8 MiB: {logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_volume_keeps_its_files_between_containers() {
    let engine = engine().await;
    let volume = format!("gofer-test-volume-{}", std::process::id());
    let (first, second) = (Name::new("vol1"), Name::new("vol2"));
    let mount = Mount { kind: MountKind::Volume { name: volume.clone() }, target: "/data".into(), read_only: false };
    run_with(&engine, &first, "echo kept > /data/file", |r| r.mounts = vec![mount.clone()]).await;
    let (_, logs) = run_with(&engine, &second, "cat /data/file", |r| r.mounts = vec![mount.clone()]).await;
    drop((first, second));
    let _ = std::process::Command::new("docker").args(["volume", "rm", "-f", &volume]).output();
    assert_eq!(logs, "kept\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_directory_user_and_labels_are_applied_and_listed() {
    let engine = engine().await;
    let name = Name::new("settings");
    let labels = BTreeMap::from([("ci.gofer.pipeline".to_owned(), "build-42".to_owned())]);
    let (_, logs) = run_with(&engine, &name, "pwd; id -u; id -g", |r| {
        r.working_dir = Some("/tmp".into());
        r.user = Some("1000:1001".into());
        r.labels = labels.clone();
    })
    .await;
    assert_eq!(logs, "/tmp\n1000\n1001\n");
    let listed = bounded("list", engine.list_containers()).await.unwrap();
    let ours = listed.iter().find(|c| c.name == name.0).expect("the job is listed");
    assert_eq!(ours.labels.get("ci.gofer.pipeline").map(String::as_str), Some("build-42"));
    assert_eq!(ours.labels.get(MANAGED_LABEL).map(String::as_str), Some("true"));
    assert_eq!((ours.state.state, ours.state.exit_code), (ContainerState::Exited, 0));
    assert_eq!(ours.id.len(), 64);
    assert!(ours.created_at.is_some_and(|t| t <= SystemTime::now()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_holds_only_the_library_s_containers() {
    let engine = engine().await;
    let (ours, foreign) = (Name::new("list-ours"), Name::new("list-foreign"));
    bounded("start", engine.start_container(shell(&ours, "true"))).await.unwrap();
    docker_cli(&["create", "--name", &foreign, &bed().image, "true"]);
    let names: Vec<String> = bounded("list", engine.list_containers()).await.unwrap().into_iter().map(|c| c.name).collect();
    assert!(names.contains(&ours.0), "{names:?}");
    assert!(!names.contains(&foreign.0), "a container the library did not create is not listed: {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_returns_the_full_id_and_the_image_id() {
    let engine = engine().await;
    let name = Name::new("ids");
    let started = bounded("start", engine.start_container(shell(&name, "true"))).await.unwrap();
    assert_eq!(started.container_id, docker_cli(&["inspect", "-f", "{{.Id}}", &name]));
    assert_eq!(started.image_id, docker_cli(&["image", "inspect", "-f", "{{.Id}}", &bed().image]));
    assert_eq!(started.url, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_source_that_does_not_exist_is_refused_and_nothing_is_created() {
    let engine = engine().await;
    let name = Name::new("nobind");
    let mut req = shell(&name, "true");
    req.mounts = vec![Mount { kind: MountKind::Bind { source: "/nonexistent/gofer".into() }, target: "/x".into(), read_only: false }];
    let err = bounded("start", engine.start_container(req)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("/nonexistent/gofer"), "{err}");
    let exists = std::process::Command::new("docker").args(["inspect", &name]).output().unwrap().status.success();
    assert!(!exists, "no container was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_limits_and_mounts_are_refused_before_the_engine_is_asked() {
    let engine = engine().await;
    let name = Name::new("badlimits");
    let cases: Vec<(Box<dyn Fn(&mut StartContainerRequest)>, &str)> = vec![
        (Box::new(|r| r.resources.memory_bytes = Some(MIB)), "resources.memory_bytes"),
        (Box::new(|r| r.resources.cpus = Some(-1.0)), "resources.cpus"),
        (Box::new(|r| r.resources.pids_limit = Some(-5)), "resources.pids_limit"),
        (Box::new(|r| r.mounts = vec![Mount { kind: MountKind::Tmpfs { size_bytes: None }, target: "rel".into(), read_only: false }]), "mounts[0].target"),
        (Box::new(|r| { r.labels.insert(MANAGED_LABEL.into(), "no".into()); }), "labels"),
    ];
    for (set, field) in cases {
        let mut req = shell(&name, "true");
        set(&mut req);
        let err = engine.start_container(req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.message().starts_with(field), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_logs_tag_stdout_and_stderr_in_the_order_written() {
    let engine = engine().await;
    let name = Name::new("typed");
    let script = "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; sleep 0.2; printf err2 >&2";
    bounded("start", engine.start_container(shell(&name, script))).await.unwrap();
    let mut frames = bounded("frames", engine.get_log_frames(GetLogsRequest { id: name.0.clone() })).await.unwrap();
    let mut got: Vec<(LogSource, String)> = Vec::new();
    while let Some(frame) = bounded("frame", frames.next()).await {
        let frame = frame.unwrap();
        match got.last_mut() {
            Some((source, text)) if *source == frame.source => text.push_str(&String::from_utf8_lossy(&frame.data)),
            _ => got.push((frame.source, String::from_utf8_lossy(&frame.data).into_owned())),
        }
    }
    let want = [(LogSource::Stdout, "out1\n"), (LogSource::Stderr, "err1\n"), (LogSource::Stdout, "out2\n"), (LogSource::Stderr, "err2")];
    assert_eq!(got, want.map(|(s, t)| (s, t.to_owned())));

    // The same through the blocking reader (C, Go and Python read it so), off the runtime.
    let id = name.0.clone();
    let seen = tokio::task::spawn_blocking(move || {
        let blocking = BlockingEngine::connect(DockerOptions::default()).unwrap();
        let reader = blocking.get_logs(GetLogsRequest { id }).unwrap();
        let mut buf = [0u8; 4096];
        let mut seen: Vec<(LogSource, String)> = Vec::new();
        loop {
            let (n, source) = reader.read_frame(&mut buf).unwrap();
            if n == 0 {
                return seen;
            }
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            match seen.last_mut() {
                Some((last, all)) if *last == source => all.push_str(&text),
                _ => seen.push((source, text)),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(seen, want.map(|(s, t)| (s, t.to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_on_a_container_removed_at_its_exit_gives_the_exit_code_it_answered() {
    let engine = engine().await;
    let name = Name::new("autoremove");
    // `--rm`: the engine removes the container as soon as it has exited.
    docker_cli(&["run", "-d", "--rm", "--name", &name, &bed().image, "sh", "-c", "sleep 1; exit 3"]);
    let waited = bounded("wait", engine.wait_container(wait_req(&name))).await.unwrap();
    assert_eq!((waited.state, waited.exit_code), (ContainerState::Exited, 3), "{waited:?}");
}
