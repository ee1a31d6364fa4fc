"""The benchmark runner: one engine, every client, the operations interleaved round by round.

Run through scripts/bench.sh (which builds the clients and this venv). By hand:

    target/bench/venv/bin/python benches/run.py [--quick] [--out docs] [--clients raw,c,...]

Each client is a program (benches/rust, benches/c, benches/go, benches/go-sdk, benches/python)
that runs one operation per invocation and prints one JSON object; this runner makes the
fixtures, calls the clients in a rotating order each round, checks nothing hangs (every call is
bounded), removes every gofer-bench-* container it made, and writes benchmarks.json,
benchmarks.md and the plots. The parts of their own are modules beside it: the peers and the
limit (peers_bench, limit_bench), read sizes, scale, TLS (readsize_bench, scale_bench,
tls_bench), the single host against the swarm (tasks_bench).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import limit_bench
import peers_bench
import readsize_bench
import scale_bench
import tasks_bench
import tls_bench

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "target" / "bench"
IMAGE = "gofer-test/busybox:latest"
MIB = 1024 * 1024

# Display order; "raw" is the floor every ratio is taken against.
CLIENTS = ["raw", "rust", "c", "go", "python", "bollard", "go-sdk", "docker-py", "cli"]
LABELS = {
    "raw": "raw HTTP/1.1 (floor)",
    "rust": "Rust API",
    "c": "C ABI",
    "go": "Go binding",
    "python": "Python wheel",
    "bollard": "bollard",
    "go-sdk": "Docker SDK for Go",
    "docker-py": "docker-py",
    "cli": "docker CLI",
}
LIBRARY = ["rust", "c", "go", "python"]
# Operations a client does not measure, and why.
NOT_MEASURED = {("cli", "attach"): "needs a pseudo-terminal (docker exec -it)"}
# The exit notice (ops wait and poll): who measures it. "poll" is Gofer's own way, GetState every
# 500 ms, through the C ABI only; its row is compared with the raw client's wait.
EXIT_NOTICE_CLIENTS = {"wait": ["raw"] + LIBRARY + ["bollard", "go-sdk", "docker-py"], "poll": ["c"]}
POLL_LABEL = "C ABI, polling every 500 ms (Gofer)"
# The exit-notice target: a library client's median within this of the raw wait's (absolute).
WAIT_MARGIN_MS = 2

PROFILES: Dict[str, Dict[str, Any]] = {
    "quick": {
        # Rounds per operation (state_paired: rounds of its own, after the others).
        "rounds": {"state": 2, "start": 2, "attach": 2, "logs_1k": 1, "logs_64": 1, "parallel": 1, "wait": 1, "poll": 1,
                   "tasks": 1, "state_paired": 1},
        "paired_n": 300,
        "state_n": 150, "state_n_cli": 8,
        "start_n": 2,
        "logs_bytes": 32 * MIB,
        "attach_n": 50,
        "parallel_workers": 16, "parallel_cycles": 1,
        "wait_n": 3,
        # tasks: n tasks per engine type (single host, swarm) and round, about 1 s each.
        "tasks_n": 2,
        "overhead_n": {"c": 1_000_000, "rust": 1_000_000, "go": 100_000, "python": 20_000},
    },
    # Many short rounds for the latency operations: the machine's speed drifts by a third within
    # seconds (state medians of 110-250 us in one run), and a ratio taken within each round, then
    # the median of those, cancels the drift that one long run per client would take in.
    "full": {
        # wait and poll: 3 rounds of 5 containers per client (15 each), about 0.65 s a container
        # (the start, the job's 0.3 s, the notice, the stamp's `docker logs`, the remove): some
        # 60 s in all for the 5 clients and the poll.
        "rounds": {"state": 10, "start": 10, "attach": 10, "logs_1k": 9, "logs_64": 2, "parallel": 4, "wait": 3, "poll": 3,
                   "tasks": 3, "state_paired": 3},
        "paired_n": 3000,
        "state_n": 300, "state_n_cli": 10,
        "start_n": 4,
        "logs_bytes": 256 * MIB,
        "attach_n": 100,
        "parallel_workers": 16, "parallel_cycles": 2,
        "wait_n": 5,
        "tasks_n": 5,
        "overhead_n": {"c": 10_000_000, "rust": 5_000_000, "go": 1_000_000, "python": 200_000},
    },
}

# Upper bounds of one client invocation, in seconds: a wedged daemon fails the call, never
# hangs the run.
TIMEOUTS = {"state": 300, "state-paired": 300, "start": 600, "logs": 1200, "attach": 180, "parallel": 600, "wait": 300, "tasks": 300,
            "poll": 300, "overhead": 300, "precreate": 300}


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def sh(argv: List[str], timeout: float = 60, check: bool = True) -> str:
    r = subprocess.run(argv, capture_output=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout.decode(errors="replace").strip()


def try_sh(argv: List[str], timeout: float = 60) -> str:
    try:
        return sh(argv, timeout=timeout)
    except Exception as e:  # noqa: BLE001
        return f"unavailable ({e})"


# ---------------------------------------------------------------------------------------------
# Clients


class Clients:
    def __init__(self, python: str, only: Optional[List[str]]) -> None:
        rel = BENCH / "cargo" / "release"
        pyd = ROOT / "benches" / "python"
        self.cmd = {
            "raw": [str(rel / "gofer-bench-raw")],
            "rust": [str(rel / "gofer-bench-rust")],
            "c": [str(BENCH / "bin" / "gofer-bench-c")],
            "go": [str(BENCH / "bin" / "gofer-bench-go")],
            "python": [python, str(pyd / "bench_wheel.py")],
            # The peers a user would pick instead (benches/peers_bench.py).
            "bollard": [str(rel / "gofer-bench-bollard")],
            "go-sdk": [str(BENCH / "bin" / "gofer-bench-go-sdk")],
            "docker-py": [python, str(pyd / "bench_dockerpy.py")],
            "cli": [python, str(pyd / "bench_cli.py")],
            # Not a client of its own: runs the C ABI's GetState against the raw client's, call
            # by call in one process (op state-paired).
            "proto": [str(rel / "gofer-bench-proto")],
        }
        self.notes: Dict[str, str] = {}
        for name, cmd in self.cmd.items():
            if only and name not in only and name != "raw":
                self.notes[name] = "not selected (--clients)"
            elif not Path(cmd[-1]).exists():
                self.notes[name] = f"not built ({cmd[-1]} missing)"
        probes = {"python": "import gofer_scheduler", "docker-py": "import docker"}
        for name, code in probes.items():
            if name in self.notes:
                continue
            r = subprocess.run([python, "-c", code], capture_output=True, timeout=60)
            if r.returncode != 0:
                self.notes[name] = (
                    "the wheel is not installed in the bench venv (scripts/test-python.sh builds it; "
                    "scripts/bench.sh installs it from target/python/wheels)"
                    if name == "python"
                    else "docker-py is not installed in the bench venv"
                )
        if shutil.which("docker") is None and "cli" not in self.notes:
            self.notes["cli"] = "no docker CLI on PATH"

    def available(self) -> List[str]:
        return [c for c in CLIENTS if c not in self.notes]

    def run(self, client: str, op: str, **kw: Any) -> Dict[str, Any]:
        argv = self.cmd[client] + [op] + [f"{k}={v}" for k, v in kw.items()]
        started = time.monotonic()
        try:
            r = subprocess.run(argv, capture_output=True, timeout=TIMEOUTS[op], cwd=str(BENCH))
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{client} {op}: no result within {TIMEOUTS[op]} s (killed)")
        if r.returncode != 0:
            tail = r.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"{client} {op}: exit {r.returncode}: {' | '.join(tail)}")
        out = json.loads(r.stdout.decode().strip().splitlines()[-1])
        out["_seconds"] = round(time.monotonic() - started, 2)
        return out


# ---------------------------------------------------------------------------------------------
# Fixtures: containers named gofer-bench-*, all removed at the end (also on failure)


def docker(*argv: str, timeout: float = 60, check: bool = True) -> str:
    return sh(["docker", *argv], timeout=timeout, check=check)


def bench_containers() -> List[str]:
    out = docker("ps", "-a", "--filter", "name=gofer-bench-", "--format", "{{.Names}}", timeout=30, check=False)
    return [n for n in out.split() if n.startswith("gofer-bench-")]


def remove(names: List[str]) -> None:
    for i in range(0, len(names), 32):
        docker("rm", "-f", "-v", *names[i : i + 32], timeout=120, check=False)


def line(length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[i % 36] for i in range(length - 1))


def make_fixtures(profile: Dict[str, Any], ops: List[str], keep: bool) -> Dict[str, str]:
    """The state, attach and logs containers. Returns the logs fixtures' names by line size."""
    remove([n for n in bench_containers() if not (keep and n.startswith("gofer-bench-logs-"))])
    if "state" in ops:
        docker("run", "--name", "gofer-bench-state", IMAGE, "sh", "-c", "exit 3", timeout=60, check=False)
        if docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "gofer-bench-state") != "exited 3":
            raise RuntimeError("the state fixture did not exit with code 3")
    if "attach" in ops:
        docker("run", "-d", "--name", "gofer-bench-attach", IMAGE, "sleep", "2000000", timeout=60)
    logs = {}
    size = profile["logs_bytes"]
    for key, length in (("1k", 1024), ("64", 64)):
        if f"logs_{key}" not in ops:
            continue
        name = f"gofer-bench-logs-{key}-{size // MIB}m"
        logs[key] = name
        if keep and docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name, check=False) == "exited 0":
            log(f"reusing {name}")
            continue
        docker("rm", "-f", name, check=False)
        log(f"writing {size // MIB} MiB of {length}-byte lines into {name}")
        t = time.monotonic()
        docker("run", "-d", "--name", name, IMAGE, "sh", "-c", f"yes {line(length)} | head -c {size}")
        code = docker("wait", name, timeout=1200)
        if code != "0":
            raise RuntimeError(f"{name} exited with {code}")
        log(f"  {time.monotonic() - t:.1f} s")
    return logs


def rfc3339_ns(stamp: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with up to 9 fractional digits, as
    `docker logs -t` prints them (datetime stops at microseconds)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", stamp)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    tz = dt.timezone.utc if m.group(3) == "Z" else dt.datetime.strptime(m.group(3).replace(":", ""), "%z").tzinfo
    seconds = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=tz).timestamp()
    return int(seconds) * 1_000_000_000 + int((m.group(2) or "0").ljust(9, "0"))


def exit_stamp_ns(name: str, last_line: str = "bye") -> int:
    """The engine's timestamp of the container's last log line: when the daemon read it, the
    process exiting right after writing it (op wait: the moment of the exit)."""
    for l in reversed(docker("logs", "-t", name, timeout=60).splitlines()):
        stamp, _, text = l.partition(" ")
        if text.rstrip("\r") == last_line:
            return rfc3339_ns(stamp)
    raise RuntimeError(f"{name}: no log line {last_line!r}")


def readsize_bench_tools() -> Any:
    """What benches/readsize_bench.py borrows from this runner."""
    import types

    return types.SimpleNamespace(docker=docker, log=log, line=line)


# ---------------------------------------------------------------------------------------------
# Statistics


def pct(values: List[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def latency_summary(samples: List[int]) -> Dict[str, Any]:
    us = [s / 1000 for s in samples]
    return {
        "n": len(us),
        "median_us": round(statistics.median(us), 1),
        "p90_us": round(pct(us, 90), 1),
        "p99_us": round(pct(us, 99), 1),
        "min_us": round(min(us), 1),
    }


# ---------------------------------------------------------------------------------------------
# The run


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.profile_name = "quick" if args.quick else "full"
        self.profile = PROFILES[self.profile_name]
        self.clients = Clients(args.python, args.clients.split(",") if args.clients else None)
        self.ops = args.ops.split(",") if args.ops else ["state", "start", "attach", "logs_1k", "logs_64", "parallel", "wait",
                                                          "poll", "tasks", "readsize", "scale", "tls", "overhead"]
        # Why the swarm's task latencies were not measured, if they were not (op tasks).
        self.skipped_tasks: Optional[str] = None
        # Why GetState over TLS was not measured, if it was not (op tls).
        self.skipped_tls: Optional[str] = None
        self.samples: Dict[str, Dict[str, List[Any]]] = {}
        self.errors: List[Dict[str, Any]] = []

    def record(self, op: str, client: str, value: Any) -> None:
        self.samples.setdefault(op, {}).setdefault(client, []).append(value)

    def call(self, op_key: str, client: str, op: str, rnd: int, runner: Optional[str] = None,
             **kw: Any) -> Optional[Dict[str, Any]]:
        """Runs `op` for `client` (through the program `runner`, by default the client's own) and
        records its result under `op_key`; a failure is recorded as an error, not raised."""
        if (client, op) in NOT_MEASURED:
            return None
        hook = limit_bench.Hook(op, client)  # dockerd's CPU around ops state and logs (the limit)
        try:
            out = self.clients.run(runner or client, op, **kw)
        except Exception as e:  # noqa: BLE001
            log(f"  FAILED {e}")
            self.errors.append({"op": op_key, "client": client, "round": rnd, "error": str(e)})
            self.check_daemon()
            return None
        hook.finish(out, kw)
        out["_round"] = rnd
        self.record(op_key, client, out)
        return out

    def check_daemon(self) -> None:
        try:
            sh(["docker", "version", "--format", "{{.Server.Version}}"], timeout=15)
        except Exception as e:  # noqa: BLE001
            raise RuntimeError(f"the Docker daemon no longer answers ({e}); stopping the run") from e

    def order(self, rnd: int) -> List[str]:
        avail = self.clients.available()
        k = rnd % len(avail)
        return avail[k:] + avail[:k]

    def go(self) -> Dict[str, Any]:
        p = self.profile
        started = time.time()
        load_start = os.getloadavg()
        log(f"profile {self.profile_name}; clients: {', '.join(self.clients.available())}")
        for c, why in self.clients.notes.items():
            log(f"  skipping {c}: {why}")
        logs_fixtures = make_fixtures(p, self.ops, self.args.keep_fixtures)
        # dockerd's CPU while no client runs (the limit's figures include whatever else it does).
        self.dockerd_idle = [limit_bench.idle_ms_per_s()] if any(op in self.ops for op in ("state", "logs_1k", "logs_64")) else []
        try:
            rounded = [op for op in self.ops if op in p["rounds"]]
            total = max((p["rounds"][op] for op in rounded), default=0)
            for rnd in range(total):
                log(f"round {rnd + 1}/{total}")
                for op in rounded:
                    if rnd < p["rounds"][op]:
                        for client in self.order(rnd):
                            self.one(op, client, rnd, logs_fixtures)
            if "state" in self.ops:
                for rnd in range(p["rounds"]["state_paired"]):
                    self.state_paired(rnd)
            # Ops of their own modules, once each (their rounds inside): read sizes, scale, TLS.
            if "readsize" in self.ops:
                log("readsize")
                readsize_bench.measure(self, readsize_bench_tools(), IMAGE)
            if "scale" in self.ops:
                log("scale")
                scale_bench.measure(self, 0, ROOT, IMAGE, log)
            if "tls" in self.ops:
                log("tls")
                tls_bench.measure(self, ROOT, IMAGE, log)
            if "overhead" in self.ops:
                log("overhead")
                for client, n in p["overhead_n"].items():
                    if client in self.clients.available():
                        self.call("overhead", client, "overhead", 0, n=n)
        finally:
            if not self.args.keep_fixtures:
                remove(bench_containers())
            else:
                remove([n for n in bench_containers() if not n.startswith("gofer-bench-logs-")])
        return {
            "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started),
            "load_start": [round(x, 2) for x in load_start],
            "load_end": [round(x, 2) for x in os.getloadavg()],
            "dockerd_idle_ms_per_s": self.dockerd_idle + ([limit_bench.idle_ms_per_s()] if self.dockerd_idle else []),
        }

    def state_paired(self, rnd: int) -> None:
        """GetState through the C ABI and the Go binding, each against a raw client in the same
        process, one call each in turn: at ~100 us a call, separate processes a second apart see
        a machine whose speed differs by more than the margin measured (see analysis.md)."""
        for client, runner in (("c", "proto"), ("go", "go")):
            if client not in self.clients.available() or runner in self.clients.notes:
                continue
            out = self.call("state_paired", client, "state-paired", rnd, runner=runner, id="gofer-bench-state",
                            n=self.profile["paired_n"], expect_code=3, warmup=20)
            if out:
                raw, lib = statistics.median(out["raw_ns"]), statistics.median(out["lib_ns"])
                log(f"  state, call by call: {client:6} {lib / 1000:.0f} us, raw {raw / 1000:.0f} us: {lib / raw:.3f}x")

    def one(self, op: str, client: str, rnd: int, logs_fixtures: Dict[str, str]) -> None:
        p = self.profile
        t = time.monotonic()
        if op == "state":
            n = p["state_n_cli"] if client == "cli" else p["state_n"]
            out = self.call(op, client, "state", rnd, id="gofer-bench-state", n=n, expect_code=3,
                            warmup=2 if client == "cli" else 20)
            shown = out and f"median {statistics.median(out['samples_ns']) / 1000:.0f} us"
        elif op == "start":
            out = self.call(op, client, "start", rnd, name=f"gofer-bench-start-{client}", n=p["start_n"], image=IMAGE)
            shown = out and f"median {statistics.median(out['samples_ns']) / 1e6:.1f} ms"
        elif op == "attach":
            out = self.call(op, client, "attach", rnd, id="gofer-bench-attach", n=p["attach_n"], warmup=10)
            shown = out and f"median {statistics.median(out['samples_ns']) / 1000:.0f} us"
        elif op.startswith("logs_"):
            key = op[5:]
            out = self.call(op, client, "logs", rnd, id=logs_fixtures[key], line=1024 if key == "1k" else 64,
                            bytes=p["logs_bytes"])
            shown = out and (f"{out['bytes'] / MIB / (out['wall_ns'] / 1e9):.1f} MiB/s, "
                             f"cpu {out['cpu_ns'] / 1e6 / (out['bytes'] / MIB):.2f} ms/MiB, "
                             f"VmHWM {out['vmhwm_kb'] / 1024:.1f} MiB")
        elif op in ("wait", "poll"):
            if client not in EXIT_NOTICE_CLIENTS[op]:
                return
            out = self.exit_notice(op, client, rnd)
            shown = out and (f"median {statistics.median(out['samples_ns']) / 1e6:.2f} ms"
                             if out["samples_ns"] else "no sample")
        elif op == "tasks":
            # Not a client's row: the Rust API on each engine type (benches/tasks_bench.py).
            if client == "rust":
                tasks_bench.measure(self, rnd, ROOT, IMAGE, tasks_bench.Tools(exit_stamp_ns, rfc3339_ns, log))
            return
        elif op == "parallel":
            prefix = f"gofer-bench-par-{client}"
            workers = p["parallel_workers"]
            self.clients.run("raw", "precreate", prefix=prefix, count=workers, image=IMAGE)
            out = self.call(op, client, "parallel", rnd, prefix=prefix, workers=workers,
                            cycles=p["parallel_cycles"], image=IMAGE)
            remove([f"{prefix}-{w}" for w in range(workers)])
            shown = out and f"{out['containers'] / (out['wall_ns'] / 1e9):.2f} containers/s"
        else:
            raise ValueError(op)
        if shown:
            log(f"  {op:9} {client:10} {shown}  ({time.monotonic() - t:.1f} s)")

    def exit_notice(self, op: str, client: str, rnd: int) -> Optional[Dict[str, Any]]:
        """The exit notice: the client starts `<prefix>-<i>` (untimed), learns of its exit (op
        wait: its own wait; op poll: GetState every 500 ms) and prints when it knew (knew_ns,
        CLOCK_REALTIME); the exit is the engine's timestamp of the job's last line, read here
        afterwards. samples_ns: knew_ns - that stamp, per container."""
        prefix = f"gofer-bench-{op}-{client}"
        try:
            out = self.call(op, client, op, rnd, prefix=prefix, n=self.profile["wait_n"], image=IMAGE)
            if out:
                out["stamps_ns"], out["samples_ns"] = [], []
                for name, knew in zip(out["names"], out["knew_ns"]):
                    try:
                        stamp = exit_stamp_ns(name)
                    except Exception as e:  # noqa: BLE001
                        log(f"  FAILED {e}")
                        self.errors.append({"op": op, "client": client, "round": rnd, "error": f"exit stamp: {e}"})
                        continue
                    out["stamps_ns"].append(stamp)
                    out["samples_ns"].append(knew - stamp)
            return out
        finally:
            remove([n for n in bench_containers() if n.startswith(prefix + "-")])

    # -----------------------------------------------------------------------------------------
    # Summaries

    def summarize(self) -> Dict[str, Any]:
        s = self.samples
        res: Dict[str, Any] = {}
        for op in ("state", "attach", "start"):
            if op not in s:
                continue
            res[op] = {}
            for client, runs in s[op].items():
                merged = [x for r in runs for x in r["samples_ns"]]
                res[op][client] = latency_summary(merged)
            for client, v in res[op].items():
                v["ratio"] = self.paired_ratio(op, client, lambda r: statistics.median(r["samples_ns"]))
            if op == "start":
                for v in res[op].values():
                    for k in ("median_us", "p90_us", "p99_us", "min_us"):
                        v[k.replace("_us", "_ms")] = round(v.pop(k) / 1000, 2)
        for op in ("logs_1k", "logs_64"):
            if op not in s:
                continue
            res[op] = {}
            for client, runs in s[op].items():
                mbs = [r["bytes"] / MIB / (r["wall_ns"] / 1e9) for r in runs]
                cpu = [r["cpu_ns"] / 1e6 / (r["bytes"] / MIB) for r in runs]
                res[op][client] = {
                    "rounds": len(runs),
                    "mib": round(runs[0]["bytes"] / MIB),
                    "mib_per_s": round(statistics.median(mbs), 2),
                    "cpu_ms_per_mib": round(statistics.median(cpu), 3),
                    "vmhwm_mib": round(max(r["vmhwm_kb"] for r in runs) / 1024, 1),
                }
            for client, v in res[op].items():
                v["throughput_ratio"] = self.paired_ratio(op, client, lambda r: r["bytes"] / r["wall_ns"])
                v["cpu_ratio"] = self.paired_ratio(op, client, lambda r: r["cpu_ns"] / r["bytes"])
        if "parallel" in s:
            res["parallel"] = {}
            for client, runs in s["parallel"].items():
                rates = [r["containers"] / (r["wall_ns"] / 1e9) for r in runs]
                res["parallel"][client] = {
                    "rounds": len(runs),
                    "containers_per_round": runs[0]["containers"],
                    "containers_per_s": round(statistics.median(rates), 2),
                }
            for client, v in res["parallel"].items():
                v["ratio"] = self.paired_ratio("parallel", client, lambda r: r["containers"] / r["wall_ns"])
        # The exit notice: absolute latencies (ms) and the difference of medians to the raw wait
        # (the target is absolute: within WAIT_MARGIN_MS of the floor, whatever the floor is).
        for op in ("wait", "poll"):
            for client, runs in s.get(op, {}).items():
                merged = [x for r in runs for x in r["samples_ns"]]
                if merged:
                    v = {k.replace("_us", "_ms"): round(x / 1000, 2) if k.endswith("_us") else x
                         for k, x in latency_summary(merged).items()}
                    v["max_ms"] = round(max(merged) / 1e6, 2)
                    res.setdefault(op, {})[client] = v
        raw_wait = res.get("wait", {}).get("raw", {}).get("median_ms")
        for op in ("wait", "poll"):
            for v in res.get(op, {}).values():
                v["minus_raw_ms"] = round(v["median_ms"] - raw_wait, 2) if raw_wait is not None else None
        if "state_paired" in s:
            res["state_paired"] = {}
            for client, runs in s["state_paired"].items():
                ratios = [statistics.median(r["lib_ns"]) / statistics.median(r["raw_ns"]) for r in runs]
                res["state_paired"][client] = {
                    "rounds": len(runs),
                    "pairs": sum(len(r["raw_ns"]) for r in runs),
                    "raw_median_us": round(statistics.median([x for r in runs for x in r["raw_ns"]]) / 1000, 1),
                    "median_us": round(statistics.median([x for r in runs for x in r["lib_ns"]]) / 1000, 1),
                    "ratio": round(statistics.median(ratios), 3),
                }
        if "tasks" in s:
            res["tasks"] = tasks_bench.summarize(s["tasks"])
        if "overhead" in s:
            res["overhead"] = {c: {k: v for k, v in runs[-1].items() if not k.startswith("_")} for c, runs in s["overhead"].items()}
        res.update(scale_bench.summarize(s))
        if "readsize" in s:
            res["readsize"] = readsize_bench.summarize(s["readsize"])
        if "tls" in s:
            res["tls"] = tls_bench.summarize(s["tls"])
        limit = limit_bench.summarize(s, res)
        if limit:
            res["limit"] = limit
        return res

    def paired_ratio(self, op: str, client: str, value: Any) -> Optional[float]:
        """The client's value over the raw client's, taken within each round (both ran minutes
        apart at most, in rotated order), then the median over rounds: the machine's drift
        between rounds cancels out."""
        runs = self.samples.get(op, {})
        raw = {r["_round"]: value(r) for r in runs.get("raw", [])}
        ratios = [value(r) / raw[r["_round"]] for r in runs.get(client, []) if raw.get(r["_round"])]
        return round(statistics.median(ratios), 3) if ratios else None

    def targets(self, res: Dict[str, Any]) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []

        def add(tid: str, what: str, value: Optional[float], limit: float, higher_is_better: bool, unit: str = "×") -> None:
            if value is None:
                out.append({"id": tid, "target": what, "value": None, "limit": limit, "met": None, "unit": unit})
                return
            met = value >= limit if higher_is_better else value <= limit
            out.append({"id": tid, "target": what, "value": value, "limit": limit, "met": met, "unit": unit})

        def get(op: str, client: str, key: str) -> Optional[float]:
            return res.get(op, {}).get(client, {}).get(key)

        for c in ("c", "go"):
            # The call-by-call measurement when there is one: the rounds of separate processes
            # cannot tell 1.15 from 1.05 at ~100 us a call on this machine.
            if get("state_paired", c, "ratio") is not None:
                add("state", f"state, {LABELS[c]}: median ≤ 1.15× raw (call by call)", get("state_paired", c, "ratio"), 1.15, False)
            else:
                add("state", f"state, {LABELS[c]}: median ≤ 1.15× raw", get("state", c, "ratio"), 1.15, False)
        add("state-python", "state, Python wheel: median ≤ 1.5× raw", get("state", "python", "ratio"), 1.5, False)
        dp, py = get("state", "docker-py", "median_us"), get("state", "python", "median_us")
        add("state-python", "state, Python wheel ≥ 4× faster than docker-py", round(dp / py, 2) if dp and py else None, 4.0, True)
        for c in LIBRARY:
            add("start", f"start, {LABELS[c]}: median ≤ 1.0× raw", get("start", c, "ratio"), 1.0, False)
        for op, what in (("logs_1k", "1 KiB lines"), ("logs_64", "64 B lines")):
            for c in ("c", "python"):
                add("logs", f"logs {what}, {LABELS[c]}: throughput ≥ 0.95× raw", get(op, c, "throughput_ratio"), 0.95, True)
                add("logs-cpu", f"logs {what}, {LABELS[c]}: CPU/MiB ≤ 1.2× raw", get(op, c, "cpu_ratio"), 1.2, False)
        for c in LIBRARY:
            add("attach", f"attach, {LABELS[c]}: round trip ≤ 1.2× raw", get("attach", c, "ratio"), 1.2, False)
        for c in LIBRARY:
            add("parallel", f"parallel, {LABELS[c]}: containers/s ≥ raw", get("parallel", c, "ratio"), 1.0, True)
        for c in LIBRARY:
            add("wait", f"exit notice, {LABELS[c]}: median within {WAIT_MARGIN_MS:g} ms of the raw wait",
                get("wait", c, "minus_raw_ms"), WAIT_MARGIN_MS, False, "ms")
        oh = res.get("overhead", {}).get("c", {}).get("ns_per_call")
        add("overhead", "C ABI call without I/O < 1 µs", oh, 1000, False, "ns")
        mem = get("logs_1k", "c", "vmhwm_mib")
        mib = get("logs_1k", "c", "mib")
        add("memory", f"peak RSS (VmHWM) of a C program reading a {mib} MiB log stream < 32 MiB", mem, 32, False, "MiB")
        if any(c in self.clients.available() for c in ("bollard", "go-sdk", "docker-py")):
            peers_bench.targets(res, add, LABELS, WAIT_MARGIN_MS)
        if "readsize" in res:
            readsize_bench.targets(res["readsize"], add)
        if "scale" in res or "scale_wait" in res:
            scale_bench.targets(res, add)
        if "tls" in res:
            tls_bench.targets(res["tls"], add)
        return out


# ---------------------------------------------------------------------------------------------
# Machine and versions


def machine() -> Dict[str, Any]:
    cpu = "?"
    try:
        for l in Path("/proc/cpuinfo").read_text().splitlines():
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    osr = "?"
    try:
        osr = re.search(r'PRETTY_NAME="([^"]+)"', Path("/etc/os-release").read_text()).group(1)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(), "os": osr}


def versions(python: str) -> Dict[str, str]:
    fmt = "{{.Server.Version}}|{{.Server.APIVersion}}|{{.Client.Version}}"
    v = try_sh(["docker", "version", "--format", fmt]).split("|")
    info = try_sh(["docker", "info", "--format", "{{.Driver}}|{{.LoggingDriver}}|{{.CgroupVersion}}|{{.ContainerdCommit.ID}}"]).split("|")
    out = {
        "docker_server": v[0] if len(v) > 2 else "?",
        "docker_api": v[1] if len(v) > 2 else "?",
        "docker_cli": v[2] if len(v) > 2 else "?",
        "storage_driver": info[0] if len(info) > 2 else "?",
        "logging_driver": info[1] if len(info) > 2 else "?",
        "cgroup": info[2] if len(info) > 2 else "?",
        "rustc": try_sh(["rustc", "--version"]),
        "go": try_sh(["go", "version"]),
        "gcc": try_sh(["gcc", "-dumpfullversion"]),
        "python": try_sh([python, "-c", "import sys; print(sys.version.split()[0])"]),
        "docker_py": try_sh([python, "-c", "import docker; print(docker.__version__)"]),
        "gofer_scheduler_wheel": try_sh([python, "-c", "import gofer_scheduler; print(gofer_scheduler.__version__)"]),
        "commit": try_sh(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
        # The peers: the Docker SDK for Go as Debian packages it, bollard as the bench crate locks it.
        "docker_sdk_go": try_sh(["dpkg-query", "-W", "-f=${Version}", "golang-github-docker-docker-dev"]),
        "bollard": locked_version(ROOT / "benches" / "rust" / "Cargo.lock", "bollard"),
    }
    return out


def locked_version(lock: Path, crate: str) -> str:
    m = re.search(rf'\nname = "{crate}"\nversion = "([^"]+)"', lock.read_text()) if lock.exists() else None
    return m.group(1) if m else "?"


# ---------------------------------------------------------------------------------------------
# Output: JSON, Markdown, plots


def fmt(v: Optional[float], digits: int = 2) -> str:
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def signed(v: Optional[float]) -> str:
    if v is None:
        return "—"
    return f"{v:+,.1f}" if abs(v) >= 100 else f"{v:+.2f}"


def ratio(v: Optional[float]) -> str:
    return "—" if v is None else f"{v:.2f}×"


def markdown(data: Dict[str, Any], analysis: Dict[str, str]) -> str:
    r = data["results"]
    m, v, run = data["machine"], data["versions"], data["run"]
    notes = data["clients_skipped"]
    L: List[str] = []
    A = L.append
    A("# Benchmarks")
    A("")
    A("<!-- Generated by scripts/bench.sh (benches/run.py). Do not edit by hand: run it again. -->")
    A("")
    A(f"`scripts/bench.sh` ({data['profile']} profile) ran every operation through every client on one "
      f"engine, interleaved round by round, on {run['started']} (commit `{v['commit']}`), in "
      f"{run['duration_s'] // 60} min {run['duration_s'] % 60} s. Ratios are to the **raw** client: a minimal "
      "HTTP/1.1 client with keep-alive straight to the unix socket (benches/rust/src/bin/raw.rs) that reads "
      "whatever has arrived as soon as it arrives: the floor for one request at a time. The library's blocking "
      "log readers pace a busy stream (see the note under the logs tables), which is why they can take less CPU "
      "than the floor there. Each ratio is taken within a round (a client against the raw client of the same "
      "round, in rotated order) and the median over rounds is shown, so that the machine's drift between rounds "
      "cancels out; the absolute figures are over all rounds. `scripts/bench.sh --quick` is the few-minute profile CI runs to keep this working.")
    A("")
    A("![state latency](benchmarks-state.png)")
    A("")
    A("![logs throughput](benchmarks-logs.png)")
    A("")
    A("## Machine and daemon")
    A("")
    A(f"- {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['os']}, Linux {m['kernel']}")
    A(f"- Docker Engine {v['docker_server']} (API {v['docker_api']}), CLI {v['docker_cli']}; storage "
      f"{v['storage_driver']}, logging driver {v['logging_driver']}, cgroup v{v['cgroup']}")
    A(f"- {v['rustc']}; {v['go']}; gcc {v['gcc']}; Python {v['python']}; docker-py {v['docker_py']}; "
      f"gofer_scheduler wheel {v['gofer_scheduler_wheel']}; bollard {v.get('bollard', '?')}; "
      f"Docker SDK for Go {v.get('docker_sdk_go', '?')}")
    quiet = run.get("quiet")
    A(f"- load average (1, 5, 15 min) at the start {run['load_start']}, at the end {run['load_end']}"
      + (f"; {quiet}" if quiet else ""))
    if notes:
        # .get: "proto" (not a client of its own, no label) is noted too when --clients leaves it out.
        A("- not measured: " + "; ".join(f"**{LABELS.get(c, c)}**: {why}" for c, why in notes.items()))
    A("")
    A("## Results")
    A("")
    clients = [c for c in CLIENTS if c not in notes]

    def cell(op: str, c: str, key: str, digits: int = 2) -> str:
        x = r.get(op, {}).get(c)
        return fmt(x.get(key), digits) if x else "—"

    def rcell(op: str, c: str, key: str = "ratio") -> str:
        x = r.get(op, {}).get(c)
        return ratio(x.get(key)) if x else "—"

    if "state" in r:
        n = max(x["n"] for x in r["state"].values())
        A(f"**state** — GetState of an exited container (up to {n} calls per client; latency in µs)")
        A("")
        A("| client | median | p90 | p99 | ratio |")
        A("|---|---:|---:|---:|---:|")
        for c in clients:
            A(f"| {LABELS[c]} | {cell('state', c, 'median_us', 0)} | {cell('state', c, 'p90_us', 0)} | "
              f"{cell('state', c, 'p99_us', 0)} | {rcell('state', c)} |")
        A("")
    if "state_paired" in r:
        A("**state, call by call** — the same GetState through the C ABI (`gofer_engine_get_state`, "
          "called from benches/rust/src/bin/proto.rs) and the Go binding, each in one process with a raw "
          "client (the Rust raw client's code for C; benches/go/raw.go, plain system calls, for Go), one call "
          "each in turn (µs; ratio: median over rounds of the per-round ratio of medians)")
        A("")
        A("| client | pairs | median | raw median | ratio |")
        A("|---|---:|---:|---:|---:|")
        for c in clients:
            x = r["state_paired"].get(c)
            if x:
                A(f"| {LABELS[c]} | {x['pairs']} | {fmt(x['median_us'], 0)} | {fmt(x['raw_median_us'], 0)} | {ratio(x['ratio'])} |")
        A("")
    if "start" in r:
        A("**start** — StartContainer of a short job (3 env vars, a command) on a name that exists "
          "(the existing container is replaced; ms)")
        A("")
        A("| client | median | p90 | ratio |")
        A("|---|---:|---:|---:|")
        for c in clients:
            A(f"| {LABELS[c]} | {cell('start', c, 'median_ms', 1)} | {cell('start', c, 'p90_ms', 1)} | {rcell('start', c)} |")
        A("")
    for op, what in (("logs_1k", "1 KiB lines"), ("logs_64", "64-byte lines")):
        if op not in r:
            continue
        mib = max(x["mib"] for x in r[op].values())
        A(f"**logs, {what}** — follow the logs of an exited container that wrote {mib} MiB, to EOF, every "
          "byte verified (median of rounds; CPU is the client process's user+system time)")
        A("")
        A("| client | MiB/s | ratio | CPU ms/MiB | CPU ratio | peak RSS (MiB) |")
        A("|---|---:|---:|---:|---:|---:|")
        for c in clients:
            A(f"| {LABELS[c]} | {cell(op, c, 'mib_per_s', 1)} | {rcell(op, c, 'throughput_ratio')} | "
              f"{cell(op, c, 'cpu_ms_per_mib', 2)} | {rcell(op, c, 'cpu_ratio')} | {cell(op, c, 'vmhwm_mib', 1)} |")
        A("")
    if any(op in r for op in ("logs_1k", "logs_64")) and analysis.get("logs-note"):
        A(analysis["logs-note"].strip())
        A("")
    if "attach" in r:
        A("**attach** — round trip of one line through an exec of `cat` with a TTY (the TTY's echo and "
          "cat's copy both received; µs)")
        A("")
        A("| client | median | p99 | ratio |")
        A("|---|---:|---:|---:|")
        for c in clients:
            A(f"| {LABELS[c]} | {cell('attach', c, 'median_us', 0)} | {cell('attach', c, 'p99_us', 0)} | {rcell('attach', c)} |")
        A("")
    if "parallel" in r:
        n = max(x["containers_per_round"] for x in r["parallel"].values())
        A(f"**parallel** — 16 concurrent start → wait for exit → logs → remove cycles, {n} containers per "
          "round (the remove is the next start's replace; containers/s, median of rounds)")
        A("")
        A("| client | containers/s | ratio |")
        A("|---|---:|---:|")
        for c in clients:
            A(f"| {LABELS[c]} | {cell('parallel', c, 'containers_per_s', 2)} | {rcell('parallel', c)} |")
        A("")
    if "wait" in r or "poll" in r:
        n = max(x["n"] for op in ("wait", "poll") for x in r.get(op, {}).values())
        A("**exit notice** — the time from a container's exit to the caller knowing it has exited: each client "
          "starts `sh -c 'sleep 0.3; echo bye'` (untimed), learns of the exit its own way and notes the wall-clock "
          "time (CLOCK_REALTIME); the exit is the engine's timestamp of the line `bye` (`docker logs -t`), the "
          "process's last act. The raw client and the library wait on the engine's wait endpoint "
          "(`POST /containers/{id}/wait?condition=not-running`; the Rust API's `wait_container`, "
          "`gofer_wait_result`, the Go binding's `WaitContainer`, the wheel's `wait_container`); the last row is "
          f"what Gofer did, GetState every 500 ms (up to {n} containers per client; ms; the difference is of medians, "
          "absolute, not a ratio). With this job's fixed 0.3 s the polls fall at the same phase every time, about "
          "200 ms after the exit; over jobs of any length the wait for the next poll averages 250 ms, on top of the "
          "engine's own delay (the raw row).")
        A("")
        A("| client | median (ms) | p90 (ms) | median − raw (ms) |")
        A("|---|---:|---:|---:|")
        rows = [(LABELS[c], r.get("wait", {}).get(c)) for c in clients if c in EXIT_NOTICE_CLIENTS["wait"]]
        rows.append((POLL_LABEL, r.get("poll", {}).get("c")))
        for label, x in rows:
            if x:
                diff = "—" if label == LABELS["raw"] else signed(x["minus_raw_ms"])
                A(f"| {label} | {x['median_ms']:,.1f} | {x['p90_ms']:,.1f} | {diff} |")
        A("")
    L.extend(peers_bench.markdown(r, LABELS, clients))
    if "tasks" in r or data.get("tasks_skipped"):
        L.extend(tasks_bench.markdown(r.get("tasks", {}), data.get("tasks_skipped")))
    if "overhead" in r:
        o = r["overhead"]
        A("**overhead** — one call that does no I/O (ns per call)")
        A("")
        A("| call | ns |")
        A("|---|---:|")
        if "c" in o:
            A(f"| C: `gofer_engine_get_state(engine, NULL, ...)` → GOFER_INVALID_ARGUMENT, `err_out` NULL | {fmt(o['c']['ns_per_call'], 0)} |")
            A(f"| C: the same with an error object (`gofer_error_free` included) | {fmt(o['c']['ns_per_call_with_error'], 0)} |")
            A(f"| C: `gofer_status_name` (no error path, for scale) | {fmt(o['c']['ns_per_trivial_call'], 1)} |")
        if "rust" in o:
            A(f"| Rust: `DockerEngine::get_state` with an empty id → InvalidArgument | {fmt(o['rust']['ns_per_call'], 0)} |")
        if "go" in o:
            A(f"| Go: `GetState` with an empty ID → ErrInvalidArgument (wrapper + cgo + library) | {fmt(o['go']['ns_per_call'], 0)} |")
        if "python" in o:
            A(f"| Python: `get_state(\"\")` → InvalidArgument raised and caught | {fmt(o['python']['ns_per_call'], 0)} |")
        A("")
    L.extend(limit_bench.markdown(r.get("limit", {}), clients, LABELS, run.get("dockerd_idle_ms_per_s")))
    L.extend(readsize_bench.markdown(r.get("readsize", {}), data["profile"]))
    L.extend(scale_bench.markdown(r, data["profile"]))
    L.extend(tls_bench.markdown(r.get("tls", {}), data.get("tls_skipped"), data["profile"]))
    A("## Targets")
    A("")
    A("| target | measured | limit | met |")
    A("|---|---:|---:|:---:|")
    for t in data["targets"]:
        unit = t["unit"]
        digits = 0 if isinstance(t["value"], int) else 1  # counts (threads) as they are
        val = "—" if t["value"] is None else (f"{t['value']:.2f}×" if unit == "×" else f"{fmt(t['value'], digits)} {unit}")
        lim = f"{t['limit']}×" if unit == "×" else f"{t['limit']} {unit}"
        met = "—" if t["met"] is None else ("yes" if t["met"] else "**no**")
        A(f"| {t['target']} | {val} | {lim} | {met} |")
    A("")
    missed = sorted({t["id"] for t in data["targets"] if t["met"] is False})
    if missed:
        A("## Why the missed targets are missed")
        A("")
        for tid in missed:
            text = analysis.get(tid)
            if text:
                A(text.strip())
                A("")
    if data["errors"]:
        A("## Failed calls")
        A("")
        for e in data["errors"]:
            A(f"- round {e['round'] + 1}, {e['op']}, {LABELS.get(e['client'], e['client'])}: `{e['error']}`")
        A("")
    A(analysis.get("method", "").strip())
    A("")
    return "\n".join(L)


def load_analysis() -> Dict[str, str]:
    """benches/analysis.md: one `## id` section per target id (shown when that target is missed),
    `## logs-note` (always shown under the logs tables) and `## method` (always shown)."""
    path = ROOT / "benches" / "analysis.md"
    out: Dict[str, str] = {}
    if not path.exists():
        return out
    current = None
    for l in path.read_text().splitlines():
        m = re.match(r"^## (\S+)\s*$", l)
        if m:
            current = m.group(1)
            out[current] = ""
        elif current:
            out[current] += l + "\n"
    return out


def plots(data: Dict[str, Any], samples: Dict[str, Dict[str, List[Any]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    colors = {"raw": "#222222", "rust": "#b7410e", "c": "#1f77b4", "go": "#00add8", "python": "#ffb000",
              "docker-py": "#7f7f7f", "cli": "#9467bd", "bollard": "#8c564b", "go-sdk": "#2ca02c"}
    clients = [c for c in CLIENTS if c not in data["clients_skipped"]]

    if "state" in samples:
        fig, ax = plt.subplots(figsize=(9, 4.8))
        for c in clients:
            runs = samples["state"].get(c)
            if not runs:
                continue
            us = np.sort(np.array([x for r in runs for x in r["samples_ns"]]) / 1000)
            y = np.arange(1, len(us) + 1) / len(us)
            st = data["results"]["state"][c]
            ax.plot(us, y, color=colors[c], lw=2 if c in ("raw", "c") else 1.4,
                    label=f"{LABELS[c]}: median {st['median_us']:.0f} µs, p99 {st['p99_us']:.0f} µs")
        ax.set_xscale("log")
        ax.set_xlabel("GetState latency (µs, log scale)")
        ax.set_ylabel("fraction of calls")
        ax.set_title("state: GetState on an exited container (cumulative distribution; left is better)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        fig.savefig(out / "benchmarks-state.png", dpi=110)
        plt.close(fig)

    ops = [op for op in ("logs_1k", "logs_64") if op in data["results"]]
    if ops:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
        width = 0.8 / max(1, len(ops))
        names = {"logs_1k": "1 KiB lines", "logs_64": "64 B lines"}
        for ax, key, title in ((axes[0], "mib_per_s", "throughput (MiB/s, higher is better)"),
                               (axes[1], "cpu_ms_per_mib", "client CPU (ms per MiB, lower is better)")):
            present = [c for c in clients if any(c in data["results"][op] for op in ops)]
            x = np.arange(len(present))
            for i, op in enumerate(ops):
                vals = [data["results"][op].get(c, {}).get(key, 0) for c in present]
                bars = ax.bar(x + (i - (len(ops) - 1) / 2) * width, vals, width, label=names[op],
                              color=["#4c72b0", "#dd8452"][i], edgecolor="black", linewidth=0.4)
                for b, v in zip(bars, vals):
                    ax.annotate(f"{v:.1f}" if v >= 1 else f"{v:.2f}", (b.get_x() + b.get_width() / 2, b.get_height()),
                                ha="center", va="bottom", fontsize=7)
            ax.set_xticks(x)
            ax.set_xticklabels([LABELS[c].replace(" (floor)", "\n(floor)") for c in present], fontsize=8, rotation=20)
            ax.set_title(title, fontsize=10)
            ax.grid(True, axis="y", alpha=0.3)
            ax.legend(fontsize=8)
        mib = max(v["mib"] for op in ops for v in data["results"][op].values())
        fig.suptitle(f"logs: follow a {mib} MiB log to EOF, bytes verified")
        fig.tight_layout()
        fig.savefig(out / "benchmarks-logs.png", dpi=110)
        plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the few-minute profile (CI)")
    ap.add_argument("--out", help="where benchmarks.{json,md} and the plots go (default: docs/ for the full "
                    "profile, target/bench/quick/ for --quick, so that a quick run never replaces the committed docs)")
    ap.add_argument("--clients", help="comma-separated subset (raw is always run)")
    ap.add_argument("--ops", help="comma-separated subset of state,start,attach,logs_1k,logs_64,parallel,wait,poll,tasks,"
                    "readsize,scale,tls,overhead")
    ap.add_argument("--python", default=sys.executable, help="the bench venv's python")
    ap.add_argument("--keep-fixtures", action="store_true", help="keep (and reuse) the logs containers")
    ap.add_argument("--quiet-note", default="", help="what scripts/bench.sh saw while waiting for a quiet machine")
    args = ap.parse_args()

    run = Run(args)

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    info = run.go()
    if args.quiet_note:
        info["quiet"] = args.quiet_note
    results = run.summarize()
    data = {
        "profile": run.profile_name,
        "run": info,
        "machine": machine(),
        "versions": versions(args.python),
        "clients": {c: LABELS[c] for c in CLIENTS},
        "clients_skipped": run.clients.notes,
        "parameters": run.profile,
        "results": results,
        "targets": run.targets(results),
        "errors": run.errors,
        "tasks_skipped": run.skipped_tasks,
        "tls_skipped": run.skipped_tls,
    }
    out = Path(args.out) if args.out else (BENCH / "quick" if args.quick else ROOT / "docs")
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    BENCH.mkdir(parents=True, exist_ok=True)
    (BENCH / f"samples-{run.profile_name}.json").write_text(json.dumps(run.samples))
    plots(data, run.samples, out)
    (out / "benchmarks.md").write_text(markdown(data, load_analysis()))
    met = [t for t in data["targets"] if t["met"]]
    missed = [t for t in data["targets"] if t["met"] is False]
    log(f"wrote {out}/benchmarks.md, benchmarks.json and the plots; targets met {len(met)}, missed {len(missed)}; "
        f"{len(run.errors)} failed calls; {info['duration_s']} s")
    for t in missed:
        log(f"  missed: {t['target']}: {t['value']}")
    sys.exit(1 if run.errors else 0)


if __name__ == "__main__":
    main()
