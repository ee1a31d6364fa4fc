//! What every Rust benchmark client shares: the command line, the log pattern and its verifier,
//! CPU time and peak RSS of the process, and the one-line JSON result.
//!
//! Every client program of the suite (Rust, C, Go, Python) speaks the same protocol:
//! `<client> <op> key=value...` runs one operation and prints one JSON object on stdout;
//! failures go to stderr with a non-zero exit. benches/run.py drives them.

pub mod http;
pub mod tasks;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The image every benchmark container runs (scripts/testbed.sh builds it locally).
pub const DEFAULT_IMAGE: &str = "gofer-test/busybox:latest";

/// The three environment variables of the start benchmark's job.
pub const START_ENV: [(&str, &str); 3] =
    [("GOFER_BENCH_A", "1"), ("GOFER_BENCH_B", "two"), ("GOFER_BENCH_C", "three")];

/// The start benchmark's job: a short command.
pub const START_COMMAND: [&str; 3] = ["sh", "-c", "exit 0"];

/// The exit-notice benchmark's job (op `wait`): its last act is the log line "bye", whose
/// engine timestamp (`docker logs -t`) the runner takes for the moment of the exit.
pub const WAIT_COMMAND: [&str; 3] = ["sh", "-c", "sleep 0.3; echo bye"];

/// Nanoseconds since the Unix epoch on CLOCK_REALTIME (the clock of the engine's log
/// timestamps): when a client knew of an exit.
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The parallel benchmark's job and the log it must produce.
pub const PARALLEL_COMMAND: [&str; 2] = ["echo", "parallel-ok"];
pub const PARALLEL_OUTPUT: &[u8] = b"parallel-ok\n";

/// `op key=value...` from the command line.
pub struct Args {
    pub op: String,
    values: HashMap<String, String>,
}

impl Args {
    pub fn parse() -> Args {
        let mut it = std::env::args().skip(1);
        let op = it.next().unwrap_or_else(|| die("usage: <op> key=value..."));
        let mut values = HashMap::new();
        for a in it {
            let (k, v) = a.split_once('=').unwrap_or_else(|| die(&format!("bad argument {a:?}")));
            values.insert(k.to_owned(), v.to_owned());
        }
        Args { op, values }
    }

    pub fn str(&self, key: &str) -> String {
        self.values.get(key).cloned().unwrap_or_else(|| die(&format!("missing argument {key}=")))
    }

    pub fn str_or(&self, key: &str, default: &str) -> String {
        self.values.get(key).cloned().unwrap_or_else(|| default.to_owned())
    }

    pub fn num(&self, key: &str, default: u64) -> u64 {
        match self.values.get(key) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| die(&format!("{key}={v} is not a number"))),
        }
    }
}

pub fn die(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

/// One log line of `len` bytes (`len - 1` characters and a newline), as the fixture container
/// writes it with `yes <line> | head -c <bytes>`.
pub fn line(len: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut l: Vec<u8> = (0..len.saturating_sub(1)).map(|i| ALPHABET[i % ALPHABET.len()]).collect();
    l.push(b'\n');
    l
}

/// Checks a stream against the repeated line, piece by piece, without copying it.
pub struct Verifier {
    pattern: Vec<u8>,
    period: usize,
    pub total: u64,
    pub ok: bool,
}

/// Longest piece compared at once; longer pieces are split.
const PIECE: usize = 64 * 1024;

impl Verifier {
    pub fn new(line_len: usize) -> Verifier {
        let l = line(line_len);
        let copies = PIECE / line_len + 2;
        Verifier { pattern: l.repeat(copies), period: line_len, total: 0, ok: true }
    }

    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let n = data.len().min(PIECE);
            let off = (self.total % self.period as u64) as usize;
            if self.pattern[off..off + n] != data[..n] {
                self.ok = false;
            }
            self.total += n as u64;
            data = &data[n..];
        }
    }

    /// The end of op logs, with the clock and CPU time taken at its start: dies unless the
    /// stream carried `bytes` bytes of the pattern, else prints bytes, wall and CPU time, VmHWM.
    pub fn report(&self, bytes: u64, t: std::time::Instant, cpu0: u64) {
        let (wall, cpu) = (nanos(t.elapsed()), cpu_ns() - cpu0);
        if !self.ok || self.total != bytes {
            die(&format!("logs: {} bytes, content ok: {}", self.total, self.ok));
        }
        Json::default().num("bytes", self.total).num("wall_ns", wall).num("cpu_ns", cpu).num("vmhwm_kb", vmhwm_kb()).print();
    }
}

/// User + system CPU time of the whole process (every thread), in ns.
pub fn cpu_ns() -> u64 {
    // SAFETY: getrusage writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Peak resident set size of the process (VmHWM), in KiB.
pub fn vmhwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A JSON object written field by field (the values are numbers, strings without quotes, and
/// number lists: no serializer needed).
#[derive(Default)]
pub struct Json(String);

impl Json {
    pub fn num(mut self, key: &str, v: impl std::fmt::Display) -> Self {
        let _ = write!(self.0, "{}\"{key}\":{v}", if self.0.is_empty() { "" } else { "," });
        self
    }

    pub fn str(mut self, key: &str, v: &str) -> Self {
        let _ = write!(self.0, "{}\"{key}\":\"{v}\"", if self.0.is_empty() { "" } else { "," });
        self
    }

    pub fn list(mut self, key: &str, v: &[u64]) -> Self {
        let items: Vec<String> = v.iter().map(u64::to_string).collect();
        let _ = write!(self.0, "{}\"{key}\":[{}]", if self.0.is_empty() { "" } else { "," }, items.join(","));
        self
    }

    /// A list of strings (without quotes or backslashes: container names).
    pub fn strs(mut self, key: &str, v: &[String]) -> Self {
        let items: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
        let _ = write!(self.0, "{}\"{key}\":[{}]", if self.0.is_empty() { "" } else { "," }, items.join(","));
        self
    }

    pub fn print(self) {
        println!("{{{}}}", self.0);
    }
}

pub fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

/// The loop of the async clients' ops state and start: `skip` untimed calls, then `n` timed
/// ones; each call's answer goes to `after` outside the timing (its check, or an untimed wait).
/// Returns the timed calls' durations (ns).
pub async fn timed<T, C, A>(skip: u64, n: u64, mut call: impl FnMut() -> C, mut after: impl FnMut(T) -> A) -> Vec<u64>
where
    C: std::future::Future<Output = T>,
    A: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(n as usize);
    for i in 0..skip + n {
        let t = std::time::Instant::now();
        let answer = call().await;
        let dt = t.elapsed();
        after(answer).await;
        if i >= skip {
            samples.push(nanos(dt));
        }
    }
    samples
}

/// The line sent through `cat` in round trip `i` and what comes back: the TTY's echo of it and
/// cat's copy, both with the TTY's CR LF.
pub fn attach_line(i: u64) -> (Vec<u8>, Vec<u8>) {
    let sent = format!("ping-{i:08}\n").into_bytes();
    let back = format!("ping-{i:08}\r\n").into_bytes();
    (sent, back)
}

/// Op attach's loop on an exec of `cat` with a TTY: `warmup`, then `n` round trips of one line
/// written to `input`, until `read` (which appends what comes back) has brought both the TTY's
/// echo and cat's copy; then ^D. Returns the timed round trips' durations (ns).
pub async fn attach_rounds<W>(n: u64, warmup: u64, input: &mut W, mut read: impl AsyncFnMut(&mut Vec<u8>)) -> Vec<u64>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let mut samples = Vec::with_capacity(n as usize);
    let mut acc = Vec::new();
    for i in 0..warmup + n {
        let (sent, back) = attach_line(i);
        acc.clear();
        let t = std::time::Instant::now();
        input.write_all(&sent).await.unwrap_or_else(|e| die(&format!("attach write: {e}")));
        while count(&acc, &back) < 2 {
            read(&mut acc).await;
        }
        if i >= warmup {
            samples.push(nanos(t.elapsed()));
        }
    }
    let _ = input.write_all(b"\x04").await;
    samples
}

/// Counts the occurrences of `needle` in `hay`.
pub fn count(hay: &[u8], needle: &[u8]) -> usize {
    if hay.len() < needle.len() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}
