"""Validates the GitHub workflows offline: schema, security audit, pins, permissions, triggers."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = REPOSITORY_ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.y*ml"))
# Outside the repository: present in the workplace, absent on GitHub's runners.
SHARED_ACTIONS_MD = REPOSITORY_ROOT.parent / "shared" / "ACTIONS.md"

# The only actions a workflow may use, each at the commit read from its own repository
# (mirrors ACTIONS.md). A moved tag cannot change what runs.
PINNED_ACTIONS = {
    "actions/checkout": ("v7.0.1", "3d3c42e5aac5ba805825da76410c181273ba90b1"),
    "actions/setup-python": ("v7.0.0", "5fda3b95a4ea91299a34e894583c3862153e4b97"),
    "actions/upload-artifact": ("v7.0.0", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"),
    "actions/download-artifact": ("v8.0.1", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c"),
    "pypa/gh-action-pypi-publish": ("v1.14.2", "dc37677b2e1c63e2034f94d8a5b11f265b73ba33"),
}

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>\S+))?\s*$")


def load(path: Path) -> dict[str, Any]:
    # YAML 1.2 (ruamel) keeps `on:` a string key; YAML 1.1 loaders turn it into True.
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOWS / name)


def tool_command(executable: str, module: str | None = None) -> list[str]:
    """How to run a validator installed next to this interpreter (a venv or hatch env)."""
    if module is not None and importlib.util.find_spec(module) is not None:
        return [sys.executable, "-m", module]
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(directory) / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which(executable)
    if found is None:
        pytest.fail(
            f"{executable} is not installed; add the PyPI package {executable!r} "
            "to the test environment"
        )
    return [found]


def distributions() -> dict[str, str]:
    """Every distribution's name mapped to its folder, read from the tree."""
    found = {}
    for parent in ("packages", "apps"):
        for pyproject in sorted((REPOSITORY_ROOT / parent).glob("*/pyproject.toml")):
            with pyproject.open("rb") as file:
                found[tomllib.load(file)["project"]["name"]] = pyproject.parent.name
    return found


def github_filter_matches(pattern: str, ref: str) -> bool:
    """GitHub's filter-pattern semantics for the subset the workflows use (`*`, `**`)."""
    assert not set(pattern) & set("?+[]!"), f"pattern {pattern!r} uses syntax this check skips"
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
        for part in re.split(r"(\*\*|\*)", pattern)
    )
    return re.fullmatch(regex, ref) is not None


def all_steps(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in data["jobs"].items() for step in job.get("steps", [])]


def test_there_are_ci_and_release_workflows() -> None:
    assert {p.name for p in WORKFLOW_FILES} >= {"ci.yml", "release.yml"}


# --- offline validators --------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(path: Path) -> None:
    command = tool_command("check-jsonschema", "check_jsonschema")
    result = subprocess.run(
        [*command, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_zizmor_finds_nothing_high_or_medium(path: Path) -> None:
    result = subprocess.run(
        [*tool_command("zizmor"), "--offline", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # 0 = clean, 11..14 = findings by highest severity; anything else means zizmor failed.
    assert result.returncode in {0, 11, 12, 13, 14}, result.stderr
    findings = json.loads(result.stdout)
    serious = [
        f"{f['ident']} ({f['determinations']['severity']}): {f['desc']} at "
        + ", ".join(
            str(loc["concrete"]["location"]["start_point"]["row"] + 1) for loc in f["locations"]
        )
        for f in findings
        if not f.get("ignored") and f["determinations"]["severity"] in {"High", "Medium"}
    ]
    assert serious == []


# --- pins ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_its_recorded_commit_with_the_tag_as_comment(
    path: Path,
) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert lines, f"{path.name} uses no actions"
    for line in lines:
        match = USES_LINE.match(line)
        assert match is not None, f"unparsed uses line: {line!r}"
        action, _, commit = match["ref"].partition("@")
        assert action in PINNED_ACTIONS, f"{action} is not among the pinned actions"
        tag, pinned = PINNED_ACTIONS[action]
        assert re.fullmatch(r"[0-9a-f]{40}", commit), f"{line.strip()!r}: not a full commit"
        assert commit == pinned, f"{action}@{commit} is not the recorded commit {pinned}"
        assert match["comment"] == tag, f"{line.strip()!r}: comment should be '# {tag}'"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_parsed_uses_agree_with_the_text_check(path: Path) -> None:
    # Guards the line-based check above against a `uses:` it could not see (e.g. flow style).
    data = load(path)
    parsed = [step["uses"] for _, step in all_steps(data) if "uses" in step]
    parsed += [job["uses"] for job in data["jobs"].values() if "uses" in job]
    text = path.read_text(encoding="utf-8")
    assert len(parsed) == text.count("uses:")
    for ref in parsed:
        action, _, commit = ref.partition("@")
        assert PINNED_ACTIONS[action][1] == commit


def test_pinned_actions_match_the_shared_actions_table() -> None:
    if not SHARED_ACTIONS_MD.is_file():
        pytest.skip(f"{SHARED_ACTIONS_MD} is not beside this checkout")
    table = {
        cells[0]: (cells[1], cells[2])
        for line in SHARED_ACTIONS_MD.read_text(encoding="utf-8").splitlines()
        if (cells := [c.strip() for c in line.strip().strip("|").split("|")])
        and len(cells) == 3
        and re.fullmatch(r"[0-9a-f]{40}", cells[2])
    }
    assert table == PINNED_ACTIONS


# --- least privilege -----------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_top_level_permissions_are_read_only(path: Path) -> None:
    assert load(path)["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_checkouts_do_not_persist_credentials(path: Path) -> None:
    checkouts = [
        step
        for _, step in all_steps(load(path))
        if step.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_run_scripts_expand_no_expressions(path: Path) -> None:
    # Values reach scripts through env:, so nothing is pasted into shell source.
    for job_id, step in all_steps(load(path)):
        if "run" in step:
            assert "${{" not in step["run"], f"{path.name} job {job_id}: {step['run']!r}"


def test_only_the_publish_job_can_mint_an_oidc_token() -> None:
    release = workflow("release.yml")
    writers = {
        job_id
        for job_id, job in release["jobs"].items()
        if job.get("permissions", {}).get("id-token") == "write"
    }
    assert writers == {"publish"}
    assert release["jobs"]["publish"]["permissions"] == {"id-token": "write"}
    assert release["jobs"]["publish"]["environment"]["name"] == "pypi"
    for path in WORKFLOW_FILES:
        data = load(path)
        assert "id-token" not in data["permissions"]
        if path.name != "release.yml":
            assert all(
                "id-token" not in job.get("permissions", {}) for job in data["jobs"].values()
            )


def test_only_the_github_release_job_can_write_contents() -> None:
    for path in WORKFLOW_FILES:
        for job_id, job in load(path)["jobs"].items():
            if job.get("permissions", {}).get("contents") == "write":
                assert (path.name, job_id) == ("release.yml", "github-release")
    assert workflow("release.yml")["jobs"]["github-release"]["permissions"] == {"contents": "write"}


def test_publish_uses_trusted_publishing_without_secrets() -> None:
    publish = workflow("release.yml")["jobs"]["publish"]
    (step,) = [s for s in publish["steps"] if s.get("uses", "").startswith("pypa/")]
    assert "password" not in step.get("with", {})
    assert "secrets." not in (WORKFLOWS / "release.yml").read_text(encoding="utf-8")


# --- release triggers ----------------------------------------------------------------------


def test_release_runs_only_on_the_three_distribution_tags() -> None:
    triggers = workflow("release.yml")["on"]
    assert set(triggers) == {"push"}
    assert set(triggers["push"]) == {"tags"}
    names = distributions()
    assert set(names) == {"bussdcc", "bussdcc-framework", "bussdcc-system-health"}
    assert sorted(triggers["push"]["tags"]) == sorted(f"{name}-v*" for name in names)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("bussdcc-v0.43.0", "bussdcc"),
        ("bussdcc-framework-v0.47.0", "bussdcc-framework"),
        ("bussdcc-system-health-v0.23.0", "bussdcc-system-health"),
        ("bussdcc-v1.0.0rc1", "bussdcc"),
        ("v0.43.0", None),
        ("bussdcc-0.43.0", None),
        ("bussdcc-framework-0.47.0", None),
        ("other-v1.0.0", None),
    ],
)
def test_each_tag_starts_at_most_one_pattern(tag: str, expected: str | None) -> None:
    patterns = workflow("release.yml")["on"]["push"]["tags"]
    matched = [p for p in patterns if github_filter_matches(p, tag)]
    assert matched == ([] if expected is None else [f"{expected}-v*"])


def test_release_builds_only_the_folder_the_check_resolved() -> None:
    jobs = workflow("release.yml")["jobs"]
    resolve = next(s for s in jobs["check"]["steps"] if s.get("id") == "resolve")
    assert 'check_versions.py --tag "$GITHUB_REF_NAME"' in resolve["run"]
    assert jobs["build"]["needs"] == "check"
    build = next(s for s in jobs["build"]["steps"] if "hatch build" in s.get("run", ""))
    assert build["env"]["FOLDER"] == "${{ needs.check.outputs.folder }}"
    assert build["run"].startswith('cd "$FOLDER"\n')
    assert set(jobs["publish"]["needs"]) == {"check", "build"}
    assert "publish" in jobs["github-release"]["needs"]


# --- CI coverage ---------------------------------------------------------------------------


def run_commands(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_ci_tests_each_distribution_on_each_python() -> None:
    test = workflow("ci.yml")["jobs"]["test"]
    matrix = test["strategy"]["matrix"]
    assert matrix["python"] == ["3.11", "3.12", "3.13"]
    assert {d["name"]: d["hatch-env"] for d in matrix["distribution"]} == {
        "bussdcc": "kernel",
        "bussdcc-framework": "framework",
        "bussdcc-system-health": "app",
    }
    assert 'hatch run "${HATCH_ENV}:test"' in run_commands(test)


@pytest.mark.parametrize(
    ("job_id", "command"),
    [
        ("integration", "hatch run integration:test"),
        ("wheels", "hatch run wheels:test"),
        ("lowest", "hatch run lowest:test"),
        ("lint", "hatch run lint"),
        ("lint", "python tools/release/check_versions.py"),
    ],
)
def test_ci_runs(job_id: str, command: str) -> None:
    assert command in run_commands(workflow("ci.yml")["jobs"][job_id])


def test_integration_gets_debian_chromium() -> None:
    job = workflow("ci.yml")["jobs"]["integration"]
    assert "bookworm" in job["container"]["image"]
    assert "apt-get install -y --no-install-recommends chromium" in run_commands(job)


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_hatch_never_downloads_an_interpreter(path: Path) -> None:
    data = load(path)
    assert data["env"]["HATCH_PYTHON"] == "self"
    installs = [s["run"] for _, s in all_steps(data) if "pip install" in s.get("run", "")]
    assert all('"hatch==' in r or '"packaging==' in r for r in installs), installs
