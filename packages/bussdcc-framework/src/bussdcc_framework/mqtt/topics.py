"""Topic names of the bridge: ``<prefix>/<node>/<message name>`` and ``<prefix>/<node>/status``.

Pure functions, shared by the sink and the source so both sides agree on the layout.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_PREFIX",
    "STATUS",
    "check_node",
    "check_prefix",
    "event_topic",
    "parse_topic",
    "status_topic",
]

DEFAULT_PREFIX = "bussdcc"
STATUS = "status"
"""The last topic level of a node's retained ``online``/``offline`` status."""

_FORBIDDEN = ("+", "#", "\0")


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it can start a topic (levels split by ``/`` are allowed).

    Raises ``TypeError`` if it is not a str and ``ValueError`` if it is empty, begins or ends
    with ``/``, has an empty level or holds a wildcard (``+``, ``#``) or NUL.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__qualname__}")
    if (
        not prefix
        or any(not level for level in prefix.split("/"))
        or any(c in prefix for c in _FORBIDDEN)
    ):
        raise ValueError(
            f"prefix must be topic levels without wildcards or empty levels, got {prefix!r}"
        )
    return prefix


def check_node(node: object) -> str:
    """Return ``node`` if it can be one topic level.

    Raises ``TypeError`` if it is not a str and ``ValueError`` if it is empty, longer than 256
    characters or holds ``/``, a wildcard (``+``, ``#``) or NUL.
    """
    if not isinstance(node, str):
        raise TypeError(f"node must be a str, got {type(node).__qualname__}")
    if not node or len(node) > 256 or "/" in node or any(c in node for c in _FORBIDDEN):
        raise ValueError(
            f"node must be one topic level (1-256 characters, no '/', '+', '#'), got {node!r}"
        )
    return node


def event_topic(prefix: str, node: str, name: str) -> str:
    """The topic a node publishes its ``name`` events on.

    Raises ``ValueError`` if ``name`` cannot be a topic tail: empty, ``status`` (the status
    topic), or holding a wildcard or NUL.
    """
    if not name or name == STATUS or any(c in name for c in _FORBIDDEN):
        raise ValueError(f"message name {name!r} cannot be published as an MQTT topic")
    return f"{prefix}/{node}/{name}"


def status_topic(prefix: str, node: str) -> str:
    """The retained topic holding ``online`` or ``offline`` for ``node``."""
    return f"{prefix}/{node}/{STATUS}"


def parse_topic(prefix: str, topic: str) -> tuple[str, str] | None:
    """Split a received topic into ``(node, tail)``; None if it is not below ``prefix``.

    ``tail`` is a message name, or `STATUS` for the status topic.
    """
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    node, sep, tail = topic[len(head) :].partition("/")
    if not node or not sep or not tail:
        return None
    return node, tail
