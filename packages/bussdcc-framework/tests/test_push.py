"""PushStream: the live protocol's logic, proved without threads, sockets or Flask."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bussdcc.event import Event
from bussdcc.message import Message, Severity
from bussdcc.state import StateStore
from bussdcc_framework.interface.push import Pending, PushStream, to_plain

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Tick(Message):
    name = "test.push.tick"
    n: int


@dataclass(slots=True, frozen=True)
class Noise(Message):
    name = "test.push.noise"
    severity = Severity.DEBUG
    n: int


@dataclass(slots=True, frozen=True)
class Elsewhere(Message):
    name = "other.push.thing"
    n: int


@dataclass(slots=True, frozen=True)
class Unencodable(Message):
    """Holds an arbitrary object: the codec cannot write it."""

    name = "test.push.unencodable"
    thing: Any


def event(payload: Message, seq: int) -> Event[Message]:
    return Event(time=T0, payload=payload, seq=seq)


def test_pushed_events_form_one_chain_skipping_what_is_not_pushed() -> None:
    stream = PushStream(push=(Tick,))
    state = StateStore()
    seen = [
        stream.observe(event(payload, seq), state, listening=True)
        for seq, payload in enumerate([Tick(n=0), Elsewhere(n=1), Tick(n=2), Tick(n=3)], 1)
    ]
    assert seen[1] is None
    assert [p.prev for p in seen if p is not None] == [0, 1, 3]
    assert stream.last_seq == 4


def test_without_listeners_the_chain_advances_but_nothing_is_sent() -> None:
    stream = PushStream(push=(Tick,))
    state = StateStore()
    assert stream.observe(event(Tick(n=1), 5), state, listening=False) is None
    later = stream.observe(event(Tick(n=2), 9), state, listening=True)
    assert later is not None and later.prev == 5


def test_default_push_is_info_and_above() -> None:
    stream = PushStream()
    assert stream.wants(Tick) and stream.wants(Elsewhere)
    assert not stream.wants(Noise)
    assert stream.subscriptions is None


def test_push_by_name_prefix_and_class() -> None:
    stream = PushStream(push=("other.*", Noise))
    assert stream.wants(Elsewhere) and stream.wants(Noise)
    assert not stream.wants(Tick)
    assert PushStream(push=(Tick,)).subscriptions == (Tick,)


@pytest.mark.parametrize("bad", ["", "a*b", "*", 3, int])
def test_bad_push_entries_are_type_errors(bad: Any) -> None:
    with pytest.raises(TypeError, match="push entries"):
        PushStream(push=(bad,))


@pytest.mark.parametrize("label", ["watch", "views"])
def test_tracked_paths_must_be_dotted_paths(label: str) -> None:
    with pytest.raises(ValueError, match=label):
        PushStream(**{label: ("a..b",)})


def test_watched_changes_report_only_values_that_changed_and_deletions() -> None:
    stream = PushStream(push=(Tick,), watch=("a.x", "a.y"))
    state = StateStore()
    state.set("a.x", 1)
    first = stream.observe(event(Tick(n=1), 1), state, listening=True)
    state.set("a.x", 1)  # written again, same value
    second = stream.observe(event(Tick(n=2), 2), state, listening=True)
    state.delete("a.x")
    state.set("a.y", {"deep": [1, 2]})
    third = stream.observe(event(Tick(n=3), 3), state, listening=True)
    assert first is not None and second is not None and third is not None
    assert first.watched == {"a.x": 1, "a.y": None}
    assert second.watched == {}
    assert third.watched == {"a.x": None, "a.y": {"deep": [1, 2]}}


def test_a_record_is_the_wire_record_plus_prev_state_and_views() -> None:
    stream = PushStream(push=(Tick,), watch=("w",), views=("v",))
    state = StateStore()
    state.set("w", {"when": T0})
    state.set("v", 7)
    pending = stream.observe(event(Tick(n=1), 3), state, listening=True)
    assert pending is not None and pending.viewed == {"v": 7}
    calls: list[tuple[dict[str, Any], bool]] = []

    def render(values: Mapping[str, Any], snapshot: bool) -> Mapping[str, Any]:
        calls.append((dict(values), snapshot))
        return {"card": f"<b>{values['v']}</b>"}

    record = stream.record(pending, render)

    assert record["seq"] == 3 and record["prev"] == 0 and record["name"] == Tick.name
    assert record["data"] == {"n": 1}
    assert record["time"] == "2026-01-02T03:04:05Z"
    assert record["state"] == {"w": {"when": "2026-01-02T03:04:05Z"}}
    assert record["views"] == {"card": "<b>7</b>"}
    assert calls == [({"v": 7}, False)]


def test_a_record_that_cannot_be_converted_is_left_out_and_the_chain_shows_the_gap() -> None:
    stream = PushStream()
    state = StateStore()
    batch = [
        stream.observe(event(payload, seq), state, listening=True)
        for seq, payload in ((1, Tick(n=1)), (2, Unencodable(thing=object())), (3, Tick(n=3)))
    ]
    records = stream.records(p for p in batch if p is not None)
    assert [r["seq"] for r in records] == [1, 3]
    assert records[1]["prev"] == 2  # names the record the client never got


def test_a_snapshot_reads_its_seq_before_the_state() -> None:
    stream = PushStream(push=(Tick,), views=("v",))
    state = StateStore()
    state.set("v", 1)
    stream.observe(event(Tick(n=1), 4), state, listening=False)

    def read_state() -> dict[str, Any]:
        # An event pushed while the state is read: the state may be newer than seq.
        stream.observe(event(Tick(n=2), 5), state, listening=False)
        state.set("v", 2)
        return state.snapshot()

    snapshot = stream.snapshot(
        read_state, T0, lambda values, full: {"v": values["v"], "full": full}
    )
    assert snapshot == {
        "seq": 4,
        "time": "2026-01-02T03:04:05Z",
        "state": {"v": 2},
        "views": {"v": 2, "full": True},
    }


def test_odd_values_never_break_the_plain_conversion() -> None:
    plain = to_plain({"obj": object(), "tick": Tick(n=3), 1: (1, 2)})
    assert plain["tick"] == {"n": 3}
    assert plain["obj"].startswith("<object")
    assert list(plain["1"]) == [1, 2]  # str keys: JSON has no others


def test_pending_defaults_are_empty() -> None:
    pending = Pending(event(Tick(n=1), 1), 0)
    assert pending.watched == {} and pending.viewed == {}
