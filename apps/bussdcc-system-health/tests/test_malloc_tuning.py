"""The app tunes glibc's malloc before its threads start, unless the user chose."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = "from bussdcc_system_health import cli; print(' '.join(cli._tune_malloc()))"
VARIABLES = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")


def _probe(**env: str) -> set[str]:
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(result.stdout.split())


pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")


def test_the_arena_cap_and_a_fixed_mmap_threshold_are_set_on_glibc() -> None:
    assert _probe() == set(VARIABLES)


def test_a_setting_the_user_made_in_the_environment_is_left_alone() -> None:
    assert _probe(MALLOC_ARENA_MAX="4") == {"MALLOC_MMAP_THRESHOLD_"}
    assert _probe(MALLOC_MMAP_THRESHOLD_="1048576") == {"MALLOC_ARENA_MAX"}
    assert _probe(MALLOC_ARENA_MAX="4", MALLOC_MMAP_THRESHOLD_="1048576") == set()
