//! The floor: a minimal Docker client that speaks HTTP/1.1 with keep-alive straight to the unix
//! socket, on the calling thread, with no runtime, no JSON library and no copy of log payloads.
//! Nothing can be faster through the same daemon; every other client is measured against it.
//!
//! It makes, for each operation, the fewest requests that give the library's semantics:
//! - state: one inspect (status and exit code read by a byte scan);
//! - start: remove by name (force, volumes), create, start — no image inspect: the create's 404
//!   would say the image is missing (then a pull and a second create; never the case here);
//! - logs: one follow request, chunked encoding and 8-byte frames parsed in place;
//! - attach: exec create, then exec start taken over after the 101 (raw TTY bytes);
//! - parallel: per cycle start as above, logs to EOF (ends when the container exits), one
//!   inspect to read the exit; the remove is the next start's.
//! - wait: start as above (untimed), then one `POST /containers/<name>/wait?condition=not-running`,
//!   whose body comes at the exit: the floor of the exit notice.
//!
//! Usage: see bench::Args; `precreate` makes untimed fixtures for the parallel benchmark.

use std::io::{self, Read, Write};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bench::http::{scan_str, Conn};
use bench::*;

fn or_die<T>(r: io::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| die(&format!("{what}: {e}")))
}

fn main() {
    let args = Args::parse();
    let timeout = Duration::from_secs(args.num("timeout_s", 30));
    let mut c = or_die(Conn::open(timeout), "connect");
    let image = args.str_or("image", DEFAULT_IMAGE);
    match args.op.as_str() {
        "state" => {
            let id = args.str("id");
            let expect = args.num("expect_code", 0) as i64;
            let (n, warmup) = (args.num("n", 1000), args.num("warmup", 20));
            let mut samples = Vec::with_capacity(n as usize);
            for i in 0..warmup + n {
                let t = Instant::now();
                let (status, code) = or_die(c.state(&id), "state");
                let dt = t.elapsed();
                if status != "exited" || code != expect {
                    die(&format!("state: {status} {code}"));
                }
                if i >= warmup {
                    samples.push(nanos(dt));
                }
            }
            Json::default().list("samples_ns", &samples).print();
        }
        "start" => {
            let name = args.str("name");
            let n = args.num("n", 5);
            let mut samples = Vec::new();
            for i in 0..=n {
                let t = Instant::now();
                or_die(c.start(&name, &image, &START_ENV, &START_COMMAND), "start");
                let dt = t.elapsed();
                // Untimed: let the job finish, so that every start replaces an exited container.
                or_die(c.expect("POST", &format!("/containers/{name}/wait"), None, &[200]), "wait");
                if i > 0 {
                    samples.push(nanos(dt)); // the first start is a warm-up
                }
            }
            Json::default().list("samples_ns", &samples).print();
        }
        "logs" => {
            let id = args.str("id");
            let line = args.num("line", 1024) as usize;
            let bytes = args.num("bytes", 0);
            let mut v = Verifier::new(line);
            let (cpu0, t) = (cpu_ns(), Instant::now());
            or_die(c.logs(&id, &mut |d| v.feed(d)), "logs");
            v.report(bytes, t, cpu0);
        }
        "attach" => {
            let id = args.str("id");
            let (n, warmup) = (args.num("n", 100), args.num("warmup", 10));
            let body = r#"{"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"Cmd":["cat"]}"#;
            let created = or_die(c.expect("POST", &format!("/containers/{id}/exec"), Some(body), &[201]), "exec create");
            let exec = scan_str(&created, b"\"Id\":\"").unwrap_or_else(|| die("exec create: no Id"));
            let mut a = or_die(c.another(timeout), "connect");
            let start = r#"{"Detach":false,"Tty":true}"#;
            or_die(a.send("POST", &format!("/exec/{exec}/start"), Some(start), "Connection: Upgrade\r\nUpgrade: tcp\r\n"), "exec start");
            let head = or_die(a.read_head(), "exec start");
            if head.status != 101 && head.status != 200 {
                die(&format!("exec start: {}", head.status));
            }
            let mut acc: Vec<u8> = a.buf[a.pos..a.end].to_vec();
            let mut chunk = vec![0u8; 4096];
            let mut samples = Vec::new();
            for i in 0..warmup + n {
                let (sent, back) = attach_line(i);
                acc.clear();
                let t = Instant::now();
                or_die(a.s.write_all(&sent), "attach write");
                while count(&acc, &back) < 2 {
                    let k = or_die(a.s.read(&mut chunk), "attach read");
                    if k == 0 {
                        die("attach: end of stream");
                    }
                    acc.extend_from_slice(&chunk[..k]);
                }
                if i >= warmup {
                    samples.push(nanos(t.elapsed()));
                }
            }
            let _ = a.s.write_all(b"\x04");
            Json::default().list("samples_ns", &samples).print();
        }
        "parallel" => {
            let prefix = args.str("prefix");
            let (workers, cycles) = (args.num("workers", 16) as usize, args.num("cycles", 1));
            let barrier = Arc::new(Barrier::new(workers + 1));
            let mut conns = Vec::new();
            for _ in 0..workers {
                conns.push(or_die(c.another(timeout), "connect"));
            }
            let threads: Vec<_> = conns
                .into_iter()
                .enumerate()
                .map(|(w, mut conn)| {
                    let (barrier, name, image) = (barrier.clone(), format!("{prefix}-{w}"), image.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        for _ in 0..cycles {
                            or_die(conn.start(&name, &image, &START_ENV, &PARALLEL_COMMAND), "start");
                            let mut out = Vec::new();
                            or_die(conn.logs(&name, &mut |d| out.extend_from_slice(d)), "logs");
                            if out != PARALLEL_OUTPUT {
                                die(&format!("parallel: logs {:?}", String::from_utf8_lossy(&out)));
                            }
                            loop {
                                let (status, code) = or_die(conn.state(&name), "state");
                                match status.as_str() {
                                    "exited" if code == 0 => break,
                                    "running" | "created" => std::thread::sleep(Duration::from_millis(10)),
                                    _ => die(&format!("parallel: state {status} {code}")),
                                }
                            }
                        }
                    })
                })
                .collect();
            barrier.wait();
            let t = Instant::now();
            for th in threads {
                if th.join().is_err() {
                    die("a worker failed");
                }
            }
            let wall = nanos(t.elapsed());
            Json::default().num("containers", workers as u64 * cycles).num("wall_ns", wall).print();
        }
        "wait" => {
            // The exit notice: start `<prefix>-<i>` (untimed), wait for its exit, and note the
            // wall-clock time of knowing; the runner takes the exit's from the engine's log.
            let prefix = args.str("prefix");
            let (mut knew, mut names) = (Vec::new(), Vec::new());
            for i in 0..args.num("n", 3) {
                let name = format!("{prefix}-{i}");
                or_die(c.start(&name, &image, &START_ENV, &WAIT_COMMAND), "start");
                let code = or_die(c.wait(&name), "wait");
                knew.push(realtime_ns());
                if code != 0 {
                    die(&format!("wait: exit code {code}"));
                }
                names.push(name);
            }
            Json::default().list("knew_ns", &knew).strs("names", &names).print();
        }
        "precreate" => {
            // Untimed fixture: containers <prefix>-0..count, created (not started), so that
            // every timed start replaces one.
            let prefix = args.str("prefix");
            for w in 0..args.num("count", 16) {
                let name = format!("{prefix}-{w}");
                or_die(c.expect("DELETE", &format!("/containers/{name}?force=1&v=1"), None, &[204, 404]), "remove");
                let body = format!("{{\"Image\":\"{image}\",\"Cmd\":[\"true\"]}}");
                or_die(c.expect("POST", &format!("/containers/create?name={name}"), Some(&body), &[201]), "create");
            }
            Json::default().num("ok", 1).print();
        }
        op => die(&format!("unknown op {op}")),
    }
}
