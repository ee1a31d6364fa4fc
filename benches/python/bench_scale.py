"""The Python wheel's client of op scale (benches/scale_bench.py): many log streams, or many
waits, at once in one process.

    scale-logs mode=async    a task per stream on one asyncio loop: `await engine.get_logs_async(id)`,
                             then `await logs.read(buf)` to the end
    scale-logs mode=threads  a thread per stream: `engine.get_logs(id)` and `.chunks(buf)` (the
                             blocking face)
    scale-wait mode=async    a task per wait: `await engine.wait_container_async(id)`

Arguments: prefix= count= streams= (streams per container) lines= line= go= (the file to create
once every stream is open) buf=. Every stream must carry exactly what the containers write.
"""

from __future__ import annotations

import resource
import threading
import time

from benchlib import Args, cpu_ns, die, emit, proc_status, vmhwm_kb

from gofer_scheduler import AsyncLogStream, ContainerState, DockerEngine


def expected_stream(lines: int, length: int) -> bytes:
    """What every scale container writes: line i is "%07d " of i, the alphabet pattern, "\\n"."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    filler = "".join(alphabet[i % 36] for i in range(length - 9))
    return "".join(f"{i:07d} {filler}\n" for i in range(lines)).encode()


def main() -> None:
    args = Args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    prefix, count, per = args.str("prefix"), args.num("count", 1), args.num("streams", 1)
    names = [f"{prefix}-{i}" for i in range(count) for _ in range(per)]
    mode, go_file, size = args.str("mode", "async"), args.str("go"), args.num("buf", 32 * 1024)
    engine = DockerEngine(timeout=args.num("timeout_s", 60))
    expected = expected_stream(args.num("lines", 0), args.num("line", 100)) if args.op == "scale-logs" else b""
    total = 0
    cpu0, t0 = cpu_ns(), time.perf_counter_ns()
    open_ns = 0

    def check(name: str, pos: int, data: bytes) -> int:
        if not expected.startswith(data, pos) or pos + len(data) > len(expected):
            die(f"scale: {name}: {len(data)} bytes at offset {pos} differ from what the container wrote")
        return pos + len(data)

    def check_end(name: str, pos: int) -> None:
        if pos != len(expected):
            die(f"scale: {name}: the stream ended after {pos} bytes of {len(expected)} (bytes lost)")

    if mode == "async":
        import asyncio

        async def drain(name: str, logs: "AsyncLogStream") -> int:
            pos = 0
            async with logs:
                while True:
                    data = await logs.read(size)
                    if not data:
                        break
                    pos = check(name, pos, data)
            check_end(name, pos)
            return pos

        async def wait(name: str, want: int) -> int:
            s = await engine.wait_container_async(name)
            if s.state != ContainerState.EXITED or s.exit_code != want:
                die(f"wait: {name}: {s}, want exit code {want}")
            return 1

        async def run() -> int:
            nonlocal open_ns
            if args.op == "scale-logs":
                streams = await asyncio.gather(*(engine.get_logs_async(n) for n in names))
                tasks = [asyncio.ensure_future(drain(n, s)) for n, s in zip(names, streams)]
            elif args.op == "scale-wait":
                tasks = [asyncio.ensure_future(wait(n, i // per % 200 + 1)) for i, n in enumerate(names)]
                await asyncio.sleep(args.num("settle_ms", 2000) / 1000)
            else:
                die(f"unknown op {args.op}")
            open_ns = time.perf_counter_ns() - t0
            open(go_file, "wb").close()
            return sum(await asyncio.gather(*tasks))

        total = asyncio.run(run())
    elif mode == "threads" and args.op == "scale-logs":
        lock = threading.Lock()
        opened = threading.Semaphore(0)
        results = []

        def worker(name: str) -> None:
            try:
                with engine.get_logs(name) as logs:
                    opened.release()
                    pos = 0
                    for data in logs.chunks(size):
                        pos = check(name, pos, data)
                check_end(name, pos)
                with lock:
                    results.append(pos)
            except Exception as e:  # noqa: BLE001
                die(f"logs: {name}: {e!r}")

        workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in names]
        for w in workers:
            w.start()
        for _ in workers:
            opened.acquire()
        open_ns = time.perf_counter_ns() - t0
        open(go_file, "wb").close()
        for w in workers:
            w.join()
        total = sum(results)
    else:
        die(f"{args.op}: mode={mode}: async (or threads, for scale-logs)")
    emit({"streams": len(names), "bytes": total, "open_ns": open_ns, "wall_ns": time.perf_counter_ns() - t0,
          "cpu_ns": cpu_ns() - cpu0, "vmhwm_kb": vmhwm_kb(), "threads_end": proc_status("Threads:")})
    engine.close()


if __name__ == "__main__":
    main()
