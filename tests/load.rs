//! Load: many threads sharing one engine, hundreds of open log streams, and long runs of
//! start/logs/state cycles with the process's memory and descriptors measured.
//!
//! Two profiles (tests/reliability/mod.rs): quick by default (CI), full with
//! `GOFER_RELIABILITY_FULL=1`. Environment variables size a run by hand: GOFER_LOAD_THREADS,
//! GOFER_LOAD_SECONDS, GOFER_LOAD_STARTS (concurrent starts), GOFER_LEAK_CYCLES.
//!
//! The tests here measure the whole process, so they run one at a time. Concurrent container
//! starts stay at 8 or fewer: Debian's Docker 20.10.24 can deadlock under many concurrent
//! starts (a daemon bug, not ours).

mod common;
mod reliability;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{bed, shell, Name};
use gofer_scheduler::ffi::{GoferContainerState, GoferStatus};
use gofer_scheduler::*;
use reliability::cabi;
use reliability::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn engine() -> BlockingEngine {
    BlockingEngine::connect(DockerOptions { timeout: Duration::from_secs(60), ..Default::default() })
        .expect("the test bed's engine answers")
}

/// A counting semaphore: at most `n` container starts at once.
struct Starts {
    free: Mutex<usize>,
    changed: Condvar,
}

impl Starts {
    fn new(n: usize) -> Self {
        Starts { free: Mutex::new(n), changed: Condvar::new() }
    }

    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap();
        while *free == 0 {
            free = self.changed.wait(free).unwrap();
        }
        *free -= 1;
        drop(free);
        let out = f();
        *self.free.lock().unwrap() += 1;
        self.changed.notify_one();
        out
    }
}

/// xorshift: a per-thread deterministic random source (no dependency, reproducible by seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Reads a blocking log reader to its end with buffers of `size` bytes.
fn read_to_end(reader: &mut LogReader, size: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; size];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn seq_output(from: u64, to: u64) -> String {
    (from..=to).map(|i| format!("{i}\n")).collect()
}

/// Tallies of a load run. Every operation's outcome is checked against what is known to be
/// true; anything else is an error, kept with its message.
#[derive(Default)]
struct Tally {
    ops: Mutex<BTreeMap<&'static str, u64>>,
    log_bytes_verified: AtomicU64,
    /// Followed streams that ended cleanly with only the beginning of the log.
    truncated: AtomicU64,
    exit_codes_verified: AtomicU64,
    errors: Mutex<Vec<String>>,
    state_latencies_us: Mutex<Vec<u64>>,
}

impl Tally {
    fn count(&self, op: &'static str) {
        *self.ops.lock().unwrap().entry(op).or_default() += 1;
    }

    fn error(&self, what: String) {
        self.errors.lock().unwrap().push(what);
    }

    fn total_ops(&self) -> u64 {
        self.ops.lock().unwrap().values().sum()
    }
}

const WAITS_FOR_TERM: &str = "trap 'exit 143' TERM; echo ready; while :; do sleep 0.1; done";
/// A container that ignores SIGTERM (PID 1 without a handler): only SIGKILL stops it, so a stop
/// gives 137 whatever the grace period. (With a TERM handler, a stop with timeout 0 races: the
/// engine sends TERM and KILL back to back, and the handler may exit first with 143.)
const IGNORES_TERM: &str = "echo ready; exec sleep 300";

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn many_threads_share_one_engine_with_every_log_byte_and_exit_code_accounted_for() {
    let _one = one_at_a_time();
    let threads = sized("GOFER_LOAD_THREADS", 16, 64) as usize;
    let seconds = sized("GOFER_LOAD_SECONDS", 15, 60);
    let max_starts = sized("GOFER_LOAD_STARTS", 4, 8) as usize;
    assert!(max_starts <= 8, "more than 8 concurrent starts can deadlock Docker 20.10.24");
    let engine = Arc::new(engine());

    // The pool: containers that ran to their end (known output and exit code) and containers
    // that keep running.
    let finished: Vec<(Name, Vec<u8>, i64)> = (0..8u64)
        .map(|i| {
            let name = Name::new("load-pool");
            let code = (i * 37 + 1) % 256;
            let lines = 200 * (i + 1);
            let script = format!("seq 1 {lines}; echo tag-{i}; exit {code}");
            engine.start_container(shell(&name, &script)).unwrap();
            let expected = format!("{}tag-{i}\n", seq_output(1, lines)).into_bytes();
            (name, expected, code as i64)
        })
        .collect();
    let running: Vec<Name> = (0..2)
        .map(|_| {
            let name = Name::new("load-running");
            engine.start_container(shell(&name, WAITS_FOR_TERM)).unwrap();
            name
        })
        .collect();
    for (name, _, _) in &finished {
        let deadline = Instant::now() + Duration::from_secs(60);
        while engine.get_state(GetStateRequest { id: name.0.clone() }).unwrap().state != ContainerState::Exited {
            assert!(Instant::now() < deadline, "{} did not exit", name.0);
            thread::sleep(Duration::from_millis(50));
        }
    }
    let finished = Arc::new(finished);
    let running: Arc<Vec<String>> = Arc::new(running.iter().map(|n| n.0.clone()).collect());
    let job_names: Vec<Name> = (0..threads).map(|_| Name::new("load-job")).collect();
    let tally = Arc::new(Tally::default());
    let starts = Arc::new(Starts::new(max_starts));
    let deadline = Instant::now() + Duration::from_secs(seconds);

    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for t in 0..threads {
        let (engine, finished, running, tally, starts) =
            (engine.clone(), finished.clone(), running.clone(), tally.clone(), starts.clone());
        let job = job_names[t].0.clone();
        let done_tx = done_tx.clone();
        thread::spawn(move || {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1) * 0x1000_0001);
            let mut jobs = 0u64;
            while Instant::now() < deadline {
                let dice = rng.below(100);
                if dice < 40 {
                    // GetState on a finished container: EXITED with its own code.
                    let (name, _, code) = &finished[rng.below(finished.len() as u64) as usize];
                    let t0 = Instant::now();
                    match engine.get_state(GetStateRequest { id: name.0.clone() }) {
                        Ok(s) if (s.state, s.exit_code) == (ContainerState::Exited, *code) => {
                            tally.exit_codes_verified.fetch_add(1, Ordering::Relaxed);
                        }
                        other => tally.error(format!("state of {}: {other:?}, want EXITED {code}", name.0)),
                    }
                    tally.state_latencies_us.lock().unwrap().push(t0.elapsed().as_micros() as u64);
                    tally.count("get_state");
                } else if dice < 50 {
                    let name = &running[rng.below(running.len() as u64) as usize];
                    match engine.get_state(GetStateRequest { id: name.clone() }) {
                        Ok(s) if s.state == ContainerState::Running => {}
                        other => tally.error(format!("state of {name}: {other:?}, want RUNNING")),
                    }
                    tally.count("get_state");
                } else if dice < 80 {
                    // GetLogs of a finished container, read whole with a random buffer size.
                    let (name, expected, _) = &finished[rng.below(finished.len() as u64) as usize];
                    let size = 1 + rng.below(64 * 1024) as usize;
                    match engine
                        .get_logs(GetLogsRequest { id: name.0.clone() })
                        .and_then(|mut r| read_to_end(&mut r, size))
                    {
                        Ok(bytes) if &bytes == expected => {
                            tally.log_bytes_verified.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                        }
                        Ok(bytes) => {
                            tally.error(format!("logs of {}: {} bytes, want {}", name.0, bytes.len(), expected.len()))
                        }
                        Err(e) => tally.error(format!("logs of {}: {e}", name.0)),
                    }
                    tally.count("get_logs");
                } else if dice < 90 {
                    // GetLogs of a running container, closed after its first line.
                    let name = &running[rng.below(running.len() as u64) as usize];
                    let mut buf = [0u8; 6];
                    match engine.get_logs(GetLogsRequest { id: name.clone() }).and_then(|r| r.read(&mut buf)) {
                        Ok(6) if &buf == b"ready\n" => {
                            tally.log_bytes_verified.fetch_add(6, Ordering::Relaxed);
                        }
                        other => tally.error(format!("first line of {name}: {other:?}")),
                    }
                    tally.count("get_logs_closed_early");
                } else {
                    // A job on this thread's own name: each start replaces the previous one.
                    jobs += 1;
                    // Every third job from the second is stopped instead of run to its end.
                    if jobs % 3 == 2 {
                        let (grace, script, want) = if jobs % 6 == 5 {
                            (Duration::ZERO, IGNORES_TERM, 137)
                        } else {
                            (Duration::from_secs(5), WAITS_FOR_TERM, 143)
                        };
                        let result = starts
                            .run(|| engine.start_container(shell_named(&job, script)))
                            .and_then(|_| engine.get_logs(GetLogsRequest { id: job.clone() }))
                            .and_then(|mut r| {
                                let mut buf = [0u8; 6];
                                r.read(&mut buf)?;
                                engine.stop_container(StopContainerRequest { id: job.clone(), timeout: grace })?;
                                let rest = read_to_end(&mut r, 4096)?;
                                Ok((buf, rest))
                            })
                            .and_then(|(first, rest)| {
                                Ok((first, rest, engine.get_state(GetStateRequest { id: job.clone() })?))
                            });
                        match result {
                            Ok((first, rest, s))
                                if &first == b"ready\n"
                                    && rest.is_empty()
                                    && (s.state, s.exit_code) == (ContainerState::Cancelled, want) =>
                            {
                                tally.exit_codes_verified.fetch_add(1, Ordering::Relaxed);
                                tally.log_bytes_verified.fetch_add(6, Ordering::Relaxed);
                            }
                            other => tally.error(format!("cancelled job {job}: {other:?}")),
                        }
                        tally.count("start_stop_job");
                    } else {
                        let lines = 1 + rng.below(3000);
                        let code = rng.below(256) as i64;
                        let script = format!("seq 1 {lines}; exit {code}");
                        let expected = seq_output(1, lines).into_bytes();
                        let result = starts
                            .run(|| engine.start_container(shell_named(&job, &script)))
                            .and_then(|_| engine.get_logs(GetLogsRequest { id: job.clone() }))
                            .and_then(|mut r| read_to_end(&mut r, 1 + rng.below(16 * 1024) as usize))
                            .and_then(|bytes| Ok((bytes, engine.get_state(GetStateRequest { id: job.clone() })?)));
                        match result {
                            Ok((bytes, s))
                                if bytes == expected
                                    && (s.state, s.exit_code) == (ContainerState::Exited, code) =>
                            {
                                tally.exit_codes_verified.fetch_add(1, Ordering::Relaxed);
                                tally.log_bytes_verified.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                            }
                            Ok((bytes, s)) if expected.starts_with(&bytes) && bytes.len() < expected.len() => {
                                tally.truncated.fetch_add(1, Ordering::Relaxed);
                                tally.error(format!(
                                    "job {job}: the followed stream ended cleanly after {} of {} bytes (state {s:?}): \
                                     a truncated log that looks whole (the daemon's follow race; see \
                                     docs/reliability.md, Known failures)",
                                    bytes.len(),
                                    expected.len()
                                ))
                            }
                            Ok((bytes, s)) => tally.error(format!(
                                "job {job}: {} bytes (want {}), state {s:?} (want EXITED {code})",
                                bytes.len(),
                                expected.len()
                            )),
                            Err(e) => tally.error(format!("job {job}: {e}")),
                        }
                        tally.count("start_logs_state_job");
                    }
                }
            }
            let _ = done_tx.send(t);
        });
    }
    drop(done_tx);
    // No deadlock: every thread is back within the run time plus a generous bound per op.
    let started = Instant::now();
    for _ in 0..threads {
        done_rx
            .recv_timeout(Duration::from_secs(seconds + 180))
            .unwrap_or_else(|_| panic!("a thread did not finish {} s after the deadline: deadlock?", seconds + 180));
    }
    let took = started.elapsed();

    let errors = tally.errors.lock().unwrap();
    let ops = tally.ops.lock().unwrap().clone();
    let mut lat = tally.state_latencies_us.lock().unwrap().clone();
    lat.sort_unstable();
    let pct =
        |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0);
    figure(
        "many_threads_share_one_engine_with_every_log_byte_and_exit_code_accounted_for",
        format!(
            "{threads} threads x {:.0} s, <= {max_starts} concurrent starts: {} operations {ops:?}; {} log bytes and {} \
             exit codes verified; {} errors ({} of them followed streams cut short by the daemon); GetState p50 {} ms, \
             p99 {} ms, max {} ms",
            took.as_secs_f64(),
            tally.total_ops(),
            tally.log_bytes_verified.load(Ordering::Relaxed),
            tally.exit_codes_verified.load(Ordering::Relaxed),
            errors.len(),
            tally.truncated.load(Ordering::Relaxed),
            pct(0.5) / 1000,
            pct(0.99) / 1000,
            lat.last().copied().unwrap_or(0) / 1000,
        ),
    );
    assert!(
        errors.is_empty(),
        "{} unexpected outcomes, first ones: {:#?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );
    assert!(ops.get("start_logs_state_job").copied().unwrap_or(0) > 0, "no job ran: {ops:?}");
}

fn shell_named(name: &str, script: &str) -> StartContainerRequest {
    let mut req = StartContainerRequest::new(name, bed().image);
    req.command = Some(vec!["sh".into(), "-c".into(), script.into()]);
    req
}

/// 200 streams on one engine, all open and live at once, each followed to its container's exit.
///
/// Docker 20.10.24 ends some of these follow streams cleanly before their last lines when the
/// containers exit together (the docker CLI shows the same: 200 `docker logs -f` on 10
/// containers lose the tail of about 1 stream in 10; 10 to 49 of 200 here before the fix). The
/// library recovers the missing lines (src/docker/logs/resume.rs); every stream must be whole.
#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn two_hundred_log_streams_stay_open_at_once_and_each_delivers_its_whole_log() {
    let _one = one_at_a_time();
    let containers = 10;
    let per_container = 20;
    let engine = engine();
    // Each container says "ready", then waits for SIGUSR1 to write its 500 lines and exit: every
    // stream is open and live before any of them has more to read.
    let script = "trap 'seq 1 500; exit 0' USR1; echo ready; while :; do sleep 0.1; done";
    let names: Vec<Name> = (0..containers).map(|_| Name::new("streams")).collect();
    for name in &names {
        engine.start_container(shell(name, script)).unwrap();
    }
    engine.get_state(GetStateRequest { id: names[0].0.clone() }).unwrap();
    let baseline = open_fds();

    let started = Instant::now();
    let mut readers = Vec::new();
    for name in &names {
        for _ in 0..per_container {
            let reader = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
            let mut first = [0u8; 6];
            assert_eq!(reader.read(&mut first).unwrap(), 6);
            assert_eq!(&first, b"ready\n");
            readers.push(reader);
        }
    }
    let opened_in = started.elapsed();
    let open = open_fds();
    // One connection per stream; the first may reuse the pooled connection counted in `baseline`.
    assert!(
        open + 1 >= baseline + containers * per_container,
        "{open} descriptors with 200 streams open, {baseline} before"
    );
    for name in &names {
        common::docker_cli(&["kill", "-s", "USR1", name]);
    }
    let expected = seq_output(1, 500).into_bytes();
    let mut total = 0;
    let mut short = Vec::new();
    for (i, reader) in readers.iter_mut().enumerate() {
        // Every stream ends without error, and what it delivered is the log's beginning: nothing
        // corrupted, repeated or taken from another stream.
        let rest = read_to_end(reader, 4096).unwrap_or_else(|e| panic!("stream {i}: {e}"));
        assert!(expected.starts_with(&rest), "stream {i}: {} bytes that are not the log's beginning", rest.len());
        if rest.len() < expected.len() {
            short.push((i, rest.len()));
        }
        total += rest.len() + 6;
    }
    drop(readers);
    let after = settle(Duration::from_secs(10), baseline, open_fds);
    figure(
        "two_hundred_log_streams_stay_open_at_once_and_each_delivers_its_whole_log",
        format!(
            "{} streams opened in {opened_in:.2?} (descriptors {baseline} -> {open}), all ended without error, \
             {total} bytes delivered, descriptors back to {after}; {} streams ended cleanly but SHORT (daemon)",
            containers * per_container,
            short.len()
        ),
    );
    assert!(after <= baseline, "{after} descriptors after closing the streams, {baseline} before");
    if !short.is_empty() {
        // Tell the daemon's truncation from ours: the engine's stored log is whole.
        let stored = std::process::Command::new("docker")
            .args(["logs", &names[short[0].0 / per_container]])
            .output()
            .unwrap()
            .stdout;
        panic!(
            "{} of 200 followed streams ended cleanly without their last lines (stream, payload bytes after \
             \"ready\"; want {}): {short:?}. The engine's stored log has {} bytes (whole), so the follow \
             stream was cut by the daemon; the library must not report such a stream's end as the end of \
             the logs (see docs/reliability.md, Known failures)",
            short.len(),
            expected.len(),
            stored.len()
        );
    }
}

/// One cycle: start (replacing the previous container of that name), read the logs to the end,
/// check the state. Every tenth cycle runs a container that is stopped instead. Even cycles go
/// through the Rust engine, odd ones through the C ABI.
fn leak_cycle(rust: &BlockingEngine, c: &cabi::Engine, name: &str, n: u64) -> std::result::Result<(), String> {
    let cancel = n % 10 == 9;
    let script = if cancel { IGNORES_TERM.to_owned() } else { format!("echo cycle-{n}") };
    let expected = if cancel { "ready\n".to_owned() } else { format!("cycle-{n}\n") };
    if n % 2 == 0 {
        rust.start_container(shell_named(name, &script)).map_err(|e| e.to_string())?;
        let mut reader = rust.get_logs(GetLogsRequest { id: name.into() }).map_err(|e| e.to_string())?;
        if cancel {
            let mut first = [0u8; 6];
            reader.read(&mut first).map_err(|e| e.to_string())?;
            rust.stop_container(StopContainerRequest { id: name.into(), timeout: Duration::ZERO })
                .map_err(|e| e.to_string())?;
            let rest = read_to_end(&mut reader, 1024).map_err(|e| e.to_string())?;
            if first != *expected.as_bytes() || !rest.is_empty() {
                return Err(format!("cycle {n}: logs {first:?} {rest:?}"));
            }
        } else {
            let bytes = read_to_end(&mut reader, 1024).map_err(|e| e.to_string())?;
            if bytes != expected.as_bytes() {
                return Err(format!("cycle {n}: logs {:?}", String::from_utf8_lossy(&bytes)));
            }
        }
        let state = rust.get_state(GetStateRequest { id: name.into() }).map_err(|e| e.to_string())?;
        let want = if cancel {
            GetStateResponse::new(ContainerState::Cancelled, 137)
        } else {
            GetStateResponse::new(ContainerState::Exited, 0)
        };
        if (state.state, state.exit_code) != (want.state, want.exit_code) {
            return Err(format!("cycle {n}: state {state:?}, want {want:?}"));
        }
    } else {
        let fail = |f: cabi::Failure| format!("cycle {n} (C): {:?} {}", f.status, f.message);
        c.start(name, &bed().image, &["sh", "-c", &script]).map_err(fail)?;
        let logs = c.logs(name).map_err(fail)?;
        let mut all = Vec::new();
        let mut buf = [0u8; 1024];
        if cancel {
            let n = logs.read(&mut buf).map_err(fail)?;
            all.extend_from_slice(&buf[..n]);
            c.stop(name, 0).map_err(fail)?;
        }
        loop {
            let n = logs.read(&mut buf).map_err(fail)?;
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        if all != expected.as_bytes() {
            return Err(format!("cycle {n} (C): logs {:?}", String::from_utf8_lossy(&all)));
        }
        let want = if cancel {
            (GoferContainerState::GOFER_STATE_CANCELLED, 137)
        } else {
            (GoferContainerState::GOFER_STATE_EXITED, 0)
        };
        let state = c.state(name).map_err(fail)?;
        if state != want {
            return Err(format!("cycle {n} (C): state {state:?}, want {want:?}"));
        }
        // An unknown ID: the error path allocates too (an error object, a message).
        match c.state("gofer-test-leak-no-such-container") {
            Err(f) if f.status == GoferStatus::GOFER_NO_SUCH_CONTAINER => {}
            other => return Err(format!("cycle {n} (C): unknown ID gave {other:?}")),
        }
    }
    Ok(())
}

/// The most idle connections the two engines of the leak test may keep between runs: each
/// engine has an async pool of up to 8 (src/docker/transport.rs) and a blocking pool of up to 16
/// (src/docker/wire.rs). How full they are depends on the busiest moment of a run, not on leaks.
const LEAK_TEST_POOL_CAP: usize = 2 * (8 + 16);

/// Waits (up to 10 s) until the descriptor count has not changed for half a second: dropped
/// engines close their pooled connections on the runtime's threads, a moment after the drop.
fn settled_fds() -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = open_fds();
    let mut since = Instant::now();
    while Instant::now() < deadline && since.elapsed() < Duration::from_millis(500) {
        thread::sleep(Duration::from_millis(50));
        let now = open_fds();
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    last
}

#[test]
#[ignore = "reliability suite: run by scripts/test-reliability.sh"]
fn start_logs_state_cycles_return_memory_and_descriptors_to_baseline() {
    let _one = one_at_a_time();
    let cycles = sized("GOFER_LEAK_CYCLES", 200, 5000);
    let workers = 4u64;
    let names: Vec<Name> = (0..workers).map(|_| Name::new("leak")).collect();
    let engines = || (Arc::new(engine()), Arc::new(cabi::Engine::new(None, 60_000).unwrap()));
    let run = |rust: &Arc<BlockingEngine>, c: &Arc<cabi::Engine>, from: u64, to: u64| -> std::result::Result<(), String> {
        let mut handles = Vec::new();
        for w in 0..workers {
            let (rust, c, name) = (rust.clone(), c.clone(), names[w as usize].0.clone());
            handles.push(thread::spawn(move || {
                let mut n = from + w;
                while n < to {
                    leak_cycle(&rust, &c, &name, n)?;
                    n += workers;
                }
                Ok::<(), String>(())
            }));
        }
        handles.into_iter().try_for_each(|h| h.join().unwrap())
    };

    // Warm-up: the runtime and the allocator's arenas reach their working size. Its engines are
    // then dropped, so that the baseline holds no pooled connection: with engines alive the
    // count depends on how many connections the pools happened to keep (19 -> 20 once in CI,
    // with nothing leaked), without them every descriptor the run opened must be closed.
    let warmup = 40;
    {
        let (rust, c) = engines();
        run(&rust, &c, 0, warmup).unwrap();
    }
    let fds_before = settled_fds();
    let rss_before = rss_kib();
    let started = Instant::now();
    let (rust, c) = engines();
    let mut samples = Vec::new();
    let mut fd_samples = Vec::new();
    let quarter = (cycles / 4).max(workers);
    let mut done = warmup;
    while done < warmup + cycles {
        let to = (done + quarter).min(warmup + cycles);
        run(&rust, &c, done, to).unwrap();
        done = to;
        samples.push(rss_kib());
        fd_samples.push(open_fds());
    }
    let took = started.elapsed();
    drop((rust, c));
    let fds_after = settle(Duration::from_secs(10), fds_before, open_fds);
    let rss_after = rss_kib();
    let growth_kib = rss_after as i64 - rss_before as i64;
    figure(
        "start_logs_state_cycles_return_memory_and_descriptors_to_baseline",
        format!(
            "{cycles} cycles ({workers} threads, half Rust, half C ABI, 1 in 10 cancelled) in {:.0} s: RSS {rss_before} KiB -> \
             {rss_after} KiB ({growth_kib:+} KiB; per quarter {samples:?}); descriptors without engines {fds_before} -> \
             {fds_after}, with engines and their pools per quarter {fd_samples:?}",
            took.as_secs_f64()
        ),
    );
    // While the engines live, only their pools may hold descriptors, and the pools are capped: a
    // descriptor leaked per cycle (or per hundred) would pass the cap.
    let most = fd_samples.iter().copied().max().unwrap_or(0);
    assert!(
        most <= fds_before + LEAK_TEST_POOL_CAP,
        "{most} descriptors between runs, {fds_before} before the engines; the pools keep at most {LEAK_TEST_POOL_CAP}"
    );
    assert!(fds_after <= fds_before, "{fds_after} descriptors after {cycles} cycles and the engines dropped, {fds_before} before");
    // Margin: allocator noise across threads (arenas, fragmentation) stays within a few MiB; a
    // leak of even 1 KiB per cycle would show as 5 MiB over the full run.
    let margin_kib = 8 * 1024;
    assert!(growth_kib <= margin_kib, "RSS grew {growth_kib} KiB over {cycles} cycles (margin {margin_kib} KiB)");
}
