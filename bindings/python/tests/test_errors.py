"""Every kind of the core's errors has its exception class, and their texts are the core's."""

from __future__ import annotations

import gofer_scheduler
from gofer_scheduler import SchedulerError, _native


def test_every_error_kind_of_the_core_has_its_own_exception_class() -> None:
    kinds = _native.error_kinds()
    assert len(kinds) >= 10
    classes = set()
    for kind, class_name, description in kinds:
        cls = getattr(gofer_scheduler, class_name, None)
        assert cls is not None, f"no exception class {class_name} for the core's kind {kind}"
        assert issubclass(cls, SchedulerError) and cls is not SchedulerError, class_name
        assert class_name in gofer_scheduler.__all__
        assert description.startswith("scheduler: "), description
        classes.add(cls)
    assert len(classes) == len(kinds), "two kinds share a class"


def test_sentinel_texts_are_the_seed_s() -> None:
    texts = {kind: description for kind, _, description in _native.error_kinds()}
    assert texts["NoSuchContainer"] == "scheduler: entity not found"
    assert texts["NoSuchImage"] == "scheduler: docker image not found"
    assert texts["AmbiguousContainerName"] == "scheduler: more than one container was found for the given container name"
