"""The task contract a CI runner needs: wait, OOM, limits, mounts, settings, typed logs, list."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List, Tuple

import pytest
from conftest import Bed, docker, sh

from gofer_scheduler import (
    Bind,
    ContainerState,
    DockerEngine,
    InvalidArgument,
    InvalidState,
    LogSource,
    NoSuchContainer,
    StateResult,
    Tmpfs,
    Volume,
)

MIB = 1024 * 1024


def test_a_job_past_its_memory_limit_is_oom_killed_and_a_kill_9_is_not(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    hog, killed = new_name(), new_name()
    engine.start_container(hog, bed.image, command=sh("exec dd if=/dev/zero of=/dev/null bs=64M count=1"), memory=32 * MIB)
    engine.start_container(killed, bed.image, command=sh("sh -c 'kill -9 $$'; exit $?"))
    waited = engine.wait_container(hog)
    assert waited == (ContainerState.EXITED, 137) and waited.oom_killed
    assert engine.get_state(hog).oom_killed
    listed = {c.name: c for c in engine.list_containers()}
    assert listed[hog].state.oom_killed and listed[hog].state.exit_code == 137
    other = engine.wait_container(killed)
    assert other == (ContainerState.EXITED, 137) and not other.oom_killed


def test_waits_before_and_after_the_exit_give_the_exit_code_and_times(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("sleep 1; exit 5"))
    before = engine.wait_container(name)
    returned = datetime.now(timezone.utc)
    assert before == StateResult(ContainerState.EXITED, 5)
    assert before.started_at is not None and before.finished_at is not None
    assert before.started_at < before.finished_at <= returned
    assert (returned - before.finished_at).total_seconds() < 0.5, "the wait answers at the exit, it does not poll"
    state, exit_code = engine.wait_container(name)  # unpacks as the pair it always was
    assert (state, exit_code) == (ContainerState.EXITED, 5)
    assert engine.get_state(name).finished_at == before.finished_at


def test_a_stop_during_a_wait_gives_cancelled_and_an_unknown_id_fails(engine: DockerEngine, bed: Bed, name: str) -> None:
    engine.start_container(name, bed.image, command=sh("sleep 300"))
    results: List[StateResult] = []
    waiter = threading.Thread(target=lambda: results.append(engine.wait_container(name)))
    waiter.start()
    time.sleep(0.3)
    engine.stop_container(name, timeout=0)
    waiter.join(30)
    assert results == [StateResult(ContainerState.CANCELLED, 137)]
    with pytest.raises(NoSuchContainer):
        engine.wait_container("gofer-test-py-no-such-container")


def test_limits_mounts_and_settings_reach_the_container(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str], tmp_path: Path
) -> None:
    (tmp_path / "input").write_text("from the host\n")
    tmp_path.chmod(0o777)
    script = (
        "cat /rw/input; echo written > /rw/output; (echo x > /ro/x) 2>/dev/null || echo read-only; "
        "pwd; id -u; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | head -1; "
        "df -k /dev/shm | tail -1 | awk '{print $2}'; df -k /t | tail -1 | awk '{print $2}'"
    )
    name = new_name()
    started = engine.start_container(
        name,
        bed.image,
        command=sh(script),
        memory=64 * MIB,
        cpus=0.5,
        pids_limit=32,
        shm_size=8 * MIB,
        mounts=[Bind(str(tmp_path), "/rw"), Bind(str(tmp_path), "/ro", read_only=True), Tmpfs("/t", size=4 * MIB)],
        working_dir="/tmp",
        user="1000",
        labels={"ci.gofer.job": "py"},
    )
    assert len(started.container_id) == 64 and started.image_id.startswith("sha256:")
    assert started == ("",)
    assert engine.wait_container(name) == (ContainerState.EXITED, 0)
    with engine.get_logs(name) as logs:
        assert logs.read() == b"from the host\nread-only\n/tmp\n1000\n32\n8192\n4096\n"
    assert (tmp_path / "output").read_text() == "written\n"
    info = next(c for c in engine.list_containers() if c.name == name)
    assert info.labels["ci.gofer.job"] == "py" and info.labels["dev.gofer.scheduler.managed"] == "true"
    assert info.id == started.container_id and info.created_at is not None


def test_a_named_volume_keeps_its_files(engine: DockerEngine, bed: Bed, new_name: Callable[[], str]) -> None:
    volume = f"gofer-test-py-volume-{os.getpid()}"
    try:
        first, second = new_name(), new_name()
        engine.start_container(first, bed.image, command=sh("echo kept > /data/f"), mounts=[Volume(volume, "/data")])
        engine.wait_container(first)
        engine.start_container(second, bed.image, command=sh("cat /data/f"), mounts=[Volume(volume, "/data", read_only=True)])
        engine.wait_container(second)
        with engine.get_logs(second) as logs:
            assert logs.read() == b"kept\n"
    finally:
        docker(bed, "rm", "-f", first, second, check=False)
        docker(bed, "volume", "rm", "-f", volume, check=False)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"memory": MIB}, "resources.memory_bytes"),
        ({"cpus": 0.0}, "resources.cpus"),
        ({"pids_limit": -1}, "resources.pids_limit"),
        ({"mounts": [Tmpfs("relative")]}, "mounts[0].target"),
        ({"labels": {"dev.gofer.scheduler.managed": "no"}}, "labels"),
        ({"mounts": [Bind("/nonexistent/gofer", "/x")]}, "/nonexistent/gofer"),
    ],
)
def test_bad_limits_and_mounts_are_refused_naming_the_field(
    engine: DockerEngine, bed: Bed, name: str, kwargs: dict, field: str  # type: ignore[type-arg]
) -> None:
    with pytest.raises(InvalidArgument, match=field.replace("[", r"\[").replace("]", r"\]")):
        engine.start_container(name, bed.image, command=sh("true"), **kwargs)


def test_log_frames_tag_stdout_and_stderr_in_order(engine: DockerEngine, bed: Bed, name: str) -> None:
    script = "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2"
    engine.start_container(name, bed.image, command=sh(script))
    frames: List[Tuple[LogSource, bytes]] = []
    with engine.get_log_frames(name) as log:
        for source, data in log:
            if frames and frames[-1][0] is source:
                frames[-1] = (source, frames[-1][1] + data)
            else:
                frames.append((source, data))
    assert frames == [(LogSource.STDOUT, b"out1\n"), (LogSource.STDERR, b"err1\n"), (LogSource.STDOUT, b"out2\n")]
    closed = engine.get_log_frames(name)
    closed.close()
    with pytest.raises(InvalidState):
        next(closed)
