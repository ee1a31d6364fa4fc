"""The asyncio face: logs and waits on the event loop, many at once on one thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Callable, List

import pytest
from conftest import Bed, sh

from gofer_scheduler import AsyncLogStream, ContainerState, DockerEngine, InvalidArgument, LogSource, NoSuchContainer


def test_many_logs_and_waits_run_together_on_one_thread(engine: DockerEngine, bed: Bed, new_name: Callable[[], str]) -> None:
    names = [new_name() for _ in range(6)]
    for i, name in enumerate(names):
        engine.start_container(
            name, bed.image, command=sh(f"for n in 1 2 3; do echo line-{i}-$n; sleep 0.2; done; exit {i}")
        )
    threads_before = threading.active_count()

    async def follow(name: str) -> List[bytes]:
        async with await engine.get_logs_async(name) as logs:
            return [line async for line in logs]

    async def main() -> tuple:
        lines = asyncio.gather(*(follow(n) for n in names))
        states = asyncio.gather(*(engine.wait_container_async(n) for n in names))
        return await asyncio.wait_for(asyncio.gather(lines, states), 60)

    lines, states = asyncio.run(main())
    for i, name in enumerate(names):
        assert lines[i] == [f"line-{i}-{n}\n".encode() for n in (1, 2, 3)], name
        assert (states[i].state, states[i].exit_code) == (ContainerState.EXITED, i), name
    assert threading.active_count() == threads_before, "no Python thread was started"


def test_frames_and_reads_give_every_byte_with_its_stream(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("echo out; sleep 0.2; echo err >&2; sleep 0.2; printf tail"))

    async def main() -> tuple:
        frames = []
        async with await engine.get_logs_async(name) as logs:
            async for source, data in logs.frames():
                frames.append((source, data))
        async with await engine.get_logs_async(name) as logs:
            chunks = []
            while chunk := await logs.read(3):
                chunks.append(chunk)
        return frames, b"".join(chunks)

    frames, whole = asyncio.run(main())
    merged: List[tuple] = []
    for source, data in frames:
        if merged and merged[-1][0] == source:
            merged[-1] = (source, merged[-1][1] + data)
        else:
            merged.append((source, data))
    assert merged == [(LogSource.STDOUT, b"out\n"), (LogSource.STDERR, b"err\n"), (LogSource.STDOUT, b"tail")]
    assert whole == b"out\nerr\ntail"


def test_unknown_containers_and_bad_ids_raise_when_awaited(engine: DockerEngine) -> None:
    async def main() -> None:
        with pytest.raises(NoSuchContainer):
            await engine.get_logs_async("gofer-test-py-no-such-container-async")
        with pytest.raises(NoSuchContainer):
            await engine.wait_container_async("gofer-test-py-no-such-container-async")
        with pytest.raises(InvalidArgument):
            await engine.get_logs_async("bad/id")

    asyncio.run(main())


def test_a_cancelled_wait_and_an_abandoned_read_leave_the_loop_clean(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("echo hi; sleep 300"))

    async def main() -> bytes:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(engine.wait_container_async(name), 0.5)
        logs: AsyncLogStream = await engine.get_logs_async(name)
        first = await logs.readline()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(logs.readline(), 0.5)
        logs.close()
        assert logs.closed
        return first

    assert asyncio.run(main()) == b"hi\n"
