"""A remote engine over mutual TLS: the private TLS engine of the test bed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Iterator

import pytest
from conftest import ROOT, sh

from gofer_scheduler import ContainerState, DockerEngine, EngineConnectionError, InvalidArgument, TLSFiles


@pytest.fixture(scope="module")
def tls_engine() -> Iterator[Dict[str, str]]:
    out = subprocess.run(
        ["timeout", "180", str(ROOT / "scripts/netns-engine.sh"), "tls", "start", "--tls"],
        capture_output=True, text=True, check=True,
    )
    yield dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def client(certs: str) -> TLSFiles:
    d = Path(certs) / "client"
    return TLSFiles(str(d / "ca.pem"), str(d / "cert.pem"), str(d / "key.pem"))


def test_every_operation_works_over_tls(tls_engine: Dict[str, str]) -> None:
    name = f"gofer-test-py-tls-{os.getpid()}"
    try:
        with DockerEngine(host=tls_engine["TCP"], tls=client(tls_engine["CERTS"]), timeout=30) as engine:
            started = engine.start_container(name, "gofer-test/busybox:latest", command=sh("echo py over tls; exit 2"))
            assert len(started.container_id) == 64
            assert engine.wait_container(name) == (ContainerState.EXITED, 2)
            with engine.get_logs(name) as logs:
                assert logs.read() == b"py over tls\n"
            assert name in [c.name for c in engine.list_containers()]
    finally:
        subprocess.run(["docker", "-H", tls_engine["HOST"], "rm", "-fv", name], capture_output=True)


def test_untrusted_engines_and_missing_files_are_clear_errors(tls_engine: Dict[str, str]) -> None:
    wrong = client(tls_engine["CERTS"])
    wrong.ca = str(Path(tls_engine["CERTS"]) / "wrong-ca" / "ca.pem")
    with pytest.raises(EngineConnectionError, match="not trusted"):
        DockerEngine(host=tls_engine["TCP"], tls=wrong)
    with pytest.raises(InvalidArgument, match="tls.ca"):
        DockerEngine(host=tls_engine["TCP"], tls=TLSFiles("/nonexistent/ca.pem"))


def test_the_engine_is_found_as_the_docker_cli_finds_it(tls_engine: Dict[str, str]) -> None:
    """DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, in a process of its own."""
    env = dict(os.environ, DOCKER_HOST=tls_engine["TCP"], DOCKER_TLS_VERIFY="1",
               DOCKER_CERT_PATH=str(Path(tls_engine["CERTS"]) / "client"))
    program = textwrap.dedent("""
        from gofer_scheduler import DockerEngine, NoSuchContainer
        with DockerEngine(timeout=30) as engine:
            try:
                engine.get_state("gofer-test-py-no-such-container")
            except NoSuchContainer:
                print("answered over tls")
    """)
    out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout == "answered over tls\n", out.stderr
