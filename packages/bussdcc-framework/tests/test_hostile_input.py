"""A hostile history: every good event is read, nothing is imported, nothing crashes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import encode_event
from bussdcc_framework.io.jsonl import JsonlSource
from bussdcc_framework.runtime import ReplayRuntime

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
EVIL_MODULE = "hostile_side_effect_mod"


@dataclass(slots=True, frozen=True)
class Note(Message):
    name = "test.hostile.note"
    n: int
    text: str = ""


def good(n: int, text: str = "") -> Event[Note]:
    return Event(T0 + timedelta(seconds=n), Note(n, text), n)


def raw_record(name: str, type_: str, data: object) -> bytes:
    record = {"time": "2026-03-09T12:00:00Z", "seq": 1, "name": name, "type": type_, "data": data}
    return json.dumps(record).encode()


@pytest.fixture
def evil_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An importable module that would leave a marker file if anything imported it."""
    marker = tmp_path / "imported.marker"
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / f"{EVIL_MODULE}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "from dataclasses import dataclass\n"
        "from bussdcc.message import Message\n"
        "@dataclass(slots=True, frozen=True)\n"
        "class Evil(Message):\n"
        "    name = 'test.hostile.evil'\n"
    )
    monkeypatch.syspath_prepend(str(modules))
    yield marker
    sys.modules.pop(EVIL_MODULE, None)


def test_a_hostile_history_yields_every_good_event_and_imports_nothing(
    tmp_path: Path, evil_module: Path
) -> None:
    history = tmp_path / "history" / "2026-03-09"
    history.mkdir(parents=True)
    huge = good(3, "y" * (5 * 1024 * 1024))  # a legitimate 5 MB line
    events = [good(1), good(2), huge, good(4), good(5), good(6)]
    hostile = [
        encode_event(events[0]),
        b"\x00\xff\xfe\x80 garbage bytes \xc3\x28",
        raw_record("test.hostile.note", "x:y", {"n": 1, "text": "\udcff"}).replace(
            b"\\udcff", b"\xff\xfe"
        ),  # invalid UTF-8 inside a string
        raw_record("test.hostile.evil", f"{EVIL_MODULE}:Evil", {}),
        raw_record("test.hostile.system", "os:system", {"command": f"touch {evil_module}"}),
        raw_record("test.hostile.eval", "builtins:eval", {"source": "1"}),
        encode_event(events[1]),
        b"[" * 200_000,  # nesting far beyond any recursion limit
        b'{"time": "2026-03-09T12:00:00Z", "data": ' + b"{" * 200_000,
        b"z" * (5 * 1024 * 1024),  # a 5 MB line of garbage
        encode_event(huge),
        raw_record("test.hostile.note", "", {"n": "one", "text": 5}),  # wrong types
        raw_record("test.hostile.note", "", {"n": 2**80}),  # out of nothing's range: still an int
        raw_record("test.hostile.note", "", [1, 2, 3]),
        b'{"time": 12, "name": "test.hostile.note", "data": {"n": 1}}',
        b'{"time": "yesterday", "name": "test.hostile.note", "data": {"n": 1}}',
        b'{"time": "2026-03-09T12:00:00Z", "seq": "first", "name": "test.hostile.note"}',
        b'{"time": "2026-03-09T12:00:00Z", "name": "test.hostile.note", "data": {"n": 1e999}}',
        b"null",
        b"\xef\xbb\xbf" + encode_event(good(99)),  # a byte-order mark glued to a record
        encode_event(events[3]),
        encode_event(events[4]),
        b"\r",
        encode_event(events[5]),
        encode_event(good(7))[:40],  # torn last line
    ]
    segment = history / "12-00-00.jsonl"
    segment.write_bytes(b"\n".join(hostile))
    (history / "12-10-00.jsonl").write_bytes(b"\xff" * 1000)  # a file of nothing but garbage

    source = JsonlSource(tmp_path / "history")
    read = list(source)

    assert not evil_module.exists()
    assert EVIL_MODULE not in sys.modules
    expected = [*events[:2], huge, Event(T0, Note(2**80), 1), *events[3:]]
    assert read == expected
    assert read[2].payload.text == "y" * (5 * 1024 * 1024)  # type: ignore[attr-defined]
    problems = {(p.path.name, p.line_no) for p in source.problems}
    good_lines = {1, 7, 11, 13, 21, 22, 23, 24}  # blank-ish "\r" (23) is skipped silently
    bad_lines = set(range(1, len(hostile) + 1)) - good_lines
    assert problems == {("12-00-00.jsonl", n) for n in bad_lines} | {("12-10-00.jsonl", 1)}
    assert source.skipped == len(bad_lines) + 1
    last = max(source.problems, key=lambda p: (p.path.name == "12-00-00.jsonl", p.line_no))
    assert last.reason.startswith("torn last line")


def test_an_allow_list_admits_only_modules_under_its_prefixes(
    tmp_path: Path, evil_module: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(raw_record("test.hostile.evil", f"{EVIL_MODULE}:Evil", {}) + b"\n")
    source = JsonlSource(path, allowed_modules=("hostile", "hostile_side"))
    assert list(source) == []
    assert source.skipped == 1
    assert not evil_module.exists()
    assert EVIL_MODULE not in sys.modules


@pytest.fixture
def hostile_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package ``hostile_pkg`` whose ``__main__`` and ``exits`` modules must never run:
    each leaves a marker; ``exits`` then raises SystemExit, as a script would."""
    marker = tmp_path / "ran.marker"
    package = tmp_path / "modules" / "hostile_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    run = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    (package / "__main__.py").write_text(run)
    (package / "exits.py").write_text(run + "raise SystemExit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    yield marker
    for name in [m for m in sys.modules if m.startswith("hostile_pkg")]:
        del sys.modules[name]


@pytest.mark.parametrize("type_", ["hostile_pkg.__main__:Evil", "__main__:Evil"])
def test_a_main_module_is_never_imported_even_under_the_allow_list(
    tmp_path: Path, hostile_package: Path, type_: str
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(raw_record("test.hostile.main", type_, {}) + b"\n" + encode_event(good(1)))
    source = JsonlSource(path, allowed_modules=("hostile_pkg", "__main__"))
    assert list(source) == [good(1)]
    assert not hostile_package.exists()
    assert "hostile_pkg.__main__" not in sys.modules
    assert [p.line_no for p in source.problems] == [1]
    assert "never imported" in source.problems[0].reason


def test_a_module_that_exits_on_import_does_not_end_the_reader_and_is_tried_once(
    tmp_path: Path, hostile_package: Path
) -> None:
    path = tmp_path / "events.jsonl"
    record = raw_record("test.hostile.exits", "hostile_pkg.exits:Evil", {})
    path.write_bytes(b"\n".join([record, encode_event(good(1)), record, encode_event(good(2))]))
    source = JsonlSource(path, allowed_modules=("hostile_pkg",))
    assert list(source) == [good(1), good(2)]
    assert [p.line_no for p in source.problems] == [1, 3]
    assert "SystemExit: 3" in source.problems[0].reason
    # The allow-list trusts the module, so it ran -- once, not once per line naming it.
    assert hostile_package.read_text() == "hostile_pkg.exits\n"


def record_at(time: str, n: int) -> bytes:
    record = {"time": time, "seq": n, "name": "test.hostile.note", "data": {"n": n}}
    return json.dumps(record).encode()


def test_times_at_the_ends_of_the_calendar_are_skipped_naming_file_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    times = [
        "2026-03-09T12:00:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "9999-12-31T00:00:00-05:00",  # year 10000 in UTC
        "0001-01-03T00:00:00Z",  # far, but representable: replayed
        "9999-12-29T00:00:00Z",
        "2026-03-09T12:00:01Z",
    ]
    path.write_bytes(b"\n".join(record_at(t, n) for n, t in enumerate(times)) + b"\n")
    source = JsonlSource(path)
    assert [evt.payload.n for evt in source] == [0, 5, 6, 7]  # type: ignore[attr-defined]
    assert [(p.path, p.line_no) for p in source.problems] == [(path, n) for n in (2, 3, 4, 5)]
    assert all("out of range" in p.reason for p in source.problems)


def test_a_replay_at_speed_one_survives_any_recorded_time_and_long_gaps(tmp_path: Path) -> None:
    # Year 1, year 9999 and an hour's gap, at real speed: shortened to max_gap, never raising.
    path = tmp_path / "events.jsonl"
    times = [
        "2026-03-09T12:00:00Z",
        "9999-12-29T00:00:00Z",
        "0001-01-03T00:00:00Z",
        "2026-03-09T13:00:00Z",
        "0001-01-01T00:00:00Z",
    ]
    path.write_bytes(b"\n".join(record_at(t, n) for n, t in enumerate(times)))
    rt = ReplayRuntime(speed=1.0, max_gap=0.01)
    seen: list[int] = []
    rt.events.subscribe(Note, lambda evt: seen.append(evt.payload.n))
    source = rt.add_source(JsonlSource(path))
    rt.run()
    assert seen == [0, 1, 2, 3]
    assert isinstance(source, JsonlSource) and source.skipped == 1
