"""Who may use a `WebInterface`: token authentication, the Host/Origin allow-list, safe headers.

A `WebInterface` wraps its whole WSGI app -- pages, API and the Socket.IO endpoint alike -- in
`AccessGuard`, so one check guards every way in. The pieces are plain and testable alone:

* `HostAllowList`: which names a request's ``Host`` (and a browser's ``Origin``) may carry.
  A DNS-rebinding page reaches the server under the attacker's own name (``evil.example``
  resolving to this machine); refusing every ``Host`` that is not one of the machine's own
  names, its addresses or a name given explicitly turns that read into a 403.
* `TokenCheck`: a shared secret, accepted as ``Authorization: Bearer <token>`` or as the
  cookie set after the page was opened once with ``?token=<token>``; compared in constant
  time (`hmac.compare_digest`).
* `read_or_create_token` / `rotate_token`: the secret kept in a file only its owner can read.
* `SECURITY_HEADERS` and `DEFAULT_CSP`: the headers every response carries.

Refusals say nothing about why (``401 Unauthorized`` / ``403 Forbidden`` with no detail):
an attacker learns no more from a wrong token than from a missing one.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "DEFAULT_CSP",
    "LOOPBACK_NAMES",
    "SECURITY_HEADERS",
    "AccessGuard",
    "HostAllowList",
    "TokenCheck",
    "generate_token",
    "is_loopback",
    "read_or_create_token",
    "read_token",
    "rotate_token",
    "split_host",
]

log = logging.getLogger("bussdcc_framework.web")

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""Everything from the page's own origin only: no inline script or style, no remote origin
(``data:`` images only, for an empty favicon). ``connect-src 'self'`` admits the page's own
WebSocket (``ws:``/``wss:`` on the same host and port)."""

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
"""Added to every response that does not set them itself. ``no-referrer`` also keeps a
``?token=`` URL from leaking to anything the page links to."""

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
"""Host names that always mean this machine (loopback addresses are recognised as such)."""

TOKEN_BYTES = 32
"""Random bytes in a generated token (43 URL-safe characters)."""

_OWN_ADDRESS_CACHE = 256
"""How many IP literals `HostAllowList` remembers as this machine's or not."""


def split_host(value: str | None) -> str | None:
    """The host name of a ``Host`` header value (``"name:port"``, ``"[v6]:port"``),
    lower-cased and without the port or a trailing dot; None when there is none."""
    if not value:
        return None
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name = value[1:end]
    elif value.count(":") == 1:
        name = value.split(":", 1)[0]
    else:
        name = value  # no port, or a bare IPv6 literal
    name = name.rstrip(".")
    return name or None


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps a server on this machine only.

    True for loopback addresses (``127.0.0.0/8``, ``::1``) and for a name that resolves to
    loopback addresses only (``localhost``); False for anything else, including ``0.0.0.0``
    and a name that does not resolve.

    Raises:
        TypeError: if ``host`` is not a string.
    """
    if not isinstance(host, str):
        raise TypeError(f"host must be a string, got {type(host).__name__}")
    ip = _ip(host.strip("[]"))
    if ip is not None:
        return ip.is_loopback
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    addresses = {_ip(str(info[4][0])) for info in infos}
    return bool(addresses) and all(a is not None and a.is_loopback for a in addresses)


class HostAllowList:
    """The host names a request may name in ``Host`` and a browser in ``Origin``.

    Allowed: ``bound`` (the address the server listens on), the loopback names and
    addresses, this machine's host name (also as ``<name>.local``, its mDNS name) and fully
    qualified name, any IP address of this machine, and each name in ``extra``. ``"*"`` in
    ``extra`` allows every name (the check is off). Names compare case-insensitively.

    The fully qualified name needs a DNS query; it is looked up once, the first time a name
    is not otherwise allowed, so a machine without DNS does not wait for it at start.

    Raises:
        TypeError: if ``bound`` or an ``extra`` entry is not a string.
        ValueError: if an ``extra`` entry is empty.
    """

    def __init__(
        self,
        bound: str,
        extra: Iterable[str] = (),
        *,
        hostname: Callable[[], str] = socket.gethostname,
        fqdn: Callable[[], str] = socket.getfqdn,
    ) -> None:
        if not isinstance(bound, str):
            raise TypeError(f"bound must be a string, got {type(bound).__name__}")
        names = set(LOOPBACK_NAMES)
        self.any = False
        for name in (extra,) if isinstance(extra, str) else extra:
            if not isinstance(name, str):
                raise TypeError(f"allowed host names must be strings, got {name!r}")
            if name == "*":
                self.any = True
                continue
            cleaned = split_host(name)
            if not cleaned:
                raise ValueError(f"allowed host names must be non-empty, got {name!r}")
            names.add(cleaned)
        bound_name = split_host(bound) or bound.lower()
        names.add(bound_name)
        with contextlib.suppress(OSError):
            own = hostname().lower().rstrip(".")
            if own:
                names.update({own, f"{own}.local"})
        self.names = names
        """The names allowed without a lookup (the fully qualified name joins later)."""
        self._fqdn = fqdn
        self._fqdn_known = False
        self._own_addresses: dict[str, bool] = {}
        self._lock = threading.Lock()

    def allows(self, name: str | None) -> bool:
        """Whether the host name ``name`` (no port; see `split_host`) is allowed."""
        if self.any:
            return True
        if not name:
            return False
        name = name.lower().rstrip(".")
        if name in self.names:
            return True
        ip = _ip(name)
        if ip is not None:
            return ip.is_loopback or self._is_own_address(name, ip)
        if name.endswith(".localhost"):  # RFC 6761: always loopback
            return True
        return self._is_fqdn(name)

    def allows_host(self, header: str | None) -> bool:
        """Whether a ``Host`` header value is allowed (a missing one is not)."""
        return self.allows(split_host(header))

    def allows_origin(self, origin: str, host_header: str | None) -> bool:
        """Whether a browser page at ``origin`` may use this server, asked through a request
        whose ``Host`` is ``host_header``: an ``http``/``https`` origin whose host name is
        allowed and whose port is the one the request was sent to. ``null`` never is."""
        try:
            parts = urlsplit(origin.strip())
            origin_port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not self.allows(parts.hostname):
            return False
        if self.any or not host_header:
            return True
        try:
            request = urlsplit(f"{parts.scheme}://{host_header.strip()}")
            request_port = request.port or {"http": 80, "https": 443}[parts.scheme]
        except ValueError:
            return False
        return origin_port == request_port

    def _is_own_address(self, key: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        with self._lock:
            known = self._own_addresses.get(key)
        if known is not None:
            return known
        # The kernel knows this machine's addresses: only those can be bound (no lookup, no
        # dependency, and current when an interface gains an address later).
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        own = False
        if not ip.is_unspecified and not ip.is_multicast:
            try:
                with socket.socket(family, socket.SOCK_DGRAM) as probe:
                    probe.bind((str(ip), 0))
                own = True
            except OSError:
                own = False
        with self._lock:
            if len(self._own_addresses) < _OWN_ADDRESS_CACHE:
                self._own_addresses[key] = own
        return own

    def _is_fqdn(self, name: str) -> bool:
        with self._lock:
            if not self._fqdn_known:
                self._fqdn_known = True
                with contextlib.suppress(OSError, UnicodeError):
                    fqdn = self._fqdn().lower().rstrip(".")
                    if fqdn:
                        self.names.add(fqdn)
            return name in self.names


class TokenCheck:
    """Whether a request carries ``token``: as ``Authorization: Bearer <token>`` or in the
    cookie named ``cookie``. Every comparison takes the same time whatever the guess.

    Raises:
        TypeError: if ``token`` or ``cookie`` is not a string.
        ValueError: if ``token`` is shorter than 16 characters or not printable ASCII, or
            ``cookie`` is not a valid cookie name.
    """

    def __init__(self, token: str, cookie: str = "bussdcc_token") -> None:
        if not isinstance(token, str):
            raise TypeError(f"token must be a string, got {type(token).__name__}")
        if not isinstance(cookie, str):
            raise TypeError(f"cookie must be a string, got {type(cookie).__name__}")
        if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
            raise ValueError("token must be at least 16 printable ASCII characters, no spaces")
        if not cookie or not all(c.isalnum() or c in "_-" for c in cookie):
            raise ValueError(
                f"cookie must be a cookie name (letters, digits, _ and -), got {cookie!r}"
            )
        self._token = token.encode("ascii")
        self.cookie = cookie

    def matches(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is the token (constant time; None never is)."""
        if candidate is None:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "surrogateescape"), self._token)

    def request_token(self, environ: dict[str, Any]) -> str | None:
        """The token a request presents: the Bearer credentials, else the cookie."""
        authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        cookie_header = environ.get("HTTP_COOKIE")
        if not cookie_header:
            return None
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except CookieError:
            return None
        morsel = cookies.get(self.cookie)
        return str(morsel.value) if morsel is not None else None

    def authorizes(self, environ: dict[str, Any]) -> bool:
        """Whether the request presents the token (header or cookie)."""
        return self.matches(self.request_token(environ))

    def set_cookie(self) -> str:
        """The ``Set-Cookie`` value that keeps the token in the browser: HttpOnly (no script
        reads it), SameSite=Strict (no other site's page sends it), for a year."""
        token = self._token.decode("ascii")
        return f"{self.cookie}={token}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict"


StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AccessGuard:
    """WSGI middleware: the Host/Origin allow-list, the token, and the security headers.

    In order, for every request:

    1. ``Host`` not allowed by ``hosts`` → 403; an ``Origin`` header (browsers send it on
       WebSocket and cross-origin requests) not allowed → 403.
    2. With ``token``: a GET or HEAD whose query holds ``token=<the token>`` gets a 303 to
       the same URL without it and the cookie (so the token leaves the address bar and
       history); any request not carrying the token → 401.
    3. The app answers; ``headers`` (and ``csp`` as ``Content-Security-Policy``) are added
       to its response unless it set them itself.

    ``hosts=None`` skips the Host and Origin checks; ``token=None`` the token. ``origins``
    lists further origins (``scheme://host[:port]``) a browser page may come from, such as
    the ``cors_allowed_origins`` of a `WebInterface`.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        hosts: HostAllowList | None = None,
        token: TokenCheck | None = None,
        csp: str | None = DEFAULT_CSP,
        headers: Iterable[tuple[str, str]] = SECURITY_HEADERS,
        origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = frozenset(o.strip().rstrip("/").lower() for o in origins)
        self.token = token
        extra = list(headers)
        if csp:
            extra.append(("Content-Security-Policy", csp))
        self.headers = tuple(extra)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.hosts is not None:
            host = environ.get("HTTP_HOST")
            origin = environ.get("HTTP_ORIGIN")
            if not self.hosts.allows_host(host) or (
                origin is not None
                and origin.strip().rstrip("/").lower() not in self.origins
                and not self.hosts.allows_origin(origin, host)
            ):
                return self._refuse(start_response, "403 Forbidden")
        if self.token is not None:
            query = environ.get("QUERY_STRING", "")
            if "token=" in query and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
                return self._login(environ, start_response, query)
            if not self.token.authorizes(environ):
                return self._refuse(
                    start_response, "401 Unauthorized", [("WWW-Authenticate", "Bearer")]
                )
        return self.app(environ, self._with_headers(start_response))

    def _login(
        self, environ: dict[str, Any], start_response: StartResponse, query: str
    ) -> Iterable[bytes]:
        assert self.token is not None
        pairs = parse_qsl(query, keep_blank_values=True)
        given = [value for key, value in pairs if key == "token"]
        if len(given) != 1 or not self.token.matches(given[0]):
            return self._refuse(
                start_response, "401 Unauthorized", [("WWW-Authenticate", "Bearer")]
            )
        rest = urlencode([(key, value) for key, value in pairs if key != "token"])
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "") or "/"
        location = path + (f"?{rest}" if rest else "")
        start_response(
            "303 See Other",
            [
                ("Location", location),
                ("Set-Cookie", self.token.set_cookie()),
                ("Cache-Control", "no-store"),
                ("Content-Length", "0"),
                *self.headers,
            ],
        )
        return [b""]

    def _refuse(
        self,
        start_response: StartResponse,
        status: str,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Iterable[bytes]:
        body = status.split(" ", 1)[1].encode("ascii") + b"\n"
        start_response(
            status,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                *extra,
                *self.headers,
            ],
        )
        return [body]

    def _with_headers(self, start_response: StartResponse) -> StartResponse:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            present = {name.lower() for name, _ in headers}
            headers = list(headers)
            headers.extend(h for h in self.headers if h[0].lower() not in present)
            return start_response(status, headers, *exc_info)

        return start


# -- the token file --------------------------------------------------------------------------


def generate_token() -> str:
    """A new random token: 32 bytes from `secrets`, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def read_token(path: str | os.PathLike[str]) -> str | None:
    """The token kept in ``path``, or None when the file does not exist.

    Raises:
        ValueError: if the file holds no usable token (empty, or not one line of at least
            16 printable ASCII characters), naming the file.
        OSError: if the file exists but cannot be read.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    token = text.strip()
    if len(token) < 16 or not token.isprintable() or " " in token or not token.isascii():
        raise ValueError(
            f"{file} holds no usable token: delete it (or rotate it) to have a new one made"
        )
    return token


def read_or_create_token(path: str | os.PathLike[str]) -> tuple[str, bool]:
    """``(token, created)``: the token kept in ``path``, made (mode 0600) when missing.

    The file is created exclusively, so two processes starting together agree on one token.
    An existing file readable by others is narrowed to 0600.

    Raises:
        ValueError: if an existing file holds no usable token (see `read_token`).
        OSError: if the file cannot be read or written (a missing directory is created).
    """
    file = Path(path)
    token = read_token(file)
    if token is not None:
        _narrow_mode(file)
        return token, False
    file.parent.mkdir(parents=True, exist_ok=True)
    token = generate_token()
    try:
        _write_new(file, token, exclusive=True)
    except FileExistsError:  # another process made it first: use theirs
        existing = read_token(file)
        if existing is None:
            raise
        return existing, False
    return token, True


def rotate_token(path: str | os.PathLike[str]) -> str:
    """Replace the token in ``path`` (mode 0600) with a new one and return it; the old one
    stops working when the server next reads the file (at its next start).

    Raises:
        OSError: if the file cannot be written (a missing directory is created).
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    token = generate_token()
    _write_new(file, token, exclusive=False)
    return token


def _write_new(file: Path, token: str, *, exclusive: bool) -> None:
    if exclusive:
        target = file
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    else:
        # Written beside and renamed over the old file: a crash leaves the old token or the
        # new one, never half of one.
        target = file.with_name(f".{file.name}.{secrets.token_hex(4)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(target, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(token + "\n")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    if target != file:
        os.replace(target, file)


def _narrow_mode(file: Path) -> None:
    with contextlib.suppress(OSError):
        mode = file.stat().st_mode & 0o777
        if mode & 0o077:
            file.chmod(0o600)
            log.warning("%s was readable by others; narrowed to mode 0600", file)
