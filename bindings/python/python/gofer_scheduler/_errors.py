"""The exceptions of gofer_scheduler, one per kind of the core's errors.

Defined in Python (the native module raises them by name) so that some can also derive from
the builtin a caller would catch anyway: ``ValueError``, ``ConnectionError``, ``TimeoutError``.
"""

from __future__ import annotations

from typing import Optional


class SchedulerError(Exception):
    """Base of every error of this package. ``str()`` is the message, prefixed with the kind."""

    #: The HTTP status of the engine's answer, when the engine answered with an error.
    http_status: Optional[int] = None


class NoSuchContainer(SchedulerError):
    """The ID names no container. ``str()`` starts with ``scheduler: entity not found``."""


class NoSuchImage(SchedulerError):
    """The image could not be obtained (unknown repository or tag, refused credentials,
    unreachable registry). ``str()`` starts with ``scheduler: docker image not found``."""


class AmbiguousContainerName(SchedulerError):
    """The ID is a prefix of several container IDs. ``str()`` starts with
    ``scheduler: more than one container was found for the given container name``."""


class InvalidArgument(SchedulerError, ValueError):
    """An argument was refused before the engine was asked; the message names it."""


class EngineConnectionError(SchedulerError, ConnectionError):
    """The engine could not be reached, or the connection broke during a call or a stream."""


class Timeout(SchedulerError, TimeoutError):
    """The engine did not answer within the engine's ``timeout``."""


class ContainerNotRunning(SchedulerError):
    """The operation needs a running container (attach to an exited or paused one)."""


class EngineError(SchedulerError):
    """The engine answered with an error that fits no other class."""


class InvalidState(SchedulerError):
    """The object cannot be used here: it was closed, or created before ``fork()`` by the
    parent process (create a new engine in the child)."""


class InternalError(SchedulerError):
    """A bug in gofer-scheduler. ``str()`` starts with ``scheduler: internal error``."""
