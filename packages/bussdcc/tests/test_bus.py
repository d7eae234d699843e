"""The event bus guarantees: synchronous, run-to-completion, serial, isolated, flat."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bussdcc import Event, EventBus, ManualClock, Message, Severity, Subscription, SystemClock
from bussdcc.message import EventSubscriberError

WAIT = 30.0


@dataclass(slots=True, frozen=True)
class Ping(Message):
    name = "test.bus.ping"
    n: int = 0


@dataclass(slots=True, frozen=True)
class Pong(Message):
    name = "test.bus.pong"
    n: int = 0


@dataclass(slots=True, frozen=True)
class LoudPing(Ping):
    name = "test.bus.loud_ping"


@dataclass(slots=True, frozen=True)
class Alarm(Message):
    name = "test.bus.alarm"
    severity = Severity.ERROR


@pytest.fixture
def bus() -> EventBus:
    return EventBus(ManualClock())


def test_emit_returns_after_every_subscriber_handled_the_event(bus: EventBus) -> None:
    handled: list[str] = []
    bus.subscribe(Ping, lambda evt: handled.append("first"))
    bus.subscribe(Ping, lambda evt: handled.append("second"))

    evt = bus.emit(Ping(1))

    assert handled == ["first", "second"]
    assert evt.payload == Ping(1)


def test_events_get_increasing_sequence_numbers(bus: EventBus) -> None:
    seqs = [bus.emit(Ping(i)).seq for i in range(5)]

    assert seqs == [1, 2, 3, 4, 5]
    assert bus.last_seq == 5


def test_events_are_stamped_with_the_clock_time() -> None:
    clock = ManualClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    bus = EventBus(clock)
    clock.advance(90)

    evt = bus.emit(Ping())

    assert evt.time == datetime(2024, 5, 1, 12, 1, 30, tzinfo=UTC)


def test_system_clock_stamps_are_aware_utc_datetimes() -> None:
    bus = EventBus(SystemClock())
    before = datetime.now(UTC)
    evt = bus.emit(Ping())
    after = datetime.now(UTC)

    assert evt.time.tzinfo is not None
    assert evt.time.utcoffset() == UTC.utcoffset(None)
    assert before <= evt.time <= after


def test_emit_at_keeps_the_given_time(bus: EventBus) -> None:
    when = datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
    seen: list[Event[Any]] = []
    bus.subscribe(Ping, seen.append)

    bus.emit_at(Ping(), when)

    assert [e.time for e in seen] == [when]


def test_routing_follows_the_class_hierarchy(bus: EventBus) -> None:
    pings: list[str] = []
    everything: list[str] = []
    louds: list[str] = []
    bus.subscribe(Ping, lambda evt: pings.append(evt.name))
    bus.subscribe(Message, lambda evt: everything.append(evt.name))
    bus.subscribe(LoudPing, lambda evt: louds.append(evt.name))

    bus.emit(Ping())
    bus.emit(LoudPing())
    bus.emit(Pong())

    assert pings == ["test.bus.ping", "test.bus.loud_ping"]
    assert louds == ["test.bus.loud_ping"]
    assert everything == ["test.bus.ping", "test.bus.loud_ping", "test.bus.pong"]


def test_subscribing_to_a_tuple_of_types_receives_each_once(bus: EventBus) -> None:
    seen: list[str] = []
    bus.subscribe((Ping, LoudPing, Pong), lambda evt: seen.append(evt.name))

    bus.emit(LoudPing())
    bus.emit(Pong())
    bus.emit(Alarm())

    assert seen == ["test.bus.loud_ping", "test.bus.pong"]


def test_delivery_is_in_subscription_order(bus: EventBus) -> None:
    order: list[int] = []
    for i in range(6):
        bus.subscribe(Message if i % 2 else Ping, lambda evt, i=i: order.append(i))  # type: ignore[misc]

    bus.emit(Ping())

    assert order == [0, 1, 2, 3, 4, 5]


def test_nested_emit_is_delivered_after_current_event_reached_every_subscriber(
    bus: EventBus,
) -> None:
    log: list[str] = []

    def first(evt: Event[Any]) -> None:
        log.append(f"first:{evt.name}")
        if isinstance(evt.payload, Ping):
            bus.emit(Pong())
            log.append("first:emitted")

    bus.subscribe(Message, first)
    bus.subscribe(Message, lambda evt: log.append(f"second:{evt.name}"))

    bus.emit(Ping())

    assert log == [
        "first:test.bus.ping",
        "first:emitted",  # the nested emit returned without delivering
        "second:test.bus.ping",
        "first:test.bus.pong",
        "second:test.bus.pong",
    ]


def test_every_subscriber_sees_the_same_order(bus: EventBus) -> None:
    seen: dict[str, list[tuple[str, int]]] = {"a": [], "b": [], "c": []}

    def fan_out(evt: Event[Any]) -> None:
        if isinstance(evt.payload, Ping) and evt.payload.n < 3:
            bus.emit(Pong(evt.payload.n))
            bus.emit(Ping(evt.payload.n + 1))

    bus.subscribe(Message, lambda evt: seen["a"].append((evt.name, evt.seq)))
    bus.subscribe(Message, fan_out)
    bus.subscribe(Message, lambda evt: seen["b"].append((evt.name, evt.seq)))
    bus.subscribe(Message, lambda evt: seen["c"].append((evt.name, evt.seq)))

    bus.emit(Ping(0))

    assert seen["a"] == seen["b"] == seen["c"]
    assert [seq for _, seq in seen["a"]] == list(range(1, 8))


def test_outer_emit_returns_after_everything_its_handlers_emitted(bus: EventBus) -> None:
    pongs: list[int] = []

    def chain(evt: Event[Any]) -> None:
        if evt.payload.n < 10:
            bus.emit(Ping(evt.payload.n + 1))
        bus.emit(Pong(evt.payload.n))

    bus.subscribe(Ping, chain)
    bus.subscribe(Pong, lambda evt: pongs.append(evt.payload.n))

    bus.emit(Ping(0))

    assert sorted(pongs) == list(range(11))


def test_stack_stays_flat_however_long_the_chain(bus: EventBus) -> None:
    length = sys.getrecursionlimit() * 3
    depths: list[int] = []

    def depth() -> int:
        return len(traceback.extract_stack())

    def chain(evt: Event[Any]) -> None:
        depths.append(depth())
        if evt.payload.n < length:
            bus.emit(Ping(evt.payload.n + 1))

    bus.subscribe(Ping, chain)
    bus.emit(Ping(0))

    assert len(depths) == length + 1
    assert max(depths) - min(depths) <= 1  # the first handler may run one frame shallower


def test_handlers_run_in_the_emitters_thread(bus: EventBus) -> None:
    threads: list[int] = []
    bus.subscribe(Ping, lambda evt: threads.append(threading.get_ident()))

    bus.emit(Ping())
    worker = threading.Thread(target=bus.emit, args=(Ping(),))
    worker.start()
    worker.join(WAIT)

    assert threads == [threading.get_ident(), worker.ident]


def test_handlers_never_run_concurrently_across_emitting_threads(bus: EventBus) -> None:
    threads, per_thread = 4, 300
    active = 0
    overlaps = 0
    handled = 0
    start = threading.Barrier(threads)

    def handler(evt: Event[Any]) -> None:
        nonlocal active, overlaps, handled
        active += 1
        if active > 1:
            overlaps += 1
        # Give other threads every chance to interleave (and the GIL a reason to switch).
        for _ in range(50):
            pass
        threading.Event().wait(0)
        handled += 1
        active -= 1

    def nested(evt: Event[Any]) -> None:
        bus.emit(Pong(evt.payload.n))

    bus.subscribe(Message, handler)
    bus.subscribe(Ping, nested)

    def emitter() -> None:
        start.wait(WAIT)
        for i in range(per_thread):
            bus.emit(Ping(i))

    workers = [threading.Thread(target=emitter) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(WAIT)

    assert overlaps == 0
    assert handled == threads * per_thread * 2  # every ping and every nested pong
    assert bus.last_seq == threads * per_thread * 2


def test_a_failing_subscriber_does_not_stop_delivery_to_others(bus: EventBus) -> None:
    after: list[int] = []

    def broken(evt: Event[Any]) -> None:
        raise RuntimeError(f"cannot handle {evt.payload.n}")

    bus.subscribe(Ping, broken)
    bus.subscribe(Ping, lambda evt: after.append(evt.payload.n))

    bus.emit(Ping(1))
    bus.emit(Ping(2))

    assert after == [1, 2]


def test_a_subscriber_failure_becomes_event_subscriber_error(bus: EventBus) -> None:
    errors: list[EventSubscriberError] = []
    bus.subscribe(EventSubscriberError, lambda evt: errors.append(evt.payload))

    def broken(evt: Event[Any]) -> None:
        raise ValueError("bad reading")

    bus.subscribe(Ping, broken)
    bus.emit(Ping())

    assert len(errors) == 1
    error = errors[0]
    assert error.severity is Severity.ERROR
    assert error.event == "test.bus.ping"
    assert "broken" in error.handler
    assert error.error == "ValueError: bad reading"
    assert "Traceback" in error.traceback
    assert "bad reading" in error.traceback


def test_failures_while_handling_error_events_are_counted_not_reemitted(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    bus.subscribe(Message, lambda evt: seen.append(evt.name))

    def always_broken(evt: Event[Any]) -> None:
        raise RuntimeError("broken on everything")

    bus.subscribe(Message, always_broken, label="always-broken")

    with caplog.at_level(logging.ERROR, logger="bussdcc.bus"):
        bus.emit(Alarm())

    assert seen == ["test.bus.alarm"]
    assert bus.suppressed_failures == 1
    assert any("always-broken" in r.getMessage() for r in caplog.records)


def test_a_failure_cascade_ends_after_one_report(bus: EventBus) -> None:
    seen: list[str] = []
    bus.subscribe(Message, lambda evt: seen.append(evt.name))

    def always_broken(evt: Event[Any]) -> None:
        raise RuntimeError("broken on everything")

    bus.subscribe(Message, always_broken)

    bus.emit(Ping())

    # the ping's failure is reported once; the report's own failure is only counted
    assert seen == ["test.bus.ping", "event.subscriber_error"]
    assert bus.suppressed_failures == 1


def test_a_custom_error_reporter_chooses_the_report(bus: EventBus) -> None:
    reports: list[Pong] = []
    bus.subscribe(Pong, lambda evt: reports.append(evt.payload))
    generic: list[Event[Any]] = []
    bus.subscribe(EventSubscriberError, generic.append)

    def broken(evt: Event[Any]) -> None:
        raise RuntimeError("x")

    bus.subscribe(Ping, broken, on_error=lambda evt, exc: Pong(len(evt.name)))
    bus.subscribe(Ping, broken, on_error=lambda evt, exc: None)

    bus.emit(Ping(7))

    assert reports == [Pong(len("test.bus.ping"))]
    assert generic == []


def test_cancel_stops_further_deliveries(bus: EventBus) -> None:
    seen: list[int] = []
    sub = bus.subscribe(Ping, lambda evt: seen.append(evt.payload.n))

    bus.emit(Ping(1))
    sub.cancel()
    sub.cancel()  # idempotent
    bus.emit(Ping(2))

    assert seen == [1]
    assert not sub.active
    assert bus.subscriber_count == 0


def test_a_subscription_cancelled_mid_dispatch_misses_the_current_event(bus: EventBus) -> None:
    seen: list[str] = []
    subscriptions: list[Subscription] = []

    def canceller(evt: Event[Any]) -> None:
        seen.append("canceller")
        subscriptions[0].cancel()

    bus.subscribe(Ping, canceller)
    subscriptions.append(bus.subscribe(Ping, lambda evt: seen.append("later")))

    bus.emit(Ping())

    assert seen == ["canceller"]


def test_in_dispatch_is_true_only_inside_a_handler_on_that_thread(bus: EventBus) -> None:
    inside: list[bool] = []
    other_thread: list[bool] = []

    def handler(evt: Event[Any]) -> None:
        inside.append(bus.in_dispatch())
        probe = threading.Thread(target=lambda: other_thread.append(bus.in_dispatch()))
        probe.start()
        probe.join(WAIT)

    bus.subscribe(Ping, handler)

    assert not bus.in_dispatch()
    bus.emit(Ping())
    assert inside == [True]
    assert other_thread == [False]
    assert not bus.in_dispatch()
