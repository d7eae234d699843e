"""Proves tools/release/check_versions.py accepts the real tree and rejects broken ones."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPOSITORY_ROOT / "tools" / "release" / "check_versions.py"

# What each distribution's release tag starts with, and where it lives.
EXPECTED_FOLDERS = {
    "bussdcc": "packages/bussdcc",
    "bussdcc-framework": "packages/bussdcc-framework",
    "bussdcc-system-health": "apps/bussdcc-system-health",
}


def _load_check_versions() -> ModuleType:
    # tools/ is not a package; load the script by path, as the workflow runs it.
    spec = importlib.util.spec_from_file_location("check_versions", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


check_versions = _load_check_versions()


def run_cli(*args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), *args]
    if root is not None:
        command += ["--root", str(root)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def real_version(folder: str) -> str:
    version: str = check_versions.read_version_file(
        next((REPOSITORY_ROOT / folder / "src").glob("*/version.py"))
    )
    return version


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the real tree's metadata: every pyproject.toml and version.py."""
    for folder in EXPECTED_FOLDERS.values():
        source = REPOSITORY_ROOT / folder
        target = tmp_path / folder
        target.mkdir(parents=True)
        shutil.copy(source / "pyproject.toml", target / "pyproject.toml")
        for version_file in (source / "src").glob("*/version.py"):
            destination = target / version_file.relative_to(source)
            destination.parent.mkdir(parents=True)
            shutil.copy(version_file, destination)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}; the fixture no longer matches the real tree"
    path.write_text(text.replace(old, new), encoding="utf-8")


def set_version(tree: Path, folder: str, version: str) -> None:
    (version_file,) = (tree / folder / "src").glob("*/version.py")
    old = check_versions.read_version_file(version_file)
    edit(version_file, f'"{old}"', f'"{version}"')


def problems_in(tree: Path) -> list[str]:
    problems: list[str] = check_versions.find_problems(check_versions.discover(tree))
    return problems


# --- the real tree -------------------------------------------------------------------------


def test_real_tree_passes() -> None:
    result = run_cli()
    assert result.returncode == 0, result.stderr
    for name, folder in EXPECTED_FOLDERS.items():
        assert f"ok: {name} {real_version(folder)} ({folder})" in result.stdout


@pytest.mark.parametrize(("name", "folder"), EXPECTED_FOLDERS.items())
def test_tag_of_current_version_prints_only_the_folder(name: str, folder: str) -> None:
    result = run_cli("--tag", f"{name}-v{real_version(folder)}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{folder}\n"


def test_real_tree_declares_ranges_on_siblings() -> None:
    # The check is only meaningful if dependents really depend on their local siblings.
    distributions = {d.name: d for d in check_versions.discover(REPOSITORY_ROOT)}
    framework_deps = {r.name for r in distributions["bussdcc-framework"].dependencies}
    app_deps = {r.name for r in distributions["bussdcc-system-health"].dependencies}
    assert "bussdcc" in framework_deps
    assert "bussdcc-framework" in app_deps


# --- broken trees --------------------------------------------------------------------------


def test_copied_tree_passes(tree: Path) -> None:
    assert problems_in(tree) == []
    assert run_cli(root=tree).returncode == 0


def test_range_that_excludes_the_local_sibling_fails(tree: Path) -> None:
    set_version(tree, "packages/bussdcc", "0.44.0")
    problems = problems_in(tree)
    assert len(problems) == 1
    assert "packages/bussdcc-framework/pyproject.toml" in problems[0]
    assert "does not admit the local bussdcc 0.44.0" in problems[0]

    result = run_cli(root=tree)
    assert result.returncode == 1
    assert "does not admit the local bussdcc 0.44.0" in result.stderr


def test_patch_release_of_a_sibling_stays_admitted(tree: Path) -> None:
    set_version(tree, "packages/bussdcc", "0.43.7")
    set_version(tree, "packages/bussdcc-framework", "0.47.3")
    assert problems_in(tree) == []


def test_exact_pin_on_a_sibling_fails(tree: Path) -> None:
    edit(
        tree / "packages/bussdcc-framework/pyproject.toml",
        '"bussdcc>=0.43,<0.44"',
        '"bussdcc==0.43.0"',
    )
    problems = problems_in(tree)
    assert any("'bussdcc==0.43.0' is an exact pin" in p for p in problems), problems
    # == has no upper-bound operator, so that is reported too.
    assert any("has no upper bound" in p for p in problems), problems


def test_arbitrary_equality_pin_fails(tree: Path) -> None:
    edit(tree / "apps/bussdcc-system-health/pyproject.toml", '"psutil>=5.9,<8"', '"psutil===5.9.8"')
    problems = problems_in(tree)
    assert len(problems) == 1
    assert "'psutil===5.9.8' is an exact pin" in problems[0]


def test_exact_pin_on_a_third_party_dependency_fails(tree: Path) -> None:
    edit(tree / "apps/bussdcc-system-health/pyproject.toml", '"psutil>=5.9,<8"', '"psutil==5.9.8"')
    problems = problems_in(tree)
    assert len(problems) == 1
    assert "apps/bussdcc-system-health/pyproject.toml" in problems[0]
    assert "exact pin" in problems[0]


def test_wildcard_equality_is_a_range_not_a_pin(tree: Path) -> None:
    edit(
        tree / "packages/bussdcc-framework/pyproject.toml",
        '"bussdcc>=0.43,<0.44"',
        '"bussdcc==0.43.*"',
    )
    assert problems_in(tree) == []


def test_sibling_range_without_upper_bound_fails(tree: Path) -> None:
    edit(
        tree / "packages/bussdcc-framework/pyproject.toml",
        '"bussdcc>=0.43,<0.44"',
        '"bussdcc>=0.43"',
    )
    problems = problems_in(tree)
    assert len(problems) == 1
    assert "on local sibling bussdcc has no upper bound" in problems[0]
    assert "<0.44" in problems[0]


def test_tag_for_another_version_fails(tree: Path) -> None:
    result = run_cli("--tag", "bussdcc-framework-v0.47.1", root=tree)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "says bussdcc-framework 0.47.1 but packages/bussdcc-framework is at 0.47.0" in (
        result.stderr
    )


def test_tag_after_bump_matches(tree: Path) -> None:
    set_version(tree, "apps/bussdcc-system-health", "0.24.0")
    result = run_cli("--tag", "bussdcc-system-health-v0.24.0", root=tree)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "apps/bussdcc-system-health\n"


@pytest.mark.parametrize(
    "tag", ["v0.43.0", "bussdcc-frame-v0.47.0", "bussdcc_framework-v0.47.0", "bussdcc-0.43.0", ""]
)
def test_unknown_tag_prefix_fails(tree: Path, tag: str) -> None:
    result = run_cli("--tag", tag, root=tree)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "names no distribution" in result.stderr
    assert "bussdcc-framework-v*" in result.stderr


def test_tag_prefixes_of_real_distributions_do_not_overlap() -> None:
    # GitHub's `bussdcc-v*` filter must never fire for a framework tag, and vice versa.
    distributions = check_versions.discover(REPOSITORY_ROOT)
    for dist in distributions:
        others = [o for o in distributions if o is not dist]
        assert not any(o.tag().startswith(dist.tag_prefix) for o in others)
        assert check_versions.resolve_tag(dist.tag(), distributions) is dist


def test_ambiguous_tag_prefix_is_rejected(tree: Path) -> None:
    # A distribution named `bussdcc-v2` would make `bussdcc-v2-v1.0.0` match two prefixes.
    clash = tree / "packages/bussdcc-v2"
    (clash / "src/bussdcc_v2").mkdir(parents=True)
    (clash / "src/bussdcc_v2/version.py").write_text('__version__ = "1.0.0"\n', encoding="utf-8")
    (clash / "pyproject.toml").write_text(
        '[project]\nname = "bussdcc-v2"\ndependencies = []\n'
        '[tool.hatch.version]\npath = "src/bussdcc_v2/version.py"\n',
        encoding="utf-8",
    )
    problems = problems_in(tree)
    assert any("tag prefix 'bussdcc-v' also matches tags of bussdcc-v2" in p for p in problems)

    result = run_cli("--tag", "bussdcc-v2-v1.0.0", root=tree)
    assert result.returncode == 1
    assert "is ambiguous: it matches bussdcc, bussdcc-v2" in result.stderr


def test_missing_version_assignment_is_a_clear_error(tree: Path) -> None:
    (tree / "packages/bussdcc/src/bussdcc/version.py").write_text("VERSION = '1'\n")
    result = run_cli(root=tree)
    assert result.returncode == 1
    assert "bussdcc/version.py" in result.stderr
    assert "no `__version__" in result.stderr


def test_invalid_version_string_is_a_clear_error(tree: Path) -> None:
    set_version(tree, "packages/bussdcc", "zero.forty")
    result = run_cli(root=tree)
    assert result.returncode == 1
    assert "'zero.forty' is not a PEP 440 version" in result.stderr


def test_invalid_dependency_is_a_clear_error(tree: Path) -> None:
    edit(tree / "packages/bussdcc-framework/pyproject.toml", '"flask>=2.2,<4"', '"flask >> 2"')
    result = run_cli(root=tree)
    assert result.returncode == 1
    assert "invalid dependency 'flask >> 2'" in result.stderr


def test_empty_tree_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(root=tmp_path)
    assert result.returncode == 1
    assert "no distributions under packages/ or apps/" in result.stderr


# --- release notes -------------------------------------------------------------------------

NOTES_SCRIPT = REPOSITORY_ROOT / "tools" / "release" / "release_notes.py"

CHANGELOG = """\
# Changelog

## 0.48.0 (unreleased)

- Next thing.

## [0.47.0] - 2025-06-01

### Added

- Replay of 0.47.0-era recordings.

## 0.4.7

- Old.
"""


def run_notes(folder: Path, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(NOTES_SCRIPT), str(folder), version],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_release_notes_are_the_versions_changelog_section(tmp_path: Path) -> None:
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG, encoding="utf-8")
    result = run_notes(tmp_path, "0.47.0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "### Added\n\n- Replay of 0.47.0-era recordings.\n"


def test_release_notes_match_whole_versions_only(tmp_path: Path) -> None:
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG, encoding="utf-8")
    assert run_notes(tmp_path, "0.4.7").stdout == "- Old.\n"
    result = run_notes(tmp_path, "0.47")
    assert result.returncode == 1
    assert "no heading names version 0.47" in result.stderr


def test_release_notes_fail_on_an_empty_section(tmp_path: Path) -> None:
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n\n## 1.0.0\n\n## 0.9.0\n\n- x\n")
    result = run_notes(tmp_path, "1.0.0")
    assert result.returncode == 1
    assert "the section for 1.0.0 ('## 1.0.0') is empty" in result.stderr


def test_release_notes_fail_without_a_changelog(tmp_path: Path) -> None:
    result = run_notes(tmp_path, "1.0.0")
    assert result.returncode == 1
    assert "CHANGELOG.md: cannot read" in result.stderr


@pytest.mark.parametrize("folder", EXPECTED_FOLDERS.values())
def test_each_changelog_has_notes_for_the_current_version(folder: str) -> None:
    # The release workflow refuses a tag whose changelog section is missing.
    result = run_notes(REPOSITORY_ROOT / folder, real_version(folder))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
