//! Op `tasks`: a task's latencies on one engine type, for the single host against the swarm
//! (docs/benchmarks.md, "Single host and swarm"). For each of `n` tasks `<prefix>-<i>` running
//! [`TASK_COMMAND`]: from the StartContainer call to the first log line read through GetLogs
//! (the start, the task's placement and start on its node, the log's first pass), and when the
//! wait (run beside the log reader) and the log's end told of the exit. The runner takes the
//! exit's time from the engine's timestamp of the last line.

use std::time::Instant;

use futures_util::StreamExt;
use gofer_scheduler::*;

use crate::{die, nanos, realtime_ns, Json, START_ENV};

/// The task: a first line at once, the last line ("bye") its last act.
pub const TASK_COMMAND: [&str; 3] = ["sh", "-c", "echo first; sleep 0.3; echo bye"];

fn or_die<T>(r: gofer_scheduler::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| die(&format!("{what}: {e}")))
}

/// Runs the op on `engine` and prints `{"first_ns": [...], "knew_ns": [...], "log_end_ns": [...],
/// "names": [...]}`: start-to-first-line durations, and the CLOCK_REALTIME instants at which the
/// wait and the log's end told of each exit.
pub async fn run<E: Engine>(engine: &E, prefix: &str, n: u64, image: &str) {
    let (mut first, mut knew, mut log_end, mut names) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let name = format!("{prefix}-{i}");
        let mut req = StartContainerRequest::new(name.clone(), image);
        req.env_vars = START_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        req.command = Some(TASK_COMMAND.iter().map(|s| s.to_string()).collect());
        let t = Instant::now();
        or_die(engine.start_container(req).await, "start");
        let mut stream = or_die(engine.get_logs(GetLogsRequest { id: name.clone() }).await, "logs");
        let mut text = Vec::new();
        while !text.starts_with(b"first\n") {
            match stream.next().await {
                Some(piece) => text.extend_from_slice(&or_die(piece, "logs read")),
                None => die(&format!("{name}: the log ended before its first line: {:?}", String::from_utf8_lossy(&text))),
            }
        }
        first.push(nanos(t.elapsed()));
        let read_to_end = async {
            while let Some(piece) = stream.next().await {
                text.extend_from_slice(&or_die(piece, "logs read"));
            }
            realtime_ns()
        };
        let wait = async {
            let state = or_die(engine.wait_container(WaitContainerRequest { id: name.clone() }).await, "wait");
            (realtime_ns(), state)
        };
        let (ended, (known, state)) = tokio::join!(read_to_end, wait);
        if state.state != ContainerState::Exited || state.exit_code != 0 || text != b"first\nbye\n" {
            die(&format!("{name}: {state:?}, log {:?}", String::from_utf8_lossy(&text)));
        }
        knew.push(known);
        log_end.push(ended);
        names.push(name);
    }
    Json::default().list("first_ns", &first).list("knew_ns", &knew).list("log_end_ns", &log_end).strs("names", &names).print();
}
