"""Shared fixtures: the dashboard running in-process on a free port, and telemetry builders.

The builders and the `Dashboard` type live in `bussdcc_system_health.testing`, so test modules
can import them for their annotations; pytest's importlib mode keeps them from importing this
file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bussdcc_system_health.testing import Dashboard, Telemetry
from bussdcc_system_health.testing import start_dashboard as _start


@pytest.fixture
def start_dashboard() -> Iterator[Callable[[int], Dashboard]]:
    """Starts dashboards (``port=0`` for a free one); shuts down every one left running."""
    started: list[Dashboard] = []

    def start(port: int = 0) -> Dashboard:
        app = _start(port)
        started.append(app)
        return app

    yield start
    for app in started:
        app.runtime.shutdown("test over")


@pytest.fixture
def dashboard(start_dashboard: Callable[[int], Dashboard]) -> Dashboard:
    return start_dashboard(0)


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()
