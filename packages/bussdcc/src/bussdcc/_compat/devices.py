"""The 0.42 form of `Device.set_offline`: an exception instead of the text of the error."""

from __future__ import annotations

from . import deprecated

__all__ = ["error_text"]


def error_text(error: BaseException) -> str:
    deprecated("Device.set_offline(exception)", 'Device.set_offline("why, as text")', stacklevel=4)
    return f"{type(error).__name__}: {error}"
