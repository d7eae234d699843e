"""`service install / uninstall / status`: the unit's content, and the systemctl steps."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bussdcc_system_health.cli import main
from bussdcc_system_health.notify import read_notify_file
from bussdcc_system_health.service_unit import (
    app_arguments,
    default_data_dir,
    plan_service,
    systemd_quote,
    unit_file,
    user_unit_dir,
)

PYTHON = "/opt/venv/bin/python3"

# -- quoting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "written"),
    [
        ("--host", "--host"),
        ("0.0.0.0", "0.0.0.0"),
        ("/home/pi/data", "/home/pi/data"),
        ("json://host:8000/hook", "json://host:8000/hook"),
        ("my data", '"my data"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("50%", '"50%%"'),
        ("$HOME", '"$$HOME"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("bell\x07", '"bell\\x07"'),
        ("", '""'),
    ],
)
def test_systemd_quote_writes_words_systemd_reads_back(word: str, written: str) -> None:
    assert systemd_quote(word) == written


def test_outside_a_command_line_dollar_signs_stay() -> None:
    assert systemd_quote("/srv/$data 50%", command=False) == '"/srv/$data 50%%"'


def test_systemd_quote_rejects_a_non_string() -> None:
    with pytest.raises(TypeError, match="word"):
        systemd_quote(Path("/x"))  # type: ignore[arg-type]


# -- the unit's content ----------------------------------------------------------------------


def test_the_system_unit() -> None:
    text = unit_file(
        python=PYTHON,
        args=["--host", "0.0.0.0", "--quiet", "--data-dir", "/var/lib/bussdcc-system-health"],
        data_dir=Path("/var/lib/bussdcc-system-health"),
        user=False,
    )
    assert text == textwrap.dedent(
        """\
        # Written by `bussdcc-system-health service install`; running it again replaces this file.
        [Unit]
        Description=bussdcc system health monitor and dashboard
        Documentation=https://github.com/jbussdieker/bussdcc/tree/main/apps/bussdcc-system-health
        After=network-online.target
        Wants=network-online.target

        [Service]
        Type=notify
        NotifyAccess=main
        ExecStart={EXEC}
        WorkingDirectory=/var/lib/bussdcc-system-health
        Environment=PYTHONUNBUFFERED=1
        WatchdogSec=30
        Restart=on-failure
        RestartSec=5
        TimeoutStopSec=30
        NoNewPrivileges=yes
        PrivateTmp=yes
        ProtectSystem=strict
        ReadWritePaths=/var/lib/bussdcc-system-health
        ProtectControlGroups=yes
        RestrictSUIDSGID=yes
        LockPersonality=yes

        [Install]
        WantedBy=multi-user.target
        """
    ).format(
        EXEC="/opt/venv/bin/python3 -m bussdcc_system_health --host 0.0.0.0 --quiet "
        "--data-dir /var/lib/bussdcc-system-health"
    )


def test_the_user_unit_starts_with_the_session_and_keeps_to_no_new_privileges() -> None:
    text = unit_file(
        python=PYTHON,
        args=["--quiet", "--data-dir", "/home/pi/.local/share/bussdcc-system-health"],
        data_dir=Path("/home/pi/.local/share/bussdcc-system-health"),
        user=True,
    )
    lines = text.splitlines()
    assert "Type=notify" in lines
    assert "WatchdogSec=30" in lines
    assert "Restart=on-failure" in lines
    assert "NoNewPrivileges=yes" in lines
    assert "WorkingDirectory=/home/pi/.local/share/bussdcc-system-health" in lines
    assert "WantedBy=default.target" in lines
    for system_only in ("ProtectSystem=", "PrivateTmp=", "ReadWritePaths=", "multi-user"):
        assert not any(system_only in line for line in lines)


def test_odd_paths_are_written_for_each_setting_s_own_syntax() -> None:
    data = Path("/srv/my data/50%$")
    text = unit_file(python="/opt/my venv/bin/python", args=[], data_dir=data, user=False)
    lines = text.splitlines()
    assert 'ExecStart="/opt/my venv/bin/python" -m bussdcc_system_health' in lines
    assert "WorkingDirectory=/srv/my data/50%%$" in lines
    assert 'ReadWritePaths="/srv/my data/50%%$"' in lines


@pytest.mark.parametrize(
    ("python", "data_dir", "what"),
    [("python3", Path("/var/lib/x"), "python"), (PYTHON, Path("data"), "data_dir")],
)
def test_unit_file_wants_absolute_paths(python: str, data_dir: Path, what: str) -> None:
    with pytest.raises(ValueError, match=what):
        unit_file(python=python, args=[], data_dir=data_dir, user=False)


def test_a_control_character_in_the_data_directory_is_refused() -> None:
    with pytest.raises(ValueError, match="control characters"):
        unit_file(python=PYTHON, args=[], data_dir=Path("/srv/a\nb"), user=False)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_itself_accepts_the_unit(tmp_path: Path) -> None:
    data = tmp_path / "my data%$"
    data.mkdir()
    unit = tmp_path / "bussdcc-system-health.service"
    args = app_arguments(["--host", "0.0.0.0", "--notify", "json://127.0.0.1:9/a b"], data)
    unit.write_text(unit_file(python=sys.executable, args=args, data_dir=data, user=False))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# -- the app's arguments and where things go -------------------------------------------------


def test_app_arguments_replace_the_data_dir_and_add_quiet_once() -> None:
    data = Path("/srv/health")
    assert app_arguments(["--port", "9000", "--data-dir", "x"], data) == [
        "--port",
        "9000",
        "--quiet",
        "--data-dir",
        "/srv/health",
    ]
    assert app_arguments(["--quiet", "--data-dir=x"], data) == [
        "--quiet",
        "--data-dir",
        "/srv/health",
    ]
    with pytest.raises(ValueError, match="absolute"):
        app_arguments([], Path("rel"))
    with pytest.raises(ValueError, match="--data-dir"):
        app_arguments(["--data-dir"], data)


def test_default_places_follow_systemd_and_xdg() -> None:
    home = Path("/home/pi")
    assert user_unit_dir({}, home) == Path("/home/pi/.config/systemd/user")
    assert user_unit_dir({"XDG_CONFIG_HOME": "/cfg"}, home) == Path("/cfg/systemd/user")
    assert default_data_dir(user=False, environ={}, home=home) == Path(
        "/var/lib/bussdcc-system-health"
    )
    assert default_data_dir(user=True, environ={}, home=home) == Path(
        "/home/pi/.local/share/bussdcc-system-health"
    )
    assert default_data_dir(user=True, environ={"XDG_DATA_HOME": "/d"}, home=home) == Path(
        "/d/bussdcc-system-health"
    )


def test_plan_resolves_a_relative_data_dir_against_the_current_directory() -> None:
    plan = plan_service(
        ["--data-dir", "data"],
        user=True,
        python=PYTHON,
        data_dir=Path("data"),
        environ={},
        home=Path("/home/pi"),
        cwd=Path("/home/pi/monitor"),
    )
    assert plan.unit_path == Path("/home/pi/.config/systemd/user/bussdcc-system-health.service")
    assert plan.data_dir == Path("/home/pi/monitor/data")
    assert "--data-dir /home/pi/monitor/data" in plan.content


# -- the command, with a stand-in systemctl on PATH ------------------------------------------


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake `systemctl` (the only one on PATH) that logs its arguments and succeeds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "systemctl.log"
    script = bin_dir / "systemctl"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {log}\n'
        'case "$*" in *status*) echo "active (running)"; exit "${FAKE_STATUS:-0}";; esac\n'
        'if [ -n "$FAKE_FAIL" ]; then echo "$FAKE_FAIL" >&2; exit 1; fi\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return log


def test_install_writes_the_unit_then_reloads_and_enables_it(
    systemctl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units, data = tmp_path / "units", tmp_path / "data"
    code = main(
        [
            "service",
            "install",
            "--user",
            "--unit-dir",
            str(units),
            "--port",
            "9000",
            "--data-dir",
            str(data),
            "--notify-after",
            "120",
        ]
    )
    assert code == 0
    unit = (units / "bussdcc-system-health.service").read_text()
    assert (
        f"ExecStart={sys.executable} -m bussdcc_system_health --port 9000 --notify-after 120 "
        f"--quiet --data-dir {data}"
    ) in unit.splitlines()
    assert data.is_dir()
    assert systemctl.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable --now bussdcc-system-health.service",
    ]
    assert "installed" in capsys.readouterr().err


def test_notify_urls_go_to_a_private_file_not_into_the_unit(
    systemctl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units, data = tmp_path / "units", tmp_path / "data"
    secret = "json://127.0.0.1:9/hook?token=s3cret"
    install = ["service", "install", "--user", "--unit-dir", str(units), "--data-dir", str(data)]
    urls = ["--notify", secret, "--notify=json://127.0.0.1:9/second"]

    assert main([*install, "--dry-run", *urls]) == 0
    printed = capsys.readouterr().out
    assert "s3cret" not in printed and "/second" not in printed
    assert f"# and {data / 'notify-urls'} (mode 0600): 2 notification URL(s)" in printed
    assert not data.exists()

    assert main([*install, *urls, "--port", "9000"]) == 0
    unit = (units / "bussdcc-system-health.service").read_text()
    assert "s3cret" not in unit and "json://" not in unit
    assert (
        f"ExecStart={sys.executable} -m bussdcc_system_health --port 9000 "
        f"--notify-file {data / 'notify-urls'} --quiet --data-dir {data}"
    ) in unit.splitlines()
    written = data / "notify-urls"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert read_notify_file(written) == (secret, "json://127.0.0.1:9/second")
    # Installing again keeps the file private even if someone loosened it meanwhile.
    written.chmod(0o644)
    assert main([*install, "--notify", secret]) == 0
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert read_notify_file(written) == (secret,)


def test_the_app_reads_notify_urls_from_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = tmp_path / "urls"
    urls.write_text("# alerts\n\n  bogus://secret-token  \n")
    assert read_notify_file(urls) == ("bogus://secret-token",)
    # The file's URLs reach Apprise like --notify's: this one is refused, and not echoed.
    assert main(["--no-record", "--quiet", "--port", "0", "--notify-file", str(urls)]) == 1
    err = capsys.readouterr().err
    assert "bogus://..." in err and "secret-token" not in err
    urls.write_text("# nothing but a comment\n")
    assert main(["--no-record", "--quiet", "--notify-file", str(urls)]) == 1
    assert f"notification URL file {urls} holds no URL" in capsys.readouterr().err
    missing = tmp_path / "absent"
    assert main(["--no-record", "--quiet", "--notify-file", str(missing)]) == 1
    assert f"cannot read --notify-file {missing}: No such file or directory" in (
        capsys.readouterr().err
    )
    units = tmp_path / "units"
    assert (
        main(["service", "install", "--unit-dir", str(units), "--notify-file", str(missing)]) == 1
    )
    assert not units.exists()


def test_install_dry_run_prints_the_unit_and_changes_nothing(
    systemctl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = tmp_path / "units"
    assert main(["service", "install", "--dry-run", "--unit-dir", str(units), "--host", "::"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {units / 'bussdcc-system-health.service'}\n")
    assert "--host :: --quiet --data-dir /var/lib/bussdcc-system-health" in out
    assert not units.exists()
    assert not systemctl.exists()


def test_a_failing_systemctl_is_one_line_and_the_unit_stays(
    systemctl: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "Failed to connect to bus: No such file or directory")
    units = tmp_path / "units"
    code = main(["service", "install", "--unit-dir", str(units), "--data-dir", str(tmp_path / "d")])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "`systemctl daemon-reload` failed: Failed to connect to bus" in err
    assert f"the unit file {units / 'bussdcc-system-health.service'} is written" in err
    assert (units / "bussdcc-system-health.service").exists()


def test_a_missing_systemctl_is_one_line_without_traceback_and_the_unit_stays(
    tmp_path: Path,
) -> None:
    units = tmp_path / "units"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bussdcc_system_health",
            "service",
            "install",
            "--unit-dir",
            str(units),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tmp_path / "nothing-here")},
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "systemctl was not found" in done.stderr
    assert "is written but the service is not enabled" in done.stderr
    assert (units / "bussdcc-system-health.service").exists()


def test_install_checks_the_app_options_first(
    systemctl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = tmp_path / "units"
    with pytest.raises(SystemExit) as exited:
        main(["service", "install", "--unit-dir", str(units), "--port", "http"])
    assert exited.value.code == 2
    assert "argument --port: port must be a whole number" in capsys.readouterr().err
    # Abbreviations are refused: the unit must say exactly what runs.
    with pytest.raises(SystemExit):
        main(["service", "install", "--unit-dir", str(units), "--data", "x"])
    assert main(["service", "install", "--unit-dir", str(units), "replay"]) == 1
    assert "not another command" in capsys.readouterr().err
    assert not units.exists()
    assert not systemctl.exists()


def test_uninstall_disables_removes_and_reloads(
    systemctl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = tmp_path / "units"
    unit = units / "bussdcc-system-health.service"
    assert main(["service", "uninstall", "--unit-dir", str(units)]) == 1
    assert "nothing to uninstall" in capsys.readouterr().err
    units.mkdir()
    unit.write_text("[Service]\n")
    assert main(["service", "uninstall", "--unit-dir", str(units)]) == 0
    assert not unit.exists()
    assert systemctl.read_text().splitlines() == [
        "disable --now bussdcc-system-health.service",
        "daemon-reload",
    ]


def test_status_shows_what_systemctl_says_with_its_exit_status(
    systemctl: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "status", "--user"]) == 0
    assert capsys.readouterr().out == "active (running)\n"
    assert systemctl.read_text() == "--user status --no-pager bussdcc-system-health.service\n"
    monkeypatch.setenv("FAKE_STATUS", "3")
    assert main(["service", "status"]) == 3


def test_status_without_systemctl_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["service", "status"]) == 1
    assert "systemctl was not found" in capsys.readouterr().err


# -- --notify on the command line ------------------------------------------------------------


def test_notify_without_apprise_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)
    args = ["--no-record", "--quiet", "--port", "0", "--notify", "ntfy://topic"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "needs Apprise" in err
    assert "pip install 'bussdcc-system-health[notify]'" in err
    units = tmp_path / "units"
    assert main(["service", "install", "--unit-dir", str(units), "--notify", "ntfy://t"]) == 1
    assert "needs Apprise" in capsys.readouterr().err
    assert not units.exists()


def test_an_unknown_notify_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-record", "--quiet", "--notify", "bogus://secret-token"]) == 1
    err = capsys.readouterr().err
    assert "bogus://..." in err
    assert "secret-token" not in err


def test_notify_after_must_be_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--notify-after", "-5"])
    assert "--notify-after" in capsys.readouterr().err
