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
from .fleet.node import NodeOptions
from .history.command import add_history_parser, run_history
from .legacy import HistorySource
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


def _add_common(parser: argparse.ArgumentParser, *, repeated: bool = False) -> None:
    # ``repeated``: the same options on a subcommand. Their defaults are suppressed there, so
    # `--data-dir D replay` keeps D (a subparser's default would silently overwrite it).
    def default(value: object) -> object:
        return argparse.SUPPRESS if repeated else value

    parser.add_argument(
        "--host",
        default=default(defaults.HOST),
        help="address to serve on (0.0.0.0 for the whole LAN)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=default(defaults.DASHBOARD_PORT),
        help=f"dashboard port ({defaults.DASHBOARD_PORT})",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default(defaults.DATA_DIR),
        help=f"where history lives (./{defaults.DATA_DIR})",
    )
    parser.add_argument(
        "--quiet", action="store_true", default=default(False), help="no JSON event lines on stdout"
    )


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
    _add_fleet_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="{replay,history,service,hub}")
    replay = sub.add_parser("replay", help="play recorded history into the dashboard")
    _add_common(replay, repeated=True)
    replay.add_argument(
        "--speed", type=_speed, default=1.0, help="1 = as recorded, 10 = ten times faster, 0 = max"
    )
    replay.add_argument(
        "source", nargs="?", type=Path, help="a history folder or .jsonl file (<data-dir>/history)"
    )
    _add_service_command(sub)
    add_history_parser(sub)
    _add_hub_command(sub)
    return parser


def _add_fleet_options(parser: argparse.ArgumentParser) -> None:
    fleet = parser.add_argument_group("fleet (needs the [mqtt] extra)")
    fleet.add_argument(
        "--mqtt",
        metavar="URL",
        help="publish telemetry and health to this broker as a node "
        "(mqtt://[user:password@]host[:port], mqtts:// for TLS)",
    )
    fleet.add_argument("--node", help="this node's name on the broker (default: the host name)")
    fleet.add_argument(
        "--ha-discovery",
        action="store_true",
        help="also publish Home Assistant MQTT discovery configs (retained)",
    )
    fleet.add_argument(
        "--ha-discovery-cleanup",
        action="store_true",
        help="remove the Home Assistant configs when the app stops (to retire the node; "
        "without it a reboot keeps the device in Home Assistant)",
    )


def _add_hub_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hub = sub.add_parser(
        "hub",
        help="serve the fleet dashboard of every node on a broker",
        description="Receive every node's telemetry from an MQTT broker and serve the fleet "
        "dashboard, /api/nodes and /metrics; record what arrives under <data-dir>/history.",
    )
    _add_common(hub)
    hub.set_defaults(data_dir=Path("data-hub"))
    hub.add_argument("--mqtt", metavar="URL", help="the broker the nodes publish to")
    hub.add_argument(
        "--interval",
        type=_interval,
        default=defaults.INTERVAL,
        help="the nodes' sampling interval until each shows its own (offline after 3 silent)",
    )
    hub.add_argument("--no-record", action="store_true", help="do not write JSONL history")
    hub.add_argument(
        "--session",
        metavar="NAME",
        help="the hub's persistent MQTT session, which the broker keeps while the hub is away "
        "(default: bussdcc-hub-<host name>; give each hub on one broker its own)",
    )
    hub.add_argument(
        "--clean-session",
        action="store_true",
        help="no persistent session: what nodes publish while the hub is down is not seen",
    )
    hub.add_argument(
        "--replay",
        nargs="?",
        const=True,
        metavar="PATH",
        help="play the hub's recorded history (or PATH) into the dashboard instead",
    )
    hub.add_argument("--speed", type=_speed, default=1.0, help="replay speed (0 = max)")


def _fleet_options(args: argparse.Namespace) -> NodeOptions | None:
    """The node options of ``--mqtt``, or None; ValueError naming a bad URL or node name."""
    if args.mqtt is None:
        if args.node or args.ha_discovery or args.ha_discovery_cleanup:
            raise ValueError("--node and --ha-discovery need --mqtt URL")
        return None
    return NodeOptions(
        args.mqtt,
        args.node,
        ha_discovery=args.ha_discovery or args.ha_discovery_cleanup,
        ha_cleanup=args.ha_discovery_cleanup,
    )


def _run_hub(args: argparse.Namespace) -> int:
    from .fleet.hub import HubOptions, build_hub_replay_runtime, build_hub_runtime, default_session

    options = HubOptions(
        broker=args.mqtt,
        host=args.host,
        port=args.port,
        interval=args.interval,
        data_dir=args.data_dir,
        record=not args.no_record,
        quiet=args.quiet,
        session=None if args.clean_session else (args.session or default_session()),
    )
    if args.replay is not None:
        source_path = history_root(args.data_dir) if args.replay is True else Path(args.replay)
        if not source_path.exists():
            return _fail(f"no recorded hub history at {source_path}")
        source = JsonlSource(source_path)
        replay, _ = build_hub_replay_runtime(options, args.speed, source)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(
                sig, lambda signum, frame: threading.Thread(target=replay.shutdown).start()
            )
        print(f"{PROG} hub: replaying {source_path}", file=sys.stderr, flush=True)
        try:
            replay.run()
        except BootError as exc:
            return _fail(_boot_error(exc))
        return 0
    try:
        rt, web = build_hub_runtime(options)
    except HistoryUnwritable as exc:
        return _fail(str(exc.strerror))
    except (ImportError, TypeError, ValueError) as exc:
        return _fail(str(exc))
    try:
        rt.boot()
    except BootError as exc:
        return _fail(_boot_error(exc))
    print(f"{PROG} {__version__}: fleet hub at {web.url}", file=sys.stderr, flush=True)
    rt.run()
    return 0


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
    argv = _legacy_forms(sys.argv[1:] if argv is None else list(argv))
    args, extra = parser.parse_known_args(argv)
    if extra and not (args.command == "service" and args.action == "install"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.app_args = extra
    return args


def _legacy_forms(argv: list[str]) -> list[str]:
    """The 0.22 forms (``run --web --record ...``), translated with a notice on stderr."""
    from .legacy_cli import translate

    return translate(argv, PROG) or argv


def _fail(text: str) -> int:
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return 1


def _boot_error(exc: BootError) -> str:
    cause = exc.cause
    if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
        return f"the dashboard port is busy: {cause}"
    return str(exc)


def _run_live(args: argparse.Namespace) -> int:
    try:
        fleet = _fleet_options(args)
    except (TypeError, ValueError) as exc:
        return _fail(str(exc))
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
        fleet=fleet,
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
    # Reads 0.22 segments too, through the explicit table in `legacy` (nothing imported).
    source = HistorySource(source_path)
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
    if source.read == 0:
        return _fail(f"nothing readable in {source_path}")
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
    if args.command == "hub":
        return _run_hub(args)
    return _run_live(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
