"""Op ``scale``: many followed logs, and many waits, in one client process (run.py's part of it).

For each row the runner starts ``count`` containers ``gofer-bench-scale-<row>-<i>`` that wait for
a file ``go`` in a directory bind-mounted at ``/sync``, then write ``lines`` lines of ``line``
bytes, ``burst`` lines every ``period`` seconds (line i: ``%07d `` of i, the alphabet pattern, a
newline), and exit. The client (one process) opens ``streams`` followed log streams on each
container, one goroutine / task / thread each, creates ``go`` once every stream is open, reads
every stream to its end and checks each byte against what the containers wrote; it prints its
bytes, CPU time (getrusage), VmHWM and wall time. The runner samples the client's
``/proc/<pid>/status`` (Threads, VmRSS) every 10 ms from outside and reads dockerd's CPU time
(``/proc/<dockerd>/task/*/schedstat``) around the run. Op ``scale-wait``: ``streams`` waits on
each container, which exits with code ``i % 200 + 1`` once ``go`` appears (2 s after every
wait was asked for); every exit code is checked.

A thousand containers per row do not fit the full profile's time on 2 cores (each start costs
the daemon 200-300 ms, so 1,000 starts and removes per row take several minutes): the full
profile follows 20 containers with 50 streams each, which is what the client sees of 1,000
jobs (1,000 connections, 1,000 decoders), at the rate the daemon sustains here.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from limit_bench import dockerd_pid, process_cpu_ns

MIB = 1024 * 1024

# Row key -> (label, client program key, extra arguments). "raw-go" is the reference.
LOG_ROWS: List[Tuple[str, str, str, Dict[str, str]]] = [
    ("raw-go", "raw Go: net/http on the unix socket, frames read by hand (a goroutine per stream)", "go", {"mode": "raw", "allow_short": "1"}),
    ("go-sdk", "Go Docker SDK: ContainerLogs + stdcopy.StdCopy (a goroutine per stream)", "go-sdk", {"allow_short": "1"}),
    ("bollard", "bollard: a `logs` stream per task (tokio, a worker per core)", "bollard", {"allow_short": "1"}),
    ("go", "**Go binding: GetLogs + Read (the readiness face; a goroutine per stream)**", "go", {"mode": "lib"}),
    ("go-blocking", "Go over the blocking C reader, as the binding was before (a goroutine per stream, each read in C)", "go",
     {"mode": "blocking"}),
    ("python-async", "**Python: `await get_logs_async` + `await read()` (a task per stream, one event loop)**", "python-scale",
     {"mode": "async"}),
    ("python-threads", "Python: `get_logs` + `chunks()` (the blocking face, a thread per stream)", "python-scale",
     {"mode": "threads"}),
]
WAIT_ROWS: List[Tuple[str, str, str, Dict[str, str]]] = [
    ("raw-go", "raw Go: net/http POST /wait (a goroutine per wait)", "go", {"mode": "raw"}),
    ("go-sdk", "Go Docker SDK: ContainerWait (a goroutine per wait)", "go-sdk", {}),
    ("bollard", "bollard: `wait_container` (a task per wait)", "bollard", {}),
    ("go", "**Go binding: WaitContainer (the readiness face; a goroutine per wait)**", "go", {"mode": "lib"}),
    ("python-async", "**Python: `await wait_container_async` (a task per wait)**", "python-scale", {"mode": "async"}),
]

PROFILES = {
    # Every row in a small form, to keep each client's code working in CI: 100 streams (5
    # containers x 20) for 3 s, 100 waits.
    "quick": {"count": 5, "streams": 20, "line": 100, "burst": 2, "period": 0.1, "ticks": 30,
              "wait_count": 5, "wait_streams": 20},
    # 1,000 streams (20 containers x 50) for about 20 s; 1,000 waits.
    "full": {"count": 20, "streams": 50, "line": 100, "burst": 2, "period": 0.1, "ticks": 200,
             "wait_count": 20, "wait_streams": 50},
}
# Goals (issue 15): threads of the client process, its peak RSS, its CPU per MiB against raw-go.
THREAD_LIMIT = {"go": 64, "python-async": 8}
RSS_LIMIT_MIB = 256

LOG_SCRIPT = ("while [ ! -e /sync/go ]; do sleep 0.1; done; i=0; "
              "while [ $i -lt $LINES ]; do j=0; "
              "while [ $j -lt $BURST ]; do printf '%07d %s\\n' $i \"$F\"; i=$((i+1)); j=$((j+1)); done; "
              "sleep $PERIOD; done")
WAIT_SCRIPT = "while [ ! -e /sync/go ]; do sleep 0.1; done; exit $CODE"


def filler(length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[i % 36] for i in range(length - 9))


# ---------------------------------------------------------------------------------------------
# Running one client with its threads and RSS sampled from outside


def run_sampled(argv: List[str], what: str, timeout: float, cwd: str, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Runs `argv`, sampling /proc/<pid>/status every 10 ms; returns its JSON line plus
    peak_threads, peak_rss_kb and dockerd_cpu_ns. Raises on a failure or a timeout."""
    import json

    dpid = dockerd_pid()
    d0 = process_cpu_ns(dpid)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env)
        peak_threads = peak_rss = 0
        deadline = time.monotonic() + timeout
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for l in f:
                        if l.startswith("Threads:"):
                            peak_threads = max(peak_threads, int(l.split()[1]))
                        elif l.startswith("VmRSS:"):
                            peak_rss = max(peak_rss, int(l.split()[1]))
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                raise RuntimeError(f"{what}: no result within {timeout:.0f} s (killed)")
            time.sleep(0.01)
        d1 = process_cpu_ns(dpid)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if p.returncode != 0:
        tail = stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"{what}: exit {p.returncode}: {' | '.join(tail)}")
    res = json.loads(stdout.strip().splitlines()[-1])
    res["peak_threads"], res["peak_rss_kb"] = peak_threads, peak_rss
    res["dockerd_cpu_ns"] = d1 - d0 if d0 is not None and d1 is not None else None
    return res


# ---------------------------------------------------------------------------------------------
# Containers


def docker(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *argv], capture_output=True, timeout=timeout)


def start_containers(prefix: str, count: int, sync: str, image: str, script: str, env: Callable[[int], Dict[str, str]]) -> None:
    def one(i: int) -> None:
        argv = ["run", "-d", "--name", f"{prefix}-{i}", "-v", f"{sync}:/sync:ro"]
        for k, v in env(i).items():
            argv += ["-e", f"{k}={v}"]
        r = docker(*argv, image, "sh", "-c", script)
        if r.returncode != 0:
            raise RuntimeError(f"docker run {prefix}-{i}: {r.stderr.decode(errors='replace').strip()}")

    # 8 at a time: Docker 20.10.24 can deadlock under many concurrent starts.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def remove_prefix(prefix: str) -> None:
    out = docker("ps", "-aq", "--filter", f"name={prefix}-").stdout.decode().split()
    for i in range(0, len(out), 32):
        docker("rm", "-f", "-v", *out[i:i + 32])


# ---------------------------------------------------------------------------------------------
# The measurement


def programs(run: Any, root: Path) -> Dict[str, Optional[List[str]]]:
    """The program of each client key, or None when it is not available (why: run.clients.notes)."""
    cmd, notes = run.clients.cmd, run.clients.notes
    return {
        "go": None if "go" in notes else cmd["go"],
        "go-sdk": None if "go-sdk" in notes else cmd.get("go-sdk"),
        "bollard": None if "bollard" in notes else cmd.get("bollard"),
        "python-scale": None if "python" in notes else [run.args.python, str(root / "benches" / "python" / "bench_scale.py")],
    }


def measure(run: Any, rnd: int, root: Path, image: str, log: Callable[[str], None]) -> None:
    """One round: every log row, then every wait row; recorded under ops scale and scale_wait."""
    p = PROFILES[run.profile_name]
    progs = programs(run, root)
    lines = p["ticks"] * p["burst"]
    for op, rows in (("scale", LOG_ROWS), ("scale_wait", WAIT_ROWS)):
        count, per = (p["count"], p["streams"]) if op == "scale" else (p["wait_count"], p["wait_streams"])
        for key, _label, prog, extra in rows:
            argv = progs.get(prog)
            if argv is None:
                continue
            prefix = f"gofer-bench-scale-{key}"
            sync = tempfile.mkdtemp(prefix="gofer-bench-scale-")
            os.chmod(sync, 0o755)
            t = time.monotonic()
            try:
                if op == "scale":
                    env = {"LINES": str(lines), "BURST": str(p["burst"]), "PERIOD": str(p["period"]), "F": filler(p["line"])}
                    start_containers(prefix, count, sync, image, LOG_SCRIPT, lambda i: env)
                    kw = {"lines": lines, "line": p["line"]}
                else:
                    start_containers(prefix, count, sync, image, WAIT_SCRIPT, lambda i: {"CODE": str(i % 200 + 1)})
                    kw = {}
                client_op = "scale-logs" if op == "scale" else "scale-wait"
                args = dict(extra, prefix=prefix, count=count, streams=per, go=f"{sync}/go", **kw)
                full = argv + [client_op] + [f"{k}={v}" for k, v in args.items()]
                out = run_sampled(full, f"{key} {client_op}", timeout=300, cwd=str(root / "target" / "bench"))
                want = count * per * (lines * p["line"] if op == "scale" else 1)
                # Rows with allow_short (raw, the peers: no repair of the end Docker 20.10 cuts off
                # some followed logs) count what they lost; the library's rows must lose nothing.
                if out["bytes"] + out.get("lost_bytes", 0) != want:
                    raise RuntimeError(f"{key}: {out['bytes']} {'bytes' if op == 'scale' else 'waits'} of {want}")
                out["_round"] = rnd
                run.record(op, key, out)
                mib = out["bytes"] / MIB
                shown = (f"{out['streams']} streams, {mib:.1f} MiB, threads {out['peak_threads']}, "
                         f"VmHWM {out['vmhwm_kb'] / 1024:.0f} MiB, cpu {out['cpu_ns'] / 1e6 / mib:.1f} ms/MiB"
                         if op == "scale" else
                         f"{out['streams']} waits, threads {out['peak_threads']}, VmHWM {out['vmhwm_kb'] / 1024:.0f} MiB, "
                         f"cpu {out['cpu_ns'] / 1e6:.0f} ms")
                log(f"  {op:10} {key:14} {shown}  ({time.monotonic() - t:.1f} s)")
            except Exception as e:  # noqa: BLE001
                log(f"  FAILED {op} {key}: {e}")
                run.errors.append({"op": op, "client": key, "round": rnd, "error": str(e)})
            finally:
                remove_prefix(prefix)
                shutil.rmtree(sync, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Summary, targets, Markdown


def summarize(samples: Dict[str, Dict[str, List[Dict[str, Any]]]]) -> Dict[str, Any]:
    res: Dict[str, Any] = {}
    for op in ("scale", "scale_wait"):
        for key, runs in samples.get(op, {}).items():
            mib = [r["bytes"] / MIB for r in runs]
            row = {
                "rounds": len(runs),
                "streams": runs[0]["streams"],
                "peak_threads": max(r["peak_threads"] for r in runs),
                "vmhwm_mib": round(max(max(r["vmhwm_kb"], r["peak_rss_kb"]) for r in runs) / 1024, 1),
                "open_ms": round(statistics.median(r["open_ns"] for r in runs) / 1e6, 1),
                "wall_s": round(statistics.median(r["wall_ns"] for r in runs) / 1e9, 2),
                "cpu_ms": round(statistics.median(r["cpu_ns"] for r in runs) / 1e6, 1),
                "short_streams": sum(r.get("short_streams", 0) for r in runs),
                "lost_bytes": sum(r.get("lost_bytes", 0) for r in runs),
            }
            dcpu = [r["dockerd_cpu_ns"] for r in runs if r.get("dockerd_cpu_ns") is not None]
            if op == "scale":
                row["mib"] = round(statistics.median(mib), 2)
                row["cpu_ms_per_mib"] = round(statistics.median(r["cpu_ns"] / 1e6 / (r["bytes"] / MIB) for r in runs), 2)
                if dcpu:
                    row["dockerd_ms_per_mib"] = round(statistics.median(
                        r["dockerd_cpu_ns"] / 1e6 / (r["bytes"] / MIB) for r in runs if r.get("dockerd_cpu_ns") is not None), 2)
            else:
                row["cpu_us_per_wait"] = round(statistics.median(r["cpu_ns"] / 1e3 / r["streams"] for r in runs), 1)
            res.setdefault(op, {})[key] = row
    raw = res.get("scale", {}).get("raw-go", {}).get("cpu_ms_per_mib")
    for row in res.get("scale", {}).values():
        row["cpu_ratio"] = round(row["cpu_ms_per_mib"] / raw, 2) if raw else None
    return res


def targets(res: Dict[str, Any], add: Callable[..., None]) -> None:
    """Adds the scale goals through run.py's `add(tid, what, value, limit, higher_is_better, unit)`."""
    s, w = res.get("scale", {}), res.get("scale_wait", {})
    streams = next(iter(s.values()), {}).get("streams", "?")
    waits = next(iter(w.values()), {}).get("streams", "?")
    for key, name in (("go", "Go binding"), ("python-async", "Python asyncio")):
        row = s.get(key, {})
        add("scale-threads", f"scale, {name}, {streams} streams: OS threads ≤ {THREAD_LIMIT[key]}", row.get("peak_threads"),
            THREAD_LIMIT[key], False, "threads")
        add("scale-rss", f"scale, {name}, {streams} streams: peak RSS ≤ {RSS_LIMIT_MIB} MiB", row.get("vmhwm_mib"),
            RSS_LIMIT_MIB, False, "MiB")
        add("scale-cpu", f"scale, {name}, {streams} streams: CPU/MiB ≤ raw Go's", row.get("cpu_ratio"), 1.0, False)
    add("scale-threads", f"scale, Go binding, {waits} concurrent WaitContainer: OS threads ≤ 64",
        w.get("go", {}).get("peak_threads"), 64, False, "threads")


def markdown(res: Dict[str, Any], profile: str) -> List[str]:
    p = PROFILES[profile]
    L: List[str] = []
    A = L.append
    s, w = res.get("scale", {}), res.get("scale_wait", {})
    if s:
        lines = p["ticks"] * p["burst"]
        A("## Scale: many jobs in one process")
        A("")
        A(f"**followed logs** — {p['count']} containers each write {lines} lines of {p['line']} bytes, {p['burst']} lines "
          f"every {p['period']} s (about {p['burst'] / p['period'] * p['line'] / 1000:.0f} kB/s each, then they exit), and one "
          f"client process follows each with {p['streams']} streams at once: {p['count'] * p['streams']:,} streams, each "
          "read to its end and checked byte for byte. Threads and RSS are the client process's peaks (its "
          "`/proc/<pid>/status`, sampled every 10 ms from outside; RSS is the larger of that and its VmHWM); CPU is the "
          "client's user+system time from opening the streams to the last byte, per MiB received; dockerd's CPU "
          "(all its threads) in the same interval, per MiB, is the engine's share. Ratio: CPU/MiB over the raw Go client's. "
          "*Cut short*: streams that Docker 20.10 ended before their last lines (its follow stream can end before the "
          "log driver's last writes of a container that has just exited; docs/reliability.md), which the raw client and "
          "the peers take for the end; the library repairs such an end (a timestamped follow and one more request at "
          "the end), and its rows fail on any byte lost.")
        A("")
        A("| client | streams | MiB | cut short | OS threads | peak RSS (MiB) | CPU ms/MiB | CPU ratio | dockerd ms/MiB | open all (ms) | wall (s) |")
        A("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key, label, _prog, _extra in LOG_ROWS:
            r = s.get(key)
            if r:
                ratio = "—" if r.get("cpu_ratio") is None else f"{r['cpu_ratio']:.2f}×"
                d = r.get("dockerd_ms_per_mib")
                cut = f"{r['short_streams']} ({r['lost_bytes']:,} B)" if r["short_streams"] else "0"
                A(f"| {label} | {r['streams']:,} | {r['mib']:.1f} | {cut} | {r['peak_threads']} | {r['vmhwm_mib']:.0f} | "
                  f"{r['cpu_ms_per_mib']:.1f} | {ratio} | {'—' if d is None else format(d, '.0f')} | {r['open_ms']:,.0f} | {r['wall_s']:.1f} |")
        A("")
    if w:
        A(f"**concurrent waits** — {p['wait_count']} containers wait for a file, then exit with a code of their own; one "
          f"client process waits for each {p['wait_streams']} times at once ({p['wait_count'] * p['wait_streams']:,} waits, "
          "asked for 2 s before the exits); every exit code is checked. CPU is the client's, from the first wait to the "
          "last answer, per wait.")
        A("")
        A("| client | waits | OS threads | peak RSS (MiB) | CPU µs/wait | wall (s) |")
        A("|---|---:|---:|---:|---:|---:|")
        for key, label, _prog, _extra in WAIT_ROWS:
            r = w.get(key)
            if r:
                A(f"| {label} | {r['streams']:,} | {r['peak_threads']} | {r['vmhwm_mib']:.0f} | {r['cpu_us_per_wait']:,.0f} | {r['wall_s']:.1f} |")
        A("")
    return L
