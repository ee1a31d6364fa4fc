"""Op ``tasks``: a task's latencies on the single host against the swarm (run.py's part of it).

For each engine type the Rust client (``gofer-bench-rust tasks engine=docker|swarm``) starts
``n`` tasks ``sh -c 'echo first; sleep 0.3; echo bye'`` one after the other and reports, per
task, the time from the StartContainer call to the first log line read through GetLogs, and
the CLOCK_REALTIME instants at which the wait (beside the log reader) and the log's end told of
the exit. The exit is the engine's timestamp of the line ``bye`` (``docker logs -t``; on the
swarm ``docker service logs -t``, the node's own log), the process's last act; the nodes share
this machine's clock. The swarm is the three-node test swarm of ``scripts/swarm.sh``.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

ENGINES = ["docker", "swarm"]
LABELS = {"docker": "single host (Docker engine)", "swarm": "swarm (3 nodes, through the manager)"}


def swarm_manager(root: Path) -> Optional[str]:
    """The test swarm's manager, when scripts/swarm.sh has brought it up."""
    env = root / "target" / "engines" / "swarm.env"
    if not env.exists():
        return None
    for line in env.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "GOFER_SWARM_MANAGER":
            return value
    return None


def exit_stamp_ns(engine: str, manager: Optional[str], name: str, tools: "Tools") -> int:
    """The engine's timestamp of the task's line ``bye``."""
    if engine == "docker":
        return tools.docker_stamp(name)
    out = subprocess.run(["docker", "-H", str(manager), "service", "logs", "-t", "--raw", name],
                         capture_output=True, timeout=60, check=True).stdout.decode(errors="replace")
    for line in reversed(out.splitlines()):
        when, _, text = line.partition(" ")
        if text.rstrip("\r") == "bye":
            return tools.parse_time(when)
    raise RuntimeError(f"{name}: no log line 'bye' in the swarm's log")


def remove(engine: str, manager: Optional[str], names: List[str]) -> None:
    if not names:
        return
    argv = ["docker", "rm", "-f", "-v", *names] if engine == "docker" else ["docker", "-H", str(manager), "service", "rm", *names]
    subprocess.run(argv, capture_output=True, timeout=120)


class Tools:
    """What the runner lends: the single host's exit stamp, its RFC 3339 parser, its log."""

    def __init__(self, docker_stamp: Callable[[str], int], parse_time: Callable[[str], int], log: Callable[[str], None]) -> None:
        self.docker_stamp, self.parse_time, self.log = docker_stamp, parse_time, log


def measure(run: Any, rnd: int, root: Path, image: str, tools: Tools) -> None:
    """One round: n tasks on each engine type, recorded under op ``tasks``, client = engine."""
    manager = swarm_manager(root)
    for engine in ENGINES:
        if engine == "swarm" and manager is None:
            run.skipped_tasks = "the test swarm is not up (scripts/swarm.sh up)"
            continue
        prefix = f"gofer-bench-tasks-{engine}-{rnd}"
        extra = {"manager": manager} if engine == "swarm" else {}
        out = run.call("tasks", engine, "tasks", rnd, runner="rust", prefix=prefix, n=run.profile["tasks_n"], image=image,
                       engine=engine, **extra)
        try:
            if not out:
                continue
            out["first_line_ns"], out["exit_known_ns"], out["exit_log_end_ns"] = out["first_ns"], [], []
            for name, knew, ended in zip(out["names"], out["knew_ns"], out["log_end_ns"]):
                exited = exit_stamp_ns(engine, manager, name, tools)
                out["exit_known_ns"].append(knew - exited)
                out["exit_log_end_ns"].append(ended - exited)
            median = statistics.median
            tools.log(f"  tasks     {engine:10} first line {median(out['first_line_ns']) / 1e6:.0f} ms, "
                      f"exit known {median(out['exit_known_ns']) / 1e6:.0f} ms, log end {median(out['exit_log_end_ns']) / 1e6:.0f} ms")
        except Exception as e:  # noqa: BLE001 (a failed exit stamp is a failed call, not the run's end)
            tools.log(f"  FAILED tasks {engine}: exit stamp: {e}")
            run.errors.append({"op": "tasks", "client": engine, "round": rnd, "error": f"exit stamp: {e}"})
        finally:
            remove(engine, manager, [f"{prefix}-{i}" for i in range(run.profile["tasks_n"])])


def summarize(samples: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    res: Dict[str, Any] = {}
    for engine, runs in samples.items():
        row: Dict[str, Any] = {}
        for key in ("first_line", "exit_known", "exit_log_end"):
            merged = [x / 1e6 for r in runs for x in r.get(f"{key}_ns", [])]
            if merged:
                p90 = statistics.quantiles(merged, n=10, method="inclusive")[8] if len(merged) > 1 else merged[0]
                row[key] = {"n": len(merged), "median_ms": round(statistics.median(merged), 1), "p90_ms": round(p90, 1),
                            "max_ms": round(max(merged), 1)}
        if row:
            res[engine] = row
    return res


def markdown(r: Dict[str, Any], skipped: Optional[str]) -> List[str]:
    L: List[str] = []
    A = L.append
    A("## Single host and swarm")
    A("")
    A("**task latencies** — the Rust API runs `sh -c 'echo first; sleep 0.3; echo bye'` as a task, one after "
      "the other, on the local Docker engine and on the three-node test swarm (`scripts/swarm.sh`: one manager, two "
      "workers, each a dockerd in a network namespace of this machine; the swarm engine speaks to the manager). "
      "*Start to first line*: from the StartContainer call to the first log line read through GetLogs (the start "
      "call, and on the swarm the placement, the task's start on its node, and the manager's log relay). *Exit to "
      "known*: from the exit (the engine's timestamp of the last line `bye`, on the swarm the node's) to the "
      "wait's answer, read beside the log; the swarm has no wait endpoint, so the engine looks at the task every "
      "20 ms at first, up to every 250 ms. *Exit to log end*: to the end of the log stream, which a swarm never "
      "ends by itself: the engine looks at the task after 500 ms of silence, then reads the log's end without "
      "following (ms; median, p90 and max over all tasks).")
    A("")
    A("| engine | tasks | start to first line | exit to known | exit to log end |")
    A("|---|---:|---:|---:|---:|")
    for engine in ENGINES:
        row = r.get(engine)
        if not row:
            continue

        def cell(key: str) -> str:
            x = row.get(key)
            return f"{x['median_ms']:,.0f} / {x['p90_ms']:,.0f} / {x['max_ms']:,.0f}" if x else "—"

        n = row.get("first_line", {}).get("n", 0)
        A(f"| {LABELS[engine]} | {n} | {cell('first_line')} | {cell('exit_known')} | {cell('exit_log_end')} |")
    if skipped:
        A("")
        A(f"The swarm was not measured: {skipped}.")
    A("")
    A("The swarm's own report of an exit reaches its manager 120 to 170 ms after the process's last line (its "
      "agent's status report; measured by hand on 2026-12-02 with `GET /tasks` every 10 ms): the rest of the swarm's "
      "*exit to known* is the engine's next look at the task. Its *start to first line* is the service create, the "
      "placement, the start on the node (the node first tries to pull the tag: see docs/contract.md, \"Swarm\") and "
      "the task's log relayed through the manager.")
    A("")
    return L
