"""What Gofer's own server needs of stop_container and of an empty RegistryAuth."""

from __future__ import annotations

import threading
import time
from typing import Callable, List

import pytest
from conftest import Bed, run, sh, wait_exit

from gofer_scheduler import ContainerState, DockerEngine, InvalidArgument, RegistryAuth, StateResult


def wait_ready(engine: DockerEngine, id: str) -> None:
    """Waits for the first log line, ``ready``: the container's signal trap is set."""
    with engine.get_logs(id) as logs:
        assert logs.readline() == b"ready\n"


def test_an_empty_registry_auth_means_no_credentials(engine: DockerEngine, bed: Bed, new_name: Callable[[], str]) -> None:
    state, logs = run(engine, new_name(), bed.image, registry_auth=RegistryAuth("", ""), command=sh("echo local"))
    assert (state.state, logs) == (ContainerState.EXITED, b"local\n")
    for auth, field in [(RegistryAuth("", "secret"), "registry_auth.user"), (RegistryAuth("someone", ""), "registry_auth.pass")]:
        with pytest.raises(InvalidArgument, match=field):
            engine.start_container(new_name(), bed.image, registry_auth=auth, command=sh("true"))


def test_a_state_poller_sees_running_then_cancelled_while_a_stop_is_in_flight(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    for round in range(20):
        id = new_name()
        engine.start_container(id, bed.image, command=sh("trap 'exit 143' TERM; echo ready; while true; do sleep 0.05; done"))
        wait_ready(engine, id)
        seen: List[ContainerState] = []
        # The stop is asked once the poller has its first sample: a stop asked before it makes
        # that sample CANCELLED already, as the contract says (the race that made this flaky).
        sampled = threading.Event()

        def poll() -> None:
            deadline = time.monotonic() + 60
            try:
                while time.monotonic() < deadline:
                    state = engine.get_state(id).state
                    if not seen or seen[-1] is not state:
                        seen.append(state)
                    sampled.set()
                    if state in (ContainerState.EXITED, ContainerState.CANCELLED):
                        return
                    time.sleep(0.01)
            finally:
                sampled.set()

        poller = threading.Thread(target=poll)
        poller.start()
        assert sampled.wait(60), "the poller sampled"
        engine.stop_container(id, timeout=10)
        poller.join(60)
        assert seen == [ContainerState.RUNNING, ContainerState.CANCELLED], f"round {round}"


def test_a_sub_second_grace_period_is_honoured_as_given(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("trap '' TERM; echo ready; while true; do sleep 0.05; done"))
    wait_ready(engine, name)
    began = time.monotonic()
    engine.stop_container(name, timeout=0.5)
    took = time.monotonic() - began
    # Tells 500 ms from no grace and from a grace rounded up to a second, with room for a loaded
    # 2-core machine's round trips around the engine's wait.
    assert 0.45 <= took < 0.95, f"a process that ignores TERM is killed after 0.5 s; the stop took {took:.3f} s"
    assert wait_exit(engine, name) == StateResult(ContainerState.CANCELLED, 137)


def test_an_exit_within_a_sub_second_grace_period_keeps_its_own_code(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("trap 'exit 5' TERM; echo ready; while true; do sleep 0.05; done"))
    wait_ready(engine, name)
    engine.stop_container(name, timeout=0.5)
    assert wait_exit(engine, name) == StateResult(ContainerState.CANCELLED, 5)
