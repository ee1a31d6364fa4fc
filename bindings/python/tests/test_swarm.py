"""The swarm engine on the test swarm (``scripts/swarm.sh up``): a task's exit code, logs and
frames, the list, a stop with its grace period, an attach through the node's engine, and the
error kinds. Skipped when the swarm is not up, unless ``GOFER_SWARM_REQUIRED=1``
(``scripts/test-swarm.sh``). Services are named ``gofer-test-py-swarm-...`` and removed when their
test ends, also when it fails."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import pytest

from gofer_scheduler import (
    ContainerState,
    DockerEngine,
    EngineError,
    InvalidArgument,
    LogSource,
    NoSuchContainer,
    NoSuchImage,
    SwarmEngine,
)

from conftest import Bed

ROOT = Path(__file__).resolve().parents[3]
SWARM_ENV = ROOT / "target/engines/swarm.env"


def _swarm_env() -> Dict[str, str]:
    if not SWARM_ENV.exists():
        if os.environ.get("GOFER_SWARM_REQUIRED") == "1":
            pytest.fail(f"{SWARM_ENV} is missing: run `scripts/swarm.sh up` first")
        pytest.skip("the test swarm is not up (scripts/swarm.sh up)")
    lines = SWARM_ENV.read_text().splitlines()
    return {k: v.strip('"') for k, v in (line.split("=", 1) for line in lines if "=" in line)}


@pytest.fixture(scope="module")
def swarm_env() -> Dict[str, str]:
    return _swarm_env()


def _nodes(env: Dict[str, str]) -> Dict[str, str]:
    return dict(pair.split("=", 1) for pair in env["GOFER_SWARM_NODES"].split(","))


@pytest.fixture(scope="module")
def swarm(swarm_env: Dict[str, str]) -> Iterator[SwarmEngine]:
    with SwarmEngine(host=swarm_env["GOFER_SWARM_MANAGER"], nodes=_nodes(swarm_env), timeout=20) as engine:
        yield engine


_sequence = itertools.count()


@pytest.fixture
def service(swarm_env: Dict[str, str]) -> Iterator[Callable[[], str]]:
    made: List[str] = []

    def new() -> str:
        made.append(f"gofer-test-py-swarm-{os.getpid()}-{next(_sequence)}")
        return made[-1]

    yield new
    for name in made:
        subprocess.run(["docker", "-H", swarm_env["GOFER_SWARM_MANAGER"], "service", "rm", name], capture_output=True, timeout=60)


def test_a_swarm_engine_is_a_docker_engine_s_twin_of_type_swarm(swarm: SwarmEngine) -> None:
    assert isinstance(swarm, DockerEngine)
    assert swarm._native.engine_type == "swarm"


def test_a_task_runs_with_its_exit_code_logs_frames_and_ids(swarm: SwarmEngine, bed: Bed, service: Callable[[], str]) -> None:
    name = service()
    started = swarm.start_container(name, bed.image, command=["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert started.container_id and started.image_id.startswith("sha256:"), started
    state = swarm.wait_container(name)
    assert (state.state, state.exit_code) == (ContainerState.EXITED, 3)
    assert state.finished_at is not None
    with swarm.get_logs(name) as logs:
        assert sorted(logs.read().splitlines()) == [b"err", b"out"]
    with swarm.get_log_frames(name) as frames:
        assert set(frames) == {(LogSource.STDOUT, b"out\n"), (LogSource.STDERR, b"err\n")}
    listed = {c.name: c for c in swarm.list_containers()}
    assert listed[name].id == started.container_id and listed[name].state.state == ContainerState.EXITED


def test_logs_follow_a_running_task_to_its_end(swarm: SwarmEngine, bed: Bed, service: Callable[[], str]) -> None:
    name = service()
    swarm.start_container(name, bed.image, command=["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"])
    with swarm.get_logs(name) as logs:
        assert [line for line in logs] == [b"line 1\n", b"line 2\n", b"line 3\n"]
    assert swarm.get_state(name).state == ContainerState.EXITED


def test_stop_honours_the_grace_period_and_reports_cancelled(swarm: SwarmEngine, bed: Bed, service: Callable[[], str]) -> None:
    name = service()
    swarm.start_container(name, bed.image, command=["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"])
    asked = time.monotonic()
    swarm.stop_container(name, timeout=0.5)
    assert 0.5 <= time.monotonic() - asked < 5
    state = swarm.get_state(name)
    assert (state.state, state.exit_code) == (ContainerState.CANCELLED, 137)


def test_attach_runs_through_the_node_s_engine(swarm: SwarmEngine, swarm_env: Dict[str, str], bed: Bed, service: Callable[[], str]) -> None:
    name = service()
    swarm.start_container(name, bed.image, command=["sh", "-c", "echo inside > /tmp/mark; sleep 60"])
    with swarm.attach_container(name, ["cat", "/tmp/mark"]) as conn:
        conn.settimeout(20)
        out = b""
        while chunk := conn.recv(4096):
            out += chunk
    assert b"inside" in out
    with SwarmEngine(host=swarm_env["GOFER_SWARM_MANAGER"], timeout=20) as without_nodes:
        with pytest.raises(InvalidArgument, match="nodes"):
            without_nodes.attach_container(name, ["true"])


def test_errors_have_a_single_engine_s_kinds(swarm: SwarmEngine, swarm_env: Dict[str, str], service: Callable[[], str]) -> None:
    with pytest.raises(NoSuchContainer):
        swarm.get_state("gofer-test-py-no-such-service")
    with pytest.raises(NoSuchImage, match="No such image"):
        swarm.start_container(service(), "gofer-test/none:latest")
    worker = next(h for h in _nodes(swarm_env).values() if h != swarm_env["GOFER_SWARM_MANAGER"])
    with pytest.raises(EngineError, match="not a manager"):
        SwarmEngine(host=worker, timeout=20)
    with pytest.raises(InvalidArgument, match="nodes"):
        SwarmEngine(host=swarm_env["GOFER_SWARM_MANAGER"], nodes={"n": "ssh://x"})
