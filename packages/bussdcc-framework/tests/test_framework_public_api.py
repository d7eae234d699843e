"""The public surface of ``bussdcc_framework``: what is exported, pinned; every public module
declares ``__all__``, and each listed name exists and is documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import pytest

import bussdcc
import bussdcc_framework
from bussdcc_framework import runtime

PACKAGE_EXPORTS = {"ReplayRuntime", "Runtime", "__version__"}
RUNTIME_EXPORTS = {"COUNTS_PATH", "COUNTS_REFRESH", "ReplayRuntime", "Runtime", "merge_sources"}
MESSAGE_EXPORTS = {
    "FrameworkBooted",
    "FrameworkShuttingDown",
    "SinkError",
    "SinkRecovered",
    "SinkRetentionDeleted",
    "SystemIdentityEvent",
    "SystemdNotifyFailed",
    "WatchdogResumed",
    "WatchdogWithheld",
}
SERVICE_EXPORTS = {"IDENTITY_STATE", "SystemIdentityService", "identity_record", "read_identity"}

# The import paths seed 002 writes; they must keep working whatever moves behind them.
SEED_PATHS = {
    "bussdcc_framework.io.jsonl": ("JsonlSink", "JsonlSource"),
    "bussdcc_framework.io.console": ("ConsoleSink",),
    "bussdcc_framework.interface.web": ("WebInterface",),
    "bussdcc_framework.service": ("SystemIdentityService",),
    "bussdcc_framework.runtime": ("Runtime", "ReplayRuntime"),
}


def public_modules() -> list[types.ModuleType]:
    """The package and every submodule without a ``_``-segment (``__main__`` excepted)."""
    modules = [bussdcc_framework]
    for info in pkgutil.walk_packages(bussdcc_framework.__path__, "bussdcc_framework."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules.append(importlib.import_module(info.name))
    return modules


def test_the_package_exports_exactly_the_runtimes_and_the_version() -> None:
    assert set(bussdcc_framework.__all__) == PACKAGE_EXPORTS
    assert bussdcc_framework.Runtime is runtime.Runtime


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("bussdcc_framework.runtime", RUNTIME_EXPORTS),
        ("bussdcc_framework.message", MESSAGE_EXPORTS),
        ("bussdcc_framework.service", SERVICE_EXPORTS),
    ],
)
def test_the_stable_modules_export_exactly_their_pinned_names(module: str, names: set[str]) -> None:
    assert set(importlib.import_module(module).__all__) == names


@pytest.mark.parametrize("module", sorted(SEED_PATHS))
def test_the_seed_import_paths_work(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in SEED_PATHS[module]:
        assert name in loaded.__all__
        assert inspect.isclass(getattr(loaded, name))


def test_every_public_module_declares_what_it_exports_and_documents_it() -> None:
    modules = public_modules()
    assert len(modules) >= 8, "the walk found too few modules to mean anything"
    for module in modules:
        if module.__name__.endswith(".version"):
            continue  # holds __version__ only
        assert inspect.getdoc(module), f"{module.__name__} has no docstring"
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{module.__name__} has no __all__"
        for name in exported:
            assert not name.startswith("_") or name == "__version__", f"{module.__name__}.{name}"
            value = getattr(module, name)  # AttributeError: __all__ lists a missing name
            if inspect.isclass(value) or inspect.isfunction(value):
                assert inspect.getdoc(value), f"{module.__name__}.{name} has no docstring"


def test_star_import_gives_exactly_the_listed_names() -> None:
    for module in public_modules():
        if not hasattr(module, "__all__"):
            continue
        namespace: dict[str, object] = {}
        exec(f"from {module.__name__} import *", namespace)
        assert set(namespace) - {"__builtins__"} == set(module.__all__), module.__name__


def test_the_runtimes_are_the_public_kernel_runtimes_underneath() -> None:
    assert issubclass(bussdcc_framework.Runtime, bussdcc.Runtime)
    assert issubclass(bussdcc_framework.ReplayRuntime, bussdcc.ReplayRuntime)
    assert not issubclass(bussdcc_framework.Runtime, bussdcc.SignalRuntime)
    rt = bussdcc_framework.Runtime()
    assert isinstance(rt.signals, bussdcc.SignalHandling)
    assert rt.signals in rt.extensions
