"""Getting images: a private registry with and without credentials, unknown tags."""

from __future__ import annotations

import os
from typing import Callable, List, Optional

import pytest
from conftest import Bed, docker, run, sh

from gofer_scheduler import ContainerState, DockerEngine, NoSuchImage, PullProgress, RegistryAuth


def auth(bed: Bed) -> RegistryAuth:
    return RegistryAuth(bed.user, bed.password)


def test_private_image_is_pulled_with_credentials(engine: DockerEngine, bed: Bed, name: str) -> None:
    docker(bed, "rmi", "-f", bed.private_image, check=False)
    state, logs = run(
        engine, name, bed.private_image, registry_auth=auth(bed), always_pull=True, command=sh("echo pulled")
    )
    assert (state.state, logs) == (ContainerState.EXITED, b"pulled\n")


@pytest.mark.parametrize("password", [None, "wrong-password"], ids=["no-credentials", "wrong-password"])
def test_private_image_without_or_with_wrong_credentials_is_no_such_image(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str], password: Optional[str]
) -> None:
    # A tag of its own, so that another test's pull cannot make it present meanwhile.
    image = f"{bed.registry}/gofer/private-busybox:refused-py-{os.getpid()}"
    docker(bed, "tag", bed.image, image)
    docker(bed, "login", bed.registry, "-u", bed.user, "-p", bed.password)
    docker(bed, "push", image)
    docker(bed, "rmi", "-f", image)
    credentials = None if password is None else RegistryAuth(bed.user, password)
    with pytest.raises(NoSuchImage) as caught:
        engine.start_container(new_name(), image, registry_auth=credentials, command=sh("true"))
    assert str(caught.value).startswith("scheduler: docker image not found"), caught.value
    assert "wrong-password" not in str(caught.value) and "wrong-password" not in repr(caught.value)


def test_unknown_tag_or_repository_is_no_such_image(engine: DockerEngine, bed: Bed, new_name: Callable[[], str]) -> None:
    for image in (
        f"{bed.registry}/gofer/private-busybox:no-such-tag",
        f"{bed.registry}/gofer/no-such-repository:latest",
    ):
        with pytest.raises(NoSuchImage, match="^scheduler: docker image not found"):
            engine.start_container(new_name(), image, registry_auth=auth(bed), command=sh("true"))


def test_a_pull_reports_its_progress_per_layer(engine: DockerEngine, bed: Bed, new_name: Callable[[], str]) -> None:
    docker(bed, "rmi", "-f", bed.multilayer_image, check=False)
    seen: List[PullProgress] = []
    engine.start_container(
        new_name(), bed.multilayer_image, registry_auth=auth(bed), command=sh("true"), progress=seen.append
    )
    # The containerd image store keeps a removed image's layers until its garbage collection and
    # samples a pull's progress on a timer: there a pull may report no layer at all, or no byte
    # counts (docs/contract.md, "Engine versions"). What it sends is handed over, in order.
    assert seen[0].status.startswith("Pulling from "), seen
    assert seen[-1].status.startswith("Status: Downloaded newer image"), seen
    assert all(isinstance(p, PullProgress) for p in seen)
    if os.environ.get("GOFER_ENGINE_VERSION", "").endswith("-c8d"):
        return
    complete = {p.layer for p in seen if p.status == "Pull complete"}
    assert len(complete) >= 2, f"two layers of random bytes are fetched: {seen}"
    for layer in complete:
        sizes = [(p.current, p.total) for p in seen if p.layer == layer and p.status == "Downloading"]
        assert sizes and all(c is not None and t is not None and 0 <= c <= t for c, t in sizes), (layer, sizes)
    docker(bed, "rmi", "-f", bed.multilayer_image, check=False)


def test_a_progress_callback_that_raises_is_reported_and_the_start_goes_on(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    docker(bed, "rmi", "-f", bed.multilayer_image, check=False)
    reported: List[BaseException] = []
    monkeypatch.setattr("sys.unraisablehook", lambda u: reported.append(u.exc_value))
    calls = []

    def buggy(progress: PullProgress) -> None:
        calls.append(progress)
        raise ValueError("a caller's bug")

    name = new_name()
    engine.start_container(name, bed.multilayer_image, registry_auth=auth(bed), command=sh("true"), progress=buggy)
    assert len(calls) == 1, "a callback that raised is not called again"
    assert [type(e) for e in reported] == [ValueError]
    assert engine.wait_container(name).state == ContainerState.EXITED
    docker(bed, "rmi", "-f", bed.multilayer_image, check=False)


def test_a_keyboard_interrupt_in_the_progress_callback_abandons_the_start(
    engine: DockerEngine, bed: Bed, new_name: Callable[[], str]
) -> None:
    docker(bed, "rmi", "-f", bed.multilayer_image, check=False)

    def interrupted(progress: PullProgress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.start_container(
            new_name(), bed.multilayer_image, registry_auth=auth(bed), command=sh("true"), progress=interrupted
        )
