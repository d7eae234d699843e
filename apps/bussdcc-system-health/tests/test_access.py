"""Who may open the dashboard: open on loopback, the data directory's token elsewhere, and the
`token` command that prints or rotates it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bussdcc_system_health.cli import main, parse_args
from bussdcc_system_health.interfaces.access import (
    dashboard_access,
    dashboard_url,
    read_dashboard_token,
    token_path,
)


def test_loopback_is_open_and_writes_nothing(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        access = dashboard_access(host, tmp_path)
        assert access.token is None and not access.disabled
    assert list(tmp_path.iterdir()) == []


def test_beyond_loopback_a_token_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = dashboard_access("0.0.0.0", tmp_path)
    assert first.token and first.created and first.path == token_path(tmp_path)
    assert stat.S_IMODE(token_path(tmp_path).stat().st_mode) == 0o600
    again = dashboard_access("192.168.1.5", tmp_path)
    assert again.token == first.token and not again.created


def test_no_auth_turns_it_off_and_says_so(tmp_path: Path) -> None:
    access = dashboard_access("0.0.0.0", tmp_path, auth=False)
    assert access.token is None and access.disabled
    assert not token_path(tmp_path).exists()


def test_the_url_carries_the_token_only_when_given() -> None:
    assert dashboard_url("127.0.0.1", 8086) == "http://127.0.0.1:8086/"
    assert dashboard_url("pi.lan", 8086, "a/b+c") == "http://pi.lan:8086/?token=a%2Fb%2Bc"
    assert dashboard_url("::1", 8086) == "http://[::1]:8086/"
    assert dashboard_url("0.0.0.0", 8086).startswith("http://")
    assert "0.0.0.0" not in dashboard_url("0.0.0.0", 8086)


def test_the_token_command_prints_and_rotates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--data-dir", str(tmp_path)]) == 1
    assert "no token" in capsys.readouterr().err
    first = dashboard_access("0.0.0.0", tmp_path).token
    assert main(["token", "--data-dir", str(tmp_path), "--host", "pi.lan"]) == 0
    assert capsys.readouterr().out.strip() == f"http://pi.lan:8086/?token={first}"
    assert main(["token", "--data-dir", str(tmp_path), "--rotate", "--host", "pi.lan"]) == 0
    out = capsys.readouterr()
    rotated = read_dashboard_token(tmp_path)
    assert rotated and rotated != first
    assert out.out.strip() == f"http://pi.lan:8086/?token={rotated}"
    assert "restart" in out.err


def test_a_damaged_token_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_path(tmp_path).write_text("")
    assert main(["token", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no usable token" in err and "Traceback" not in err


def test_the_exposure_options_parse() -> None:
    args = parse_args(["--host", "0.0.0.0", "--no-auth", "--allowed-host", "pi.example"])
    assert args.no_auth and args.allowed_host == ["pi.example"]
    replay = parse_args(["replay", "--allowed-host", "a", "--allowed-host", "b"])
    assert replay.allowed_host == ["a", "b"] and not replay.no_auth
