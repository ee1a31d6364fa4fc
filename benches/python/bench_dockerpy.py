"""docker-py's client of the benchmark suite: what a Python user would pick instead of the
wheel, used the idiomatic way (DockerClient, containers.get/run, api.logs(stream=True),
exec_start(socket=True)). Protocol: benches/run.py."""

from __future__ import annotations

import threading
import time

import docker
from docker.errors import NotFound

from benchlib import (IMAGE, PARALLEL_COMMAND, PARALLEL_OUTPUT, START_COMMAND, START_ENV, WAIT_COMMAND, Args,
                      Verifier, attach_line, cpu_ns, die, emit, now, samples, vmhwm_kb)

MANAGED = {"dev.gofer.scheduler.managed": "true"}


def state_of(client: docker.DockerClient, cid: str):
    s = client.containers.get(cid).attrs["State"]
    return s["Status"], s["ExitCode"]


def start(client: docker.DockerClient, name: str, image: str, command) -> None:
    # StartContainer's semantics: replace a container of that name, then run the job.
    try:
        client.api.remove_container(name, force=True, v=True)
    except NotFound:
        pass
    client.containers.run(image, command, name=name, environment=START_ENV, labels=MANAGED, detach=True)


def wait_exited(client: docker.DockerClient, name: str):
    deadline = time.monotonic() + 60
    while True:
        status, code = state_of(client, name)
        if status not in ("running", "created") or time.monotonic() > deadline:
            return status, code
        time.sleep(0.01)


def main() -> None:
    args = Args()
    timeout = args.num("timeout_s", 30)
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=timeout, max_pool_size=32)
    image = args.str("image", IMAGE)
    op = args.op
    if op == "state":
        cid, expect = args.str("id"), args.num("expect_code")
        n, warmup = args.num("n", 1000), args.num("warmup", 20)
        out = []
        for i in range(warmup + n):
            t = now()
            status, code = state_of(client, cid)
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
            start(client, name, image, START_COMMAND)
            dt = now() - t
            wait_exited(client, name)  # untimed
            if i > 0:
                out.append(dt)
        emit(samples(out))
    elif op == "logs":
        v = Verifier(args.num("line", 1024))
        cpu0, t = cpu_ns(), now()
        for chunk in client.api.logs(args.str("id"), stream=True, follow=True):
            v.feed(chunk)
        wall, cpu = now() - t, cpu_ns() - cpu0
        if not v.ok or v.total != args.num("bytes"):
            die(f"logs: {v.total} bytes, content ok: {v.ok}")
        emit({"bytes": v.total, "wall_ns": wall, "cpu_ns": cpu, "vmhwm_kb": vmhwm_kb()})
    elif op == "attach":
        n, warmup = args.num("n", 100), args.num("warmup", 10)
        exec_id = client.api.exec_create(args.str("id"), ["cat"], stdin=True, tty=True)["Id"]
        sock = client.api.exec_start(exec_id, tty=True, socket=True)
        conn = sock._sock  # the raw socket under docker-py's SocketIO, as its docs suggest
        out = []
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
        sock.close()
        emit(samples(out))
    elif op == "parallel":
        prefix, workers, cycles = args.str("prefix"), args.num("workers", 16), args.num("cycles", 1)

        def worker(name: str) -> None:
            try:
                for _ in range(cycles):
                    start(client, name, image, PARALLEL_COMMAND)
                    got = b"".join(client.api.logs(name, stream=True, follow=True))
                    if got != PARALLEL_OUTPUT:
                        die(f"parallel: logs {got!r}")
                    status, code = wait_exited(client, name)
                    if status != "exited" or code != 0:
                        die(f"parallel: state {status} {code}")
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
        # The exit notice: start <prefix>-<i> (untimed), Container.wait() (the engine's wait
        # endpoint, condition not-running), note the wall-clock time of knowing.
        prefix = args.str("prefix")
        knew, names = [], []
        for i in range(args.num("n", 3)):
            name = f"{prefix}-{i}"
            start(client, name, image, WAIT_COMMAND)
            answer = client.containers.get(name).wait(condition="not-running")
            knew.append(time.time_ns())
            if answer.get("StatusCode") != 0:
                die(f"wait: {answer}")
            names.append(name)
        emit({"knew_ns": knew, "names": names})
    else:
        die(f"unknown op {op}")


if __name__ == "__main__":
    main()
