"""get_logs: following, exited containers, stderr, no-newline output, the file protocol,
threads, closing."""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List

import pytest
from conftest import Bed, run, sh, wait_exit

from gofer_scheduler import ContainerState, DockerEngine, InvalidState


def test_logs_followed_from_before_the_first_line_get_every_line_then_end(
    engine: DockerEngine, bed: Bed, name: str
) -> None:
    engine.start_container(name, bed.image, command=sh("sleep 1; echo one; sleep 0.5; echo two; sleep 0.5; echo three"))
    with engine.get_logs(name) as logs:
        assert list(logs) == [b"one\n", b"two\n", b"three\n"]
    assert engine.get_state(name).state is ContainerState.EXITED, "the stream ends when the container exits"


def test_logs_of_an_exited_container_are_all_its_output_then_end(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("seq 1 1000"))
    wait_exit(engine, name)
    with engine.get_logs(name) as logs:
        assert logs.read() == b"".join(b"%d\n" % i for i in range(1, 1001))
        assert logs.read() == b""


def test_stderr_is_merged_in_order_with_stdout(engine: DockerEngine, bed: Bed, name: str) -> None:
    script = "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; sleep 0.2; echo err2 >&2"
    _, logs = run(engine, name, bed.image, command=sh(script))
    assert logs == b"out1\nerr1\nout2\nerr2\n"


def test_output_with_no_newline_at_all_is_delivered_whole(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    assert run(engine, new_name(), bed.image, command=sh("printf abc"))[1] == b"abc"
    # The engine splits long lines into 16 KiB messages; none of that may show.
    _, logs = run(engine, new_name(), bed.image, command=sh("head -c 100000 /dev/zero | tr '\\0' x"))
    assert logs == b"x" * 100_000


def test_read_n_and_readline_work_like_a_binary_file(engine: DockerEngine, bed: Bed, name: str) -> None:
    _, _ = run(engine, name, bed.image, command=sh("printf 'alpha\\nbeta\\ngamma'"))
    with engine.get_logs(name) as logs:
        assert logs.readable() and not logs.closed
        assert logs.read(3) == b"alp"
        assert logs.readline() == b"ha\n"
        assert logs.readlines() == [b"beta\n", b"gamma"]
        assert logs.readline() == b""
    assert logs.closed
    with pytest.raises(ValueError):
        logs.read()


def test_chunks_yield_output_as_it_arrives(engine: DockerEngine, bed: Bed, name: str) -> None:
    # (A line is the engine's unit: it holds back output without a newline until one comes or
    # the container exits.)
    engine.start_container(name, bed.image, command=sh("echo one; sleep 300"))
    with engine.get_logs(name) as logs:
        assert next(logs.chunks()) == b"one\n", "no wait for more output or for the end"


def test_two_threads_streaming_logs_make_progress_together(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    """Each blocked read releases the GIL: both readers and the main thread keep going."""
    names = [new_name(), new_name()]
    for n in names:
        engine.start_container(n, bed.image, command=sh("for i in $(seq 1 10); do echo $i; sleep 0.3; done"))
    arrivals: Dict[str, List[float]] = {n: [] for n in names}
    errors: List[BaseException] = []

    def follow(n: str) -> None:
        try:
            with engine.get_logs(n) as logs:
                for _ in logs:
                    arrivals[n].append(time.monotonic())
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=follow, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    heartbeats = 0
    deadline = time.monotonic() + 30
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        time.sleep(0.01)
        heartbeats += 1
    assert not any(t.is_alive() for t in threads), "the readers did not finish within 30 s"
    assert not errors, errors
    a, b = (arrivals[n] for n in names)
    assert len(a) == len(b) == 10
    # The streams overlap in time: each got lines while the other was still going.
    assert max(a[0], b[0]) < min(a[-1], b[-1])
    # ~3 s of streaming: the main thread ran all along (a held GIL would starve it).
    assert heartbeats > 100, heartbeats


def test_closing_from_another_thread_wakes_a_blocked_read(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("sleep 300"))
    logs = engine.get_logs(name)
    outcome: List[BaseException] = []

    def read() -> None:
        try:
            logs.read()
        except BaseException as e:
            outcome.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.3)
    assert reader.is_alive(), "the read waits for output"
    logs.close()
    reader.join(timeout=5)
    assert not reader.is_alive(), "close() woke the blocked read"
    assert len(outcome) == 1 and isinstance(outcome[0], InvalidState), outcome
    assert engine.get_state(name).state is ContainerState.RUNNING, "the container is not disturbed"
