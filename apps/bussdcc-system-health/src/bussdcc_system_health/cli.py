"""The `bussdcc-system-health` command: monitor this host, or replay recorded history."""

from __future__ import annotations

import argparse
import math
import mimetypes
import re
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bussdcc import BootError
from bussdcc_framework.io.jsonl import JsonlSource

from . import message as _messages  # noqa: F401  (registers the telemetry messages for replay)
from .history.command import add_history_parser, run_history
from .runtime import DEFAULT_PORT, AppOptions, build_live_runtime, build_replay_runtime
from .sinks import DEFAULT_RETENTION, HistoryUnwritable, history_root
from .version import __version__

__all__ = ["main", "parse_args"]

PROG = "bussdcc-system-health"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 86400}


def parse_duration(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"90m"``, ``"3600s"``, ``"2w"``; a bare number means days."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a positive number with s, m, h, d or w (e.g. 7d)"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: not a whole number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value}: must be 0-65535")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid speed {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"speed must be >= 0 (0 = fastest), got {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (0.0.0.0 for the whole LAN)"
    )
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="dashboard port (8086)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="where history lives (./data)"
    )
    parser.add_argument("--quiet", action="store_true", help="no JSON event lines on stdout")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Monitor this host's health, record it as JSONL and serve a live dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common(parser)
    parser.add_argument("--interval", type=_positive, default=1.0, help="seconds between samples")
    parser.add_argument("--no-record", action="store_true", help="do not write JSONL history")
    parser.add_argument(
        "--retention",
        type=parse_duration,
        default=DEFAULT_RETENTION,
        help="delete history older than this (default 7d; history is also capped at 1 GiB)",
    )
    sub = parser.add_subparsers(dest="command", metavar="{replay,history}")
    replay = sub.add_parser("replay", help="play recorded history into the dashboard")
    _add_common(replay)
    replay.add_argument(
        "--speed", type=_speed, default=1.0, help="1 = as recorded, 10 = ten times faster, 0 = max"
    )
    replay.add_argument(
        "source", nargs="?", type=Path, help="a history folder or .jsonl file (<data-dir>/history)"
    )
    add_history_parser(sub)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return _parser().parse_args(argv)


def _fail(text: str) -> int:
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return 1


def _boot_error(exc: BootError) -> str:
    cause = exc.error
    if "Address already in use" in cause or "in use" in cause:
        return f"the dashboard port is busy: {cause}"
    return str(exc)


def _run_live(args: argparse.Namespace) -> int:
    options = AppOptions(
        host=args.host,
        port=args.port,
        interval=args.interval,
        data_dir=args.data_dir,
        record=not args.no_record,
        quiet=args.quiet,
        retention=args.retention,
    )
    try:
        rt, web = build_live_runtime(options)
    except HistoryUnwritable as exc:
        return _fail(str(exc.strerror))
    try:
        rt.boot()
    except BootError as exc:
        return _fail(_boot_error(exc))
    where = f"history in {history_root(options.data_dir)}" if options.record else "not recording"
    print(f"{PROG} {__version__}: dashboard at {web.url} ({where})", file=sys.stderr, flush=True)
    rt.run()  # returns after SIGINT/SIGTERM have shut everything down
    return 0


def _run_replay(args: argparse.Namespace) -> int:
    source_path = args.source or history_root(args.data_dir)
    if not source_path.exists():
        return _fail(f"no recorded history at {source_path}")
    options = AppOptions(host=args.host, port=args.port, data_dir=args.data_dir, quiet=args.quiet)
    source = JsonlSource(source_path)
    rt, _web = build_replay_runtime(options, args.speed, source)
    # A replay runs in this thread; a signal only asks it to stop.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: threading.Thread(target=rt.shutdown).start())
    print(
        f"{PROG} {__version__}: replaying {source_path} at speed {args.speed:g}; "
        f"dashboard at http://{args.host}:{args.port}",
        file=sys.stderr,
        flush=True,
    )
    try:
        rt.run()
    except BootError as exc:
        return _fail(_boot_error(exc))
    if source.skipped:
        print(f"{PROG}: skipped {source.skipped} unreadable line(s)", file=sys.stderr)
    print(f"{PROG}: replayed {rt.replayed} events", file=sys.stderr)
    return 0


def _builtin_mime_types_only() -> None:
    # The dashboard serves .html, .css, .js and .json, all in Python's built-in type table.
    # Reading the system's mime.types as well (1,500+ entries on Debian) would keep about
    # 0.4 MB resident for the life of the process, a tenth of what the app itself adds.
    if not mimetypes.inited:
        mimetypes.knownfiles = []


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _builtin_mime_types_only()
    if args.command == "replay":
        return _run_replay(args)
    if args.command == "history":
        return run_history(args)
    return _run_live(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
