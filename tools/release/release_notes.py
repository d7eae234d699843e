"""Extracts one version's section from a distribution's CHANGELOG.md, for its GitHub release.

Usage::

    python tools/release/release_notes.py packages/bussdcc-framework 0.47.0 > notes.md

A section starts at a Markdown heading (``##`` or deeper) that names the version as a
whole word, e.g. ``## 0.47.0 (2025-06-01)`` or ``## [0.47.0] - 2025-06-01``, and runs
to the next heading of the same or a higher level. The exit status is 1, with the reason
on stderr, when the changelog is missing, has no heading for the version, or the section
is empty: a release whose changelog was not updated should not go out.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

HEADING = re.compile(r"^(#{2,6})\s+(.*?)\s*#*\s*$")


class ChangelogError(Exception):
    """The changelog is missing or has no usable section for the version."""


def section_for(changelog: str, version: str) -> str:
    """Return the body of *changelog*'s section for *version*, stripped.

    Raises ChangelogError if no heading names the version or its section is empty.
    """
    names_version = re.compile(rf"(?<![\w.]){re.escape(version)}(?![\w.])")
    lines = changelog.splitlines()
    for index, line in enumerate(lines):
        heading = HEADING.match(line)
        if heading is None or not names_version.search(heading.group(2)):
            continue
        level = len(heading.group(1))
        body: list[str] = []
        for following in lines[index + 1 :]:
            next_heading = HEADING.match(following)
            if next_heading is not None and len(next_heading.group(1)) <= level:
                break
            body.append(following)
        text = "\n".join(body).strip()
        if not text:
            raise ChangelogError(f"the section for {version} ({line.strip()!r}) is empty")
        return text
    raise ChangelogError(f"no heading names version {version}")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the notes for ``FOLDER VERSION``; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: release_notes.py DISTRIBUTION_FOLDER VERSION", file=sys.stderr)
        return 2
    folder, version = args
    path = Path(folder) / "CHANGELOG.md"
    try:
        notes = section_for(path.read_text(encoding="utf-8"), version)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {path}: cannot read: {exc}", file=sys.stderr)
        return 1
    except ChangelogError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 1
    print(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
