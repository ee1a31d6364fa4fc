"""gofer_scheduler: run Gofer CI tasks as Docker containers.

The Python face of the gofer-scheduler Rust library::

    from gofer_scheduler import DockerEngine

    with DockerEngine() as engine:
        engine.start_container("hello", "busybox", command=["echo", "hi"])
        with engine.get_logs("hello") as logs:
            print(logs.read())
        print(engine.get_state("hello"))
"""

from ._aio import AsyncLogStream
from ._engine import (
    Attachment,
    Bind,
    ContainerInfo,
    ContainerState,
    DockerEngine,
    LogFrames,
    LogSource,
    LogStream,
    Mount,
    PullProgress,
    RegistryAuth,
    Seconds,
    StartResult,
    StateResult,
    TLSFiles,
    Tmpfs,
    Volume,
)
from ._errors import (
    AmbiguousContainerName,
    ContainerNotRunning,
    EngineConnectionError,
    EngineError,
    InternalError,
    InvalidArgument,
    InvalidState,
    NoSuchContainer,
    NoSuchImage,
    SchedulerError,
    Timeout,
)
from ._native import __version__
from ._swarm import SwarmEngine

# Tracebacks and reprs name the public path (gofer_scheduler.NoSuchContainer), which is also
# where pickle finds the classes.
for _name in ("AsyncLogStream", "Attachment", "Bind", "ContainerInfo", "ContainerState", "DockerEngine", "LogFrames", "LogSource",
              "LogStream", "Mount", "PullProgress", "RegistryAuth", "StartResult", "StateResult", "SwarmEngine", "TLSFiles", "Tmpfs", "Volume", "AmbiguousContainerName", "ContainerNotRunning", "EngineConnectionError",
              "EngineError", "InternalError", "InvalidArgument", "InvalidState", "NoSuchContainer", "NoSuchImage",
              "SchedulerError", "Timeout"):
    globals()[_name].__module__ = __name__
del _name

__all__ = [
    "AmbiguousContainerName",
    "AsyncLogStream",
    "Attachment",
    "Bind",
    "ContainerInfo",
    "ContainerNotRunning",
    "ContainerState",
    "DockerEngine",
    "EngineConnectionError",
    "EngineError",
    "InternalError",
    "InvalidArgument",
    "InvalidState",
    "LogFrames",
    "LogSource",
    "LogStream",
    "Mount",
    "PullProgress",
    "NoSuchContainer",
    "NoSuchImage",
    "RegistryAuth",
    "SchedulerError",
    "Seconds",
    "StartResult",
    "StateResult",
    "SwarmEngine",
    "Timeout",
    "TLSFiles",
    "Tmpfs",
    "Volume",
    "__version__",
]
