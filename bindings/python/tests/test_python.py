"""What only the Python binding adds: Ctrl-C, fork, stubs, secrets, exception classes."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
from conftest import ROOT, Bed, sh

import gofer_scheduler
from gofer_scheduler import (
    AmbiguousContainerName,
    ContainerNotRunning,
    ContainerState,
    DockerEngine,
    EngineConnectionError,
    EngineError,
    InvalidArgument,
    InvalidState,
    NoSuchContainer,
    NoSuchImage,
    RegistryAuth,
    SchedulerError,
    Timeout,
)


def test_the_suite_runs_against_the_installed_wheel() -> None:
    package = Path(gofer_scheduler.__file__).resolve()
    assert ROOT / "bindings" not in package.parents, f"imported from the source tree: {package}"
    assert "site-packages" in package.parts, package


def test_every_error_is_a_scheduler_error_and_a_matching_builtin() -> None:
    for cls in (NoSuchContainer, NoSuchImage, AmbiguousContainerName, InvalidArgument, EngineConnectionError,
                Timeout, ContainerNotRunning, EngineError, InvalidState):
        assert issubclass(cls, SchedulerError), cls
    assert issubclass(InvalidArgument, ValueError)
    assert issubclass(EngineConnectionError, ConnectionError)
    assert issubclass(Timeout, TimeoutError)
    assert str(Timeout("scheduler: x")) == "scheduler: x", "one argument: not read as (errno, strerror)"


def test_container_state_values_are_the_seed_strings() -> None:
    assert [s.value for s in ContainerState] == ["UNKNOWN", "RUNNING", "PAUSED", "RESTARTING", "EXITED", "CANCELLED"]


def test_the_registry_password_never_shows(engine: DockerEngine) -> None:
    auth = RegistryAuth("gofer", "hunter2-secret")
    assert "hunter2" not in repr(auth) and "hunter2" not in str(auth)
    assert auth.password == "hunter2-secret"
    with pytest.raises(TypeError):
        engine.start_container("x", "y", registry_auth=("u", "hunter2-secret"))  # type: ignore[arg-type]


def interrupt_script(bed: Bed, name: str, blocking_call: str) -> str:
    """A script that starts a container, makes ``blocking_call`` and reports how long after the
    SIGINT its KeyboardInterrupt came."""
    return textwrap.dedent(f"""
        import sys, time
        from gofer_scheduler import DockerEngine
        engine = DockerEngine(timeout=30)
        engine.start_container({name!r}, {bed.image!r}, command=["sh", "-c", "trap '' TERM; sleep 300"])
        logs = engine.get_logs({name!r})
        print("blocking", flush=True)
        try:
            {blocking_call}
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
            sys.exit(0)
        print("not interrupted", flush=True)
        sys.exit(1)
    """)


@pytest.mark.parametrize(
    "blocking_call",
    ["logs.read()", "engine.stop_container({name!r}, timeout=60)", "engine.wait_container({name!r})"],
    ids=["log-read", "stop-wait", "exit-wait"],
)
def test_sigint_interrupts_a_blocked_call_within_half_a_second(bed: Bed, name: str, blocking_call: str) -> None:
    script = interrupt_script(bed, name, blocking_call.format(name=name))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "blocking\n"
        time.sleep(1.0)  # well inside the call; the stop waits 60 s for a container that ignores TERM
        assert child.poll() is None, "the call is blocked"
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().split()
        assert child.wait(timeout=10) == 0
        assert line[0] == "interrupted", line
        # CLOCK_MONOTONIC is system-wide: the two processes' readings compare.
        assert float(line[1]) - sent < 0.5, f"KeyboardInterrupt came {float(line[1]) - sent:.3f} s after SIGINT"
    finally:
        child.kill()
        child.wait(timeout=10)


def _in_forked_child(parent_engine: DockerEngine, parent_logs: Any, image: str, name: str, results: Any) -> None:
    outcome: Dict[str, str] = {}
    for what, call in (("engine", lambda: parent_engine.get_state(name)), ("logs", lambda: parent_logs.read())):
        started = time.monotonic()
        try:
            call()
            outcome[what] = "no error"
        except InvalidState as e:
            outcome[what] = f"InvalidState after {time.monotonic() - started:.2f}s: {e}"
        except BaseException as e:
            outcome[what] = f"{type(e).__name__}: {e}"
    with DockerEngine(timeout=30) as own:
        own.start_container(name, image, command=["sh", "-c", "echo from the child"])
        with own.get_logs(name) as logs:
            outcome["own logs"] = logs.read().decode()
        outcome["own state"] = own.get_state(name).state.value
    results.put(outcome)


def test_a_forked_child_uses_its_own_engine_and_is_refused_the_parent_s(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    parents, childs = new_name(), new_name()
    engine.start_container(parents, bed.image, command=sh("echo parent; sleep 300"))
    logs = engine.get_logs(parents)
    assert logs.readline() == b"parent\n"  # the runtime's threads are busy when the fork happens
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_in_forked_child, args=(engine, logs, bed.image, childs, results))
    child.start()
    try:
        outcome = results.get(timeout=60)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    for what in ("engine", "logs"):
        assert outcome[what].startswith("InvalidState"), outcome
        assert "fork" in outcome[what] and "create a new engine" in outcome[what], outcome
    assert outcome["own logs"] == "from the child\n"
    assert outcome["own state"] == "EXITED"
    # The parent's engine and stream are untouched by the child.
    assert engine.get_state(parents).state is ContainerState.RUNNING
    logs.close()


def test_the_stubs_agree_with_the_module(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is installed by scripts/test-python.sh")
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "gofer_scheduler"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # The stubs type-check a user's program too.
    program = tmp_path / "uses_it.py"
    program.write_text(textwrap.dedent("""
        from datetime import datetime, timedelta
        from typing import Optional
        from gofer_scheduler import Bind, ContainerState, DockerEngine, LogSource, RegistryAuth, Tmpfs, Volume

        def main(engine: DockerEngine) -> int:
            url: str = engine.start_container("t", "busybox", env={"A": "b"}, port=80,
                                              registry_auth=RegistryAuth("u", "p")).url
            engine.stop_container("t", timedelta(seconds=3))
            state, code = engine.get_state("t")
            with engine.get_logs("t") as logs:
                lines: list[bytes] = list(logs)
            with engine.attach_container("t", ["sh"]) as conn:
                conn.resize(80, 24)
                exit_code: "int | None" = conn.exit_code()
            started = engine.start_container("j", "busybox", memory=64 << 20, cpus=0.5, pids_limit=64,
                                              shm_size=8 << 20, mounts=[Bind("/src", "/w"), Volume("v", "/v"),
                                              Tmpfs("/t", size=1 << 20)], working_dir="/w", user="1000",
                                              labels={"a": "b"}, privileged=False)
            ids: str = started.container_id + started.image_id
            waited = engine.wait_container("j")
            oom: bool = waited.oom_killed
            finished: Optional[datetime] = waited.finished_at
            names = [c.name for c in engine.list_containers() if c.state.oom_killed]
            with engine.get_log_frames("j") as frames:
                for source, data in frames:
                    if source is LogSource.STDERR:
                        names.append(data.decode())
            return code if state is ContainerState.EXITED else len(url) + len(ids) + len(names) + oom
    """))
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(program)], capture_output=True, text=True, timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
