"""The table of scripts/bench-engines.sh: each face's ratio to the raw client on Docker 20.10 and
on Docker 28.5, from the two benchmarks.json that benches/run.py wrote (one per engine).

    python benches/engines_report.py OLD/benchmarks.json NEW/benchmarks.json > report.md
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List, Optional

FACES = [("rust", "Rust API"), ("c", "C ABI"), ("go", "Go binding"), ("python", "Python wheel")]
# (op, what is measured, the key of the raw client's figure, the key of the ratio, unit)
OPS = [
    ("state", "GetState, median latency", "median_us", "ratio", "µs"),
    ("start", "StartContainer, median latency", "median_ms", "ratio", "ms"),
    ("logs_1k", "logs of 1 KiB lines, throughput", "mib_per_s", "throughput_ratio", "MiB/s"),
    ("logs_1k", "logs of 1 KiB lines, client CPU per MiB", "cpu_ms_per_mib", "cpu_ratio", "ms/MiB"),
]


def figure(data: Dict[str, Any], op: str, client: str, key: str) -> Optional[float]:
    value = data.get("results", {}).get(op, {}).get(client, {}).get(key)
    return float(value) if isinstance(value, (int, float)) else None


def cell(value: Optional[float], digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def engine_name(data: Dict[str, Any]) -> str:
    server = data.get("versions", {}).get("docker_server")
    return str(server) if server else "?"


def main(paths: List[str]) -> None:
    old, new = (json.load(open(p)) for p in paths)
    print("# Benchmarks across engine versions\n")
    print("Written by `scripts/bench-engines.sh` (benches/engines_report.py): GetState, start and logs")
    print("of 1 KiB lines through each face, on the test bed's Docker 20.10 (API 1.41) and on Docker")
    print("28.5 (API 1.51, a private engine of `scripts/netns-engine.sh`), measured one engine after")
    print("the other in one run. Each ratio is to the raw HTTP/1.1 client **on the same engine**")
    print("(for latency and CPU lower is better, for throughput higher is): how an engine version")
    print("changes what the library adds, not the engine's own speed.\n")
    print(f"Profile: {old.get('profile', '?')}; run: {old.get('run', {}).get('started', '?')}; "
          f"engines: {engine_name(old)} and {engine_name(new)}. The machine: "
          f"{old.get('run', {}).get('quiet', '?')} (20.10); {new.get('run', {}).get('quiet', '?')} (28.5).\n")
    for op, what, raw_key, ratio_key, unit in OPS:
        print(f"## {what}\n")
        print(f"| client | 20.10 raw ({unit}) | 20.10 ratio | 28.5 raw ({unit}) | 28.5 ratio |")
        print("|---|---|---|---|---|")
        print(f"| raw HTTP/1.1 | {cell(figure(old, op, 'raw', raw_key))} | 1.00 | "
              f"{cell(figure(new, op, 'raw', raw_key))} | 1.00 |")
        for client, label in FACES:
            print(f"| {label} | {cell(figure(old, op, client, raw_key))} | {cell(figure(old, op, client, ratio_key))} | "
                  f"{cell(figure(new, op, client, raw_key))} | {cell(figure(new, op, client, ratio_key))} |")
        print()
    for data, name in ((old, "20.10"), (new, "28.5")):
        errors = data.get("errors") or []
        if errors:
            print(f"Errors on {name}: {len(errors)} (see its benchmarks.json).\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1:])
