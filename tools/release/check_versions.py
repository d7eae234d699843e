"""Checks that the monorepo's distributions agree on versions, ranges and release tags.

Each distribution lives in ``packages/<name>`` or ``apps/<name>`` with its own
``pyproject.toml`` and a ``version.py`` that ``hatch version`` reads. The check fails when:

- a dependent's declared range on a local sibling does not admit the sibling's version
  (CI would test a combination users can never install);
- a runtime dependency is an exact pin (``==1.2.3`` or ``===``): pins in a library block
  every other package's upgrades;
- a dependency on a sibling has no upper bound: a kernel release could silently break a
  published framework;
- one distribution's tag prefix (``<name>-v``) is a prefix of another's, so a tag could
  name two distributions;
- with ``--tag``, the tag does not name exactly one distribution at exactly its version.

Usage::

    python tools/release/check_versions.py                 # check the whole tree
    python tools/release/check_versions.py --tag bussdcc-framework-v0.47.0

With ``--tag`` the only line printed to stdout on success is the tagged distribution's
folder relative to the repository root (e.g. ``packages/bussdcc-framework``), for the
release workflow to build. Every problem goes to stderr, one per line, and the exit
status is 1. Exit status 2 means bad arguments.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

# Folders whose immediate subfolders each hold one distribution.
DISTRIBUTION_PARENTS = ("packages", "apps")

# Operators that cap a range from above; `==X.*` caps too (it is handled separately).
UPPER_BOUND_OPERATORS = frozenset({"<", "<=", "~="})


class TreeError(Exception):
    """A distribution's files are missing or unreadable, so it cannot be checked."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """One distribution of the monorepo, as declared by its files."""

    name: NormalizedName
    folder: str  # relative to the repository root, with forward slashes
    version: str  # exactly as written in version.py
    dependencies: tuple[Requirement, ...]

    @property
    def tag_prefix(self) -> str:
        """The start of every release tag of this distribution."""
        return f"{self.name}-v"

    def tag(self) -> str:
        """The release tag for the current version."""
        return f"{self.tag_prefix}{self.version}"


def read_version_file(path: Path) -> str:
    """Return the string assigned to ``__version__`` in *path*.

    Raises TreeError if the file is missing, is not valid Python, assigns no string to
    ``__version__``, or the string is not a PEP 440 version.
    """
    try:
        source = path.read_text(encoding="utf-8")
        module = ast.parse(source, filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        raise TreeError(f"{path}: cannot read version file: {exc}") from exc
    for node in module.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            version = node.value.value
            try:
                Version(version)
            except InvalidVersion as exc:
                raise TreeError(
                    f"{path}: __version__ {version!r} is not a PEP 440 version"
                ) from exc
            return version
    raise TreeError(f'{path}: no `__version__ = "x.y.z"` assignment')


def read_distribution(folder: Path, root: Path) -> Distribution:
    """Read the distribution in *folder* (which holds a ``pyproject.toml``).

    Raises TreeError naming the file and the problem when the metadata is unusable.
    """
    pyproject_path = folder / "pyproject.toml"
    try:
        with pyproject_path.open("rb") as file:
            pyproject = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TreeError(f"{pyproject_path}: cannot read: {exc}") from exc

    project = pyproject.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise TreeError(f"{pyproject_path}: no [project] name")
    version_path = pyproject.get("tool", {}).get("hatch", {}).get("version", {}).get("path")
    if not isinstance(version_path, str):
        raise TreeError(f"{pyproject_path}: no [tool.hatch.version] path")

    declared: list[str] = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        declared.extend(extra)
    requirements: list[Requirement] = []
    for text in declared:
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as exc:
            raise TreeError(f"{pyproject_path}: invalid dependency {text!r}: {exc}") from exc

    return Distribution(
        name=canonicalize_name(project["name"]),
        folder=folder.relative_to(root).as_posix(),
        version=read_version_file(folder / version_path),
        dependencies=tuple(requirements),
    )


def discover(root: Path) -> list[Distribution]:
    """Read every distribution under *root*'s ``packages/`` and ``apps/`` folders.

    Raises TreeError if there are none or one cannot be read.
    """
    folders = sorted(
        pyproject.parent
        for parent in DISTRIBUTION_PARENTS
        for pyproject in (root / parent).glob("*/pyproject.toml")
    )
    if not folders:
        raise TreeError(
            f"{root}: no distributions under {' or '.join(p + '/' for p in DISTRIBUTION_PARENTS)}"
        )
    return [read_distribution(folder, root) for folder in folders]


def _is_exact_pin(requirement: Requirement) -> bool:
    return any(
        spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*"))
        for spec in requirement.specifier
    )


def _has_upper_bound(requirement: Requirement) -> bool:
    return any(
        spec.operator in UPPER_BOUND_OPERATORS
        or (spec.operator == "==" and spec.version.endswith(".*"))
        for spec in requirement.specifier
    )


def find_problems(distributions: Sequence[Distribution]) -> list[str]:
    """Return one message per inconsistency between *distributions*; empty when consistent."""
    problems: list[str] = []
    by_name = {dist.name: dist for dist in distributions}

    for dist in distributions:
        for other in distributions:
            if other is not dist and other.tag_prefix.startswith(dist.tag_prefix):
                problems.append(
                    f"{dist.name}: tag prefix {dist.tag_prefix!r} also matches tags of "
                    f"{other.name} ({other.tag_prefix!r}); a release tag would be ambiguous"
                )

    for dist in distributions:
        for requirement in dist.dependencies:
            where = f"{dist.folder}/pyproject.toml: dependency {str(requirement)!r}"
            if _is_exact_pin(requirement):
                problems.append(
                    f"{where} is an exact pin; declare a compatible range (e.g. >=X.Y,<X.Y+1)"
                )
            sibling = by_name.get(canonicalize_name(requirement.name))
            if sibling is None:
                continue
            if not _has_upper_bound(requirement):
                problems.append(
                    f"{where} on local sibling {sibling.name} has no upper bound; "
                    f"add one (e.g. <{_next_minor(sibling.version)})"
                )
            if not requirement.specifier.contains(sibling.version, prereleases=True):
                problems.append(
                    f"{where} does not admit the local {sibling.name} {sibling.version} "
                    f"({sibling.folder}); widen the range or fix the sibling's version"
                )
    return problems


def _next_minor(version: str) -> str:
    release = Version(version).release
    major = release[0]
    minor = release[1] if len(release) > 1 else 0
    return f"{major}.{minor + 1}"


def resolve_tag(tag: str, distributions: Iterable[Distribution]) -> Distribution:
    """Return the one distribution that *tag* releases at its current version.

    Raises TreeError when no distribution's prefix matches, more than one does, or the
    version in the tag differs from the distribution's ``version.py``.
    """
    candidates = [dist for dist in distributions if tag.startswith(dist.tag_prefix)]
    if not candidates:
        raise TreeError(
            f"tag {tag!r} names no distribution; expected <distribution>-v<version> with one of: "
            + ", ".join(sorted(dist.tag_prefix + "*" for dist in distributions))
        )
    if len(candidates) > 1:
        raise TreeError(
            f"tag {tag!r} is ambiguous: it matches "
            + ", ".join(sorted(dist.name for dist in candidates))
        )
    (dist,) = candidates
    tagged_version = tag.removeprefix(dist.tag_prefix)
    if tagged_version != dist.version:
        raise TreeError(
            f"tag {tag!r} says {dist.name} {tagged_version} but {dist.folder} is at "
            f"{dist.version}; bump with `hatch version` or tag {dist.tag()!r}"
        )
    return dist


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; return the process exit status (0 ok, 1 problems)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--tag",
        help="a release tag such as bussdcc-framework-v0.47.0; "
        "on success print that distribution's folder",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=REPOSITORY_ROOT,
        help="repository root (default: the one holding this script)",
    )
    args = parser.parse_args(argv)

    try:
        distributions = discover(args.root)
    except TreeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems = find_problems(distributions)
    tagged: Distribution | None = None
    if args.tag is not None:
        try:
            tagged = resolve_tag(args.tag, distributions)
        except TreeError as exc:
            problems.append(str(exc))

    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    if tagged is not None:
        print(tagged.folder)
    else:
        for dist in distributions:
            print(f"ok: {dist.name} {dist.version} ({dist.folder})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
