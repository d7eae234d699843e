"""`StateStore`: thread-safe hierarchical state addressed by dot paths."""

from __future__ import annotations

import functools
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bussdcc import StateStore

WAIT = 30.0


@pytest.fixture
def state() -> StateStore:
    return StateStore()


def test_set_then_get_by_dot_path(state: StateStore) -> None:
    state.set("system.clock.uptime", 42)

    assert state.get("system.clock.uptime") == 42
    assert state.get("system.clock") == {"uptime": 42}
    assert state.get("system") == {"clock": {"uptime": 42}}


def test_get_returns_the_default_when_absent(state: StateStore) -> None:
    state.set("a.b", 1)

    assert state.get("a.c") is None
    assert state.get("a.c", "none") == "none"
    assert state.get("x.y.z", 0) == 0
    assert state.get("a.b.c", "below a leaf") == "below a leaf"


def test_a_dict_value_becomes_a_subtree(state: StateStore) -> None:
    state.set("a", {"b": {"c": 1}})

    assert state.get("a.b.c") == 1
    state.set("a.b.d", 2)
    assert state.get("a") == {"b": {"c": 1, "d": 2}}


def test_values_are_copied_in_and_out(state: StateStore) -> None:
    original: dict[str, Any] = {"items": [1, 2]}
    state.set("a", original)
    original["items"].append(3)

    out = state.get("a")
    out["items"].append(4)

    assert state.get("a.items") == [1, 2]


def test_update_applies_a_function_to_the_current_value(state: StateStore) -> None:
    assert state.update("counter", lambda v: v + 1, default=0) == 1
    assert state.update("counter", lambda v: v * 10) == 10
    assert state.get("counter") == 10


def test_update_is_atomic_under_concurrent_writers(state: StateStore) -> None:
    threads, increments = 8, 500
    start = threading.Barrier(threads)

    def bump() -> None:
        start.wait(WAIT)
        for _ in range(increments):
            state.update("hits", lambda v: v + 1, default=0)

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(WAIT)

    assert state.get("hits") == threads * increments


def test_delete_removes_a_value_or_subtree(state: StateStore) -> None:
    state.set("a.b.c", 1)
    state.set("a.x", 2)

    assert state.delete("a.b") is True
    assert state.get("a") == {"x": 2}
    assert state.delete("a.b") is False
    assert state.delete("nowhere.at.all") is False
    assert "a.x" in state
    assert "a.b" not in state


def test_snapshot_is_a_deep_copy_of_plain_data(state: StateStore) -> None:
    state.set("system.cpu", {"usage": [1.0, 2.0]})
    state.set("system.mem", 3)

    snap = state.snapshot()
    snap["system"]["cpu"]["usage"].append(99.0)
    snap["system"]["mem"] = 0

    assert state.snapshot() == {"system": {"cpu": {"usage": [1.0, 2.0]}, "mem": 3}}


def test_snapshot_of_a_prefix(state: StateStore) -> None:
    state.set("system.cpu.usage", 50)
    state.set("system.mem", 3)

    assert state.snapshot("system.cpu") == {"usage": 50}
    assert state.snapshot("system.mem") == {"mem": 3}
    assert state.snapshot("absent") == {}


@pytest.mark.parametrize("path", ["", ".a", "a.", "a..b"])
def test_an_empty_path_or_segment_is_a_value_error(state: StateStore, path: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        state.set(path, 1)
    with pytest.raises(ValueError, match="empty"):
        state.get(path)
    with pytest.raises(ValueError, match="empty"):
        state.update(path, lambda v: v)
    with pytest.raises(ValueError, match="empty"):
        state.delete(path)


def test_a_path_that_is_not_a_string_is_a_type_error(state: StateStore) -> None:
    with pytest.raises(TypeError, match="state path must be a str, got int"):
        state.set(5, 1)  # type: ignore[arg-type]


def test_writing_below_a_leaf_is_a_type_error_naming_the_path(state: StateStore) -> None:
    state.set("a", 5)

    with pytest.raises(TypeError, match=r"cannot write 'a\.b\.c': 'a' holds a value"):
        state.set("a.b.c", 1)
    with pytest.raises(TypeError, match="'a' holds a value"):
        state.update("a.b", lambda v: 1)
    assert state.get("a") == 5


# -- version: cheap change detection ----------------------------------------------------------


def test_version_changes_with_writes_at_below_and_above_a_path(state: StateStore) -> None:
    assert state.version("a.b") == 0  # nothing written yet
    state.set("a.b", {"c": 1})
    at = state.version("a.b")
    assert at > 0

    state.set("a.b.c", 2)  # below
    below = state.version("a.b")
    assert below != at
    state.set("a", {"b": {"c": 3}})  # above
    above = state.version("a.b")
    assert above not in (at, below)
    state.update("a.b.c", lambda n: n + 1)
    assert state.version("a.b") != above


def test_version_ignores_writes_elsewhere(state: StateStore) -> None:
    state.set("a.b", 1)
    before = state.version("a.b")
    state.set("a.c", 2)  # a sibling
    state.set("x.y", 3)  # another tree
    state.delete("x.y")
    assert state.version("a.b") == before
    assert state.version("a") != before  # the parent did change


def test_writing_an_equal_value_still_counts(state: StateStore) -> None:
    state.set("a", 1)
    before = state.version("a")
    state.set("a", 1)
    assert state.version("a") != before


def test_delete_changes_the_version_and_leaves_no_residue(state: StateStore) -> None:
    state.set("sessions.s1.user", "ann")
    watched = state.version("sessions.s1.user")
    assert state.delete("sessions.s1")
    after_one = state.version("sessions.s1.user")
    assert after_one not in (0, watched)  # recorded as a write of "sessions"
    assert state.delete("sessions")
    assert state.version("sessions.s1.user") not in (0, watched, after_one)
    # Short-lived paths leave no bookkeeping behind once deleted.
    for i in range(100):
        state.set(f"jobs.j{i}.status", "done")
        state.delete(f"jobs.j{i}")
    state.delete("jobs")
    assert not any(
        key.startswith(("jobs", "sessions")) for key in (*state._written, *state._touched)
    )


def _replace(new: int, _old: object) -> int:
    return new


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["set", "delete", "update"]),
            st.sampled_from(["a", "a.b", "a.b.c", "a.d", "x", "x.y"]),
            st.integers(0, 3),
        ),
        max_size=30,
    )
)
def test_an_unchanged_version_means_an_unchanged_value(
    ops: list[tuple[str, str, int]],
) -> None:
    state = StateStore()
    watched = ("a", "a.b", "a.b.c", "a.d", "x.y")
    seen = {path: (state.version(path), state.get(path)) for path in watched}
    for op, path, value in ops:
        try:
            if op == "set":
                state.set(path, value if path != "a" else {"b": {"c": value}})
            elif op == "update":
                state.update(path, functools.partial(_replace, value))
            else:
                state.delete(path)
        except TypeError:
            continue  # writing below a leaf: refused, nothing changed
        for path_ in watched:
            version, value_ = state.version(path_), state.get(path_)
            if version == seen[path_][0]:
                assert value_ == seen[path_][1], (path_, op, path)
            seen[path_] = (version, value_)
