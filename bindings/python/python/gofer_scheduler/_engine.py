"""The Docker engine and what its operations return."""

from __future__ import annotations

import enum
import io
import os
import socket
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

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


if TYPE_CHECKING:
    from ._aio import AsyncLogStream

if TYPE_CHECKING:
    # The results below are tuples with attributes beside their fields (a __dict__): no other
    # base can be mixed with them. Type checkers are told so; at run time nothing is needed.
    from typing_extensions import disjoint_base
else:

    def disjoint_base(cls: type) -> type:
        return cls


class LogSource(enum.Enum):
    """Which of the process's outputs a log frame came from."""

    STDOUT = "stdout"
    STDERR = "stderr"


class _Started(NamedTuple):
    #: ``"127.0.0.1:<host port>"`` when a port was published, else ``""``.
    url: str


@disjoint_base
class StartResult(_Started):
    """What ``start_container`` returns: a 1-tuple ``(url,)`` as before, with the container's
    full ID and its image's ID as attributes (``container_id``, ``image_id``)."""

    container_id: str
    image_id: str

    def __new__(cls, url: str, container_id: str = "", image_id: str = "") -> StartResult:
        self = super().__new__(cls, url)
        self.container_id = container_id
        self.image_id = image_id
        return self

    def __repr__(self) -> str:
        return f"StartResult(url={self.url!r}, container_id={self.container_id!r}, image_id={self.image_id!r})"


class _State(NamedTuple):
    state: ContainerState
    #: The real exit code once the container has stopped, else 0.
    exit_code: int


@disjoint_base
class StateResult(_State):
    """What ``get_state`` and ``wait_container`` return.

    It unpacks and compares as the pair ``(state, exit_code)``; the rest are attributes:
    ``oom_killed`` (the kernel killed the process for lack of memory: the engine's own flag,
    never guessed from exit code 137), ``started_at`` and ``finished_at`` (aware UTC datetimes,
    ``None`` while the container has not started or not finished).
    """

    oom_killed: bool
    started_at: Optional[datetime]
    finished_at: Optional[datetime]

    def __new__(
        cls,
        state: ContainerState,
        exit_code: int,
        oom_killed: bool = False,
        started_at: Optional[datetime] = None,
        finished_at: Optional[datetime] = None,
    ) -> StateResult:
        self = super().__new__(cls, state, exit_code)
        self.oom_killed = oom_killed
        self.started_at = started_at
        self.finished_at = finished_at
        return self

    def __repr__(self) -> str:
        return (
            f"StateResult(state={self.state!r}, exit_code={self.exit_code!r}, oom_killed={self.oom_killed!r}, "
            f"started_at={self.started_at!r}, finished_at={self.finished_at!r})"
        )


def _time(ns: Optional[int]) -> Optional[datetime]:
    if ns is None:
        return None
    return _EPOCH + timedelta(microseconds=ns // 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _state(native: Tuple[str, int, bool, Optional[int], Optional[int]]) -> StateResult:
    state, exit_code, oom_killed, started, finished = native
    return StateResult(ContainerState(state), exit_code, oom_killed, _time(started), _time(finished))


class ContainerInfo(NamedTuple):
    """A container the library manages, as ``list_containers`` gives it."""

    #: The name it was started with.
    name: str
    #: Its full ID.
    id: str
    state: StateResult
    created_at: Optional[datetime]
    labels: Dict[str, str]


class Mount:
    """A file system mounted into the container at ``target`` (an absolute path)."""

    __slots__ = ("target", "read_only")
    _kind = ""

    def __init__(self, target: str, *, read_only: bool = False) -> None:
        self.target = target
        self.read_only = read_only

    def _native(self) -> Tuple[str, Optional[str], str, bool, Optional[int]]:
        return (self._kind, None, self.target, self.read_only, None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r}, read_only={self.read_only!r})"


class Bind(Mount):
    """A path of the engine's host (absolute; it must exist), mounted at ``target``."""

    __slots__ = ("source",)
    _kind = "bind"

    def __init__(self, source: str, target: str, *, read_only: bool = False) -> None:
        super().__init__(target, read_only=read_only)
        self.source = source

    def _native(self) -> Tuple[str, Optional[str], str, bool, Optional[int]]:
        return ("bind", self.source, self.target, self.read_only, None)

    def __repr__(self) -> str:
        return f"Bind({self.source!r}, {self.target!r}, read_only={self.read_only!r})"


class Volume(Mount):
    """A named volume (created by the engine when missing), mounted at ``target``."""

    __slots__ = ("name",)
    _kind = "volume"

    def __init__(self, name: str, target: str, *, read_only: bool = False) -> None:
        super().__init__(target, read_only=read_only)
        self.name = name

    def _native(self) -> Tuple[str, Optional[str], str, bool, Optional[int]]:
        return ("volume", self.name, self.target, self.read_only, None)

    def __repr__(self) -> str:
        return f"Volume({self.name!r}, {self.target!r}, read_only={self.read_only!r})"


class Tmpfs(Mount):
    """A fresh tmpfs at ``target``, at most ``size`` bytes (``None``: the engine's default)."""

    __slots__ = ("size",)
    _kind = "tmpfs"

    def __init__(self, target: str, *, size: Optional[int] = None, read_only: bool = False) -> None:
        super().__init__(target, read_only=read_only)
        self.size = size

    def _native(self) -> Tuple[str, Optional[str], str, bool, Optional[int]]:
        return ("tmpfs", None, self.target, self.read_only, self.size)

    def __repr__(self) -> str:
        return f"Tmpfs({self.target!r}, size={self.size!r}, read_only={self.read_only!r})"


class TLSFiles:
    """The PEM files of an engine reached over mutual TLS: the CA that signed the engine's
    certificate, and the client's certificate and key (both or neither). The engine's
    certificate is always verified, its name included."""

    __slots__ = ("ca", "cert", "key")

    def __init__(self, ca: str, cert: Optional[str] = None, key: Optional[str] = None) -> None:
        self.ca = ca
        self.cert = cert
        self.key = key

    def __repr__(self) -> str:
        return f"TLSFiles(ca={self.ca!r}, cert={self.cert!r}, key={self.key!r})"


class PullProgress(NamedTuple):
    """One message of an image pull's progress, as the engine reports it per layer."""

    #: The layer's short ID, or the tag for messages about the whole image; may be ``""``.
    layer: str
    #: ``"Pulling fs layer"``, ``"Downloading"``, ``"Extracting"``, ``"Pull complete"``...
    status: str
    #: Bytes done and in all; ``None`` when the engine does not say.
    current: Optional[int]
    total: Optional[int]


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


def _connect(
    engine_type: str,
    prune: bool,
    prune_interval: Optional[Seconds],
    timeout: Optional[Seconds],
    host: Optional[str],
    tls: Optional[TLSFiles],
    nodes: Optional[Mapping[str, str]] = None,
) -> _native.Engine:
    """The native engine of a type, with the options every engine class takes."""
    if tls is not None and not isinstance(tls, TLSFiles):
        raise TypeError(f"tls must be a TLSFiles, not {type(tls).__name__}")
    return _native.Engine(
        engine_type=engine_type,
        timeout=None if timeout is None else _seconds("timeout", timeout),
        prune=prune,
        prune_interval=None if prune_interval is None else _seconds("prune_interval", prune_interval),
        host=host,
        tls=None if tls is None else (tls.ca, tls.cert, tls.key),
        nodes=None if nodes is None else dict(nodes),
    )


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
    :param host: engine address (``unix://...``, ``tcp://...``, ``https://...``), instead of
        ``DOCKER_HOST``.
    :param tls: the ``TLSFiles`` of a remote engine; ``None``: as the docker CLI, TLS when
        ``DOCKER_TLS_VERIFY`` is set, with the files in ``DOCKER_CERT_PATH`` (else ``~/.docker``).
    """

    def __init__(
        self,
        *,
        prune: bool = False,
        prune_interval: Optional[Seconds] = None,
        timeout: Optional[Seconds] = None,
        host: Optional[str] = None,
        tls: Optional[TLSFiles] = None,
    ) -> None:
        self._native = _connect("docker", prune, prune_interval, timeout, host, tls)

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
        memory: Optional[int] = None,
        cpus: Optional[float] = None,
        pids_limit: Optional[int] = None,
        shm_size: Optional[int] = None,
        mounts: Sequence[Mount] = (),
        working_dir: Optional[str] = None,
        user: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
        privileged: bool = False,
        progress: Optional[Callable[[PullProgress], object]] = None,
    ) -> StartResult:
        """Runs ``image`` as a container named ``id``, replacing one of that name.

        The image is pulled when missing (always, with ``always_pull``), with ``registry_auth``
        if given. ``port`` publishes that container port on 127.0.0.1 (see ``StartResult.url``).
        ``entrypoint``/``command``: ``None`` keeps the image's own; an empty list is not the same
        as ``None`` (an empty entrypoint runs the command without any entrypoint).

        Limits: ``memory`` in bytes (at least 6 MiB; swap is disabled so that it holds),
        ``cpus`` fractional as ``docker run --cpus``, ``pids_limit``, ``shm_size`` in bytes.
        ``mounts``: ``Bind``, ``Volume`` and ``Tmpfs`` mounts. ``working_dir``, ``user``
        (``"1000"``, ``"1000:1000"``), ``labels`` (never the library's own). ``privileged`` runs
        the container with every device and capability: a security decision of the caller.

        ``progress``, if given, is called with a ``PullProgress`` for every message of the
        image's pull, as it comes, in this thread, before the call returns. An ``Exception`` it
        raises goes to ``sys.unraisablehook`` (the start goes on, without calling it again);
        ``KeyboardInterrupt`` abandons the start.
        """
        if registry_auth is not None and not isinstance(registry_auth, RegistryAuth):
            raise TypeError(f"registry_auth must be a RegistryAuth, not {type(registry_auth).__name__}")
        for mount in mounts:
            if not isinstance(mount, Mount) or type(mount) is Mount:
                raise TypeError(f"mounts must hold Bind, Volume or Tmpfs mounts, not {type(mount).__name__}")
        url, container_id, image_id = self._native.start_container(
            id,
            image,
            None if env is None else dict(env),
            None if registry_auth is None else (registry_auth.username, registry_auth.password),
            always_pull,
            port,
            entrypoint,
            command,
            (memory, cpus, pids_limit, shm_size),
            [mount._native() for mount in mounts],
            working_dir,
            user,
            None if labels is None else dict(labels),
            privileged,
            None if progress is None else lambda *message: progress(PullProgress(*message)),
        )
        return StartResult(url, container_id, image_id)

    def stop_container(self, id: str, timeout: Seconds = 10.0) -> None:
        """Sends the container's stop signal, then SIGKILL after ``timeout`` (0: at once).

        The container is then reported as ``CANCELLED``. Stopping a stopped container succeeds.
        """
        self._native.stop_container(id, _seconds("timeout", timeout))

    def get_state(self, id: str) -> StateResult:
        """The container's state, exit code, OOM flag and times."""
        return _state(self._native.get_state(id))

    def wait_container(self, id: str) -> StateResult:
        """Blocks until the container has exited; its final state (``EXITED`` or ``CANCELLED``).

        Waits on the engine's wait endpoint (no polling); a container that has not started yet
        is waited for until it has run; a daemon restart meanwhile does not end the wait.
        Ctrl-C interrupts it.
        """
        return _state(self._native.wait_container(id))

    def list_containers(self) -> List[ContainerInfo]:
        """The containers this library manages, oldest first: what a restarted runner follows
        or cleans up."""
        return [
            ContainerInfo(name, id, _state(state), _time(created), labels)
            for name, id, state, created, labels in self._native.list_containers()
        ]

    def get_logs(self, id: str) -> LogStream:
        """The container's stdout and stderr, merged, from its start until it exits."""
        return LogStream(self._native.get_logs(id), id)

    def get_log_frames(self, id: str) -> LogFrames:
        """The container's log as ``(LogSource, bytes)`` frames, stdout and stderr apart."""
        return LogFrames(self._native.get_logs(id))

    async def get_logs_async(self, id: str) -> AsyncLogStream:
        """``get_logs`` for asyncio: ``async for line in await engine.get_logs_async(id)``.

        The library's runtime reads the log; the event loop is never blocked and no thread is
        used per stream. Raises as ``get_logs`` does (``NoSuchContainer``) once the engine has
        answered.
        """
        from . import _aio

        return await _aio.open_logs(self._native.get_logs_ready(id))

    async def wait_container_async(self, id: str) -> StateResult:
        """``wait_container`` for asyncio: awaits the exit without blocking the event loop; a
        cancelled task ends the wait."""
        from . import _aio

        return await _aio.wait(self._native.wait_ready(id))

    def attach_container(self, id: str, command: Sequence[str]) -> Attachment:
        """Runs ``command`` in the running container with a TTY; returns the connected socket."""
        return Attachment(self._native.attach_container(id, command))

    def prune(self) -> int:
        """Removes now the exited containers that this library created; returns how many."""
        return self._native.prune()


# LogStream's buffer: the core reader's default read.
_BUFFER = 64 * 1024


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
        super().__init__(_RawLogs(reader, name), buffer_size=_BUFFER)
        self._reader = reader

    def chunks(self, size: int = _BUFFER) -> Iterator[bytes]:
        """Yields the output as soon as it arrives, at most ``size`` bytes (and at most 64 KiB)
        at a time. A chunk is what has arrived, rarely more than 64 KiB; a bigger ``size`` would
        only make ``read1`` allocate a buffer of that size for every chunk (measured: 7x the
        CPU per MiB at 1 MiB)."""
        while True:
            chunk = self.read1(min(size, _BUFFER))
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        # BufferedReader.close() waits for a read in progress; close the core's reader first
        # so that a read blocked in another thread wakes up and lets go.
        self._reader.close()
        super().close()


class LogFrames:
    """A container's log as frames: iterate for ``(LogSource, bytes)`` pairs, each holding bytes
    of one stream, in the engine's order, until the container exits. ``with`` closes it;
    ``close()`` from another thread wakes a blocked iteration, which then raises
    ``InvalidState``. A broken connection raises, never ends the iteration.
    """

    def __init__(self, reader: _native.LogReader, size: int = 64 * 1024) -> None:
        self._reader = reader
        self._size = size

    def __iter__(self) -> Iterator[Tuple[LogSource, bytes]]:
        return self

    def __next__(self) -> Tuple[LogSource, bytes]:
        stream, data = self._reader.read_frame(self._size)
        if not data:
            raise StopIteration
        return LogSource(stream), data

    def __enter__(self) -> LogFrames:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()

    @property
    def closed(self) -> bool:
        return self._reader.closed


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
