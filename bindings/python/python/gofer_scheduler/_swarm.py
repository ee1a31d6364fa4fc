"""The Docker Swarm engine: every task a replicated-job service of one task that runs once."""

from __future__ import annotations

from typing import Mapping, Optional

from ._engine import DockerEngine, Seconds, TLSFiles, _connect


class SwarmEngine(DockerEngine):
    """A Docker Swarm, through one of its managers: the same calls as ``DockerEngine``.

    Every task runs as a replicated-job service named after its ID, placed by the swarm on one
    of its nodes. ``attach_container`` and ``stop_container`` go to the engine of the node that
    runs the task (the swarm proxies neither exec nor signals): ``nodes`` maps a node (its ID,
    hostname or address, as ``docker node inspect`` shows them) to its engine's address; without
    it they raise ``InvalidArgument``. What differs from a single engine is in
    docs/contract.md, "Swarm".

    :param host: the manager's address (``unix://...``, ``tcp://...``, ``https://...``), instead
        of ``DOCKER_HOST``. An engine in no swarm, or a worker, raises ``EngineError``.
    :param nodes: node → engine address, e.g. ``{"10.0.0.2": "tcp://10.0.0.2:2376"}``; reached
        with ``tls`` too.
    :param timeout: longest wait for one answer of the manager (default 60 s).
    :param prune: periodically remove the services of this library whose task has ended (never
        another service), every ``prune_interval`` (default 15 minutes).
    """

    def __init__(
        self,
        *,
        host: Optional[str] = None,
        nodes: Optional[Mapping[str, str]] = None,
        prune: bool = False,
        prune_interval: Optional[Seconds] = None,
        timeout: Optional[Seconds] = None,
        tls: Optional[TLSFiles] = None,
    ) -> None:
        self._native = _connect("swarm", prune, prune_interval, timeout, host, tls, nodes)

    def __enter__(self) -> SwarmEngine:
        return self
