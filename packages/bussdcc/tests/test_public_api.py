"""The public surface of ``bussdcc``: every exported name exists, is documented, and no more."""

from __future__ import annotations

import importlib
import inspect
import re
import types
import typing

import bussdcc
from bussdcc import message

SPEC_NAMES = {
    "Runtime",
    "ThreadedRuntime",
    "SignalRuntime",
    "ReplayRuntime",
    "ContextProtocol",
    "Device",
    "Process",
    "Interface",
    "Service",
    "Message",
    "Severity",
    "Event",
    "EventBus",
    "StateStore",
    "SystemClock",
    "ReplayClock",
    "ManualClock",
    "message",
    "__version__",
}


def test_every_name_the_spec_lists_is_exported() -> None:
    assert set(bussdcc.__all__) >= SPEC_NAMES


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in bussdcc.__all__:
        assert hasattr(bussdcc, name), f"bussdcc.__all__ lists {name} but it is missing"
        value = getattr(bussdcc, name)
        if name == "__version__":
            continue
        if typing.get_origin(value) is typing.Literal:
            continue  # a Literal alias cannot carry a docstring: its values document it
        doc = inspect.getdoc(value)
        assert doc and doc.strip(), f"bussdcc.{name} has no docstring"


def test_the_version_is_a_release_version_string() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+(\S*)", bussdcc.__version__)
    assert bussdcc.__version__ == importlib.import_module("bussdcc.version").__version__


def test_nothing_private_or_unlisted_leaks_from_the_package() -> None:
    exported = set(bussdcc.__all__)
    assert not [n for n in exported if n.startswith("_") and n != "__version__"]
    for name, value in vars(bussdcc).items():
        if name.startswith("_") or name in exported:
            continue
        # the rest may only be the package's own submodules, imported as a side effect
        assert isinstance(value, types.ModuleType), f"bussdcc.{name} leaks"
        assert value.__name__ == f"bussdcc.{name}", f"bussdcc.{name} leaks a foreign module"


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from bussdcc import *", namespace)

    assert set(namespace) - {"__builtins__"} == set(bussdcc.__all__)


def test_the_message_module_exports_documented_kernel_messages() -> None:
    for name in message.__all__:
        value = getattr(message, name)
        assert inspect.getdoc(value), f"bussdcc.message.{name} has no docstring"
    assert message.Message is bussdcc.Message
    assert message.Severity is bussdcc.Severity
