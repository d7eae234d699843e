"""The public surface of ``bussdcc_framework.codec`` and ``bussdcc_framework.io``, pinned.

Each public module lists exactly what it supports in ``__all__``; every listed name is
documented; nothing else public-looking leaks; and no module in these packages imports a
``_``-name from another module (private helpers stay private to the module that owns them).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
from pathlib import Path

import pytest

import bussdcc_framework

SURFACES = {
    "bussdcc_framework.codec": {
        "EnvelopeError",
        "EventDecoder",
        "InvalidDataError",
        "MalformedLineError",
        "OversizeLineError",
        "TypeMismatchError",
        "UnencodableError",
        "UnknownMessageError",
        "UnsupportedTypeError",
        "WireError",
        "decode_event",
        "encode_event",
        "event_to_dict",
        "to_plain",
    },
    "bussdcc_framework.io": {
        "ConsoleSink",
        "JsonlSink",
        "JsonlSource",
        "SegmentWriteError",
        "SkippedLine",
    },
    "bussdcc_framework.io.console": {"ConsoleSink"},
    "bussdcc_framework.io.jsonl": {"JsonlSink", "JsonlSource", "SegmentWriteError", "SkippedLine"},
    "bussdcc_framework.io.jsonl.sink": {
        "CHECK_INTERVAL",
        "CHECK_LINES",
        "JsonlSink",
        "RETRY_FIRST",
        "RETRY_MAX",
        "SegmentWriteError",
    },
    "bussdcc_framework.io.jsonl.source": {"JsonlSource", "SkippedLine"},
}

PACKAGE_ROOT = Path(bussdcc_framework.__file__).parent


@pytest.mark.parametrize("module_name", sorted(SURFACES))
def test_each_module_exports_exactly_its_documented_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == SURFACES[module_name]
    assert inspect.getdoc(module), f"{module_name} has no docstring"
    for name in module.__all__:
        value = getattr(module, name)
        doc = inspect.getdoc(value)
        assert doc and doc.strip(), f"{module_name}.{name} has no docstring"


@pytest.mark.parametrize("module_name", sorted(SURFACES))
def test_nothing_public_looking_leaks_beyond_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    leaked = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name not in exported
        and name not in {"annotations", "TYPE_CHECKING", "logger"}
        and not isinstance(value, types.ModuleType)
        and _defined_in(value, module_name)
    ]
    assert not leaked, f"{module_name} defines public names it does not export: {leaked}"


def _defined_in(value: object, module_name: str) -> bool:
    """Whether ``value`` was defined by the module itself or one of its private modules."""
    owner = getattr(value, "__module__", None)
    return isinstance(owner, str) and (owner == module_name or owner.startswith(module_name + "._"))


def _modules_under(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (PACKAGE_ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    "path", _modules_under("codec", "io"), ids=lambda p: str(p.relative_to(PACKAGE_ROOT))
)
def test_no_private_name_is_imported_from_another_module(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_") and alias.name != "annotations"
    ]
    assert not private, f"{path.name} imports private names: {private}"


def test_the_seed_import_paths_still_work() -> None:
    from bussdcc_framework.io.console import ConsoleSink
    from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource

    assert JsonlSink.__module__ == "bussdcc_framework.io.jsonl.sink"
    assert JsonlSource.__module__ == "bussdcc_framework.io.jsonl.source"
    assert ConsoleSink.__module__ == "bussdcc_framework.io.console"
