"""JSONL recording: `JsonlSink` writes time-segmented history, `JsonlSource` reads it back.

Both speak the wire format of `bussdcc_framework.codec`, one record per line. The segment
naming they share (``root/YYYY-MM-DD/HH-MM-SS.jsonl``) is private to this package.
"""

from .sink import JsonlSink, SegmentWriteError
from .source import JsonlSource, SkippedLine

__all__ = ["JsonlSink", "JsonlSource", "SegmentWriteError", "SkippedLine"]
