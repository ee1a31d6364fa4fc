"""The asyncio face: log streams and waits on the event loop, no thread per stream.

The library's runtime reads each log and waits for each exit; a coroutine here takes what it
has through a non-blocking call and, when there is nothing yet, awaits the handle's descriptor
with ``loop.add_reader``. A thousand followed logs are a thousand coroutines on one thread.
``asyncio`` is imported on first use, so ``import gofer_scheduler`` does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, Callable, Optional, Tuple, TypeVar

from . import _native

if TYPE_CHECKING:
    from ._engine import LogSource, StateResult

_T = TypeVar("_T")


async def _when_ready(fileno: int, attempt: Callable[[], Optional[_T]]) -> _T:
    """Calls ``attempt`` until it gives an answer, awaiting ``fileno`` between two tries."""
    import asyncio

    loop = asyncio.get_running_loop()
    while True:
        answer = attempt()
        if answer is not None:
            return answer
        # The descriptor is clear now (the call that found nothing cleared it): it becomes
        # readable when something arrives.
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fileno, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fileno)


class AsyncLogStream:
    """A container's stdout and stderr for asyncio, from its start until it exits.

    ``async for line in logs`` gives lines (bytes, with their newline); ``await logs.read(n)``
    up to ``n`` bytes (``b""`` at the end); ``logs.frames()`` an async iterator of
    ``(LogSource, bytes)``. ``async with`` closes it. A broken connection raises, never ends.
    Made by ``DockerEngine.get_logs_async``.
    """

    def __init__(self, native: _native.ReadyLogs) -> None:
        self._native = native
        self._fileno = native.fileno()
        self._pending = b""

    async def _frame(self, size: int) -> Tuple[str, bytes]:
        return await _when_ready(self._fileno, lambda: self._native.try_read(size))

    async def read(self, size: int = 64 * 1024) -> bytes:
        """Up to ``size`` bytes, at least one; ``b""`` at the end of the logs."""
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return (await self._frame(size))[1]

    async def readline(self) -> bytes:
        """The next line with its newline; the last one may have none; ``b""`` at the end."""
        while b"\n" not in self._pending:
            chunk = (await self._frame(64 * 1024))[1]
            if not chunk:
                line, self._pending = self._pending, b""
                return line
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line + b"\n"

    def __aiter__(self) -> AsyncLogStream:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    async def frames(self, size: int = 64 * 1024) -> AsyncIterator[Tuple[LogSource, bytes]]:
        """``(LogSource, bytes)`` pairs, each of one stream, in the engine's order."""
        from ._engine import LogSource

        while True:
            stream, data = await self._frame(size)
            if not data:
                return
            yield LogSource(stream), data

    def close(self) -> None:
        """Stops the stream and releases its connection."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    async def __aenter__(self) -> AsyncLogStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


async def open_logs(native: _native.ReadyLogs) -> AsyncLogStream:
    """Awaits the opening of ``native`` (raising its error), then wraps it."""
    fileno = native.fileno()
    try:
        await _when_ready(fileno, lambda: True if native.try_open() else None)
    except BaseException:
        native.close()
        raise
    return AsyncLogStream(native)


async def wait(native: _native.ReadyWait) -> StateResult:
    """Awaits the end of the wait ``native``; closes it (also when the awaiting task is
    cancelled)."""
    from ._engine import _state

    try:
        return _state(await _when_ready(native.fileno(), native.try_result))
    finally:
        native.close()
