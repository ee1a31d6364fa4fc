"""The docker CLI's client of the benchmark suite, for the operations where a script would use
it: state (docker inspect), start (docker rm -f + docker run -d), logs (docker logs -f), parallel.
Attach needs a pseudo-terminal (docker exec -it) and is not measured. The CPU time and peak RSS
of `logs` are the docker process's own (wait4). Protocol: benches/run.py."""

from __future__ import annotations

import os
import subprocess
import threading
import time

from benchlib import (IMAGE, PARALLEL_COMMAND, PARALLEL_OUTPUT, PIECE, START_COMMAND, START_ENV,
                      Args, Verifier, die, emit, now, samples)

TIMEOUT = 60


def docker(*argv: str, check: bool = True) -> str:
    try:
        r = subprocess.run(["docker", *argv], capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        die(f"docker {' '.join(argv)}: no answer within {TIMEOUT} s")
    if check and r.returncode != 0:
        die(f"docker {' '.join(argv)}: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout.decode()


def state_of(cid: str):
    status, code = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid).split()
    return status, int(code)


def start(name: str, image: str, command) -> None:
    docker("rm", "-f", "-v", name, check=False)
    env = [a for k, v in START_ENV.items() for a in ("-e", f"{k}={v}")]
    docker("run", "-d", "--name", name, *env, "--label", "dev.gofer.scheduler.managed=true", image, *command)


def wait_exited(name: str):
    deadline = time.monotonic() + 60
    while True:
        status, code = state_of(name)
        if status not in ("running", "created") or time.monotonic() > deadline:
            return status, code
        time.sleep(0.01)


def main() -> None:
    args = Args()
    image = args.str("image", IMAGE)
    op = args.op
    if op == "state":
        cid, expect = args.str("id"), args.num("expect_code")
        n, warmup = args.num("n", 50), args.num("warmup", 2)
        out = []
        for i in range(warmup + n):
            t = now()
            status, code = state_of(cid)
            dt = now() - t
            if status != "exited" or code != expect:
                die(f"state: {status} {code}")
            if i >= warmup:
                out.append(dt)
        emit(samples(out))
    elif op == "start":
        name = args.str("name")
        out = []
        for i in range(args.num("n", 5) + 1):
            t = now()
            start(name, image, START_COMMAND)
            dt = now() - t
            docker("wait", name)  # untimed
            if i > 0:
                out.append(dt)
        emit(samples(out))
    elif op == "logs":
        v = Verifier(args.num("line", 1024))
        t = now()
        p = subprocess.Popen(["docker", "logs", "-f", args.str("id")], stdout=subprocess.PIPE, bufsize=0)
        assert p.stdout is not None
        timer = threading.Timer(600, p.kill)
        timer.start()
        while True:
            chunk = p.stdout.read(PIECE)
            if not chunk:
                break
            v.feed(chunk)
        _, status, ru = os.wait4(p.pid, 0)
        wall = now() - t
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0 or not v.ok or v.total != args.num("bytes"):
            die(f"logs: exit {p.returncode}, {v.total} bytes, content ok: {v.ok}")
        cpu = int((ru.ru_utime + ru.ru_stime) * 1e9)
        emit({"bytes": v.total, "wall_ns": wall, "cpu_ns": cpu, "vmhwm_kb": ru.ru_maxrss})
    elif op == "parallel":
        prefix, workers, cycles = args.str("prefix"), args.num("workers", 16), args.num("cycles", 1)

        def worker(name: str) -> None:
            for _ in range(cycles):
                start(name, image, PARALLEL_COMMAND)
                got = docker("logs", "-f", name).encode()
                if got != PARALLEL_OUTPUT:
                    die(f"parallel: logs {got!r}")
                status, code = wait_exited(name)
                if status != "exited" or code != 0:
                    die(f"parallel: state {status} {code}")

        threads = [threading.Thread(target=worker, args=(f"{prefix}-{w}",)) for w in range(workers)]
        t = now()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        emit({"containers": workers * cycles, "wall_ns": now() - t})
    else:
        die(f"unknown op {op} (the CLI client measures state, start, logs, parallel)")


if __name__ == "__main__":
    main()
