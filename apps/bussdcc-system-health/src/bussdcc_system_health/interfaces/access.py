"""Who may open the dashboard: the token kept in the data directory, and when it is required.

The policy (SPEC section 10): served on loopback only, the dashboard is open (only this
machine reaches it); served on any other address it requires the token in
``<data-dir>/token``, made on the first such start and printed once as a URL with
``?token=``. ``--no-auth`` turns that off, and every start says so. The mechanisms (token
check, cookie, Host/Origin allow-list) are the framework's `WebInterface` options.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bussdcc_framework.interface import is_loopback, read_or_create_token, read_token, rotate_token

__all__ = [
    "TOKEN_FILE",
    "Access",
    "dashboard_access",
    "dashboard_url",
    "read_dashboard_token",
    "rotate_dashboard_token",
    "token_path",
]

TOKEN_FILE = "token"
"""The token's file name inside the data directory."""


def token_path(data_dir: Path) -> Path:
    """Where the dashboard token is kept: ``<data-dir>/token`` (mode 0600)."""
    return data_dir / TOKEN_FILE


@dataclass(frozen=True, slots=True)
class Access:
    """How the dashboard is protected on this start."""

    token: str | None
    """The token every request must carry, or None (open)."""
    created: bool = False
    """The token was made on this start (print the URL with it, this once)."""
    disabled: bool = False
    """Served beyond loopback with ``--no-auth``: open to whoever reaches it."""
    path: Path | None = None
    """The token file (when a token is used)."""


def dashboard_access(host: str, data_dir: Path, *, auth: bool = True) -> Access:
    """The protection for a dashboard bound to ``host``: none on loopback, the token of
    ``data_dir`` elsewhere (made now if missing), none with ``auth=False``.

    Raises:
        ValueError: if the token file holds no usable token (the message names it).
        OSError: if the token file cannot be read or written.
    """
    if is_loopback(host):
        return Access(token=None)
    if not auth:
        return Access(token=None, disabled=True)
    path = token_path(data_dir)
    token, created = read_or_create_token(path)
    return Access(token=token, created=created, path=path)


def read_dashboard_token(data_dir: Path) -> str | None:
    """The token in ``data_dir`` (None when none was made yet).

    Raises:
        ValueError: if the file holds no usable token.
        OSError: if it cannot be read.
    """
    return read_token(token_path(data_dir))


def rotate_dashboard_token(data_dir: Path) -> str:
    """A new token for ``data_dir``; the old one works until the app next starts.

    Raises:
        OSError: if the file cannot be written.
    """
    return rotate_token(token_path(data_dir))


def dashboard_url(host: str, port: int, token: str | None = None) -> str:
    """The address to open: for a wildcard bind (``0.0.0.0``, ``::``) this machine's LAN
    address (or, without one, its host name), with ``?token=`` when a token is given."""
    shown = host
    if host in ("0.0.0.0", "::", ""):
        shown = _lan_address() or socket.gethostname() or "localhost"
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/"
    return f"{url}?token={quote(token, safe='')}" if token else url


def _lan_address() -> str | None:
    # Connecting a UDP socket sends nothing; it only asks the kernel which source address
    # its routing table would use -- this machine's address on its main network.
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
        address: str = probe.getsockname()[0]
        if address and not address.startswith("0."):
            return address
    return None
