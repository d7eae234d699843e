"""The app's public modules: each declares ``__all__``, each listed name exists and is
documented, and the command-line entry points stay where packaging points to them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import bussdcc_system_health
from bussdcc_system_health import cli


def public_modules() -> list[types.ModuleType]:
    modules = [bussdcc_system_health]
    for info in pkgutil.walk_packages(bussdcc_system_health.__path__, "bussdcc_system_health."):
        parts = info.name.split(".")
        if not any(part.startswith("_") for part in parts):
            modules.append(importlib.import_module(info.name))
    return modules


def _defines_public_names(module: types.ModuleType) -> bool:
    return any(
        not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
        for name, value in vars(module).items()
    )


def test_the_cli_entry_point_is_public() -> None:
    assert set(cli.__all__) == {"main", "parse_args"}
    assert callable(cli.main) and inspect.getdoc(cli.main)


def test_every_module_defining_public_code_declares_and_documents_its_exports() -> None:
    modules = public_modules()
    assert len(modules) >= 10, "the walk found too few modules to mean anything"
    for module in modules:
        assert inspect.getdoc(module), f"{module.__name__} has no docstring"
        if not _defines_public_names(module):
            continue  # a namespace package or the version: nothing of its own to export
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{module.__name__} defines public names but no __all__"
        for name in exported:
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
