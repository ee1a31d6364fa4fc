"""The seed's operations against the real engine: start, stop, state, errors."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from typing import Callable, Dict, List, Optional

import pytest
from conftest import Bed, connect_published, docker, run, sh, wait_exit

from gofer_scheduler import (
    AmbiguousContainerName,
    ContainerState,
    DockerEngine,
    EngineConnectionError,
    InvalidArgument,
    InvalidState,
    NoSuchContainer,
    SchedulerError,
    StateResult,
)


def test_start_then_logs_then_state_reports_exited_zero(engine: DockerEngine, bed: Bed, name: str) -> None:
    state, logs = run(engine, name, bed.image, command=sh("echo hello from gofer"))
    assert logs == b"hello from gofer\n"
    assert state == StateResult(ContainerState.EXITED, 0)
    assert state.state is ContainerState.EXITED and state.exit_code == 0


def test_exit_code_three_is_reported_as_three(engine: DockerEngine, bed: Bed, name: str) -> None:
    state, _ = run(engine, name, bed.image, command=sh("exit 3"))
    assert state == (ContainerState.EXITED, 3)


def test_starting_the_same_id_twice_replaces_the_first_container(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("sleep 300"))
    first = docker(bed, "inspect", "-f", "{{.Id}}", name)
    state, logs = run(engine, name, bed.image, command=sh("echo second"))
    assert docker(bed, "inspect", "-f", "{{.Id}}", name) != first
    assert (state.state, logs) == (ContainerState.EXITED, b"second\n")


def test_env_vars_reach_the_container(engine: DockerEngine, bed: Bed, name: str) -> None:
    env = {"GOFER_A": "one two", "GOFER_B": "x=y;'\"$", "GOFER_EMPTY": ""}
    _, logs = run(engine, name, bed.image, env=env, command=sh('echo "$GOFER_A|$GOFER_B|$GOFER_EMPTY|"'))
    assert logs == b"one two|x=y;'\"$||\n"


@pytest.mark.parametrize(
    ("entrypoint", "command", "expected"),
    [
        (None, None, b"image-entrypoint image-cmd\n"),
        (None, ["mine"], b"image-entrypoint mine\n"),
        ([], ["/bin/echo", "no-entrypoint"], b"no-entrypoint\n"),
        (["/bin/echo", "own"], None, b"own\n"),  # an entrypoint of ours drops the image's CMD
        (None, [], b"image-entrypoint image-cmd\n"),  # [] is sent; the engine keeps the image's CMD
    ],
    ids=["both-absent", "command-only", "empty-entrypoint", "own-entrypoint", "empty-command"],
)
def test_entrypoint_and_command_absent_keep_the_image_s_and_empty_is_not_absent(
    engine: DockerEngine,
    bed: Bed,
    name: str,
    entrypoint: Optional[List[str]],
    command: Optional[List[str]],
    expected: bytes,
) -> None:
    _, logs = run(engine, name, bed.entrypoint_image, entrypoint=entrypoint, command=command)
    assert logs == expected


def test_port_publishes_a_local_url_that_reaches_the_container(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    url = engine.start_container(
        new_name(), bed.image, port=8080, command=sh("while true; do echo pong | nc -l -p 8080; done")
    ).url
    host, _, port = url.partition(":")
    assert host == "127.0.0.1" and int(port) > 0, url

    deadline = time.monotonic() + 20
    answer = b""
    while b"pong" not in answer:
        # nc may not listen yet, and docker-proxy accepts before the container does: retry.
        assert time.monotonic() < deadline, f"no answer from the container through {url}"
        try:
            with connect_published(host, int(port)) as conn:
                conn.sendall(b"ping\n")
                answer = conn.makefile("rb").read()
        except OSError:
            pass
        time.sleep(0.1)
    assert answer == b"pong\n"
    assert engine.start_container(new_name(), bed.image, command=sh("true")).url == ""


def test_stop_with_a_grace_period_lets_the_container_exit_cleanly(engine: DockerEngine, bed: Bed, name: str) -> None:
    script = "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done"
    engine.start_container(name, bed.image, command=sh(script))
    with engine.get_logs(name) as logs:
        assert logs.readline() == b"ready\n"
        started = time.monotonic()
        engine.stop_container(name, timeout=timedelta(seconds=20))
        assert time.monotonic() - started < 15, "the container honoured TERM: no wait for KILL"
        assert logs.read() == b"got TERM\n"
    assert engine.get_state(name) == (ContainerState.CANCELLED, 7)


def test_stop_with_timeout_zero_kills_and_reports_cancelled_with_the_real_exit_code(
    engine: DockerEngine, bed: Bed, name: str
) -> None:
    engine.start_container(name, bed.image, command=sh("sleep 300"))
    engine.stop_container(name, timeout=0)
    assert engine.get_state(name) == (ContainerState.CANCELLED, 137)
    engine.stop_container(name, 0)  # stopping a stopped container succeeds


def test_state_of_a_running_container_is_running_with_exit_code_zero(
    engine: DockerEngine, bed: Bed, name: str
) -> None:
    engine.start_container(name, bed.image, command=sh("sleep 300"))
    assert engine.get_state(name) == (ContainerState.RUNNING, 0)
    docker(bed, "pause", name)
    assert engine.get_state(name).state is ContainerState.PAUSED


def test_unknown_id_is_no_such_container_for_every_operation(engine: DockerEngine, new_name: Callable[[], str]) -> None:
    id = new_name()
    calls: Dict[str, Callable[[], object]] = {
        "stop": lambda: engine.stop_container(id, 0),
        "state": lambda: engine.get_state(id),
        "logs": lambda: engine.get_logs(id),  # fails at the call, not at the first read
        "attach": lambda: engine.attach_container(id, ["sh"]),
    }
    for what, call in calls.items():
        with pytest.raises(NoSuchContainer) as caught:
            call()
        assert str(caught.value).startswith("scheduler: entity not found"), what
        assert caught.value.http_status == 404, what


def test_an_id_prefix_shared_by_several_containers_is_ambiguous(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    # 17 containers: two of them share a first hex digit. Created, never started: cheap.
    ids = [docker(bed, "create", "--name", new_name(), bed.image, "true") for _ in range(17)]
    firsts = [id[0] for id in ids]
    prefix = next(c for c in firsts if firsts.count(c) >= 2)
    expected = "scheduler: more than one container was found for the given container name"
    for call in (lambda: engine.get_state(prefix), lambda: engine.stop_container(prefix, 0), lambda: engine.get_logs(prefix)):
        with pytest.raises(AmbiguousContainerName) as caught:
            call()
        assert str(caught.value).startswith(expected)


def test_invalid_arguments_name_the_field_and_are_value_errors(engine: DockerEngine, bed: Bed) -> None:
    cases: Dict[str, Callable[[], object]] = {
        "id": lambda: engine.start_container("a/b", bed.image),
        "image_name": lambda: engine.start_container("gofer-test-py-x", ""),
        "port": lambda: engine.start_container("gofer-test-py-x", bed.image, port=70000),
        "env": lambda: engine.start_container("gofer-test-py-x", bed.image, env={"A=B": "c"}),
        "timeout": lambda: engine.stop_container("gofer-test-py-x", -1),
    }
    for field, call in cases.items():
        with pytest.raises(InvalidArgument) as caught:
            call()
        assert isinstance(caught.value, ValueError)
        assert f": {field}" in str(caught.value), str(caught.value)
    with pytest.raises(InvalidArgument):
        engine.start_container("gofer-test-py-x", bed.image, port=0)
    with pytest.raises(TypeError):
        engine.stop_container("gofer-test-py-x", "10")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        # A str is a Sequence[str] to a type checker, but never a command: refused.
        engine.start_container("gofer-test-py-x", bed.image, command="echo hi")


def test_an_engine_that_does_not_answer_is_a_connection_error_that_says_what_to_do() -> None:
    with pytest.raises(EngineConnectionError) as caught:
        DockerEngine(host="unix:///nonexistent/docker.sock", timeout=5)
    assert isinstance(caught.value, ConnectionError) and isinstance(caught.value, SchedulerError)
    assert "Start dockerd" in str(caught.value)


def test_a_closed_engine_refuses_calls(bed: Bed) -> None:
    with DockerEngine(timeout=timedelta(seconds=30)) as engine:
        assert not engine.closed
    assert engine.closed
    with pytest.raises(InvalidState, match="closed"):
        engine.get_state("anything")


def test_prune_removes_exited_containers_created_by_the_library(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    ours, foreign = new_name(), new_name()
    engine.start_container(ours, bed.image, command=sh("true"))
    wait_exit(engine, ours)
    docker(bed, "run", "--name", foreign, bed.image, "true")
    assert engine.prune() >= 1
    assert docker(bed, "inspect", ours, check=False) == "[]", "our exited container is pruned"
    assert docker(bed, "inspect", "-f", "{{.Name}}", foreign) == f"/{foreign}", "not ours: kept"
