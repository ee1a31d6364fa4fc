"""The Python wheel's client of the benchmark suite (gofer_scheduler, pyo3 over the Rust core),
used as its documentation shows. Protocol: benches/run.py."""

from __future__ import annotations

import threading
import time

from benchlib import (IMAGE, PARALLEL_COMMAND, PARALLEL_OUTPUT, PIECE, START_COMMAND, START_ENV, WAIT_COMMAND,
                      Args, Verifier, attach_line, cpu_ns, die, emit, now, samples, vmhwm_kb)

from gofer_scheduler import ContainerState, DockerEngine, InvalidArgument


def wait_exited(engine: DockerEngine, name: str):
    deadline = time.monotonic() + 60
    while True:
        s = engine.get_state(name)
        if s.state != ContainerState.RUNNING or time.monotonic() > deadline:
            return s
        time.sleep(0.01)


def main() -> None:
    args = Args()
    engine = DockerEngine(timeout=args.num("timeout_s", 30))
    image = args.str("image", IMAGE)
    op = args.op
    if op == "state":
        cid, expect = args.str("id"), args.num("expect_code")
        n, warmup = args.num("n", 1000), args.num("warmup", 20)
        out = []
        for i in range(warmup + n):
            t = now()
            s = engine.get_state(cid)
            dt = now() - t
            if s.state != ContainerState.EXITED or s.exit_code != expect:
                die(f"state: {s}")
            if i >= warmup:
                out.append(dt)
        emit(samples(out))
    elif op == "start":
        name = args.str("name")
        out = []
        for i in range(args.num("n", 5) + 1):
            t = now()
            engine.start_container(name, image, env=START_ENV, command=START_COMMAND)
            dt = now() - t
            wait_exited(engine, name)  # untimed
            if i > 0:
                out.append(dt)
        emit(samples(out))
    elif op == "logs":
        v = Verifier(args.num("line", 1024))
        # mode: chunks (the default), read (read(n) until b""), readinto (one bytearray of n).
        size, mode = args.num("buf", PIECE), args.str("mode", "chunks")
        cpu0, t = cpu_ns(), now()
        with engine.get_logs(args.str("id")) as logs:
            if mode == "chunks":
                for chunk in logs.chunks(size):
                    v.feed(chunk)
            elif mode == "read":
                while chunk := logs.read(size):
                    v.feed(chunk)
            elif mode == "readinto":
                buf = bytearray(size)
                view = memoryview(buf)
                while n := logs.readinto(buf):
                    v.feed(view[:n])
            else:
                die(f"logs: mode={mode}: chunks, read or readinto")
        wall, cpu = now() - t, cpu_ns() - cpu0
        if not v.ok or v.total != args.num("bytes"):
            die(f"logs: {v.total} bytes, content ok: {v.ok}")
        emit({"bytes": v.total, "wall_ns": wall, "cpu_ns": cpu, "vmhwm_kb": vmhwm_kb()})
    elif op == "attach":
        n, warmup = args.num("n", 100), args.num("warmup", 10)
        out = []
        with engine.attach_container(args.str("id"), ["cat"]) as conn:
            for i in range(warmup + n):
                sent, back = attach_line(i)
                acc = b""
                t = now()
                conn.sendall(sent)
                while acc.count(back) < 2:
                    chunk = conn.recv(4096)
                    if not chunk:
                        die("attach: end of stream")
                    acc += chunk
                if i >= warmup:
                    out.append(now() - t)
            conn.sendall(b"\x04")
        emit(samples(out))
    elif op == "parallel":
        prefix, workers, cycles = args.str("prefix"), args.num("workers", 16), args.num("cycles", 1)

        def worker(name: str) -> None:
            try:
                for _ in range(cycles):
                    engine.start_container(name, image, env=START_ENV, command=PARALLEL_COMMAND)
                    with engine.get_logs(name) as logs:
                        got = logs.read()
                    if got != PARALLEL_OUTPUT:
                        die(f"parallel: logs {got!r}")
                    s = wait_exited(engine, name)
                    if s.state != ContainerState.EXITED or s.exit_code != 0:
                        die(f"parallel: state {s}")
            except Exception as e:  # noqa: BLE001
                die(f"parallel: {e!r}")

        threads = [threading.Thread(target=worker, args=(f"{prefix}-{w}",)) for w in range(workers)]
        t = now()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        emit({"containers": workers * cycles, "wall_ns": now() - t})
    elif op == "wait":
        # The exit notice: start <prefix>-<i> (untimed), wait_container, note the wall-clock
        # time (CLOCK_REALTIME, the clock of the engine's log timestamps) of knowing.
        prefix = args.str("prefix")
        knew, names = [], []
        for i in range(args.num("n", 3)):
            name = f"{prefix}-{i}"
            engine.start_container(name, image, env=START_ENV, command=WAIT_COMMAND)
            s = engine.wait_container(name)
            knew.append(time.time_ns())
            if s.state != ContainerState.EXITED or s.exit_code != 0:
                die(f"wait: {s}")
            names.append(name)
        emit({"knew_ns": knew, "names": names})
    elif op == "overhead":
        n = args.num("n", 100000)
        t = now()
        for _ in range(n):
            try:
                engine.get_state("")
            except InvalidArgument:
                pass
            else:
                die("overhead: expected InvalidArgument")
        emit({"ns_per_call": (now() - t) / n})
    else:
        die(f"unknown op {op}")
    engine.close()


if __name__ == "__main__":
    main()
