//! The Rust API client: `gofer_scheduler::DockerEngine` (async) on a current-thread tokio
//! runtime, the way a Rust program that makes one call at a time would use it (the request and
//! the connection task then share one thread). Same operations and output as the other clients.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::{Duration, Instant};

use bench::*;
use futures_util::StreamExt;
use gofer_scheduler::*;
use tokio::io::AsyncReadExt;

fn or_die<T>(r: gofer_scheduler::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| die(&format!("{what}: {e}")))
}

fn start_request(name: &str, image: &str, command: &[&str]) -> StartContainerRequest {
    let mut req = StartContainerRequest::new(name, image);
    req.env_vars = START_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
    req.command = Some(command.iter().map(|s| s.to_string()).collect());
    req
}

async fn wait_exited(engine: &DockerEngine, id: &str) -> GetStateResponse {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = or_die(engine.get_state(GetStateRequest { id: id.into() }).await, "state");
        if s.state != ContainerState::Running || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let timeout = Duration::from_secs(args.num("timeout_s", 30));
    if args.op == "tasks" {
        // On the engine type named: the local engine, or the swarm whose manager is `manager=`.
        let (prefix, n, image) = (args.str("prefix"), args.num("n", 3), args.str_or("image", DEFAULT_IMAGE));
        let manager = DockerOptions { host: Some(args.str_or("manager", "")).filter(|h| !h.is_empty()), timeout, ..Default::default() };
        match args.str_or("engine", "docker").as_str() {
            "docker" => bench::tasks::run(&or_die(DockerEngine::connect(manager).await, "connect"), &prefix, n, &image).await,
            "swarm" => {
                let swarm = SwarmEngine::connect(SwarmOptions { manager, ..Default::default() }).await;
                bench::tasks::run(&or_die(swarm, "connect"), &prefix, n, &image).await
            }
            other => die(&format!("engine={other}: docker or swarm")),
        }
        return;
    }
    let engine = or_die(DockerEngine::connect(DockerOptions { timeout, ..Default::default() }).await, "connect");
    let image = args.str_or("image", DEFAULT_IMAGE);
    match args.op.as_str() {
        "state" => {
            let (id, expect) = (args.str("id"), args.num("expect_code", 0) as i64);
            let call = || engine.get_state(GetStateRequest { id: id.clone() });
            let check = |s: gofer_scheduler::Result<GetStateResponse>| {
                let s = or_die(s, "state");
                if s.state != ContainerState::Exited || s.exit_code != expect {
                    die(&format!("state: {s:?}"));
                }
                std::future::ready(())
            };
            let samples = timed(args.num("warmup", 20), args.num("n", 1000), call, check).await;
            Json::default().list("samples_ns", &samples).print();
        }
        "start" => {
            // The first start makes the container each timed start replaces: untimed; so is the
            // wait for its exit.
            let (name, engine) = (&args.str("name"), &engine);
            let call = || engine.start_container(start_request(name, &image, &START_COMMAND));
            let after = move |r: gofer_scheduler::Result<StartContainerResponse>| async move {
                or_die(r, "start");
                wait_exited(engine, name).await;
            };
            let samples = timed(1, args.num("n", 5), call, after).await;
            Json::default().list("samples_ns", &samples).print();
        }
        "logs" => {
            let id = args.str("id");
            let mut v = Verifier::new(args.num("line", 1024) as usize);
            let (cpu0, t) = (cpu_ns(), Instant::now());
            let mut stream = or_die(engine.get_logs(GetLogsRequest { id }).await, "logs");
            while let Some(piece) = stream.next().await {
                v.feed(&or_die(piece, "logs read"));
            }
            v.report(args.num("bytes", 0), t, cpu0);
        }
        "attach" => {
            let id = args.str("id");
            let (n, warmup) = (args.num("n", 100), args.num("warmup", 10));
            let session = or_die(
                engine.attach_container(AttachContainerRequest { id, command: vec!["cat".into()] }).await,
                "attach",
            );
            // The session's descriptor, as an async socket on this runtime (on a TCP engine the
            // bridge task runs on the same thread: a blocking read here would starve it).
            let fd = session.fd().try_clone_to_owned().unwrap_or_else(|e| die(&format!("dup: {e}")));
            let std_stream = StdUnixStream::from(fd);
            std_stream.set_nonblocking(true).unwrap_or_else(|e| die(&format!("nonblocking: {e}")));
            let mut conn = tokio::net::UnixStream::from_std(std_stream).unwrap_or_else(|e| die(&format!("socket: {e}")));
            let (mut reader, mut writer) = conn.split();
            let mut chunk = vec![0u8; 4096];
            let read = async |acc: &mut Vec<u8>| {
                let k = reader.read(&mut chunk).await.unwrap_or_else(|e| die(&format!("attach read: {e}")));
                if k == 0 {
                    die("attach: end of stream");
                }
                acc.extend_from_slice(&chunk[..k]);
            };
            let samples = attach_rounds(n, warmup, &mut writer, read).await;
            Json::default().list("samples_ns", &samples).print();
        }
        "parallel" => {
            let prefix = args.str("prefix");
            let (workers, cycles) = (args.num("workers", 16), args.num("cycles", 1));
            let t = Instant::now();
            let tasks: Vec<_> = (0..workers)
                .map(|w| {
                    let (engine, name, image) = (engine.clone(), format!("{prefix}-{w}"), image.clone());
                    tokio::spawn(async move {
                        for _ in 0..cycles {
                            or_die(engine.start_container(start_request(&name, &image, &PARALLEL_COMMAND)).await, "start");
                            let mut out = Vec::new();
                            let mut stream = or_die(engine.get_logs(GetLogsRequest { id: name.clone() }).await, "logs");
                            let read = async {
                                while let Some(piece) = stream.next().await {
                                    out.extend_from_slice(&or_die(piece, "logs read"));
                                }
                            };
                            if tokio::time::timeout(Duration::from_secs(60), read).await.is_err() {
                                die("parallel: logs did not end within 60 s");
                            }
                            if out != PARALLEL_OUTPUT {
                                die(&format!("parallel: logs {:?}", String::from_utf8_lossy(&out)));
                            }
                            let s = wait_exited(&engine, &name).await;
                            if s.state != ContainerState::Exited || s.exit_code != 0 {
                                die(&format!("parallel: state {s:?}"));
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                if task.await.is_err() {
                    die("a worker failed");
                }
            }
            let wall = nanos(t.elapsed());
            Json::default().num("containers", workers * cycles).num("wall_ns", wall).print();
        }
        "wait" => {
            // The exit notice through the Engine trait's wait (the engine's wait endpoint).
            let prefix = args.str("prefix");
            let (mut knew, mut names) = (Vec::new(), Vec::new());
            for i in 0..args.num("n", 3) {
                let name = format!("{prefix}-{i}");
                or_die(engine.start_container(start_request(&name, &image, &WAIT_COMMAND)).await, "start");
                let s = or_die(engine.wait_container(WaitContainerRequest { id: name.clone() }).await, "wait");
                knew.push(realtime_ns());
                if s.state != ContainerState::Exited || s.exit_code != 0 {
                    die(&format!("wait: {s:?}"));
                }
                names.push(name);
            }
            Json::default().list("knew_ns", &knew).strs("names", &names).print();
        }
        "overhead" => {
            // An invalid argument: refused before any I/O.
            let n = args.num("n", 1_000_000);
            let t = Instant::now();
            for _ in 0..n {
                let r = engine.get_state(GetStateRequest { id: String::new() }).await;
                if !matches!(r, Err(ref e) if e.kind() == ErrorKind::InvalidArgument) {
                    die("overhead: expected InvalidArgument");
                }
            }
            Json::default().num("ns_per_call", t.elapsed().as_nanos() as f64 / n as f64).print();
        }
        op => die(&format!("unknown op {op}")),
    }
}
