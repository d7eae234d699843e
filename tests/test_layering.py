"""Proves the layering: the kernel imports neither framework nor app; the framework not the app.

And that the layers meet only through public API: no file outside a distribution imports or
reaches into one of its ``_``-names, and no framework class overrides a private method of a
kernel class (or inherits from two kernel runtimes).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import pkgutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
KERNEL_SRC = REPOSITORY_ROOT / "packages" / "bussdcc" / "src"
FRAMEWORK_SRC = REPOSITORY_ROOT / "packages" / "bussdcc-framework" / "src"
APP_ROOT = REPOSITORY_ROOT / "apps" / "bussdcc-system-health"

KERNEL = "bussdcc"
FRAMEWORK = "bussdcc_framework"
APP = "bussdcc_system_health"

# Calls that import a module named by their first argument.
DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__"})


def _imported_modules(tree: ast.AST) -> Iterable[tuple[int, str]]:
    """Yield (line, absolute module name) for every import the source could perform."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            # A relative import stays inside its own top-level package.
            if node.level == 0 and node.module is not None:
                yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if (
                called in DYNAMIC_IMPORTERS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                yield node.lineno, first.value


def layering_violations(src_root: Path, forbidden: Iterable[str]) -> list[str]:
    """Return ``path:line: imports X`` for each import of a forbidden top-level package.

    A file that cannot be read or parsed is reported too: an unchecked file is not a pass.
    """
    banned = frozenset(forbidden)
    violations: list[str] = []
    for path in sorted(src_root.rglob("*.py")):
        where = path.relative_to(src_root)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            violations.append(f"{where}: cannot be checked: {exc}")
            continue
        for line, module in _imported_modules(tree):
            if module.split(".")[0] in banned:
                violations.append(f"{where}:{line}: imports {module}")
    return violations


def python_files(src_root: Path) -> list[Path]:
    return sorted(src_root.rglob("*.py"))


# --- the real source -----------------------------------------------------------------------


def test_kernel_imports_neither_framework_nor_app() -> None:
    assert len(python_files(KERNEL_SRC)) >= 5, "kernel source not found; the scan would be vacuous"
    assert layering_violations(KERNEL_SRC, {FRAMEWORK, APP}) == []


def test_framework_does_not_import_app() -> None:
    assert len(python_files(FRAMEWORK_SRC)) >= 2, "framework source not found"
    assert layering_violations(FRAMEWORK_SRC, {APP}) == []


def test_framework_really_builds_on_the_kernel() -> None:
    # The scan sees real imports: the framework's dependency on the kernel shows up.
    assert layering_violations(FRAMEWORK_SRC, {KERNEL}) != []


# --- the checker itself --------------------------------------------------------------------


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")


def test_checker_catches_every_import_form(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bussdcc/a.py",
        """\
        import bussdcc_framework
        import os, bussdcc_framework.web as web
        from bussdcc_system_health.cli import main
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from bussdcc_framework import sinks
        def late():
            import bussdcc_framework.io
        import importlib
        importlib.import_module("bussdcc_system_health")
        __import__("bussdcc_framework.codec")
        """,
    )
    assert layering_violations(tmp_path, {FRAMEWORK, APP}) == [
        "bussdcc/a.py:1: imports bussdcc_framework",
        "bussdcc/a.py:2: imports bussdcc_framework.web",
        "bussdcc/a.py:3: imports bussdcc_system_health.cli",
        "bussdcc/a.py:6: imports bussdcc_framework",
        "bussdcc/a.py:8: imports bussdcc_framework.io",
        "bussdcc/a.py:10: imports bussdcc_system_health",
        "bussdcc/a.py:11: imports bussdcc_framework.codec",
    ]


def test_checker_ignores_lookalikes_and_relative_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bussdcc/sub/b.py",
        """\
        import bussdcc_frameworkish
        from bussdcc import bus
        from . import bussdcc_framework
        from .. import bussdcc_system_health
        text = "import bussdcc_framework"
        """,
    )
    assert layering_violations(tmp_path, {FRAMEWORK, APP}) == []


def test_checker_reports_a_file_it_cannot_parse(tmp_path: Path) -> None:
    write(tmp_path, "bussdcc/broken.py", "def (:\n")
    (violation,) = layering_violations(tmp_path, {FRAMEWORK})
    assert violation.startswith("bussdcc/broken.py: cannot be checked:")


# --- at run time ---------------------------------------------------------------------------

# Imports a package and every submodule while the forbidden packages are unimportable.
# The finder raises a non-ImportError so `try: import x / except ImportError` cannot hide it.
IMPORT_WITHOUT = """
import importlib, importlib.abc, pkgutil, sys

target, *forbidden = sys.argv[1:]

class LayeringViolation(RuntimeError):
    pass

class Forbid(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target_=None):
        if fullname.split(".")[0] in forbidden:
            raise LayeringViolation(f"importing {target} imported {fullname}")
        return None

sys.meta_path.insert(0, Forbid())
package = importlib.import_module(target)
names = [package.__name__]
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if info.name.rsplit(".", 1)[-1] != "__main__":  # would run a command line
        importlib.import_module(info.name)
        names.append(info.name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
assert not leaked, leaked
print("\\n".join(names))
"""


def import_without(target: str, *forbidden: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", IMPORT_WITHOUT, target, *forbidden],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,  # not the repository root, so only installed packages are importable
        timeout=300,
    )


def test_kernel_imports_with_framework_and_app_unimportable(tmp_path: Path) -> None:
    result = import_without(KERNEL, FRAMEWORK, APP, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    assert "bussdcc" in imported
    assert "bussdcc.bus" in imported  # the walk really reached the submodules


def test_framework_imports_with_app_unimportable(tmp_path: Path) -> None:
    result = import_without(FRAMEWORK, APP, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bussdcc_framework" in result.stdout.split()


def test_runtime_check_fails_when_a_needed_layer_is_blocked(tmp_path: Path) -> None:
    # The framework needs the kernel: blocking it must fail, or the check proves nothing.
    result = import_without(FRAMEWORK, KERNEL, cwd=tmp_path)
    assert result.returncode != 0
    assert "LayeringViolation: importing bussdcc_framework imported bussdcc" in result.stderr


# --- only public names across distributions ------------------------------------------------

DISTRIBUTIONS = (KERNEL, FRAMEWORK, APP)

# Each tree that uses other distributions, and the distribution it belongs to (None: none).
CONSUMERS: tuple[tuple[Path, str | None], ...] = (
    (FRAMEWORK_SRC, FRAMEWORK),
    (REPOSITORY_ROOT / "packages" / "bussdcc-framework" / "tests", FRAMEWORK),
    (REPOSITORY_ROOT / "packages" / "bussdcc" / "tests", KERNEL),
    (APP_ROOT / "src", APP),
    (APP_ROOT / "tests", APP),
    (REPOSITORY_ROOT / "tests", None),
    (REPOSITORY_ROOT / "tools", None),
)


def _private(dotted: str) -> str | None:
    """The first ``_``-segment of a dotted name (dunders such as ``__version__`` are public)."""
    for part in dotted.split("."):
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            return part
    return None


def private_uses(tree: ast.AST, own: str | None) -> Iterable[tuple[int, str]]:
    """Yield (line, what) for each use of another distribution's private name in ``tree``.

    Caught: ``import bussdcc._x``, ``from bussdcc._x import y``, ``from bussdcc import _y``,
    and an attribute ``_z`` read from a name bound by such an import (``Event._stamped``,
    ``bussdcc._x``).
    """
    foreign: set[str] = set()  # local names bound to another distribution's modules/objects
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in DISTRIBUTIONS and top != own:
                    if _private(alias.name):
                        yield node.lineno, f"import {alias.name}"
                    foreign.add(alias.asname or top)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top not in DISTRIBUTIONS or top == own:
                continue
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _private(dotted):
                    yield node.lineno, f"from {node.module} import {alias.name}"
                foreign.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in foreign
            and _private(node.attr)
        ):
            yield node.lineno, f"{node.value.id}.{node.attr}"


def private_name_violations(root: Path, own: str | None) -> list[str]:
    violations = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(REPOSITORY_ROOT)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            violations.append(f"{where}: cannot be checked: {exc}")
            continue
        violations += [f"{where}:{line}: uses {what}" for line, what in private_uses(tree, own)]
    return violations


@pytest.mark.parametrize(
    ("root", "own"), CONSUMERS, ids=[str(r.relative_to(REPOSITORY_ROOT)) for r, _ in CONSUMERS]
)
def test_no_private_name_of_another_distribution_is_used(root: Path, own: str | None) -> None:
    assert python_files(root), f"{root} has no Python files; the scan would be vacuous"
    assert private_name_violations(root, own) == []


def test_private_name_checker_catches_each_form(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.py",
        """\
        import bussdcc._validate
        from bussdcc._validate import number
        from bussdcc.components import _BootFailure
        from bussdcc import Event, __version__
        from bussdcc_framework.io import _segments as seg
        import bussdcc
        Event._stamped(1.0, None, 1)
        bussdcc.runtime._WAIT_SLICE
        bussdcc.Runtime
        seg.parse_segment_path
        own._private_but_local
        """,
    )
    tree = ast.parse((tmp_path / "x.py").read_text())
    assert sorted(what for _, what in private_uses(tree, own=None)) == [
        "Event._stamped",
        "from bussdcc._validate import number",
        "from bussdcc.components import _BootFailure",
        "from bussdcc_framework.io import _segments",
        "import bussdcc._validate",
    ]
    # A distribution may use its own private names.
    assert list(private_uses(ast.parse("from bussdcc._validate import number"), KERNEL)) == []


# --- no framework class reaches into a kernel class --------------------------------------


def _classes_of(package: str) -> list[type]:
    root = importlib.import_module(package)
    modules = [root]
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            modules.append(importlib.import_module(info.name))
    return [
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__
    ]


def private_overrides(cls: type, lower: tuple[str, ...]) -> list[str]:
    """``Class._name`` for each private method ``cls`` defines that a class from a ``lower``
    distribution in its MRO defines too (dunders excepted)."""
    found = []
    lower_bases = [b for b in cls.__mro__[1:] if b.__module__.split(".")[0] in lower]
    for name in vars(cls):
        if _private(name) and any(name in vars(base) for base in lower_bases):
            found.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    return found


def test_no_framework_class_overrides_a_private_kernel_method() -> None:
    classes = _classes_of(FRAMEWORK)
    kernel_subclasses = [
        c for c in classes if any(b.__module__.split(".")[0] == KERNEL for b in c.__mro__)
    ]
    assert len(kernel_subclasses) >= 3, "expected the runtimes, sinks' messages, interfaces"
    assert [v for c in classes for v in private_overrides(c, (KERNEL,))] == []


def test_no_framework_class_inherits_two_kernel_runtimes() -> None:
    import bussdcc

    for cls in _classes_of(FRAMEWORK):
        runtimes = [
            b
            for b in cls.__mro__[1:]
            if b.__module__.split(".")[0] == KERNEL and issubclass(b, bussdcc.Runtime)
        ]
        # A single line of descent: each kernel runtime in the MRO derives from the next.
        for child, parent in itertools.pairwise(runtimes):
            assert issubclass(child, parent), f"{cls.__qualname__} joins {child} and {parent}"


def test_the_override_check_sees_a_private_override() -> None:
    import bussdcc

    class Sneaky(bussdcc.Runtime):
        def _teardown(self, reason: str | None) -> None:  # pragma: no cover - never called
            pass

    Sneaky.__module__ = "bussdcc_framework.sneaky"
    (found,) = private_overrides(Sneaky, (KERNEL,))
    assert found.startswith("bussdcc_framework.sneaky.") and found.endswith("Sneaky._teardown")
