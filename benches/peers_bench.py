"""The peers a user would pick instead of this library, face by face (issue 15, item 4).

The peers are clients of the suite like any other, in every round of every operation they can
do (run.py's CLIENTS): the Docker SDK for Go (benches/go-sdk, ``github.com/docker/docker/client``
20.10.24, what Gofer's Go version called), bollard used directly (benches/rust/src/bin/bollard.rs,
its default features and ``#[tokio::main]``) and docker-py. This module compares each face with
the peer of its language: every figure is a cost (lower is better; throughputs become time per
MiB, containers/s time per container), taken as the face's paired ratio to the raw client over
the peer's, so both come from the same rounds.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

# face -> its language's peer
PAIRS = [("rust", "bollard"), ("go", "go-sdk"), ("python", "docker-py")]
# (row label, op, key, invert): the paired ratio `key` of `op`; invert for a higher-is-better one.
METRICS: List[Tuple[str, str, str, bool]] = [
    ("state: GetState latency", "state", "ratio", False),
    ("start: StartContainer latency", "start", "ratio", False),
    ("logs 1 KiB lines: time per MiB", "logs_1k", "throughput_ratio", True),
    ("logs 1 KiB lines: CPU per MiB", "logs_1k", "cpu_ratio", False),
    ("logs 64 B lines: time per MiB", "logs_64", "throughput_ratio", True),
    ("logs 64 B lines: CPU per MiB", "logs_64", "cpu_ratio", False),
    ("attach: round trip", "attach", "ratio", False),
    ("parallel: time per container", "parallel", "ratio", True),
    ("exit notice: median latency", "wait", "median_ms", False),
]
# The exit notice's medians are compared with this margin (run.py's WAIT_MARGIN_MS: the daemon's
# own spread between containers), the others with none.


def face_over_peer(res: Dict[str, Any], op: str, key: str, invert: bool, face: str, peer: str) -> Optional[float]:
    f = res.get(op, {}).get(face, {}).get(key)
    p = res.get(op, {}).get(peer, {}).get(key)
    if not f or not p:
        return None
    return round(p / f if invert else f / p, 2)


def targets(res: Dict[str, Any], add: Callable[..., None], labels: Dict[str, str], wait_margin_ms: float) -> None:
    for face, peer in PAIRS:
        for label, op, key, invert in METRICS:
            if op == "wait":
                f = res.get(op, {}).get(face, {}).get(key)
                p = res.get(op, {}).get(peer, {}).get(key)
                add("peers", f"{label.split(':')[0]}, {labels[face]}: median within {wait_margin_ms:g} ms of {labels[peer]}'s or below",
                    None if f is None or p is None else round(f - p, 2), wait_margin_ms, False, "ms")
                continue
            add("peers", f"{label}, {labels[face]} ÷ {labels[peer]} ≤ 1", face_over_peer(res, op, key, invert, face, peer), 1.0, False)


def markdown(res: Dict[str, Any], labels: Dict[str, str], present: List[str]) -> List[str]:
    pairs = [(f, p) for f, p in PAIRS if f in present and p in present]
    if not pairs:
        return []
    L: List[str] = []
    A = L.append
    A("**each face against its language's peer** — the rows of the tables above for the Rust API against bollard, "
      "the Go binding against the Docker SDK for Go and the Python wheel against docker-py, as the face's cost over "
      "the peer's (below 1.00× the face is cheaper; throughputs taken as time per MiB or per container; each from "
      "the paired ratios to the raw client of the same rounds; the exit notice as the difference of medians, ms).")
    A("")
    A("| operation | " + " | ".join(f"{labels[f]} ÷ {labels[p]}" for f, p in pairs) + " |")
    A("|---|" + "---:|" * len(pairs))
    for label, op, key, invert in METRICS:
        cells = []
        for f, p in pairs:
            if op == "wait":
                a, b = res.get(op, {}).get(f, {}).get(key), res.get(op, {}).get(p, {}).get(key)
                cells.append("—" if a is None or b is None else f"{a - b:+.1f} ms")
            else:
                v = face_over_peer(res, op, key, invert, f, p)
                cells.append("—" if v is None else f"{v:.2f}×")
        A(f"| {label} | " + " | ".join(cells) + " |")
    A("")
    return L
