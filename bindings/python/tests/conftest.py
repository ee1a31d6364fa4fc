"""Shared fixtures: the test bed's facts, an engine, container names that are always removed.

The test bed (Docker engine, local busybox image, private registry) is brought up by
``scripts/testbed.sh up``, which writes ``target/testbed/env``. Every wait here is bounded, and
every container is named ``gofer-test-py-...`` and removed by ``docker rm -f`` when its test ends,
also when it fails.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from gofer_scheduler import ContainerState, DockerEngine, StateResult

ROOT = Path(__file__).resolve().parents[3]
PREFIX = "gofer-test-py-"
#: The longest any single step may take: a wedged daemon fails the test instead of hanging.
STEP = 60.0


class Bed:
    def __init__(self, values: Dict[str, str]) -> None:
        self.image = values["GOFER_TEST_IMAGE"]
        self.entrypoint_image = values["GOFER_TEST_ENTRYPOINT_IMAGE"]
        self.registry = values["GOFER_TEST_REGISTRY"]
        self.user = values["GOFER_TEST_REGISTRY_USER"]
        self.password = values["GOFER_TEST_REGISTRY_PASS"]
        self.private_image = values["GOFER_TEST_PRIVATE_IMAGE"]
        self.multilayer_image = values["GOFER_TEST_MULTILAYER_IMAGE"]
        self.docker_config = values.get("DOCKER_CONFIG", str(ROOT / "target/testbed/docker-config"))


@pytest.fixture(scope="session")
def bed() -> Bed:
    path = Path(os.environ.get("GOFER_TESTBED_ENV", ROOT / "target/testbed/env"))
    if not path.exists():
        pytest.fail(f"{path} is missing: run `scripts/testbed.sh up` first")
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    values.update({k: v for k, v in os.environ.items() if k.startswith("GOFER_TEST_")})
    return Bed(values)


def docker(bed: Bed, *args: str, check: bool = True) -> str:
    """Runs the docker CLI (bounded) with the test bed's client config."""
    env = dict(os.environ, DOCKER_CONFIG=bed.docker_config)
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, env=env)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {args}: {out.stderr}")
    return out.stdout.strip()


def connect_published(host: str, port: int) -> socket.socket:
    """Connects to a port the engine published on its loopback. An engine of the version matrix
    runs in a network namespace of its own (``GOFER_TEST_ENGINE_NETNS``, set by
    ``scripts/test-engine.sh``), where that loopback is: the socket is made there, by a thread
    that joins the namespace (``setns``), and works from any thread afterwards."""
    netns = os.environ.get("GOFER_TEST_ENGINE_NETNS")
    if not netns:
        return socket.create_connection((host, port), timeout=2)
    made: List[object] = []

    def in_namespace() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            with open(netns, "rb") as ns:
                if libc.setns(ns.fileno(), 0x40000000) != 0:  # CLONE_NEWNET
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            made.append(socket.create_connection((host, port), timeout=2))
        except OSError as e:
            made.append(e)

    thread = threading.Thread(target=in_namespace)
    thread.start()
    thread.join()
    if isinstance(made[0], OSError):
        raise made[0]
    assert isinstance(made[0], socket.socket)
    return made[0]


def remove_container(name: str) -> None:
    try:
        subprocess.run(["docker", "rm", "-fv", name], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        pass


@pytest.fixture(scope="session")
def engine() -> Iterator[DockerEngine]:
    with DockerEngine(timeout=30) as engine:
        yield engine


_sequence = itertools.count()


@pytest.fixture
def new_name(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes container names unique to this run; removes them all when the test ends."""
    made: List[str] = []
    test = request.node.name.replace("test_", "", 1)[:30].strip("_-").replace("_", "-")

    def make() -> str:
        name = f"{PREFIX}{test}-{os.getpid()}-{next(_sequence)}"
        made.append(name)
        return name

    yield make
    for name in made:
        remove_container(name)


@pytest.fixture
def name(new_name: Callable[[], str]) -> str:
    return new_name()


def wait_exit(engine: DockerEngine, id: str) -> StateResult:
    deadline = time.monotonic() + STEP
    while True:
        state = engine.get_state(id)
        if state.state in (ContainerState.EXITED, ContainerState.CANCELLED):
            return state
        assert time.monotonic() < deadline, f"{id} did not exit within {STEP} s"
        time.sleep(0.05)


def sh(script: str) -> List[str]:
    return ["sh", "-c", script]


def run(engine: DockerEngine, id: str, image: str, **start: object) -> Tuple[StateResult, bytes]:
    """Starts a container, waits for its exit and returns ``(state, logs)``."""
    engine.start_container(id, image, **start)  # type: ignore[arg-type]
    state = wait_exit(engine, id)
    with engine.get_logs(id) as logs:
        return state, logs.read()
