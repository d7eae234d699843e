"""`security`: the Host/Origin allow-list, the token check, the token file and `AccessGuard`,
without a server (the WSGI middleware is called directly)."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from bussdcc_framework.interface.security import (
    DEFAULT_CSP,
    AccessGuard,
    HostAllowList,
    TokenCheck,
    is_loopback,
    read_or_create_token,
    read_token,
    rotate_token,
    split_host,
)

TOKEN = "s3cret-token-0123456789abcdef"


def hosts(bound: str = "0.0.0.0", extra: Iterable[str] = ()) -> HostAllowList:
    return HostAllowList(bound, extra, hostname=lambda: "Pi-Kitchen", fqdn=lambda: "pi.home.lan")


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("example.com", "example.com"),
        ("Example.COM:8086", "example.com"),
        ("[::1]:8086", "::1"),
        ("::1", "::1"),
        ("pi.local.", "pi.local"),
        ("", None),
        (None, None),
        ("[::1", None),
    ],
)
def test_split_host_takes_the_name_without_port(header: str | None, name: str | None) -> None:
    assert split_host(header) == name


@pytest.mark.parametrize(
    "name",
    [
        "localhost",
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "pi-kitchen",
        "PI-KITCHEN.local",
        "pi.home.lan",
        "app.localhost",
    ],
)
def test_this_machines_names_and_loopback_are_allowed(name: str) -> None:
    assert hosts().allows(name)


@pytest.mark.parametrize("name", ["evil.example", "pi-kitchen.evil.example", "", None, "8.8.8.8"])
def test_foreign_names_and_addresses_are_not(name: str | None) -> None:
    assert not hosts().allows(name)


def test_the_bound_address_and_extra_names_are_allowed() -> None:
    allowed = hosts("dash.example", ["Proxy.Example:443"])
    assert allowed.allows("dash.example")
    assert allowed.allows("proxy.example")
    assert not allowed.allows("other.example")


def test_a_star_turns_the_check_off() -> None:
    assert hosts(extra=["*"]).allows("evil.example")


def test_the_fully_qualified_name_is_looked_up_only_when_needed() -> None:
    lookups: list[str] = []

    def fqdn() -> str:
        lookups.append("fqdn")
        return "pi.home.lan"

    allowed = HostAllowList("0.0.0.0", hostname=lambda: "pi", fqdn=fqdn)
    assert allowed.allows("pi.local")
    assert lookups == []
    assert allowed.allows("pi.home.lan")
    assert not allowed.allows("evil.example")
    assert lookups == ["fqdn"]


def test_this_machines_own_addresses_are_recognised_by_the_kernel() -> None:
    # Loopback is always this machine's; TEST-NET-3 never is.
    allowed = hosts()
    assert allowed.allows("127.0.0.1")
    assert not allowed.allows("203.0.113.7")


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        ("http://localhost:8086", "localhost:8086", True),
        ("http://pi-kitchen.local:8086", "192.168.1.5:8086", True),
        ("https://pi.home.lan", "pi.home.lan", True),
        ("http://evil.example:8086", "localhost:8086", False),
        ("http://localhost:3000", "localhost:8086", False),  # another local app's page
        ("null", "localhost:8086", False),
        ("file://", "localhost:8086", False),
        ("http://localhost:99999", "localhost:8086", False),
    ],
)
def test_origins_must_be_allowed_names_on_the_requested_port(
    origin: str, host: str, ok: bool
) -> None:
    assert hosts().allows_origin(origin, host) is ok


def test_bad_allow_list_entries_are_refused() -> None:
    with pytest.raises(TypeError, match="allowed host names"):
        HostAllowList("0.0.0.0", [3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="allowed host names"):
        HostAllowList("0.0.0.0", [""])
    with pytest.raises(TypeError, match="bound"):
        HostAllowList(None)  # type: ignore[arg-type]


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("::")
    assert not is_loopback("192.168.1.5")
    with pytest.raises(TypeError, match="host"):
        is_loopback(None)  # type: ignore[arg-type]


# -- TokenCheck --------------------------------------------------------------------------------


def test_the_token_is_accepted_as_bearer_or_cookie_and_nothing_else() -> None:
    check = TokenCheck(TOKEN, "tok")
    assert check.authorizes({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"})
    assert check.authorizes({"HTTP_AUTHORIZATION": f"bearer  {TOKEN} "})
    assert check.authorizes({"HTTP_COOKIE": f"other=1; tok={TOKEN}"})
    assert not check.authorizes({})
    assert not check.authorizes({"HTTP_AUTHORIZATION": f"Basic {TOKEN}"})
    assert not check.authorizes({"HTTP_AUTHORIZATION": "Bearer " + TOKEN[:-1]})
    assert not check.authorizes({"HTTP_COOKIE": f"tok2={TOKEN}"})
    assert not check.authorizes({"HTTP_COOKIE": "tok=\udcff"})
    assert not check.authorizes({"HTTP_COOKIE": 'tok="unterminated'})
    assert not check.matches(None)
    assert not check.matches("é" * 30)


def test_the_cookie_is_http_only_and_same_site_strict() -> None:
    cookie = TokenCheck(TOKEN, "tok").set_cookie()
    assert cookie.startswith(f"tok={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


@pytest.mark.parametrize(
    ("token", "cookie", "error"),
    [
        ("short", "c", ValueError),
        ("has a space in it somewhere", "c", ValueError),
        (TOKEN, "bad name", ValueError),
        (123, "c", TypeError),
        (TOKEN, None, TypeError),
    ],
)
def test_unusable_tokens_are_refused(token: Any, cookie: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        TokenCheck(token, cookie)


# -- the token file ------------------------------------------------------------------------------


def test_the_token_file_is_made_once_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "token"
    token, created = read_or_create_token(path)
    assert created and len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = read_or_create_token(path)
    assert (again, created_again) == (token, False)
    assert read_token(path) == token


def test_a_token_file_readable_by_others_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    assert read_or_create_token(path) == (TOKEN, False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_token_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("\n")
    with pytest.raises(ValueError, match="no usable token"):
        read_or_create_token(path)
    assert read_token(tmp_path / "missing") is None


def test_rotating_replaces_the_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    first, _ = read_or_create_token(path)
    second = rotate_token(path)
    assert second != first
    assert read_token(path) == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["token"]  # no temporary file left


# -- AccessGuard -------------------------------------------------------------------------------


class Called:
    def __init__(self) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}
        self.app_calls = 0

    def app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.app_calls += 1
        start_response("200 OK", [("Content-Type", "text/html"), ("X-Frame-Options", "SAMEORIGIN")])
        return [b"page"]

    def start_response(self, status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
        self.status = status
        self.headers = dict(headers)


def call(guard_kwargs: dict[str, Any], **environ: Any) -> tuple[Called, bytes]:
    called = Called()
    guard = AccessGuard(called.app, **guard_kwargs)
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", **environ}
    body = b"".join(guard(env, called.start_response))
    return called, body


GUARDED = {"hosts": hosts(), "token": TokenCheck(TOKEN, "tok")}


def test_a_request_without_the_token_gets_401_without_detail() -> None:
    for environ in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong-token-wrong-token"}):
        called, body = call(GUARDED, HTTP_HOST="localhost:8086", **environ)
        assert called.status == "401 Unauthorized"
        assert body == b"Unauthorized\n"
        assert called.app_calls == 0
        assert called.headers["WWW-Authenticate"] == "Bearer"


def test_a_request_with_the_token_reaches_the_app_with_safe_headers() -> None:
    called, body = call(GUARDED, HTTP_HOST="localhost:8086", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert (called.status, body) == ("200 OK", b"page")
    assert called.headers["Content-Security-Policy"] == DEFAULT_CSP
    assert called.headers["X-Content-Type-Options"] == "nosniff"
    assert called.headers["Referrer-Policy"] == "no-referrer"
    assert called.headers["X-Frame-Options"] == "SAMEORIGIN"  # the app's own value is kept


def test_opening_the_token_url_sets_the_cookie_and_drops_the_token_from_the_url() -> None:
    called, _ = call(
        GUARDED,
        HTTP_HOST="localhost:8086",
        PATH_INFO="/api/state",
        QUERY_STRING=f"a=1&token={TOKEN}",
    )
    assert called.status == "303 See Other"
    assert called.headers["Location"] == "/api/state?a=1"
    assert called.headers["Set-Cookie"].startswith(f"tok={TOKEN};")
    assert called.app_calls == 0
    wrong, _ = call(GUARDED, HTTP_HOST="localhost:8086", QUERY_STRING="token=nope-nope-nope-nope")
    assert wrong.status == "401 Unauthorized" and "Set-Cookie" not in wrong.headers


def test_a_foreign_host_or_origin_gets_403_before_the_token_is_asked() -> None:
    for environ in (
        {"HTTP_HOST": "evil.example:8086"},
        {},
        {"HTTP_HOST": "localhost:8086", "HTTP_ORIGIN": "http://evil.example:8086"},
    ):
        called, body = call(GUARDED, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **environ)
        assert (called.status, body) == ("403 Forbidden", b"Forbidden\n")
        assert called.app_calls == 0


def test_listed_origins_are_admitted() -> None:
    called, _ = call(
        {"hosts": hosts(), "origins": ["http://ops.example/"]},
        HTTP_HOST="localhost:8086",
        HTTP_ORIGIN="http://ops.example",
    )
    assert called.status == "200 OK"


def test_without_token_or_hosts_the_guard_only_adds_headers() -> None:
    called, _ = call({"csp": None}, HTTP_HOST="evil.example")
    assert called.status == "200 OK"
    assert "Content-Security-Policy" not in called.headers
    assert called.headers["X-Content-Type-Options"] == "nosniff"
