"""Op ``tls``: GetState over mutual TLS against the same call over plain TCP (issue 13's target).

Two private engines of scripts/netns-engine.sh, each a dockerd 20.10 in a network namespace of
this machine: ``tls`` listens on ``tcp://<its IP>:2376`` with ``--tlsverify`` (the test bed's
throwaway CA), ``tcp`` on ``tcp://<its IP>:2375`` without TLS (dockerd gives every TCP listener
the same TLS settings, so the plain listener cannot be a second port of the TLS engine). The C
client runs op ``state`` on a container that exited with code 3 on each engine, found as the
docker CLI finds an engine (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``), and,
for scale, through the TLS engine's unix socket. Rounds alternate the order. An engine that was
not running is started and stopped again at the end.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from limit_bench import process_cpu_ns

ROWS = [
    ("tls", "TCP with mutual TLS (`DOCKER_TLS_VERIFY=1`, port 2376)"),
    ("tcp", "plain TCP (port 2375, another engine of the same build)"),
    ("unix", "unix socket of the TLS engine"),
]
PROFILES = {"quick": {"rounds": 1, "n": 200}, "full": {"rounds": 4, "n": 1000}}
LIMIT = 1.3
FIXTURE = "gofer-bench-state"


def engine(root: Path, name: str, flag: str) -> Dict[str, str]:
    r = subprocess.run([str(root / "scripts" / "netns-engine.sh"), name, "start", flag], capture_output=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"netns-engine.sh {name} start {flag}: {r.stderr.decode(errors='replace').strip()[-300:]}")
    return dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)


def engine_pid(root: Path, name: str) -> Optional[int]:
    try:
        pid = int((root / "target" / "engines" / name / "dockerd.pid").read_text().strip())
        return pid if Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd" else None
    except (OSError, ValueError):
        return None


def children_cpu_ns() -> int:
    """User+system time of the reaped children of this process (the client just run)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def answers(root: Path, name: str) -> bool:
    sock = root / "target" / "engines" / name / "docker.sock"
    return sock.exists() and subprocess.run(["docker", "-H", f"unix://{sock}", "version"], capture_output=True,
                                            timeout=15).returncode == 0


def measure(run: Any, root: Path, image: str, log: Callable[[str], None]) -> None:
    """Every round of op tls, recorded under op ``tls`` with the row as the client."""
    p = PROFILES[run.profile_name]
    c = run.clients.cmd["c"]
    if "c" in run.clients.notes:
        run.skipped_tls = f"the C client is not available ({run.clients.notes['c']})"
        return
    started: List[str] = []
    hosts: List[str] = []
    try:
        for name, flag in (("tls", "--tls"), ("tcp", "--plain-tcp")):
            if not answers(root, name):
                started.append(name)
            info = engine(root, name, flag)
            hosts.append(info["HOST"])
            if name == "tls":
                tls = info
            else:
                tcp = info
        for host in hosts:
            subprocess.run(["docker", "-H", host, "rm", "-f", FIXTURE], capture_output=True, timeout=60)
            subprocess.run(["docker", "-H", host, "run", "--name", FIXTURE, image, "sh", "-c", "exit 3"], capture_output=True,
                           timeout=120)
        base = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        envs = {
            "tls": dict(base, DOCKER_HOST=tls["TCP"], DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(Path(tls["CERTS"]) / "client")),
            "tcp": dict(base, DOCKER_HOST=tcp["TCP"]),
            "unix": dict(base, DOCKER_HOST=tls["HOST"]),
        }
        order = [k for k, _ in ROWS]
        for rnd in range(p["rounds"]):
            for key in (order if rnd % 2 == 0 else order[::-1]):
                argv = c + ["state", f"id={FIXTURE}", f"n={p['n']}", "expect_code=3", "warmup=20"]
                pid = engine_pid(root, "tcp" if key == "tcp" else "tls")
                d0, c0 = process_cpu_ns(pid), children_cpu_ns()
                try:
                    r = subprocess.run(argv, capture_output=True, timeout=300, env=envs[key])
                    if r.returncode != 0:
                        raise RuntimeError(f"exit {r.returncode}: {r.stderr.decode(errors='replace').strip()[-300:]}")
                    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
                except Exception as e:  # noqa: BLE001
                    log(f"  FAILED tls {key}: {e}")
                    run.errors.append({"op": "tls", "client": key, "round": rnd, "error": str(e)})
                    continue
                d1, c1 = process_cpu_ns(pid), children_cpu_ns()
                # The invocation's requests: its calls, warm-up included, and the version request.
                requests = p["n"] + 20 + 1
                out["client_cpu_us_per_call"] = (c1 - c0) / 1000 / requests
                if d0 is not None and d1 is not None:
                    out["dockerd_cpu_us_per_call"] = (d1 - d0) / 1000 / requests
                out["_round"] = rnd
                run.record("tls", key, out)
                log(f"  tls       {key:6} median {statistics.median(out['samples_ns']) / 1000:.0f} us")
    except Exception as e:  # noqa: BLE001
        log(f"  FAILED tls: {e}")
        run.errors.append({"op": "tls", "client": "engines", "round": 0, "error": str(e)})
    finally:
        for host in hosts:
            subprocess.run(["docker", "-H", host, "rm", "-f", FIXTURE], capture_output=True, timeout=60)
        for name in started:
            subprocess.run([str(root / "scripts" / "netns-engine.sh"), name, "stop"], capture_output=True, timeout=300)


def summarize(samples: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    res: Dict[str, Any] = {}
    for key, runs in samples.items():
        merged = sorted(x / 1000 for r in runs for x in r["samples_ns"])
        res[key] = {"n": len(merged), "median_us": round(statistics.median(merged), 1),
                    "p90_us": round(merged[int(0.9 * (len(merged) - 1))], 1),
                    "client_cpu_us": round(statistics.median(r["client_cpu_us_per_call"] for r in runs), 1)}
        d = [r["dockerd_cpu_us_per_call"] for r in runs if "dockerd_cpu_us_per_call" in r]
        if d:
            res[key]["dockerd_cpu_us"] = round(statistics.median(d), 1)
    by_round: Dict[int, Dict[str, float]] = {}
    for key, runs in samples.items():
        for r in runs:
            by_round.setdefault(r["_round"], {})[key] = statistics.median(r["samples_ns"])
    for key in res:
        ratios = [v[key] / v["tcp"] for v in by_round.values() if key in v and v.get("tcp")]
        res[key]["ratio_to_tcp"] = round(statistics.median(ratios), 3) if ratios else None
    return res


def markdown(res: Dict[str, Any], skipped: Optional[str], profile: str) -> List[str]:
    L: List[str] = []
    A = L.append
    if not res and not skipped:
        return L
    p = PROFILES[profile]
    A("## GetState over TLS")
    A("")
    A(f"**state over TLS** — the C client's GetState ({p['rounds']} rounds of {p['n']} calls after 20 warm-up calls, "
      "on a container that exited with code 3) on two private engines of `scripts/netns-engine.sh`, each a dockerd of "
      "this build in a network namespace of this machine, reached over its veth pair: one with `--tlsverify` on port "
      "2376, found as the docker CLI finds it (`DOCKER_HOST=tcp://…:2376`, `DOCKER_TLS_VERIFY=1`, "
      "`DOCKER_CERT_PATH`), one listening on plain TCP (dockerd puts the same TLS settings on every TCP listener it "
      "has, so plain TCP needs an engine of its own), and the TLS engine's unix socket for scale (µs; ratio: the "
      "median over rounds of the per-round ratio of medians to plain TCP; CPU: the client process's user+system "
      "time, from its rusage, and the engine's dockerd's, from its threads' schedstat, over the invocation's "
      "requests).")
    A("")
    if skipped:
        A(f"Not measured: {skipped}.")
        A("")
        return L
    A("| engine address | calls | median | p90 | ratio to plain TCP | client CPU per call | dockerd CPU per call |")
    A("|---|---:|---:|---:|---:|---:|---:|")
    for key, label in ROWS:
        r = res.get(key)
        if r:
            ratio = "—" if r["ratio_to_tcp"] is None else f"{r['ratio_to_tcp']:.2f}×"
            d = r.get("dockerd_cpu_us")
            A(f"| {label} | {r['n']:,} | {r['median_us']:,.0f} | {r['p90_us']:,.0f} | {ratio} | {r['client_cpu_us']:,.0f} | "
              f"{'—' if d is None else format(d, ',.0f')} |")
    A("")
    return L


def targets(res: Dict[str, Any], add: Callable[..., None]) -> None:
    add("tls", f"state over TLS: median ≤ {LIMIT}× plain TCP (C ABI, same build of dockerd)",
        res.get("tls", {}).get("ratio_to_tcp"), LIMIT, False)
