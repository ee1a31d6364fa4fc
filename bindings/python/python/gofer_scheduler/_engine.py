"""The Docker engine and what its operations return."""

from __future__ import annotations

import enum
import io
import os
import socket
from datetime import timedelta
from typing import Iterator, Mapping, NamedTuple, Optional, Sequence, Union

from . import _native

#: A duration: seconds as an ``int`` or ``float``, or a ``timedelta``.
Seconds = Union[float, timedelta]


class ContainerState(enum.Enum):
    """The state of a container as Gofer sees it; the values are the seed's strings."""

    UNKNOWN = "UNKNOWN"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RESTARTING = "RESTARTING"
    EXITED = "EXITED"
    CANCELLED = "CANCELLED"  # stopped through stop_container


class StartResult(NamedTuple):
    """What ``start_container`` returns."""

    #: ``"127.0.0.1:<host port>"`` when a port was published, else ``""``.
    url: str


class StateResult(NamedTuple):
    """What ``get_state`` returns."""

    state: ContainerState
    #: The real exit code once the container has stopped, else 0.
    exit_code: int


class RegistryAuth:
    """Credentials for the image's registry. ``repr()`` never shows the password."""

    # Not a dataclass: importing dataclasses (with inspect and ast) costs ~15 ms at import.
    __slots__ = ("username", "password")

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def __repr__(self) -> str:
        return f"RegistryAuth(username={self.username!r}, password=<hidden>)"


def _seconds(name: str, value: Seconds) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    # bool is an int, and a str would convert: both are mistakes here.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{name} must be seconds (int or float) or a timedelta, not {type(value).__name__}")


class DockerEngine:
    """The local Docker engine (``DOCKER_HOST``, else ``/var/run/docker.sock``).

    Creating one checks that the engine answers (``EngineConnectionError`` if not). Thread-safe:
    share one engine between threads. Every call releases the GIL while it waits and can be
    interrupted with Ctrl-C. A child process made with ``fork()`` must create its own engine:
    the parent's raises ``InvalidState`` there.

    :param timeout: longest wait for one answer of the engine (default 60 s); log streams and
        attach sessions are not cut by it.
    :param prune: periodically remove the exited containers that this library created (never
        the user's other containers), every ``prune_interval`` (default 15 minutes).
    :param host: engine address (``unix://...``, ``tcp://...``), instead of ``DOCKER_HOST``.
    """

    def __init__(
        self,
        *,
        prune: bool = False,
        prune_interval: Optional[Seconds] = None,
        timeout: Optional[Seconds] = None,
        host: Optional[str] = None,
    ) -> None:
        self._native = _native.Engine(
            engine_type="docker",
            timeout=None if timeout is None else _seconds("timeout", timeout),
            prune=prune,
            prune_interval=None if prune_interval is None else _seconds("prune_interval", prune_interval),
            host=host,
        )

    def __enter__(self) -> DockerEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Releases the connection. Open log streams and attach sessions keep working."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def start_container(
        self,
        id: str,
        image: str,
        *,
        env: Optional[Mapping[str, str]] = None,
        registry_auth: Optional[RegistryAuth] = None,
        always_pull: bool = False,
        port: Optional[int] = None,
        entrypoint: Optional[Sequence[str]] = None,
        command: Optional[Sequence[str]] = None,
    ) -> StartResult:
        """Runs ``image`` as a container named ``id``, replacing one of that name.

        The image is pulled when missing (always, with ``always_pull``), with ``registry_auth``
        if given. ``port`` publishes that container port on 127.0.0.1 (see ``StartResult.url``).
        ``entrypoint``/``command``: ``None`` keeps the image's own; an empty list is not the same
        as ``None`` (an empty entrypoint runs the command without any entrypoint).
        """
        if registry_auth is not None and not isinstance(registry_auth, RegistryAuth):
            raise TypeError(f"registry_auth must be a RegistryAuth, not {type(registry_auth).__name__}")
        url = self._native.start_container(
            id,
            image,
            None if env is None else dict(env),
            None if registry_auth is None else (registry_auth.username, registry_auth.password),
            always_pull,
            port,
            entrypoint,
            command,
        )
        return StartResult(url)

    def stop_container(self, id: str, timeout: Seconds = 10.0) -> None:
        """Sends the container's stop signal, then SIGKILL after ``timeout`` (0: at once).

        The container is then reported as ``CANCELLED``. Stopping a stopped container succeeds.
        """
        self._native.stop_container(id, _seconds("timeout", timeout))

    def get_state(self, id: str) -> StateResult:
        state, exit_code = self._native.get_state(id)
        return StateResult(ContainerState(state), exit_code)

    def get_logs(self, id: str) -> LogStream:
        """The container's stdout and stderr, merged, from its start until it exits."""
        return LogStream(self._native.get_logs(id), id)

    def attach_container(self, id: str, command: Sequence[str]) -> Attachment:
        """Runs ``command`` in the running container with a TTY; returns the connected socket."""
        return Attachment(self._native.attach_container(id, command))

    def prune(self) -> int:
        """Removes now the exited containers that this library created; returns how many."""
        return self._native.prune()


class _RawLogs(io.RawIOBase):
    """The unbuffered stream under LogStream: each read is one read of the core's reader."""

    def __init__(self, reader: _native.LogReader, name: str) -> None:
        super().__init__()
        self._reader = reader
        self.name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        with memoryview(buffer) as view, view.cast("B") as out:
            data = self._reader.read(out.nbytes)
            out[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._reader.close()
        super().close()


class LogStream(io.BufferedReader):
    """A container's logs as a binary file that follows the container until it exits.

    ``read()``, ``read(n)``, ``readline()``, ``readlines()`` and iteration (line by line) work as
    on any binary file, waiting for output as needed; ``chunks()`` yields the output as it
    arrives, whatever its lines. The end of the stream (``b""``) means the container exited and
    all of its output was read; a broken connection raises instead, never looks like an end.
    ``with`` closes the stream; ``close()`` from another thread wakes a blocked read there, which
    then raises ``InvalidState``.
    """

    def __init__(self, reader: _native.LogReader, name: str) -> None:
        super().__init__(_RawLogs(reader, name), buffer_size=64 * 1024)
        self._reader = reader

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        """Yields the output as soon as it arrives, at most ``size`` bytes at a time."""
        while True:
            chunk = self.read1(size)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        # BufferedReader.close() waits for a read in progress; close the core's reader first
        # so that a read blocked in another thread wakes up and lets go.
        self._reader.close()
        super().close()


class Attachment(socket.socket):
    """A process run in a container by ``attach_container``: a connected ``socket.socket``.

    Bytes sent are the process's input (through its TTY, which echoes them), bytes received its
    output; ``recv`` returns ``b""`` once the process has exited. ``send``, ``recv``,
    ``makefile``, ``settimeout`` and ``select`` work as on any socket. ``close()`` (or ``with``)
    ends the session; ``exit_code()`` and ``resize()`` need it open.
    """

    def __init__(self, session: _native.Session) -> None:
        # A duplicate, so that the socket object owns its descriptor as Python expects;
        # the session keeps its own until close().
        super().__init__(fileno=os.dup(session.fileno()))
        self._session = session

    def exit_code(self) -> Optional[int]:
        """The process's exit code, ``None`` while it runs."""
        return self._session.exit_code()

    def resize(self, width: int, height: int) -> None:
        """Resizes the process's TTY (columns, rows)."""
        self._session.resize(width, height)

    def close(self) -> None:
        super().close()
        # A file from makefile() keeps the socket open until it is closed too (then close()
        # is called again): end the session only when the socket is really closed.
        if self.fileno() == -1:
            self._session.close()

    # typeshed says dup() returns the same class; a second Attachment would end the session
    # when either is closed, so a duplicate is a plain socket.
    def dup(self) -> socket.socket:  # type: ignore[override]
        """A plain socket on the same connection (it does not end the session when closed)."""
        return socket.socket(self.family, self.type, self.proto, fileno=os.dup(self.fileno()))
