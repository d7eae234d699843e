"""`TemplateCache`: compiled Jinja templates kept on disk, so a restart does not compile them.

Compiling the templates is most of what a dashboard's first page view costs: on the
system-health dashboard about 1 MB of resident memory that stays with the process for as long
as it runs (freed compiler memory the allocator keeps), where loading the compiled code costs
a third of that. On a device that runs for months and restarts now and then, only the first
start after an install or an upgrade compiles.

The cache is an optimisation, never a dependency: a directory that cannot be created or
written, a full disk, or a file left corrupt by a crash mid-write costs a compile (and one
warning), never a page.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from jinja2 import FileSystemBytecodeCache
from jinja2.bccache import Bucket

__all__ = ["TemplateCache"]

log = logging.getLogger("bussdcc_framework.web")


class TemplateCache(FileSystemBytecodeCache):
    """Jinja's file system bytecode cache in ``directory`` (created when first written).

    Jinja names each file after its template and checks the template's source and the
    Python version before using it, so an edited template or a new interpreter is compiled
    again rather than served stale; each template has one file, so the directory stays small.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory)
        super().__init__(str(self.path))
        self._warned = False

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()  # no usable directory: saving the compiled template will say so
        except Exception as exc:  # a foreign or damaged file: compile instead
            bucket.reset()
            self._warn(f"ignoring unreadable compiled template in {self.path}: {exc!r}")

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError as exc:
            self._warn(f"cannot keep compiled templates in {self.path}: {exc}")

    def _warn(self, text: str) -> None:
        # Once per process: a read-only directory would otherwise warn on every compile.
        if not self._warned:
            self._warned = True
            log.warning("%s (templates are compiled on each start instead)", text)
