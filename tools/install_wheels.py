"""Build the three distributions' wheels and install them (not editable) into this Python.

Used by the `wheels` hatch environment, so the integration tests run against exactly what
PyPI users get: a file the wheel forgets (a template, a static asset, py.typed) fails them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTIONS = ("packages/bussdcc", "packages/bussdcc-framework", "apps/bussdcc-system-health")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bussdcc-wheels-") as out:
        for folder in DISTRIBUTIONS:
            subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, ROOT / folder],
                check=True,
            )
        wheels = sorted(Path(out).glob("*.whl"))
        if len(wheels) != len(DISTRIBUTIONS):
            print(f"expected {len(DISTRIBUTIONS)} wheels, built {wheels}", file=sys.stderr)
            return 1
        # Install all three together so each sibling range is satisfied by the local wheel.
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--force-reinstall", *map(str, wheels)],
            check=True,
        )
        print("installed:", ", ".join(w.name for w in wheels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
