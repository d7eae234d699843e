"""The 0.22 command line, translated to today's with a deprecation notice on stderr.

0.22 (click) had ``run`` and ``replay`` subcommands; 0.23 monitors without a subcommand.
Existing systemd units run ``bussdcc-system-health run --web --record ...``, so the 0.22
forms keep working for the 0.2x line:

=============================  =================================================
0.22                           0.23
=============================  =================================================
``run``                        (no subcommand)
``--record`` (absent)          recording is on by default (absent: ``--no-record``)
``--web``                      the dashboard is always served (dropped)
``--stats-interval S``         ``--interval S``
``--web-host H``               ``--host H``
``--web-port P``               ``--port P``
``--data-dir D`` / ``-d D``    ``--data-dir D``
``--quiet``                    ``--quiet``
``--record-interval S``        dropped: segments are 10 minutes (retention steps)
``replay --speed/-s X``        ``replay --speed X``
=============================  =================================================
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["translate"]

_RUN_RENAMES = {
    "--stats-interval": "--interval",
    "--web-host": "--host",
    "--web-port": "--port",
    "-d": "--data-dir",
}
_REPLAY_RENAMES = {
    "--web-host": "--host",
    "--web-port": "--port",
    "-s": "--speed",
    "-d": "--data-dir",
}
_DROPPED_FLAGS = {"--web", "--record"}
_DROPPED_OPTIONS = {"--record-interval"}


def _rewrite(args: Sequence[str], renames: dict[str, str], notes: list[str]) -> list[str]:
    out: list[str] = []
    items = iter(args)
    for arg in items:
        name, eq, value = arg.partition("=")
        if name in _DROPPED_FLAGS:
            continue
        if name in _DROPPED_OPTIONS:
            if not eq:
                next(items, None)
            notes.append(f"{name} is ignored (history is written in 10-minute segments)")
            continue
        new = renames.get(name, name)
        out.append(f"{new}={value}" if eq else new)
    return out


def translate(argv: Sequence[str], prog: str) -> list[str] | None:
    """Today's arguments for a 0.22 command line, or None if ``argv`` is not one.

    Prints one deprecation notice on stderr naming the equivalent command.
    """
    if not argv or (argv[0] not in ("run",) and not _legacy_replay(argv)):
        return None
    notes: list[str] = []
    if argv[0] == "run":
        rest = list(argv[1:])
        new = _rewrite(rest, _RUN_RENAMES, notes)
        if "--record" not in rest:
            new.append("--no-record")  # 0.22 recorded only when asked
    else:
        new = ["replay", *_rewrite(argv[1:], _REPLAY_RENAMES, notes)]
    print(
        f"{prog}: deprecated: `{prog} {' '.join(argv)}` is the 0.22 form; "
        f"running `{prog} {' '.join(new)}`. Update the command (or unit) before 1.0.",
        file=sys.stderr,
    )
    for note in notes:
        print(f"{prog}: {note}", file=sys.stderr)
    return new


def _legacy_replay(argv: Sequence[str]) -> bool:
    if argv[0] != "replay":
        return False
    legacy = {"--web", "--web-host", "--web-port", "-s", "-d"}
    return any(arg.partition("=")[0] in legacy for arg in argv[1:])
