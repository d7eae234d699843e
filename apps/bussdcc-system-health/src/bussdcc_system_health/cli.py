"""The `bussdcc-system-health` command: monitor this host, or replay recorded history."""

from __future__ import annotations

import argparse
import errno
import mimetypes
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from bussdcc import BootError
from bussdcc_framework.io.jsonl import JsonlSource

from . import defaults, validation
from . import message as _messages  # noqa: F401  (registers the telemetry messages for replay)
from .assembly import AppOptions, build_live_runtime, build_replay_runtime
from .history.command import add_history_parser, run_history
from .notify import DEFAULT_NOTIFY_AFTER, AppriseSender, NotifyUnavailable
from .recording import HistoryUnwritable, history_root
from .service_unit import (
    SERVICE_NAME,
    SYSTEM_UNIT_DIR,
    ServiceCommandError,
    install_unit,
    plan_service,
    service_status,
    uninstall_unit,
    user_unit_dir,
)
from .version import __version__

__all__ = ["main", "parse_args"]

T = TypeVar("T")

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


def _argument(
    convert: Callable[[str], object], check: Callable[[object, str], T], name: str
) -> Callable[[str], T]:
    """An argparse ``type``: ``convert`` the text, then ``check`` it as the library would.

    Both failures become one-line argparse errors naming the option, such as ``argument
    --port: port must be 0-65535, got 70000``.
    """

    def parse(text: str) -> T:
        try:
            # Text that does not convert is checked as text, for the check's type message.
            value: object = convert(text)
        except ValueError:
            value = text
        try:
            return check(value, name)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in its "invalid <name> value" message
    return parse


_port = _argument(int, validation.port, "port")
_interval = _argument(float, validation.positive_seconds, "interval")
_speed = _argument(float, validation.non_negative, "speed")
_seconds = _argument(float, validation.non_negative, "notify-after")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=defaults.HOST, help="address to serve on (0.0.0.0 for the whole LAN)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=defaults.DASHBOARD_PORT,
        help=f"dashboard port ({defaults.DASHBOARD_PORT})",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=defaults.DATA_DIR,
        help=f"where history lives (./{defaults.DATA_DIR})",
    )
    parser.add_argument("--quiet", action="store_true", help="no JSON event lines on stdout")


def _parser(*, allow_abbrev: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Monitor this host's health, record it as JSONL and serve a live dashboard.",
        allow_abbrev=allow_abbrev,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common(parser)
    parser.add_argument(
        "--interval", type=_interval, default=defaults.INTERVAL, help="seconds between samples"
    )
    parser.add_argument("--no-record", action="store_true", help="do not write JSONL history")
    parser.add_argument(
        "--retention",
        type=parse_duration,
        default=defaults.RETENTION,
        help="delete history older than this (default 7d; history is also capped at 1 GiB)",
    )
    parser.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="URL",
        help="tell this Apprise URL (ntfy://, mailto://, tgram://, json://...) when health "
        "turns warning or critical and stays so, and when it recovers; repeatable; "
        "needs the [notify] extra",
    )
    parser.add_argument(
        "--notify-after",
        type=_seconds,
        default=DEFAULT_NOTIFY_AFTER,
        metavar="SECONDS",
        help="how long a status must last before it is notified (default 60)",
    )
    sub = parser.add_subparsers(dest="command", metavar="{replay,history,service}")
    replay = sub.add_parser("replay", help="play recorded history into the dashboard")
    _add_common(replay)
    replay.add_argument(
        "--speed", type=_speed, default=1.0, help="1 = as recorded, 10 = ten times faster, 0 = max"
    )
    replay.add_argument(
        "source", nargs="?", type=Path, help="a history folder or .jsonl file (<data-dir>/history)"
    )
    _add_service_command(sub)
    add_history_parser(sub)
    return parser


def _add_service_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    service = sub.add_parser(
        "service", help="run as a systemd service (install, uninstall, status)"
    )
    actions = service.add_subparsers(dest="action", metavar="{install,uninstall,status}")
    actions.required = True
    install = actions.add_parser(
        "install",
        help="write and enable a unit running the app with the options that follow",
        description="Write a systemd unit that runs the app with the options given after "
        "`install` (e.g. --host 0.0.0.0 --notify URL), then enable and start it. As root it is "
        f"a system service in {SYSTEM_UNIT_DIR}; with --user one of your own units.",
    )
    install.add_argument(
        "--dry-run",
        action="store_true",
        help="print the unit and where it would go; change nothing",
    )
    uninstall = actions.add_parser("uninstall", help="stop, disable and remove the unit")
    status = actions.add_parser("status", help="show what systemd says about the service")
    for parser in (install, uninstall, status):
        parser.add_argument("--user", action="store_true", help="your own units, not the system's")
        parser.add_argument(
            "--unit-dir", type=Path, help="where the unit file goes (default: systemd's own)"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``sys.argv[1:]`` when ``argv`` is None); exits 2 on bad input.

    ``app_args`` holds the app options given after ``service install`` (for the unit).
    """
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not (args.command == "service" and args.action == "install"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.app_args = extra
    return args


def _fail(text: str) -> int:
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return 1


def _boot_error(exc: BootError) -> str:
    cause = exc.cause
    if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
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
        notify=tuple(args.notify),
        notify_after=args.notify_after,
    )
    try:
        rt, web = build_live_runtime(options)
    except HistoryUnwritable as exc:
        return _fail(str(exc.strerror))
    except (NotifyUnavailable, ValueError) as exc:  # a --notify problem
        return _fail(str(exc))
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


def _service(args: argparse.Namespace) -> int:
    unit_dir: Path | None = args.unit_dir
    if args.action == "status":
        code, said = service_status(user=args.user)
        print(said, end="")
        return code
    if args.action == "uninstall":
        folder = unit_dir or (
            user_unit_dir(os.environ, Path.home()) if args.user else SYSTEM_UNIT_DIR
        )
        path = folder / f"{SERVICE_NAME}.service"
        if not uninstall_unit(path, user=args.user):
            return _fail(f"no unit at {path}: nothing to uninstall")
        print(f"{PROG}: removed {path} (the data directory is kept)", file=sys.stderr)
        return 0
    # install: the options after it are the app's own, checked now rather than at service start
    app = _parser(allow_abbrev=False)
    app.set_defaults(data_dir=None)
    app_options = app.parse_args(args.app_args)
    if app_options.command is not None:
        return _fail("service install takes the app's options, not another command")
    if app_options.notify:
        AppriseSender(app_options.notify)  # NotifyUnavailable / ValueError: reported by main
    plan = plan_service(
        args.app_args,
        user=args.user,
        python=sys.executable,
        data_dir=app_options.data_dir,
        unit_dir=unit_dir,
    )
    if args.dry_run:
        print(f"# {plan.unit_path}")
        print(plan.content, end="")
        return 0
    install_unit(plan)
    scope = "--user " if args.user else ""
    print(
        f"{PROG}: installed {plan.unit_path}, enabled and started; data in {plan.data_dir}\n"
        f"  see it with: {PROG} service status {scope.strip()}".rstrip(),
        file=sys.stderr,
    )
    if args.user:
        print(
            "  to start it at boot without logging in: loginctl enable-linger $USER",
            file=sys.stderr,
        )
    return 0


def _builtin_mime_types_only() -> None:
    # The dashboard serves .html, .css, .js and .json, all in Python's built-in type table.
    # Reading the system's mime.types as well (1,500+ entries on Debian) would keep about
    # 0.4 MB resident for the life of the process, a tenth of what the app itself adds.
    if not mimetypes.inited:
        mimetypes.knownfiles = []


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bussdcc-system-health`` with ``argv``; return the process exit code."""
    args = parse_args(argv)
    _builtin_mime_types_only()
    if args.command == "replay":
        return _run_replay(args)
    if args.command == "service":
        try:
            return _service(args)
        except (ServiceCommandError, NotifyUnavailable, ValueError) as exc:
            return _fail(str(exc))
    if args.command == "history":
        return run_history(args)
    return _run_live(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
