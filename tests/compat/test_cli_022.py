"""The 0.22 command line keeps working, with a notice; options are honoured in any position."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bussdcc_system_health import cli
from bussdcc_system_health.legacy_cli import translate

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "v022-data-dir"


def test_the_0_22_run_form_maps_to_todays_options(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.parse_args(
        [
            "run", "--web", "--record", "--data-dir", "/srv/health", "--stats-interval", "5",
            "--web-host", "0.0.0.0", "--web-port", "8000", "--quiet", "--record-interval", "600",
        ]
    )  # fmt: skip
    assert args.command is None
    assert (args.data_dir, args.interval, args.host, args.port) == (
        Path("/srv/health"),
        5.0,
        "0.0.0.0",
        8000,
    )
    assert args.quiet and not args.no_record
    err = capsys.readouterr().err
    assert "deprecated" in err and "is the 0.22 form" in err
    assert "--interval 5 --host 0.0.0.0 --port 8000" in err
    assert "--record-interval is ignored" in err


def test_0_22_run_without_record_does_not_record() -> None:
    assert cli.parse_args(["run", "--web"]).no_record is True


def test_the_equals_form_is_translated_too() -> None:
    args = cli.parse_args(["run", "--record", "--web-port=9000", "--stats-interval=2"])
    assert (args.port, args.interval) == (9000, 2.0)


def test_todays_forms_are_not_translated() -> None:
    assert translate(["--port", "80"], "x") is None
    assert translate(["replay", "--speed", "0"], "x") is None
    assert translate([], "x") is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--data-dir", "D", "--port", "1234", "--quiet", "--host", "::1", "replay"],
        ["replay", "--data-dir", "D", "--port", "1234", "--quiet", "--host", "::1"],
        [
            "--data-dir",
            "X",
            "replay",
            "--data-dir",
            "D",
            "--port",
            "1234",
            "--quiet",
            "--host",
            "::1",
        ],
    ],
)
def test_global_options_are_honoured_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = cli.parse_args(argv)
    assert args.command == "replay"
    assert (args.data_dir, args.port, args.quiet, args.host) == (Path("D"), 1234, True, "::1")


def test_the_0_22_replay_form_replays_a_0_22_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(CORPUS / "history", data / "history")
    code = cli.main(
        [
            "replay",
            "-d",
            str(data),
            "-s",
            "0",
            "--web",
            "--web-port",
            "0",
            "--web-host",
            "127.0.0.1",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "is the 0.22 form" in err
    assert "replayed 1365 events" in err
    # Read in place: nothing was deleted or rewritten.
    before = {p.name: p.read_bytes() for p in (CORPUS / "history").rglob("*.jsonl")}
    after = {p.name: p.read_bytes() for p in (data / "history").rglob("*.jsonl")}
    assert after == before


def test_replay_exits_non_zero_when_nothing_was_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "history" / "2026-11-27").mkdir(parents=True)
    (tmp_path / "history" / "2026-11-27" / "10-00-00.jsonl").write_text("not json\n")
    code = cli.main(
        ["--data-dir", str(tmp_path), "--port", "0", "--quiet", "replay", "--speed", "0"]
    )
    assert code != 0
    assert "nothing readable" in capsys.readouterr().err
