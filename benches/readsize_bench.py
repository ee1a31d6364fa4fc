"""Op ``readsize``: any read size is cheap (issue 15, item 5).

Each face follows the same exited container's log (1 KiB lines; the op ``logs`` of every
client, with ``buf=<size>``) with reads of every size from 4 KiB to 16 MiB: the C ABI's
``gofer_logs_read``, the Go binding's ``Read``, and the wheel's ``read(n)``, ``readinto`` (a
bytearray of that size) and ``chunks(n)``. Rounds rotate the sizes; each figure is compared
with the same face's default size (64 KiB) in the same round.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Dict, List

MIB = 1024 * 1024
KIB = 1024
DEFAULT = 64 * KIB
FACES = [
    ("c", "C ABI: `gofer_logs_read(buf, n)`", "c", {}),
    ("go", "Go binding: `Read(p)`, len(p) = n", "go", {}),
    ("python-read", "Python: `logs.read(n)`", "python", {"mode": "read"}),
    ("python-readinto", "Python: `logs.readinto(bytearray(n))`", "python", {"mode": "readinto"}),
    ("python-chunks", "Python: `logs.chunks(n)`", "python", {"mode": "chunks"}),
]
PROFILES = {
    "quick": {"rounds": 1, "mib": 16, "sizes": [4 * KIB, DEFAULT, 16 * MIB]},
    "full": {"rounds": 2, "mib": 64, "sizes": [4 * KIB, 16 * KIB, DEFAULT, 256 * KIB, MIB, 4 * MIB, 16 * MIB]},
}
# Noise band: two runs of one face at one size differ by up to this much here (see the doc).
CPU_LIMIT, THROUGHPUT_LIMIT = 1.15, 0.85


def size_label(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB else f"{n // KIB} KiB"


def fixture(run: Any, tools: Any, image: str) -> str:
    """An exited container that wrote the profile's MiB of 1 KiB lines (kept with --keep-fixtures)."""
    mib = PROFILES[run.profile_name]["mib"]
    name = f"gofer-bench-logs-readsize-{mib}m"
    if run.args.keep_fixtures and tools.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name, check=False) == "exited 0":
        return name
    tools.docker("rm", "-f", name, check=False)
    tools.log(f"writing {mib} MiB of 1024-byte lines into {name}")
    tools.docker("run", "-d", "--name", name, image, "sh", "-c", f"yes {tools.line(1024)} | head -c {mib * MIB}")
    code = tools.docker("wait", name, timeout=600)
    if code != "0":
        raise RuntimeError(f"{name} exited with {code}")
    return name


def measure(run: Any, tools: Any, image: str) -> None:
    p = PROFILES[run.profile_name]
    avail = run.clients.available()
    faces = [f for f in FACES if f[2] in avail]
    if not faces:
        return
    name = fixture(run, tools, image)
    for rnd in range(p["rounds"]):
        sizes = p["sizes"][rnd % len(p["sizes"]):] + p["sizes"][:rnd % len(p["sizes"])]
        for size in sizes:
            for key, _label, client, extra in faces:
                t = time.monotonic()
                out = run.call("readsize", f"{key}@{size}", "logs", rnd, runner=client, id=name, line=1024,
                               bytes=p["mib"] * MIB, buf=size, **extra)
                if out:
                    tools.log(f"  readsize  {key:16} {size_label(size):>7}: {out['bytes'] / MIB / (out['wall_ns'] / 1e9):.0f} MiB/s, "
                              f"cpu {out['cpu_ns'] / 1e6 / (out['bytes'] / MIB):.2f} ms/MiB  ({time.monotonic() - t:.1f} s)")


def summarize(samples: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    res: Dict[str, Any] = {}
    for k, runs in samples.items():
        key, _, size = k.partition("@")
        res.setdefault(key, {})[size] = {
            "mib_per_s": round(statistics.median(r["bytes"] / MIB / (r["wall_ns"] / 1e9) for r in runs), 1),
            "cpu_ms_per_mib": round(statistics.median(r["cpu_ns"] / 1e6 / (r["bytes"] / MIB) for r in runs), 3),
        }
    for k, runs in samples.items():
        key, _, size = k.partition("@")
        base = {r["_round"]: r for r in samples.get(f"{key}@{DEFAULT}", [])}
        cpu, thr = [], []
        for r in runs:
            b = base.get(r["_round"])
            if b:
                cpu.append((r["cpu_ns"] / r["bytes"]) / (b["cpu_ns"] / b["bytes"]))
                thr.append((r["bytes"] / r["wall_ns"]) / (b["bytes"] / b["wall_ns"]))
        row = res[key][size]
        row["cpu_ratio"] = round(statistics.median(cpu), 2) if cpu else None
        row["throughput_ratio"] = round(statistics.median(thr), 2) if thr else None
    return res


def markdown(res: Dict[str, Any], profile: str) -> List[str]:
    L: List[str] = []
    A = L.append
    if not res:
        return L
    p = PROFILES[profile]
    sizes = p["sizes"]
    A("## Any read size")
    A("")
    A(f"**read sizes** — each face follows the log of an exited container that wrote {p['mib']} MiB of 1 KiB lines, "
      f"with reads of each size, every byte verified ({p['rounds']} round(s), sizes rotated). Each cell: client CPU "
      "ms/MiB and, in brackets, CPU and throughput over the same face's default of 64 KiB in the same round "
      f"(the goal: CPU ≤ {CPU_LIMIT:.2f}× and throughput ≥ {THROUGHPUT_LIMIT:.2f}× the default, the band in which "
      "two runs at one size differ here).")
    A("")
    A("| face | " + " | ".join(size_label(s) for s in sizes) + " |")
    A("|---|" + "---:|" * len(sizes))
    for key, label, _client, _extra in FACES:
        row = res.get(key)
        if not row:
            continue
        cells = []
        for s in sizes:
            x = row.get(str(s))
            if not x:
                cells.append("—")
            elif s == DEFAULT:
                cells.append(f"{x['cpu_ms_per_mib']:.2f} ({x['mib_per_s']:.0f} MiB/s)")
            else:
                cr = "—" if x["cpu_ratio"] is None else f"{x['cpu_ratio']:.2f}×"
                tr = "—" if x["throughput_ratio"] is None else f"{x['throughput_ratio']:.2f}×"
                cells.append(f"{x['cpu_ms_per_mib']:.2f} ({cr}, {tr})")
        A(f"| {label} | " + " | ".join(cells) + " |")
    A("")
    return L


def targets(res: Dict[str, Any], add: Callable[..., None]) -> None:
    for key, label, _client, _extra in FACES:
        row = res.get(key)
        if not row:
            continue
        cpu = [x["cpu_ratio"] for s, x in row.items() if int(s) != DEFAULT and x.get("cpu_ratio") is not None]
        thr = [x["throughput_ratio"] for s, x in row.items() if int(s) != DEFAULT and x.get("throughput_ratio") is not None]
        name = label.split(":")[0] + ": " + label.split(":", 1)[1].strip() if ":" in label else label
        add("readsize", f"read sizes 4 KiB–16 MiB, {name}: worst CPU/MiB ≤ {CPU_LIMIT:.2f}× the 64 KiB default",
            max(cpu) if cpu else None, CPU_LIMIT, False)
        add("readsize", f"read sizes 4 KiB–16 MiB, {name}: worst throughput ≥ {THROUGHPUT_LIMIT:.2f}× the 64 KiB default",
            min(thr) if thr else None, THROUGHPUT_LIMIT, True)
