"""The app caps glibc's malloc arenas before its threads start, unless the user chose."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = "from bussdcc_system_health import cli; print(cli._limit_malloc_arenas())"


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_the_arena_cap_is_set_on_glibc() -> None:
    assert _probe() == "True"


def test_a_malloc_arena_max_the_user_set_is_left_alone() -> None:
    assert _probe(MALLOC_ARENA_MAX="4") == "False"
