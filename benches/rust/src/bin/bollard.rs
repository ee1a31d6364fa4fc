//! bollard used directly, what a Rust user who does not take this library would write: its
//! default features, `Docker::connect_with_local_defaults`, `#[tokio::main]` (the multi-thread
//! runtime, a worker per core). A peer, not part of this project. Same operations and output as
//! the other clients (benches/run.py), plus scale-logs and scale-wait (benches/scale_bench.py).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::*;
use bollard::container::LogOutput;
use bollard::errors::Error;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

fn or_die<T>(r: Result<T, Error>, what: &str) -> T {
    r.unwrap_or_else(|e| die(&format!("{what}: {e}")))
}

async fn state(docker: &Docker, id: &str) -> (ContainerStateStatusEnum, i64) {
    let c = or_die(docker.inspect_container(id, None).await, "inspect");
    let s = c.state.unwrap_or_default();
    (s.status.unwrap_or(ContainerStateStatusEnum::EMPTY), s.exit_code.unwrap_or(-1))
}

async fn wait_exited(docker: &Docker, id: &str) -> (ContainerStateStatusEnum, i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = state(docker, id).await;
        if s.0 != ContainerStateStatusEnum::RUNNING || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Gofer's StartContainer with bollard: remove the container of that name if any, create, start
/// (the raw client's three requests).
async fn start(docker: &Docker, name: &str, image: &str, command: &[&str]) {
    let remove = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    match docker.remove_container(name, Some(remove)).await {
        Ok(()) | Err(Error::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(e) => die(&format!("remove: {e}")),
    }
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        env: Some(START_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: Some(command.iter().map(|s| s.to_string()).collect()),
        labels: Some([("dev.gofer.scheduler.managed".to_owned(), "true".to_owned())].into()),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    or_die(docker.create_container(Some(options), body).await, "create");
    or_die(docker.start_container(name, None).await, "start");
}

fn logs(docker: &Docker, id: &str) -> impl futures_util::Stream<Item = Result<LogOutput, Error>> {
    docker.logs(id, Some(LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build()))
}

/// The line every scale container writes (benches/scale_bench.py): "%07d ", the alphabet, "\n".
fn scale_expected(lines: usize, length: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let filler: Vec<u8> = (0..length - 9).map(|i| ALPHABET[i % 36]).collect();
    let mut out = Vec::with_capacity(lines * length);
    for i in 0..lines {
        out.extend_from_slice(format!("{i:07} ").as_bytes());
        out.extend_from_slice(&filler);
        out.push(b'\n');
    }
    out
}

fn threads() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// A thousand streams need a thousand descriptors and more: the soft limit up to the hard one.
fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    raise_nofile();
    let docker = Arc::new(or_die(Docker::connect_with_local_defaults(), "connect"));
    let image = args.str_or("image", DEFAULT_IMAGE);
    match args.op.as_str() {
        "state" => {
            let (id, expect) = (args.str("id"), args.num("expect_code", 0) as i64);
            let check = |s| {
                if s != (ContainerStateStatusEnum::EXITED, expect) {
                    die(&format!("state: {s:?}"));
                }
                std::future::ready(())
            };
            let samples = timed(args.num("warmup", 20), args.num("n", 1000), || state(&docker, &id), check).await;
            Json::default().list("samples_ns", &samples).print();
        }
        "start" => {
            // The first start makes the container each timed start replaces: untimed; so is the
            // wait for its exit.
            let (name, docker) = (&args.str("name"), &docker);
            let after = move |()| async move {
                wait_exited(docker, name).await;
            };
            let samples = timed(1, args.num("n", 5), || start(docker, name, &image, &START_COMMAND), after).await;
            Json::default().list("samples_ns", &samples).print();
        }
        "logs" => {
            // The stream of LogOutput items bollard gives (its decoder splits the frames at
            // newlines), each payload into the verifier.
            let mut v = Verifier::new(args.num("line", 1024) as usize);
            let (cpu0, t) = (cpu_ns(), Instant::now());
            let mut stream = Box::pin(logs(&docker, &args.str("id")));
            while let Some(item) = stream.next().await {
                v.feed(or_die(item, "logs read").as_ref());
            }
            v.report(args.num("bytes", 0), t, cpu0);
        }
        "attach" => {
            let id = args.str("id");
            let (n, warmup) = (args.num("n", 100), args.num("warmup", 10));
            let exec = CreateExecOptions {
                cmd: Some(vec!["cat"]),
                tty: Some(true),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            };
            let created = or_die(docker.create_exec(&id, exec).await, "exec create");
            let options = StartExecOptions { tty: true, ..Default::default() };
            let (mut output, mut input) = match or_die(docker.start_exec(&created.id, Some(options)).await, "exec start") {
                StartExecResults::Attached { output, input } => (output, input),
                StartExecResults::Detached => die("exec start: detached"),
            };
            let read = async |acc: &mut Vec<u8>| match output.next().await {
                Some(item) => acc.extend_from_slice(or_die(item, "attach read").as_ref()),
                None => die("attach: end of stream"),
            };
            let samples = attach_rounds(n, warmup, &mut input, read).await;
            Json::default().list("samples_ns", &samples).print();
        }
        "parallel" => {
            let (prefix, workers, cycles) = (args.str("prefix"), args.num("workers", 16), args.num("cycles", 1));
            let t = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..workers {
                let (docker, image, name) = (docker.clone(), image.clone(), format!("{prefix}-{w}"));
                tasks.push(tokio::spawn(async move {
                    for _ in 0..cycles {
                        start(&docker, &name, &image, &PARALLEL_COMMAND).await;
                        let mut out = Vec::new();
                        let mut stream = Box::pin(logs(&docker, &name));
                        while let Some(item) = stream.next().await {
                            out.extend_from_slice(or_die(item, "logs read").as_ref());
                        }
                        if out != PARALLEL_OUTPUT {
                            die(&format!("parallel: logs {:?}", String::from_utf8_lossy(&out)));
                        }
                        if wait_exited(&docker, &name).await != (ContainerStateStatusEnum::EXITED, 0) {
                            die("parallel: not exited 0");
                        }
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap_or_else(|e| die(&format!("parallel: {e}")));
            }
            Json::default().num("containers", workers * cycles).num("wall_ns", nanos(t.elapsed())).print();
        }
        "wait" => {
            let (prefix, n) = (args.str("prefix"), args.num("n", 3));
            let (mut knew, mut names) = (Vec::new(), Vec::new());
            for i in 0..n {
                let name = format!("{prefix}-{i}");
                start(&docker, &name, &image, &WAIT_COMMAND).await;
                let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
                let answer = docker.wait_container(&name, Some(options)).next().await;
                knew.push(realtime_ns());
                match answer {
                    Some(Ok(r)) if r.status_code == 0 => {}
                    other => die(&format!("wait: {other:?}")),
                }
                names.push(name);
            }
            Json::default().list("knew_ns", &knew).strs("names", &names).print();
        }
        "scale-logs" | "scale-wait" => scale(docker, &args).await,
        other => die(&format!("unknown op {other}")),
    }
}

/// Op scale-logs (a task per stream, each a `logs` stream) and scale-wait (a task per
/// `wait_container`): benches/scale_bench.py.
async fn scale(docker: Arc<Docker>, args: &Args) {
    let (prefix, count, per) = (args.str("prefix"), args.num("count", 1), args.num("streams", 1));
    let expected = Arc::new(scale_expected(args.num("lines", 0) as usize, args.num("line", 100) as usize));
    let total = Arc::new(AtomicU64::new(0));
    let (short, lost) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let allow_short = args.num("allow_short", 0) != 0;
    let opened = Arc::new(tokio::sync::Barrier::new((count * per) as usize + 1));
    let (cpu0, t0) = (cpu_ns(), Instant::now());
    let mut tasks = Vec::new();
    for i in 0..count * per {
        let name = format!("{prefix}-{}", i / per);
        let want = (i / per % 200 + 1) as i64;
        let (docker, expected, total, opened) = (docker.clone(), expected.clone(), total.clone(), opened.clone());
        let (short, lost) = (short.clone(), lost.clone());
        let wait = args.op == "scale-wait";
        tasks.push(tokio::spawn(async move {
            if wait {
                let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
                let mut answer = Box::pin(docker.wait_container(&name, Some(options)));
                opened.wait().await;
                match answer.next().await {
                    // bollard makes an exit code other than 0 an error.
                    Some(Err(Error::DockerContainerWaitError { code, .. })) if code == want => {}
                    other => die(&format!("wait: {name}: {other:?}, want exit code {want}")),
                }
                total.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let mut stream = Box::pin(logs(&docker, &name));
            let mut pos = 0usize;
            while let Some(item) = stream.next().await {
                let data = or_die(item, "logs read");
                let data = data.as_ref();
                if pos + data.len() > expected.len() || expected[pos..pos + data.len()] != *data {
                    die(&format!("scale: {name}: {} bytes at offset {pos} differ from what the container wrote", data.len()));
                }
                pos += data.len();
            }
            if pos != expected.len() {
                // Docker 20.10 sometimes ends a followed log before its last lines; bollard does
                // not repair it. Counted with allow_short=1 (benches/scale_bench.py).
                if !allow_short {
                    die(&format!("scale: {name}: the stream ended after {pos} bytes of {} (bytes lost)", expected.len()));
                }
                short.fetch_add(1, Ordering::Relaxed);
                lost.fetch_add((expected.len() - pos) as u64, Ordering::Relaxed);
            }
            total.fetch_add(pos as u64, Ordering::Relaxed);
        }));
    }
    if args.op == "scale-wait" {
        opened.wait().await;
        tokio::time::sleep(Duration::from_millis(args.num("settle_ms", 2000))).await;
    } else {
        // A bollard log stream says nothing until its first bytes: give the requests time to
        // reach the engine before the containers begin to write (they are followed from their
        // start either way; this only makes the streams steady ones).
        tokio::time::sleep(Duration::from_millis(args.num("settle_ms", 1000))).await;
    }
    let open_ns = nanos(t0.elapsed());
    or_die(std::fs::write(args.str("go"), b"").map_err(Error::from), "go file");
    for task in tasks {
        task.await.unwrap_or_else(|e| die(&format!("scale: {e}")));
    }
    Json::default()
        .num("streams", count * per)
        .num("bytes", total.load(Ordering::Relaxed))
        .num("open_ns", open_ns)
        .num("wall_ns", nanos(t0.elapsed()))
        .num("cpu_ns", cpu_ns() - cpu0)
        .num("vmhwm_kb", vmhwm_kb())
        .num("threads_end", threads())
        .num("short_streams", short.load(Ordering::Relaxed))
        .num("lost_bytes", lost.load(Ordering::Relaxed))
        .print();
}
