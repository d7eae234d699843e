"""Where events go and come from: the console sink and JSONL recording and reading."""

from .console import ConsoleSink
from .jsonl import JsonlSink, JsonlSource, SegmentWriteError, SkippedLine

__all__ = ["ConsoleSink", "JsonlSink", "JsonlSource", "SegmentWriteError", "SkippedLine"]
