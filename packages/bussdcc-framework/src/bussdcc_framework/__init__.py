"""bussdcc-framework: sinks, JSONL recording, deterministic replay and a web interface.

The runtimes are re-exported here; the rest lives in its own module, as seed 002 imports it:
`bussdcc_framework.io.jsonl`, `bussdcc_framework.io.console`,
`bussdcc_framework.interface.web`, `bussdcc_framework.service`.
"""

from .runtime import ReplayRuntime, Runtime
from .version import __version__

__all__ = ["ReplayRuntime", "Runtime", "__version__"]


def __getattr__(name: str) -> object:
    # 0.46 names of this path (bussdcc_framework._compat.modules); deprecated.
    from ._compat.modules import legacy_names

    return legacy_names(__name__, name)
