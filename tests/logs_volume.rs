//! Large and long log streams, measured in a process of their own: memory stays bounded and an
//! early close releases the connection. The tests here run one at a time (they measure the
//! whole process).

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use gofer_scheduler::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

const TOTAL: u64 = 200 * 1024 * 1024;
const LINE: u64 = 1024;

#[test]
fn two_hundred_mib_of_output_is_read_whole_with_bounded_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let engine = BlockingEngine::connect(DockerOptions::default()).unwrap();
    let name = Name::new("volume");
    let script = format!("yes $(head -c {} /dev/zero | tr '\\0' a) | head -c {TOTAL}", LINE - 1);
    engine.start_container(shell(&name, &script)).unwrap();
    let rss_before = status_kib("VmRSS:");

    let started = Instant::now();
    let reader = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset: u64 = 0;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            let at = offset + i as u64;
            let want = if at % LINE == LINE - 1 { b'\n' } else { b'a' };
            assert_eq!(b, want, "byte {at}");
        }
        offset += n as u64;
        assert!(started.elapsed() < Duration::from_secs(600), "200 MiB took over 10 minutes");
    }
    let elapsed = started.elapsed();
    assert_eq!(offset, TOTAL, "every byte, no more");

    let peak = status_kib("VmHWM:");
    eprintln!(
        "200 MiB log: {:.1} s, {:.0} MB/s; RSS before {} KiB, peak {} KiB",
        elapsed.as_secs_f64(),
        TOTAL as f64 / 1e6 / elapsed.as_secs_f64(),
        rss_before,
        peak
    );
    assert!(peak < rss_before + 32 * 1024, "peak RSS {peak} KiB grew over 32 MiB above {rss_before} KiB");
}

#[test]
fn dropping_a_log_stream_early_releases_its_connection() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let engine = BlockingEngine::connect(DockerOptions::default()).unwrap();
    let name = Name::new("release");
    engine.start_container(shell(&name, "yes gofer")).unwrap();
    // Warm the connection pool so that the baseline includes the pooled connection.
    engine.get_state(GetStateRequest { id: name.0.clone() }).unwrap();
    let baseline = open_fds();

    for _ in 0..5 {
        let reader = engine.get_logs(GetLogsRequest { id: name.0.clone() }).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut read = 0;
        while read < 1 << 20 {
            read += reader.read(&mut buf).unwrap();
        }
        drop(reader);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(open_fds() <= baseline, "{} descriptors open, {baseline} before", open_fds());
}
