"""Who may use a `WebInterface`, on a real server on loopback: the token (401 without it, 200
with the Bearer header or the cookie, on pages and the Socket.IO handshake alike), the Host
and Origin allow-list (403), the headers, and the request deadline."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from bussdcc.context import ContextProtocol
from bussdcc_framework.interface.security import DEFAULT_CSP
from bussdcc_framework.interface.web import WebInterface
from bussdcc_framework.runtime import Runtime
from bussdcc_framework.testing import DEFAULT_TIMEOUT, SocketIORecorder, StuckClient

TOKEN = "test-token-0123456789-abcdefghij"


class Api(WebInterface):
    def register_routes(self, app: Flask, ctx: ContextProtocol) -> None:
        @app.route("/api/thing")
        def thing() -> ResponseReturnValue:
            return jsonify({"ok": True})


def serve(**kwargs: Any) -> Iterator[Api]:
    rt = Runtime()
    web = Api(port=0, **kwargs)
    rt.add_interface(web)
    rt.boot()
    try:
        yield web
    finally:
        rt.shutdown()


@pytest.fixture
def guarded() -> Iterator[Api]:
    yield from serve(token=TOKEN)


@pytest.fixture
def open_web() -> Iterator[Api]:
    yield from serve()


def request(
    web: WebInterface, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=DEFAULT_TIMEOUT)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_without_the_token_every_way_in_is_401_without_detail(guarded: Api) -> None:
    for path in (
        "/api/thing",
        "/",
        "/bussdcc/static/live.js",
        "/socket.io/?EIO=4&transport=polling",
    ):
        response = request(guarded, path)
        assert response.status == 401, path
        assert response.getheader("Content-Length") == str(len("Unauthorized\n"))
    wrong = request(guarded, "/api/thing", {"Authorization": "Bearer " + "x" * 32})
    assert wrong.status == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        SocketIORecorder().connect(guarded.url, transports=["websocket"])
    with pytest.raises(socketio.exceptions.ConnectionError):
        SocketIORecorder().connect(guarded.url, transports=["polling"])


def test_the_bearer_header_or_the_cookie_lets_requests_in(guarded: Api) -> None:
    assert request(guarded, "/api/thing", {"Authorization": f"Bearer {TOKEN}"}).status == 200
    cookie = {"Cookie": f"{guarded.token_cookie}={TOKEN}"}
    assert request(guarded, "/api/thing", cookie).status == 200
    with SocketIORecorder() as client:
        client.connect(guarded.url, transports=["websocket"], headers=cookie)
        assert client.snapshots
    # Long-polling makes a request per message; like a browser, the session sends the
    # cookie with each (python-socketio sends extra headers only with the first).
    session = requests.Session()
    session.cookies.set(guarded.token_cookie, TOKEN)
    with SocketIORecorder(http_session=session) as client:
        client.connect(guarded.url, transports=["polling"])
        assert client.snapshots
    with SocketIORecorder() as client:
        client.connect(
            guarded.url, transports=["websocket"], headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert client.snapshots


def test_the_token_url_sets_the_cookie_and_redirects_to_the_bare_url(guarded: Api) -> None:
    response = request(guarded, f"/?token={TOKEN}")
    assert response.status == 303
    assert response.getheader("Location") == "/"
    cookie = response.getheader("Set-Cookie") or ""
    assert cookie.startswith(f"{guarded.token_cookie}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_loopback_without_a_token_is_open(open_web: Api) -> None:
    assert request(open_web, "/api/thing").status == 200


def test_a_foreign_host_is_403_even_with_the_token(guarded: Api) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert request(guarded, "/api/thing", {**bearer, "Host": "evil.example"}).status == 403
    own = {**bearer, "Host": f"localhost:{guarded.port}"}
    assert request(guarded, "/api/thing", own).status == 200


def test_an_allowed_host_name_is_admitted() -> None:
    for web in serve(allowed_hosts=["dash.example"]):
        assert request(web, "/api/thing", {"Host": "dash.example"}).status == 200
        assert request(web, "/api/thing", {"Host": "evil.example"}).status == 403


def test_a_foreign_origin_is_403_on_websocket_and_polling_handshakes(open_web: Api) -> None:
    evil = {"Origin": f"http://evil.example:{open_web.port}"}
    with StuckClient(open_web.url, headers=evil) as ws:
        assert ws.connect() == 403
    polling = "/socket.io/?EIO=4&transport=polling"
    assert request(open_web, polling, evil).status == 403
    # The page's own origin is fine.
    own = {"Origin": f"http://127.0.0.1:{open_web.port}"}
    with StuckClient(open_web.url, headers=own) as ws:
        assert ws.connect() == 101
    assert request(open_web, polling, own).status == 200


def test_responses_carry_the_csp_and_safe_headers_and_no_version(open_web: Api) -> None:
    response = request(open_web, "/bussdcc/static/live.js")
    assert response.status == 200
    assert response.getheader("Content-Security-Policy") == DEFAULT_CSP
    assert "unsafe-inline" not in DEFAULT_CSP
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "no-referrer"
    assert response.getheader("Server") == "bussdcc"


def test_a_slowloris_client_is_cut_off_at_the_request_deadline() -> None:
    for web in serve(request_timeout=0.5):
        sock = socket.create_connection(("127.0.0.1", web.port), timeout=DEFAULT_TIMEOUT)
        sock.sendall(b"GET /api/thing HTTP/1.1\r\n")
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        closed = False
        # One header byte every 50 ms: each read is quick, the request never completes.
        while time.monotonic() < deadline and not closed:
            try:
                sock.sendall(b"X")
                sock.settimeout(0.05)
                closed = sock.recv(1024) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        sock.close()
        assert closed, "the server kept a trickling request open"
        # and the server still answers others
        assert request(web, "/api/thing").status == 200


def test_bad_exposure_options_are_refused() -> None:
    with pytest.raises(ValueError, match="token"):
        WebInterface(token="short")
    with pytest.raises(ValueError, match="request_timeout"):
        WebInterface(request_timeout=0)
    with pytest.raises(ValueError, match="client_backlog"):
        WebInterface(client_backlog=0)
    with pytest.raises(TypeError, match="client_backlog"):
        WebInterface(client_backlog=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allowed host"):
        WebInterface(allowed_hosts=[""])
    with pytest.raises(TypeError, match="content_security_policy"):
        WebInterface(content_security_policy=1)  # type: ignore[arg-type]
