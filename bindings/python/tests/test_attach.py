"""attach_container: a real socket to a process with a TTY."""

from __future__ import annotations

import select
import socket
import time

import pytest
from conftest import Bed, run, sh

from gofer_scheduler import Attachment, ContainerNotRunning, DockerEngine, InvalidState


@pytest.fixture
def sleeper(engine: DockerEngine, bed: Bed, name: str) -> str:
    engine.start_container(name, bed.image, command=sh("sleep 300"))
    return name


def read_until(conn: socket.socket, want: bytes) -> bytes:
    """Reads until ``want`` was seen (20 s at most); returns everything read."""
    conn.settimeout(20)
    seen = b""
    while want not in seen:
        chunk = conn.recv(4096)
        assert chunk, f"end of stream before {want!r}; got {seen!r}"
        seen += chunk
    return seen


def read_to_end(conn: socket.socket) -> bytes:
    conn.settimeout(20)
    with conn.makefile("rb") as f:
        return f.read()


def test_attach_runs_cat_and_echoes_a_line_back(engine: DockerEngine, sleeper: str) -> None:
    with engine.attach_container(sleeper, ["cat"]) as conn:
        assert isinstance(conn, socket.socket)
        conn.sendall(b"hello gofer\n")
        # The TTY echoes the input, then cat writes it back: the line appears twice.
        assert read_until(conn, b"hello gofer\r\nhello gofer\r\n").startswith(b"hello gofer")


def test_attach_shows_a_shell_prompt_that_has_no_trailing_newline(engine: DockerEngine, sleeper: str) -> None:
    with engine.attach_container(sleeper, ["sh"]) as conn:
        seen = read_until(conn, b"# ")
        # busybox prints a banner first and may follow the prompt with a cursor query.
        assert seen.rsplit(b"\n", 1)[-1].startswith(b"/ # "), seen


def test_attach_sends_commands_to_a_shell_and_ends_when_it_exits(engine: DockerEngine, sleeper: str) -> None:
    with engine.attach_container(sleeper, ["sh"]) as conn:
        read_until(conn, b"# ")
        conn.sendall(b"echo $((6*7)); exit 4\n")
        assert b"42\r\n" in read_to_end(conn)
        deadline = time.monotonic() + 20
        while (code := conn.exit_code()) is None:
            assert time.monotonic() < deadline, "no exit code within 20 s"
            time.sleep(0.05)
        assert code == 4


def test_attach_ends_when_the_process_exits(engine: DockerEngine, sleeper: str) -> None:
    with engine.attach_container(sleeper, ["sh", "-c", "echo done"]) as conn:
        assert read_to_end(conn) == b"done\r\n"


def test_attach_is_usable_with_select(engine: DockerEngine, sleeper: str) -> None:
    with engine.attach_container(sleeper, ["cat"]) as conn:
        assert select.select([conn], [], [], 0.2)[0] == [], "nothing to read yet"
        conn.sendall(b"x\n")
        assert select.select([conn], [], [], 20)[0] == [conn]


def test_attach_to_a_stopped_container_is_a_clear_error(engine: DockerEngine, bed: Bed, name: str) -> None:
    run(engine, name, bed.image, command=sh("true"))
    with pytest.raises(ContainerNotRunning, match="not running"):
        engine.attach_container(name, ["sh"])


def test_closing_the_attachment_ends_the_session(engine: DockerEngine, sleeper: str) -> None:
    conn = engine.attach_container(sleeper, ["cat"])
    other = conn.dup()  # a plain socket on the same connection, which does not own the session
    f = conn.makefile("rb")
    conn.close()
    other.sendall(b"still open\n")  # the makefile() file keeps the session alive...
    read_until(other, b"still open\r\nstill open\r\n")
    f.close()  # ...until it is closed too
    assert conn.fileno() == -1
    assert read_to_end(other) == b"", "the session ended: end of stream"
    with pytest.raises(InvalidState):
        conn.exit_code()
    other.close()


def test_resizing_the_tty_is_seen_by_the_process(engine: DockerEngine, sleeper: str) -> None:
    with engine.attach_container(sleeper, ["sh"]) as conn:
        assert isinstance(conn, Attachment)
        read_until(conn, b"# ")
        conn.resize(123, 45)
        conn.sendall(b"stty size\n")
        assert b"45 123" in read_until(conn, b"45 123")
