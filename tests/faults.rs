//! Faults: the daemon dies, restarts or never answers; a container is killed from outside.
//!
//! Tests that kill or freeze dockerd use a private engine of their own
//! (`scripts/private-dockerd.sh`, socket under `target/faults/`), never the default one that
//! other tests share; they take it one at a time ([`PrivateEngine::acquire`]). Tests of
//! timeouts use stand-in servers on 127.0.0.1 that accept and never answer.
//!
//! Every wait is bounded: a hang fails the test with what was awaited.

mod common;
mod reliability;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use gofer_scheduler::ffi::{GoferContainerState, GoferStatus};
use gofer_scheduler::*;
use reliability::cabi;
use reliability::*;

const IMAGE: &str = "gofer-test/busybox:latest";
/// The request timeout of engines on the private daemon. A fault must be reported well before
/// it: an error that only arrives at the timeout would mean the break went unnoticed.
const TIMEOUT: Duration = Duration::from_secs(10);
/// A container that stops at once on SIGTERM: a dockerd restarting after a crash stops the
/// containers it finds running, and one that ignored TERM would cost 10 s each time.
const WAITS_FOR_TERM: &str = "trap 'exit 143' TERM; echo ready; while :; do sleep 0.1; done";
/// A container that writes numbered lines until stopped.
const CHATTY: &str = "trap 'exit 143' TERM; i=0; while :; do echo line $i; i=$((i+1)); sleep 0.01; done";

fn engine_on(host: &str) -> BlockingEngine {
    BlockingEngine::connect(DockerOptions { host: Some(host.into()), timeout: TIMEOUT, ..Default::default() })
        .expect("the private engine answers")
}

fn shell(name: &str, script: &str) -> StartContainerRequest {
    let mut req = StartContainerRequest::new(name, IMAGE);
    req.command = Some(vec!["sh".into(), "-c".into(), script.into()]);
    req
}

fn state(engine: &BlockingEngine, id: &str) -> Result<GetStateResponse> {
    engine.get_state(GetStateRequest { id: id.into() })
}

/// Runs `f` on a thread and waits at most `limit` for its result: a hang fails the test.
fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| panic!("{what}: no result within {limit:?} (hang)"))
}

/// Checks that `bytes` is exactly `line 0\nline 1\n...` up to some line (a whole prefix of the
/// chatty container's output, with nothing lost or repeated in between). Returns the line count.
fn consecutive_lines(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut n = 0;
    for line in complete.lines() {
        assert_eq!(line, format!("line {n}"), "line {n} of the log is wrong: a byte was lost or repeated");
        n += 1;
    }
    n
}

/// Process resources before a fault, compared after it (descriptors, threads).
struct Resources {
    fds: usize,
    threads: usize,
}

impl Resources {
    fn now() -> Self {
        Resources { fds: open_fds(), threads: threads() }
    }

    /// Waits (up to 15 s: the runtime retires idle helper threads after 10 s) for descriptors and
    /// threads to come back to `self`; fails when they do not.
    fn assert_returned(&self, test: &str) {
        let fds = settle(Duration::from_secs(15), self.fds, open_fds);
        let threads = settle(Duration::from_secs(15), self.threads, threads);
        figure(test, format!("descriptors {} -> {fds}, threads {} -> {threads}", self.fds, self.threads));
        assert!(fds <= self.fds, "{fds} descriptors open after the fault, {} before: a leak", self.fds);
        assert!(threads <= self.threads, "{threads} threads after the fault, {} before: a leak", self.threads);
    }
}

/// The runtime and its threads exist before a baseline is taken.
fn warm_runtime(host: &str) {
    drop(engine_on(host));
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn log_readers_get_an_error_not_an_end_when_dockerd_is_killed() {
    let pe = PrivateEngine::acquire();
    warm_runtime(&pe.host);
    let before = Resources::now();
    let engine = engine_on(&pe.host);
    let chatty = PrivateName::new(&pe, "fault-logs-chatty");
    let quiet = PrivateName::new(&pe, "fault-logs-quiet");
    engine.start_container(shell(&chatty, CHATTY)).unwrap();
    engine.start_container(shell(&quiet, WAITS_FOR_TERM)).unwrap();

    // Three readers: the Rust blocking reader and a C handle on a container that writes, and a
    // reader blocked on a container that writes nothing more.
    let rust_reader = engine.get_logs(GetLogsRequest { id: chatty.name.clone() }).unwrap();
    let c_engine = cabi::Engine::new(Some(&pe.host), TIMEOUT.as_millis() as u64).unwrap();
    let c_reader = c_engine.logs(&chatty).unwrap();
    let quiet_reader = engine.get_logs(GetLogsRequest { id: quiet.name.clone() }).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let mut rust_bytes = Vec::new();
    while rust_bytes.len() < 4096 {
        let n = rust_reader.read(&mut buf).unwrap();
        assert!(n > 0, "the chatty container's logs ended early");
        rust_bytes.extend_from_slice(&buf[..n]);
    }
    let mut c_bytes = Vec::new();
    while c_bytes.len() < 4096 {
        let n = c_reader.read(&mut buf).unwrap();
        assert!(n > 0, "the chatty container's logs ended early (C)");
        c_bytes.extend_from_slice(&buf[..n]);
    }
    assert_eq!(quiet_reader.read(&mut buf).unwrap(), 6, "ready\\n");
    let (quiet_tx, quiet_rx) = mpsc::channel();
    let quiet_thread = thread::spawn(move || {
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let result = loop {
            match quiet_reader.read(&mut buf) {
                Ok(0) => break Ok(0),
                Ok(_) => continue,
                Err(e) => break Err(e),
            }
        };
        let _ = quiet_tx.send((result, started.elapsed()));
    });
    thread::sleep(Duration::from_millis(300)); // the quiet reader is now blocked in read

    let killed = Instant::now();
    pe.kill();
    let kill_took = killed.elapsed();

    // Each reader may first get the bytes already on their way, then must fail.
    let rust_result = loop {
        assert!(killed.elapsed() < TIMEOUT, "the Rust reader neither failed nor ended within {TIMEOUT:?}");
        match rust_reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => rust_bytes.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    let rust_after = killed.elapsed();
    let c_result = loop {
        assert!(killed.elapsed() < TIMEOUT, "the C reader neither failed nor ended within {TIMEOUT:?}");
        match c_reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => c_bytes.extend_from_slice(&buf[..n]),
            Err(f) => break Err(f),
        }
    };
    let c_after = killed.elapsed();
    let (quiet_result, _) = quiet_rx.recv_timeout(TIMEOUT).expect("the blocked quiet reader woke up");
    let quiet_after = killed.elapsed();
    quiet_thread.join().unwrap();

    let err = rust_result.expect_err("a killed daemon must not look like the end of the logs (Rust)");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let failure = c_result.expect_err("a killed daemon must not look like the end of the logs (C)");
    assert_eq!(failure.status, GoferStatus::GOFER_CONNECTION, "{}", failure.message);
    let err = quiet_result.expect_err("a killed daemon must not end a quiet stream cleanly");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    // What did arrive is whole: consecutive lines, nothing lost in the middle.
    let lines = consecutive_lines(&rust_bytes);
    consecutive_lines(&c_bytes);
    figure(
        "log_readers_get_an_error_not_an_end_when_dockerd_is_killed",
        format!(
            "error after the kill command: Rust reader {rust_after:.2?}, C reader {c_after:.2?}, blocked quiet \
             reader {quiet_after:.2?} (the command itself took {kill_took:.2?}; request timeout {TIMEOUT:?}); \
             {lines} whole lines before it"
        ),
    );

    pe.start();
    drop((rust_reader, c_reader, c_engine, engine));
    before.assert_returned("log_readers_get_an_error_not_an_end_when_dockerd_is_killed");
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn attach_sessions_end_and_report_errors_when_dockerd_is_killed() {
    let pe = PrivateEngine::acquire();
    warm_runtime(&pe.host);
    let before = Resources::now();
    let engine = engine_on(&pe.host);
    let name = PrivateName::new(&pe, "fault-attach");
    engine.start_container(shell(&name, WAITS_FOR_TERM)).unwrap();
    let rust_session =
        engine.attach_container(AttachContainerRequest { id: name.name.clone(), command: vec!["cat".into()] }).unwrap();
    let c_engine = cabi::Engine::new(Some(&pe.host), TIMEOUT.as_millis() as u64).unwrap();
    let c_session = c_engine.attach(&name, &["cat"]).unwrap();
    for fd in [rust_session.raw_fd(), c_session.fd()] {
        write_fd(fd, b"alive\n");
        read_fd_until(fd, b"alive\r\nalive\r\n", Duration::from_secs(20));
    }

    let killed = Instant::now();
    pe.kill();
    for (who, fd) in [("Rust", rust_session.raw_fd()), ("C", c_session.fd())] {
        let (_, end) = read_fd_until_end(fd, TIMEOUT);
        // End-of-stream or a socket error are both fine; staying open is not.
        if let Err(e) = &end {
            assert!(!e.starts_with("still open"), "{who} session: {e}");
        }
    }
    let ended_after = killed.elapsed();

    // The session's calls that need the daemon fail with a connection error, promptly.
    let err = rust_session.exit_code().expect_err("exit code without a daemon");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let err = rust_session.resize(80, 24).expect_err("resize without a daemon");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let failure = c_session.exit_code().expect_err("exit code without a daemon (C)");
    assert_eq!(failure.status, GoferStatus::GOFER_CONNECTION, "{}", failure.message);
    assert!(killed.elapsed() < TIMEOUT, "the calls took {:?}", killed.elapsed());
    figure(
        "attach_sessions_end_and_report_errors_when_dockerd_is_killed",
        format!("both session descriptors read end-of-stream {ended_after:.2?} after the kill"),
    );

    pe.start();
    drop((rust_session, c_session, c_engine, engine));
    before.assert_returned("attach_sessions_end_and_report_errors_when_dockerd_is_killed");
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn start_container_gets_a_connection_error_when_dockerd_dies_during_the_call() {
    let pe = PrivateEngine::acquire();
    let engine = std::sync::Arc::new(engine_on(&pe.host));
    let c_engine = std::sync::Arc::new(cabi::Engine::new(Some(&pe.host), TIMEOUT.as_millis() as u64).unwrap());
    let rust_name = PrivateName::new(&pe, "fault-start");
    let c_name = PrivateName::new(&pe, "fault-start-c");

    // A frozen daemon takes the requests and answers none: both calls are now in flight.
    pe.freeze();
    let (tx, rx) = mpsc::channel();
    let (e, id, tx1) = (engine.clone(), rust_name.name.clone(), tx.clone());
    thread::spawn(move || {
        let r = e.start_container(shell(&id, "true")).map_err(|e| (e.kind(), e.to_string()));
        let _ = tx1.send(("Rust", r.map(|_| ()).map_err(|(k, m)| format!("{k:?}: {m}"))));
    });
    let (e, id) = (c_engine.clone(), c_name.name.clone());
    thread::spawn(move || {
        let r = e.start(&id, IMAGE, &["true"]);
        let _ = tx.send(("C", r.map_err(|f| format!("{:?}: {}", f.status, f.message))));
    });
    thread::sleep(Duration::from_millis(700));
    assert!(rx.try_recv().is_err(), "a start finished although the daemon is frozen");

    let killed = Instant::now();
    pe.kill();
    for _ in 0..2 {
        let (who, result) = rx.recv_timeout(TIMEOUT).expect("StartContainer returned after the daemon died");
        let message = result.expect_err("StartContainer cannot succeed on a dead daemon");
        let expected = if who == "Rust" { "Connection" } else { "GOFER_CONNECTION" };
        assert!(message.starts_with(expected), "{who}: {message}");
        assert!(message.contains("cannot reach the docker engine"), "{who}: {message}");
    }
    figure(
        "start_container_gets_a_connection_error_when_dockerd_dies_during_the_call",
        format!("Rust and C calls failed with a connection error {:.2?} after the kill", killed.elapsed()),
    );
    pe.start();
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn a_pull_gets_a_connection_error_when_dockerd_dies_during_it() {
    let pe = PrivateEngine::acquire();
    let registry = SilentListener::start_beside(&pe);
    let engine = engine_on(&pe.host);
    let name = PrivateName::new(&pe, "fault-pull");
    let mut req = shell(&name, "true");
    req.image_name = format!("{}/gofer/never-answers:latest", registry.address());
    req.always_pull = true;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(engine.start_container(req).map(|_| ()));
    });
    // The daemon has connected to the registry: the pull is under way.
    let deadline = Instant::now() + Duration::from_secs(20);
    while registry.accepted() == 0 {
        assert!(Instant::now() < deadline, "the daemon never contacted the registry");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(200));

    let killed = Instant::now();
    pe.kill();
    let err = rx.recv_timeout(TIMEOUT).expect("the pull returned after the daemon died").expect_err("no image");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    figure(
        "a_pull_gets_a_connection_error_when_dockerd_dies_during_it",
        format!("connection error {:.2?} after the kill", killed.elapsed()),
    );
    pe.start();
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn creating_an_engine_while_dockerd_is_down_is_a_connection_error_saying_what_to_do() {
    let pe = PrivateEngine::acquire();
    // Killed: its socket file is still there, but nobody listens. Stopped: no socket at all.
    for how in ["killed", "stopped"] {
        if how == "killed" {
            pe.kill();
        } else {
            pe.stop();
        }
        let started = Instant::now();
        let err = BlockingEngine::connect(DockerOptions {
            host: Some(pe.host.clone()),
            timeout: TIMEOUT,
            ..Default::default()
        })
        .err()
        .expect("no engine to connect to");
        assert_eq!(err.kind(), ErrorKind::Connection, "{how}: {err}");
        let text = err.to_string();
        assert!(text.contains(&pe.host), "{how}: the message names the address: {text}");
        assert!(text.contains("Start dockerd") && text.contains("DOCKER_HOST"), "{how}: says what to do: {text}");
        let failure = cabi::Engine::new(Some(&pe.host), TIMEOUT.as_millis() as u64).err().expect("no engine (C)");
        assert_eq!(failure.status, GoferStatus::GOFER_CONNECTION, "{how}: {}", failure.message);
        assert!(failure.message.contains("Start dockerd"), "{how}: {}", failure.message);
        figure(
            "creating_an_engine_while_dockerd_is_down_is_a_connection_error_saying_what_to_do",
            format!("daemon {how}: connection error in {:.2?}: {text}", started.elapsed()),
        );
        pe.start();
    }
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn the_same_engine_works_again_after_dockerd_restarts() {
    let pe = PrivateEngine::acquire();
    let engine = engine_on(&pe.host);
    let c_engine = cabi::Engine::new(Some(&pe.host), TIMEOUT.as_millis() as u64).unwrap();
    let cli_state = |id: &str| pe.cli(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id]);

    for how in ["crash (SIGKILL) then start", "graceful restart"] {
        let running = PrivateName::new(&pe, "fault-restart");
        engine.start_container(shell(&running, WAITS_FOR_TERM)).unwrap();
        assert_eq!(state(&engine, &running).unwrap().state, ContainerState::Running);

        if how.starts_with("crash") {
            pe.kill();
            // While the daemon is down there is nothing to report, and no stale answer either.
            let err = state(&engine, &running).expect_err("no daemon, no state");
            assert_eq!(err.kind(), ErrorKind::Connection, "{how}: {err}");
            pe.start();
        } else {
            private_dockerd("restart");
        }

        // The very first call after the restart is answered, with what the daemon now says: it
        // stopped the container it found running (SIGTERM → exit 143).
        let now = state(&engine, &running).unwrap_or_else(|e| panic!("{how}: first call after the restart: {e}"));
        let daemon_says = cli_state(&running);
        let ours = format!("{} {}", now.state.as_str().to_lowercase(), now.exit_code);
        assert_eq!(ours, daemon_says, "{how}: GetState must report what the daemon says");
        assert_eq!(now.state, ContainerState::Exited, "{how}");
        let (c_state, c_code) = c_engine.state(&running).unwrap_or_else(|f| panic!("{how}: C: {}", f.message));
        assert_eq!((c_state, c_code), (GoferContainerState::GOFER_STATE_EXITED, now.exit_code), "{how}: C");

        // And the whole cycle works on the same handles.
        let fresh = PrivateName::new(&pe, "fault-restart-fresh");
        engine.start_container(shell(&fresh, "echo after the restart; exit 5")).unwrap();
        let reader = engine.get_logs(GetLogsRequest { id: fresh.name.clone() }).unwrap();
        let mut all = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all, b"after the restart\n", "{how}");
        let fresh_state = state(&engine, &fresh).unwrap();
        assert_eq!((fresh_state.state, fresh_state.exit_code), (ContainerState::Exited, 5));
        figure(
            "the_same_engine_works_again_after_dockerd_restarts",
            format!("{how}: first call answered ({daemon_says})"),
        );
    }
}

/// A wait for a container's exit outlives a crash of dockerd: the container exits while the
/// daemon is down (containerd keeps it running and records the exit), and the wait, asked
/// again until the daemon is back, reports the exit code the process gave. From Docker 26 on, a
/// killed dockerd takes the containerd it manages with it, and the engine itself then reports
/// the exit as 255 (the process's code is lost with containerd: docs/contract.md, "Engine
/// versions"); the wait reports what the engine says.
#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn a_wait_across_a_dockerd_restart_returns_the_exit_code() {
    let pe = PrivateEngine::acquire();
    let engine = engine_on(&pe.host);
    let name = PrivateName::new(&pe, "fault-wait");
    engine.start_container(shell(&name, "sleep 2; exit 7")).unwrap();
    let started = Instant::now();
    let waited = thread::scope(|scope| {
        let wait = scope.spawn(|| engine.wait_container(WaitContainerRequest { id: name.name.clone() }));
        thread::sleep(Duration::from_millis(300));
        pe.kill();
        thread::sleep(Duration::from_millis(2500)); // the container exits meanwhile
        pe.start();
        wait.join().expect("the wait thread")
    });
    let waited = waited.unwrap_or_else(|e| panic!("the wait failed across the restart: {e}"));
    let daemon_says = pe.cli(&["inspect", "-f", "{{.State.ExitCode}}", &name.name]);
    assert_eq!(waited.exit_code.to_string(), daemon_says, "the wait reports the engine's exit code: {waited:?}");
    let expected = match std::env::var("GOFER_ENGINE_VERSION").as_deref() {
        Ok("docker-20.10") | Err(_) => 7,
        Ok(_) => 255,
    };
    assert_eq!((waited.state, waited.exit_code), (ContainerState::Exited, expected), "{waited:?}");
    figure(
        "a_wait_across_a_dockerd_restart_returns_the_exit_code",
        format!("EXITED 7 after a crash and restart of dockerd, {:.1?} after the start", started.elapsed()),
    );
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn a_container_killed_from_outside_ends_its_log_stream_cleanly_and_reports_exited() {
    let pe = PrivateEngine::acquire();
    let engine = engine_on(&pe.host);
    let name = PrivateName::new(&pe, "fault-outside-kill");
    engine.start_container(shell(&name, CHATTY)).unwrap();
    let reader = engine.get_logs(GetLogsRequest { id: name.name.clone() }).unwrap();
    let mut all = Vec::new();
    let mut buf = vec![0u8; 8192];
    while all.len() < 2048 {
        let n = reader.read(&mut buf).unwrap();
        all.extend_from_slice(&buf[..n]);
    }
    pe.cli(&["kill", &name]);
    let killed = Instant::now();
    loop {
        assert!(killed.elapsed() < TIMEOUT, "the stream did not end within {TIMEOUT:?} of the kill");
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => panic!("a container killed from outside must end its logs cleanly: {e}"),
        }
    }
    let after = state(&engine, &name).unwrap();
    assert_eq!((after.state, after.exit_code), (ContainerState::Exited, 137));
    // Every byte the engine stored was delivered, in order.
    let stored = pe.cli_output(&["logs", &name]).stdout;
    assert_eq!(all.len(), stored.len(), "bytes read vs `docker logs`");
    assert!(all == stored, "the bytes read differ from `docker logs`");
    let lines = consecutive_lines(&all);
    figure(
        "a_container_killed_from_outside_ends_its_log_stream_cleanly_and_reports_exited",
        format!(
            "clean end {:.2?} after `docker kill`; {lines} lines, {} bytes, identical to `docker logs`",
            killed.elapsed(),
            all.len()
        ),
    );
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn a_container_removed_from_outside_ends_its_log_stream_and_is_then_no_such_container() {
    let pe = PrivateEngine::acquire();
    let engine = engine_on(&pe.host);
    let name = PrivateName::new(&pe, "fault-outside-rm");
    engine.start_container(shell(&name, CHATTY)).unwrap();
    let reader = engine.get_logs(GetLogsRequest { id: name.name.clone() }).unwrap();
    let mut all = Vec::new();
    let mut buf = vec![0u8; 8192];
    while all.len() < 2048 {
        let n = reader.read(&mut buf).unwrap();
        all.extend_from_slice(&buf[..n]);
    }
    pe.cli(&["rm", "-f", &name]);
    let removed = Instant::now();
    loop {
        assert!(removed.elapsed() < TIMEOUT, "the stream did not end within {TIMEOUT:?} of the removal");
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => panic!("a container removed from outside must end its logs cleanly: {e}"),
        }
    }
    let err = state(&engine, &name).expect_err("the container is gone");
    assert_eq!(err.kind(), ErrorKind::NoSuchContainer, "{err}");
    let lines = consecutive_lines(&all);
    figure(
        "a_container_removed_from_outside_ends_its_log_stream_and_is_then_no_such_container",
        format!("clean end {:.2?} after `docker rm -f`; {lines} consecutive lines read", removed.elapsed()),
    );
}

/// The margin allowed above the request timeout: scheduling, and bollard's own backstop one
/// second above ours.
const LATE: Duration = Duration::from_millis(1500);

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn an_engine_that_accepts_and_never_answers_times_out_at_creation() {
    let silent = SilentListener::start();
    let limit = Duration::from_secs(2);
    let host = format!("tcp://{}", silent.address());
    let started = Instant::now();
    let options = DockerOptions { host: Some(host.clone()), timeout: limit, ..Default::default() };
    let err =
        within(limit * 4, "connect", move || BlockingEngine::connect(options).err()).expect("no answer, no engine");
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains(&host) && err.to_string().contains("DOCKER_HOST"), "{err}");
    assert!(took >= limit && took < limit + LATE, "timed out after {took:?}, limit {limit:?}");
    figure(
        "an_engine_that_accepts_and_never_answers_times_out_at_creation",
        format!("Timeout after {took:.2?} (limit {limit:?})"),
    );
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn every_operation_times_out_when_the_engine_stops_answering() {
    let fake = FakeEngine::start(FakeMode::Silent);
    let limit = Duration::from_secs(2);
    let engine = std::sync::Arc::new(
        BlockingEngine::connect(DockerOptions { host: Some(fake.host()), timeout: limit, ..Default::default() })
            .unwrap(),
    );
    let c_engine = std::sync::Arc::new(cabi::Engine::new(Some(&fake.host()), limit.as_millis() as u64).unwrap());
    type Op = Box<dyn FnOnce() -> std::result::Result<(), String> + Send>;
    let rust = |f: Box<dyn FnOnce(&BlockingEngine) -> Result<()> + Send>| -> Op {
        let e = engine.clone();
        Box::new(move || match f(&e) {
            Ok(()) => Err("succeeded".into()),
            Err(err) if err.kind() == ErrorKind::Timeout => Ok(()),
            Err(err) => Err(format!("{:?}: {err}", err.kind())),
        })
    };
    let c = |f: Box<dyn FnOnce(&cabi::Engine) -> std::result::Result<(), cabi::Failure> + Send>| -> Op {
        let e = c_engine.clone();
        Box::new(move || match f(&e) {
            Ok(()) => Err("succeeded".into()),
            Err(failure) if failure.status == GoferStatus::GOFER_TIMEOUT => Ok(()),
            Err(failure) => Err(format!("{:?}: {}", failure.status, failure.message)),
        })
    };
    let ops: Vec<(&str, Op)> = vec![
        ("start", rust(Box::new(|e| e.start_container(shell("gofer-test-timeout", "true")).map(|_| ())))),
        (
            "stop",
            rust(Box::new(|e| {
                e.stop_container(StopContainerRequest { id: "gofer-test-timeout".into(), timeout: Duration::ZERO })
            })),
        ),
        ("state", rust(Box::new(|e| e.get_state(GetStateRequest { id: "gofer-test-timeout".into() }).map(|_| ())))),
        ("logs", rust(Box::new(|e| e.get_logs(GetLogsRequest { id: "gofer-test-timeout".into() }).map(|_| ())))),
        (
            "attach",
            rust(Box::new(|e| {
                e.attach_container(AttachContainerRequest {
                    id: "gofer-test-timeout".into(),
                    command: vec!["sh".into()],
                })
                .map(|_| ())
            })),
        ),
        ("prune", rust(Box::new(|e| e.prune().map(|_| ())))),
        ("C start", c(Box::new(|e| e.start("gofer-test-timeout", IMAGE, &["true"])))),
        ("C state", c(Box::new(|e| e.state("gofer-test-timeout").map(|_| ())))),
        ("C logs", c(Box::new(|e| e.logs("gofer-test-timeout").map(|_| ())))),
    ];
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let count = ops.len();
    for (what, op) in ops {
        let tx = tx.clone();
        thread::spawn(move || {
            let t = Instant::now();
            let r = op();
            let _ = tx.send((what, r, t.elapsed()));
        });
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..count {
        let (what, result, took) = rx.recv_timeout(limit * 4).expect("every operation returns (no hang)");
        result.unwrap_or_else(|e| panic!("{what}: want a timeout, got {e}"));
        assert!(took >= limit && took < limit + LATE, "{what}: timed out after {took:?}, limit {limit:?}");
        slowest = slowest.max(took);
    }
    figure(
        "every_operation_times_out_when_the_engine_stops_answering",
        format!("{count} operations (Rust and C) each gave Timeout; slowest after {slowest:.2?}, limit {limit:?}; all in {:.2?}", started.elapsed()),
    );
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn a_pull_from_a_registry_that_never_answers_times_out() {
    let pe = PrivateEngine::acquire();
    let registry = SilentListener::start_beside(&pe);
    let limit = Duration::from_secs(3);
    let engine =
        BlockingEngine::connect(DockerOptions { host: Some(pe.host.clone()), timeout: limit, ..Default::default() })
            .unwrap();
    let name = PrivateName::new(&pe, "fault-silent-registry");
    let mut req = shell(&name, "true");
    req.image_name = format!("{}/gofer/never-answers:latest", registry.address());
    let started = Instant::now();
    let err = within(limit * 4, "start", move || engine.start_container(req).err()).expect("no image");
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(registry.accepted() > 0, "the daemon did contact the registry");
    assert!(took >= limit && took < limit + LATE, "timed out after {took:?}, limit {limit:?}");
    figure(
        "a_pull_from_a_registry_that_never_answers_times_out",
        format!("Timeout after {took:.2?} (limit {limit:?}): {err}"),
    );
}
