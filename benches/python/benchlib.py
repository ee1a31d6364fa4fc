"""What the Python benchmark clients share: the command line, the log verifier, CPU time and
peak RSS, and the one-line JSON result (the protocol of benches/run.py)."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Dict, List

IMAGE = "gofer-test/busybox:latest"
START_ENV = {"GOFER_BENCH_A": "1", "GOFER_BENCH_B": "two", "GOFER_BENCH_C": "three"}
START_COMMAND = ["sh", "-c", "exit 0"]
PARALLEL_COMMAND = ["echo", "parallel-ok"]
PARALLEL_OUTPUT = b"parallel-ok\n"
# The exit-notice job (op wait): its last act is the log line "bye", whose engine timestamp the
# runner takes for the moment of the exit.
WAIT_COMMAND = ["sh", "-c", "sleep 0.3; echo bye"]
PIECE = 64 * 1024


def die(message: str) -> "NoReturn":  # type: ignore[name-defined]
    print(f"error: {message}", file=sys.stderr, flush=True)
    os._exit(2)  # also from a worker thread


class Args:
    def __init__(self) -> None:
        if len(sys.argv) < 2:
            die("usage: <op> key=value...")
        self.op = sys.argv[1]
        self.values: Dict[str, str] = {}
        for a in sys.argv[2:]:
            k, sep, v = a.partition("=")
            if not sep:
                die(f"bad argument {a!r}")
            self.values[k] = v

    def str(self, key: str, default: "str | None" = None) -> str:
        if key in self.values:
            return self.values[key]
        if default is None:
            die(f"missing argument {key}=")
        return default

    def num(self, key: str, default: int = 0) -> int:
        return int(self.values.get(key, default))


def line(length: int) -> bytes:
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789"
    return bytes(alphabet[i % 36] for i in range(length - 1)) + b"\n"


class Verifier:
    """Checks a stream against the fixture's repeated line; compares in place (no copies)."""

    def __init__(self, length: int) -> None:
        self.pattern = line(length) * (PIECE // length + 2)
        self.period = length
        self.total = 0
        self.ok = True

    def feed(self, data: "bytes | memoryview") -> None:
        n = len(data)
        if n <= PIECE:
            # startswith takes any bytes-like object: a memoryview is compared without a copy.
            if not self.pattern.startswith(data, self.total % self.period):
                self.ok = False
            self.total += n
            return
        view = memoryview(data)
        for i in range(0, n, PIECE):
            self.feed(view[i : i + PIECE])


def cpu_ns() -> int:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def proc_status(field: str) -> int:
    """A numeric field of /proc/self/status ("VmHWM:" in kB, "Threads:"), 0 if absent."""
    with open("/proc/self/status") as f:
        for l in f:
            if l.startswith(field):
                return int(l.split()[1])
    return 0


def vmhwm_kb() -> int:
    return proc_status("VmHWM:")


def emit(result: Dict[str, object]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def now() -> int:
    return time.perf_counter_ns()


def attach_line(i: int) -> "tuple[bytes, bytes]":
    return f"ping-{i:08d}\n".encode(), f"ping-{i:08d}\r\n".encode()


def samples(values: List[int]) -> Dict[str, object]:
    return {"samples_ns": values}
