"""The limit: the engine's own cost of the requests every client makes, measured in the same run.

run.py reads the CPU time of the default engine's dockerd (every thread's
``/proc/<pid>/task/*/schedstat``, nanoseconds) before and after each call of ops ``state`` and
``logs`` (``Hook``). dockerd does nothing else meanwhile (the benchmark containers have exited;
other engines on this machine are other processes), so the difference is what that client's
requests cost it: per GetState (the calls and warm-up calls of the invocation, plus the one or
two requests of connecting: the version request counted as one more call, the docker CLI's ping
before each call as one more each) and per MiB of logs.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

MIB = 1024 * 1024
OPS = ("state", "logs")


def dockerd_pid() -> Optional[int]:
    """The engine's dockerd: for a private engine of scripts/netns-engine.sh (DOCKER_HOST
    unix://.../docker.sock, scripts/bench-engines.sh) the dockerd.pid beside its socket, else the
    default engine's /var/run/docker.pid (scripts/testbed.sh)."""
    pid_file = Path("/var/run/docker.pid")
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        beside = Path(host[len("unix://"):]).parent / "dockerd.pid"
        if beside.exists():
            pid_file = beside
    try:
        pid = int(pid_file.read_text().strip())
        if Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd":
            return pid
    except (OSError, ValueError):
        pass
    return None


def process_cpu_ns(pid: Optional[int]) -> Optional[int]:
    """CPU time of every live thread of `pid`, in ns (schedstat: nanosecond resolution, unlike
    the 10 ms ticks of /proc/<pid>/stat), or None."""
    if pid is None:
        return None
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just ended
    return total


class Hook:
    """Wraps one client call: made just before it, `finish(out, kw)` just after."""

    def __init__(self, op: str, client: str) -> None:
        self.op, self.client = op, client
        self.pid = dockerd_pid() if op in OPS else None
        self.t0 = process_cpu_ns(self.pid)

    def finish(self, out: Dict[str, Any], kw: Dict[str, Any]) -> None:
        t1 = process_cpu_ns(self.pid)
        if self.t0 is None or t1 is None:
            return
        out["_dockerd_cpu_ns"] = t1 - self.t0
        if self.op == "state":
            # Every GetState of the invocation, warm-up included, and its connection's version
            # request (counted as one more); the docker CLI pings the engine before each call.
            calls = int(kw.get("n", 0)) + int(kw.get("warmup", 0))
            out["_requests"] = 2 * calls if self.client == "cli" else calls + 1


def idle_ms_per_s(seconds: float = 2.0) -> Optional[float]:
    """dockerd's CPU while this benchmark sends it nothing, in ms per second."""
    import time

    pid = dockerd_pid()
    t0 = process_cpu_ns(pid)
    time.sleep(seconds)
    t1 = process_cpu_ns(pid)
    return None if t0 is None or t1 is None else round((t1 - t0) / 1e6 / seconds, 1)


def summarize(samples: Dict[str, Dict[str, List[Dict[str, Any]]]], res: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for client, runs in samples.get("state", {}).items():
        runs = [r for r in runs if "_dockerd_cpu_ns" in r]
        if runs:
            per = [r["_dockerd_cpu_ns"] / r["_requests"] / 1000 for r in runs]
            median = res.get("state", {}).get(client, {}).get("median_us")
            out.setdefault("state", {})[client] = {
                "dockerd_us_per_request": round(statistics.median(per), 1),
                "median_us": median,
                "share": round(statistics.median(per) / median, 2) if median else None,
            }
    for op in ("logs_1k", "logs_64"):
        for client, runs in samples.get(op, {}).items():
            runs = [r for r in runs if "_dockerd_cpu_ns" in r]
            if runs:
                d = statistics.median(r["_dockerd_cpu_ns"] / 1e6 / (r["bytes"] / MIB) for r in runs)
                c = res.get(op, {}).get(client, {}).get("cpu_ms_per_mib")
                out.setdefault(op, {})[client] = {
                    "dockerd_ms_per_mib": round(d, 2),
                    "client_ms_per_mib": c,
                    "client_over_dockerd": round(c / d, 2) if c and d else None,
                }
    return out


def markdown(limit: Dict[str, Any], clients: List[str], labels: Dict[str, str], idle: Optional[List[Optional[float]]]) -> List[str]:
    L: List[str] = []
    A = L.append
    if not limit:
        return L
    A("## The limit: the engine's own cost")
    A("")
    A("dockerd's CPU time (all its threads, `/proc/<pid>/task/*/schedstat`) read before and after each client's "
      "invocation of **state** and **logs** in the runs above, divided by the requests it served (the calls, the "
      "warm-up calls and the connection's version request) or by the MiB it sent. A GetState can take no less "
      "than the engine's CPU for it, plus two trips through the kernel's socket; a log stream costs the engine its "
      "JSON decoding of the log file whatever the client does. *Share*: dockerd's CPU per request over the "
      "client's median latency. *Client ÷ dockerd*: the client's CPU per MiB over dockerd's for the same bytes. "
      "dockerd's figures include whatever else it did meanwhile: "
      + ("it used " + " and ".join("—" if x is None else f"{x:g} ms" for x in idle)
         + " of CPU per second with no client running, at the start and at the end of the run."
         if idle else "its idle CPU was not measured."))
    A("")
    st = limit.get("state", {})
    if st:
        A("| client | GetState median (µs) | dockerd CPU per request (µs) | share | logs 1 KiB: client / dockerd ms/MiB | logs 64 B: client / dockerd ms/MiB |")
        A("|---|---:|---:|---:|---:|---:|")
    else:
        A("| client | logs 1 KiB: client / dockerd ms/MiB | logs 64 B: client / dockerd ms/MiB |")
        A("|---|---:|---:|")

    def logs_cell(op: str, c: str) -> str:
        x = limit.get(op, {}).get(c)
        if not x or x.get("client_ms_per_mib") is None or x.get("dockerd_ms_per_mib") is None:
            return "—"
        return f"{x['client_ms_per_mib']:.2f} / {x['dockerd_ms_per_mib']:.2f} ({x['client_over_dockerd']:.2f}×)"

    for c in clients:
        if c not in st and not any(c in limit.get(op, {}) for op in ("logs_1k", "logs_64")):
            continue
        cells = [logs_cell("logs_1k", c), logs_cell("logs_64", c)]
        if st:
            x = st.get(c, {})
            med = x.get("median_us")
            share = "—" if x.get("share") is None else f"{x['share']:.2f}"
            A(f"| {labels.get(c, c)} | {'—' if med is None else f'{med:,.0f}'} | "
              f"{'—' if not x else format(x['dockerd_us_per_request'], ',.0f')} | {share} | {cells[0]} | {cells[1]} |")
        else:
            A(f"| {labels.get(c, c)} | {cells[0]} | {cells[1]} |")
    A("")
    return L
