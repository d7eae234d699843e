"""What the installed distributions ship: typing markers, the dashboard's files, the real wheels.

In the ``wheels`` hatch environment (``BUSSDCC_FROM_WHEELS=1``), the three packages must come
from freshly built wheels installed into site-packages, not from the source tree, so the rest
of the integration suite proves the wheels are complete. Everywhere, each package must ship
``py.typed`` and the app its dashboard templates and static files.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import json
import os
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "bussdcc": "bussdcc",
    "bussdcc_framework": "bussdcc-framework",
    "bussdcc_system_health": "bussdcc-system-health",
}
APP = "bussdcc_system_health"
FROM_WHEELS = os.environ.get("BUSSDCC_FROM_WHEELS") == "1"


def _files_below(folder: Traversable) -> list[str]:
    found = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found += [f"{entry.name}/{name}" for name in _files_below(entry)]
        elif entry.is_file():
            found.append(entry.name)
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_ships_py_typed(package: str) -> None:
    assert importlib.resources.files(package).joinpath("py.typed").is_file()


@pytest.mark.parametrize("folder", ["templates", "static"])
def test_app_ships_dashboard_files(folder: str) -> None:
    shipped = importlib.resources.files(APP).joinpath(folder)
    assert shipped.is_dir(), f"{APP} has no {folder}/"
    files = _files_below(shipped)
    assert files, f"{APP}/{folder}/ is empty"
    if folder == "templates":
        assert any(name.endswith(".html") for name in files)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_wheel_install_is_what_is_imported(package: str) -> None:
    """Under BUSSDCC_FROM_WHEELS=1: imported from site-packages, recorded by the wheel."""
    module = importlib.import_module(package)
    location = Path(module.__file__ or "").resolve()
    distribution = importlib.metadata.distribution(PACKAGES[package])
    direct_url = distribution.read_text("direct_url.json") or ""
    if not FROM_WHEELS:
        # The development environment: whatever is installed must still be the importable one.
        version = importlib.import_module(f"{package}.version").__version__
        assert distribution.version == version
        return
    assert "site-packages" in location.parts, f"{package} imported from {location}"
    assert not location.is_relative_to(REPOSITORY_ROOT), f"{package} comes from the source tree"
    install = json.loads(direct_url) if direct_url else {}
    assert not install.get("dir_info", {}).get("editable"), f"{package} is an editable install"
    recorded = {str(path) for path in distribution.files or ()}
    assert f"{package}/py.typed" in recorded, f"the {package} wheel lacks py.typed"
    if package == APP:
        assert any(p.startswith(f"{APP}/templates/") for p in recorded)
        assert any(p.startswith(f"{APP}/static/") for p in recorded)
