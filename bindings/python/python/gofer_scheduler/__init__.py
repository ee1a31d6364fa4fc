"""gofer_scheduler: run Gofer CI tasks as Docker containers.

The Python face of the gofer-scheduler Rust library::

    from gofer_scheduler import DockerEngine

    with DockerEngine() as engine:
        engine.start_container("hello", "busybox", command=["echo", "hi"])
        with engine.get_logs("hello") as logs:
            print(logs.read())
        print(engine.get_state("hello"))
"""

from ._engine import (
    Attachment,
    ContainerState,
    DockerEngine,
    LogStream,
    RegistryAuth,
    Seconds,
    StartResult,
    StateResult,
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

# Tracebacks and reprs name the public path (gofer_scheduler.NoSuchContainer), which is also
# where pickle finds the classes.
for _name in ("Attachment", "ContainerState", "DockerEngine", "LogStream", "RegistryAuth", "StartResult",
              "StateResult", "AmbiguousContainerName", "ContainerNotRunning", "EngineConnectionError",
              "EngineError", "InternalError", "InvalidArgument", "InvalidState", "NoSuchContainer", "NoSuchImage",
              "SchedulerError", "Timeout"):
    globals()[_name].__module__ = __name__
del _name

__all__ = [
    "AmbiguousContainerName",
    "Attachment",
    "ContainerNotRunning",
    "ContainerState",
    "DockerEngine",
    "EngineConnectionError",
    "EngineError",
    "InternalError",
    "InvalidArgument",
    "InvalidState",
    "LogStream",
    "NoSuchContainer",
    "NoSuchImage",
    "RegistryAuth",
    "SchedulerError",
    "Seconds",
    "StartResult",
    "StateResult",
    "Timeout",
    "__version__",
]
