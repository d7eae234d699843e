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
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

# Only light modules here: SIGINT/SIGTERM handling starts on the first line of main(), and
# everything imported before it (Flask, the history store...) is time in which a signal
# would still end the process with a traceback. The rest is imported where it is used.
from . import defaults, logs, validation
from .version import __version__

if TYPE_CHECKING:
    from bussdcc import BootError

    from .fleet.node import NodeOptions
    from .interfaces.access import Access

__all__ = ["main", "parse_args"]

T = TypeVar("T")

PROG = "bussdcc-system-health"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 86400}


def parse_duration(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"90m"``, ``"3600s"``, ``"2w"``; a bare number means days.

    At most `defaults.RETENTION_MAX` (100 years). Raises ``argparse.ArgumentTypeError``
    otherwise, or for text that is not such a duration.
    """
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a positive number with s, m, h, d or w (e.g. 7d)"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > defaults.RETENTION_MAX.total_seconds():
        raise argparse.ArgumentTypeError(
            f"duration {text!r} is too long: at most {defaults.RETENTION_MAX.days // 365} years"
        )
    return timedelta(seconds=seconds)


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


def _interval_check(value: object, name: str) -> float:
    return validation.seconds_between(value, name, defaults.INTERVAL_MIN, defaults.INTERVAL_MAX)


def _speed_check(value: object, name: str) -> float:
    speed = validation.non_negative(value, name)
    if speed and not defaults.SPEED_MIN <= speed <= defaults.SPEED_MAX:
        raise ValueError(
            f"{name} must be 0 (as fast as possible) or from {defaults.SPEED_MIN:g} to "
            f"{defaults.SPEED_MAX:g}, got {value!r}"
        )
    return speed


def _max_gap_check(value: object, name: str) -> float | None:
    if value == "none":
        return None
    return validation.seconds_between(value, name, 0.0, defaults.INTERVAL_MAX)


_port = _argument(int, validation.port, "port")
_host = _argument(str, validation.host, "host")
_interval = _argument(float, _interval_check, "interval")
_speed = _argument(float, _speed_check, "speed")
_max_gap = _argument(float, _max_gap_check, "max-gap")
_seconds = _argument(float, validation.non_negative, "notify-after")


def _add_common(parser: argparse.ArgumentParser, *, repeated: bool = False) -> None:
    # ``repeated``: the same options on a subcommand. Their defaults are suppressed there, so
    # `--data-dir D replay` keeps D (a subparser's default would silently overwrite it).
    def default(value: object) -> object:
        return argparse.SUPPRESS if repeated else value

    parser.add_argument(
        "--host",
        type=_host,
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
    parser.add_argument(
        "--console",
        action="store_true",
        default=default(False),
        help="JSON event lines on stdout even when it is not a terminal (a pipe, journald)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        default=default(False),
        help="serve beyond loopback without the token (anyone who reaches the port can read "
        "this machine's health); said on every start",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=default([]),
        metavar="NAME",
        help="a host name the dashboard answers to besides this machine's own names and "
        "addresses (e.g. a DNS alias or a reverse proxy's name); repeatable",
    )


def _parser(*, allow_abbrev: bool = True) -> argparse.ArgumentParser:
    from .history.command import add_history_parser
    from .notify import DEFAULT_NOTIFY_AFTER

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Monitor this host's health, record it as JSONL and serve a live dashboard.",
        allow_abbrev=allow_abbrev,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common(parser)
    parser.add_argument(
        "--interval",
        type=_interval,
        default=defaults.INTERVAL,
        help=f"seconds between samples ({defaults.INTERVAL_MIN:g} to {defaults.INTERVAL_MAX:g})",
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
        "--notify-file",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="read more Apprise URLs from this file, one per line (# starts a comment): "
        "unlike --notify, they do not show in the process list; repeatable",
    )
    parser.add_argument(
        "--notify-after",
        type=_seconds,
        default=DEFAULT_NOTIFY_AFTER,
        metavar="SECONDS",
        help="how long a status must last before it is notified (default 60)",
    )
    _add_fleet_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="{replay,history,service,hub,token}")
    replay = sub.add_parser("replay", help="play recorded history into the dashboard")
    _add_common(replay, repeated=True)
    replay.add_argument(
        "--speed", type=_speed, default=1.0, help="1 = as recorded, 10 = ten times faster, 0 = max"
    )
    replay.add_argument(
        "--max-gap",
        type=_max_gap,
        default=defaults.REPLAY_MAX_GAP,
        metavar="SECONDS",
        help=f"shorten longer gaps between recorded events to this "
        f"(default {defaults.REPLAY_MAX_GAP:g}; 'none' keeps real gaps)",
    )
    replay.add_argument(
        "--loop",
        action="store_true",
        help="replay again from the start when the end is reached, until stopped",
    )
    replay.add_argument(
        "source", nargs="?", type=Path, help="a history folder or .jsonl file (<data-dir>/history)"
    )
    _add_service_command(sub)
    add_history_parser(sub)
    _add_hub_command(sub)
    _add_token_command(sub)
    return parser


def _add_token_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser(
        "token",
        help="print the dashboard's access token (or --rotate it)",
        description="Print the URL that opens the dashboard with its token (needed when it is "
        "served beyond loopback), or make a new token with --rotate.",
    )
    token.add_argument(
        "--data-dir",
        type=Path,
        default=defaults.DATA_DIR,
        help=f"where the token lives (./{defaults.DATA_DIR})",
    )
    token.add_argument(
        "--host", default=None, help="the dashboard's address, for the URL (this machine's)"
    )
    token.add_argument(
        "--port", type=_port, default=defaults.DASHBOARD_PORT, help="the dashboard's port"
    )
    token.add_argument(
        "--rotate",
        action="store_true",
        help="replace the token; the old one works until the app restarts",
    )


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
    from .fleet.node import NodeOptions

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


def _run_hub(args: argparse.Namespace, early: _EarlySignals) -> int:
    from bussdcc import BootError
    from bussdcc_framework.io.jsonl import JsonlSource

    from .fleet.hub import (
        HubOptions,
        build_hub_replay_runtime,
        build_hub_runtime,
        default_session,
    )
    from .recording import HistoryUnwritable, history_root

    logs.configure(hold=False)
    if early.pending() is not None:
        return early.stopped_before_start()

    options = HubOptions(
        broker=args.mqtt,
        host=args.host,
        port=args.port,
        interval=args.interval,
        data_dir=args.data_dir,
        record=not args.no_record,
        quiet=_quiet(args),
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
    from .service_unit import SYSTEM_UNIT_DIR

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


def _quiet(args: argparse.Namespace) -> bool:
    """No JSON event stream unless asked for (`--console`) or stdout is a terminal: under
    systemd or in a pipe it would only fill the journal; `--quiet` wins over both."""
    console = bool(getattr(args, "console", False)) or sys.stdout.isatty()
    return bool(args.quiet) or not console


def _boot_error(exc: BootError) -> str:
    cause = exc.cause
    if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
        return f"the dashboard port is busy: {cause}"
    return str(exc)


def _access(args: argparse.Namespace) -> Access:
    """The dashboard's protection for ``args`` (see `interfaces.access`)."""
    from .interfaces.access import dashboard_access

    return dashboard_access(args.host, args.data_dir, auth=not args.no_auth)


def _announce(access: Access, host: str, port: int, where: str) -> None:
    """The first lines a person reads: where the dashboard is, and how to get in."""
    from .interfaces.access import dashboard_url

    if access.token is None:
        url = dashboard_url(host, port)
        print(f"{PROG} {__version__}: dashboard at {url} ({where})", file=sys.stderr, flush=True)
    elif access.created:
        url = dashboard_url(host, port, access.token)
        print(
            f"{PROG} {__version__}: dashboard at {url} ({where})\n"
            f"  open that URL once in each browser; the token is kept in {access.path} "
            f"(`{PROG} token` prints it again)",
            file=sys.stderr,
            flush=True,
        )
    else:
        url = dashboard_url(host, port)
        print(
            f"{PROG} {__version__}: dashboard at {url} ({where}; token required: "
            f"`{PROG} token` prints the URL with it)",
            file=sys.stderr,
            flush=True,
        )
    if access.disabled:
        print(
            f"{PROG}: warning: authentication is off (--no-auth): anyone who can reach "
            f"port {port} can read this machine's health",
            file=sys.stderr,
            flush=True,
        )


def _token(args: argparse.Namespace) -> int:
    from .interfaces.access import (
        dashboard_url,
        read_dashboard_token,
        rotate_dashboard_token,
        token_path,
    )

    data_dir: Path = args.data_dir
    if args.rotate:
        token = rotate_dashboard_token(data_dir)
        print(
            f"{PROG}: new token in {token_path(data_dir)}; restart the app for it to replace "
            "the old one",
            file=sys.stderr,
        )
    else:
        found = read_dashboard_token(data_dir)
        if found is None:
            return _fail(
                f"no token in {token_path(data_dir)} yet: it is made when the app first "
                "serves beyond loopback (or make one with --rotate)"
            )
        token = found
    print(dashboard_url(args.host or "0.0.0.0", args.port, token))
    return 0


def _run_live(args: argparse.Namespace, early: _EarlySignals) -> int:
    from bussdcc import BootError

    from .assembly import AppOptions, build_live_runtime
    from .notify import NotifyUnavailable
    from .recording import HistoryUnwritable, history_root

    try:
        fleet = _fleet_options(args)
    except (TypeError, ValueError) as exc:
        return _fail(str(exc))
    try:
        access = _access(args)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot use the dashboard token: {exc}")
    try:
        notify = _notify_urls(args)
    except (OSError, ValueError) as exc:
        return _fail(_notify_file_problem(exc))
    options = AppOptions(
        host=args.host,
        port=args.port,
        interval=args.interval,
        data_dir=args.data_dir,
        record=not args.no_record,
        quiet=_quiet(args),
        retention=args.retention,
        notify=notify,
        notify_after=args.notify_after,
        fleet=fleet,
        token=access.token,
        allowed_hosts=tuple(args.allowed_host),
    )
    # What boot logs waits until the dashboard's address is printed: the line people look for.
    held = logs.configure()
    try:
        rt, web = build_live_runtime(options)
    except HistoryUnwritable as exc:
        held.release()
        return _fail(str(exc.strerror))
    except (NotifyUnavailable, ValueError) as exc:  # a --notify problem
        held.release()
        return _fail(str(exc))
    if early.pending() is not None:
        held.release()
        return early.stopped_before_start()
    try:
        rt.boot()
    except BootError as exc:
        held.release()
        return _fail(_boot_error(exc))
    late = early.pending()
    if late is not None:
        # Landed after the check above but before boot installed the runtime's own handling.
        rt.shutdown(f"signal {late.name}")
    where = f"history in {history_root(options.data_dir)}" if options.record else "not recording"
    _announce(access, options.host, web.port, where)
    held.release()
    rt.run()  # returns after SIGINT/SIGTERM have shut everything down
    return 0


def _run_replay(args: argparse.Namespace, early: _EarlySignals) -> int:
    from bussdcc import BootError
    from bussdcc_framework.runtime import ReplayRuntime

    from . import message as _messages  # noqa: F401  (registers the telemetry messages)
    from .assembly import AppOptions, build_replay_runtime
    from .interfaces import SystemWebInterface
    from .legacy import HistorySource
    from .recording import history_root
    from .replay_control import ProgressLine, ReplayControl, recording_span

    logs.configure(hold=False)
    source_path = args.source or history_root(args.data_dir)
    if not source_path.exists():
        return _fail(f"no recorded history at {source_path}")
    try:
        access = _access(args)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot use the dashboard token: {exc}")
    options = AppOptions(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        quiet=_quiet(args),
        token=access.token,
        allowed_hosts=tuple(args.allowed_host),
    )
    # Reads 0.22 segments too, through the explicit table in `legacy` (nothing imported).
    source = HistorySource(source_path)
    webs: list[SystemWebInterface] = []

    def build(speed: float) -> ReplayRuntime:
        # Later rounds (a seek backwards, --loop) serve on the port the first one bound.
        port = webs[0].port if webs else options.port
        rt, web = build_replay_runtime(
            replace(options, port=port), speed, source, max_gap=args.max_gap
        )
        web.replay = control
        webs.append(web)
        return rt

    control = ReplayControl(
        build, source, speed=args.speed, loop=args.loop, span=recording_span(source)
    )
    if early.pending() is not None:
        return early.stopped_before_start()
    # A replay runs in this thread; a signal only asks it to stop (from a thread of its own:
    # a handler interrupts this thread anywhere and must not take its locks).
    stopped = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopped.set()
        threading.Thread(target=control.stop, name="replay-stop", daemon=True).start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    loop = " in a loop" if args.loop else ""
    _announce(
        access, args.host, args.port, f"replaying {source_path} at speed {args.speed:g}{loop}"
    )
    meter = ProgressLine(control, sys.stderr) if sys.stderr.isatty() else None
    if meter is not None:
        meter.start()
    try:
        control.run()
    except BootError as exc:
        return _fail(_boot_error(exc))
    finally:
        if meter is not None:
            meter.stop()
    if source.skipped:
        print(f"{PROG}: skipped {source.skipped} unreadable line(s)", file=sys.stderr)
    if not control.total and not stopped.is_set():
        return _fail(f"no readable event in {source_path}: nothing readable to replay")
    print(f"{PROG}: replayed {control.total} events", file=sys.stderr)
    return 0


def _service(args: argparse.Namespace) -> int:
    from .notify import AppriseSender
    from .service_unit import (
        SERVICE_NAME,
        SYSTEM_UNIT_DIR,
        install_unit,
        plan_service,
        service_status,
        uninstall_unit,
        user_unit_dir,
    )

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
    try:
        notify = _notify_urls(app_options)
    except (OSError, ValueError) as exc:
        return _fail(_notify_file_problem(exc))
    if notify:
        AppriseSender(notify)  # NotifyUnavailable / ValueError: reported by main
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
        if plan.notify_file is not None:
            count = len(plan.notify_urls)
            print(f"# and {plan.notify_file} (mode 0600): {count} notification URL(s), not shown")
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


def _notify_urls(args: argparse.Namespace) -> tuple[str, ...]:
    """Every Apprise URL asked for: ``--notify`` ones, then each ``--notify-file``'s.

    Raises:
        OSError, ValueError: as `read_notify_file` does.
    """
    from .notify import read_notify_file

    urls = list(args.notify)
    for path in args.notify_file:
        urls.extend(read_notify_file(path))
    return tuple(urls)


def _notify_file_problem(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError):
        return f"cannot read --notify-file {exc.filename}: {exc.strerror or exc}"
    return str(exc)


def _builtin_mime_types_only() -> None:
    # The dashboard serves .html, .css, .js and .json, all in Python's built-in type table.
    # Reading the system's mime.types as well (1,500+ entries on Debian) would keep about
    # 0.4 MB resident for the life of the process, a tenth of what the app itself adds.
    if not mimetypes.inited:
        mimetypes.knownfiles = []


# From glibc's <malloc.h>.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

_MALLOC_ARENAS = 2
"""How many malloc arenas the app's threads share (glibc's default is 8 per core)."""

_MMAP_THRESHOLD = 256 * 1024
"""Allocations from this size up get pages of their own, returned to the system when freed."""


def _tune_malloc() -> tuple[str, ...]:
    """Set glibc's malloc for a process that runs for months: at most `_MALLOC_ARENAS`
    arenas, and a fixed `_MMAP_THRESHOLD`. Each is left alone if its environment variable
    (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``) is set -- the user chose -- and both
    when the C library is not glibc. Returns the names of the variables it set for the user.

    Arenas: glibc gives each new thread that allocates an arena of its own, up to 8 per
    core, and each keeps the memory freed into it. Every WebSocket client brings threads,
    so a dashboard whose clients come and go grew by about 6 MB in a 10-minute soak
    (``bench:soak``) and then stayed there; with two arenas the same soak starts 7 MB lower
    and grows by about 1 MB. The threads take turns under the GIL anyway, so two arenas
    cost no speed that shows.

    Threshold: by default glibc raises its threshold to the size of every large block that
    is freed, so after the first closed segment is compressed (megabyte reads and outputs)
    blocks of that size come from the heap and stay resident: +3.9 MB for good, measured
    from the second segment on. A fixed threshold also keeps glibc trimming the heap's top.
    Called before any thread starts.
    """
    if not sys.platform.startswith("linux"):
        return ()
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return ()  # not glibc (musl has no mallopt): nothing to tune
    chosen = (
        ("MALLOC_ARENA_MAX", _M_ARENA_MAX, _MALLOC_ARENAS),
        ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
    )
    return tuple(
        variable
        for variable, option, value in chosen
        if variable not in os.environ and mallopt(option, value)
    )


class _EarlySignals:
    """SIGINT/SIGTERM while the app starts: remembered and acted on, never a traceback.

    Installed on the first line of `main`, before the heavy imports; the runtime's own
    handling (``SignalHandling``) replaces it at boot and puts it back at shutdown. A signal
    that lands before boot stops the app with one line on stderr and exit code 0 (SIGINT
    included: a stop asked for is a clean stop, whichever signal asked and whenever).
    """

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # main() called from a thread (tests): signals are not ours to take
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        """Put back the handlers found at install (idempotent)."""
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)

    def pending(self) -> signal.Signals | None:
        """The first signal received so far, or None."""
        return self.received

    def stopped_before_start(self) -> int:
        name = self.received.name if self.received is not None else "a signal"
        print(f"{PROG}: stopped by {name} while starting", file=sys.stderr, flush=True)
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bussdcc-system-health`` with ``argv``; return the process exit code.

    SIGINT or SIGTERM at any moment after this starts ends the run cleanly with exit code 0:
    during startup with one line on stderr, afterwards through the runtime's shutdown.
    """
    early = _EarlySignals()
    early.install()
    try:
        return _main(argv, early)
    finally:
        early.restore()


def _main(argv: Sequence[str] | None, early: _EarlySignals) -> int:
    from .notify import NotifyUnavailable
    from .service_unit import ServiceCommandError

    args = parse_args(argv)
    if early.pending() is not None:
        return early.stopped_before_start()
    _builtin_mime_types_only()
    _tune_malloc()
    if args.command == "replay":
        return _run_replay(args, early)
    if args.command in ("service", "history"):
        # One-shot commands: Ctrl-C interrupts them as it would any command.
        early.restore()
    if args.command == "service":
        try:
            return _service(args)
        except (ServiceCommandError, NotifyUnavailable, ValueError) as exc:
            return _fail(str(exc))
    if args.command == "history":
        from .history.command import run_history

        return run_history(args)
    if args.command == "hub":
        return _run_hub(args, early)
    if args.command == "token":
        early.restore()
        try:
            return _token(args)
        except (OSError, ValueError) as exc:
            return _fail(str(exc))
    return _run_live(args, early)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
