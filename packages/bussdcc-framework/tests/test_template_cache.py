"""`TemplateCache`: compiled templates survive a restart; a broken cache never breaks a page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask, render_template
from jinja2 import DictLoader, FileSystemBytecodeCache

from bussdcc_framework.interface import TemplateCache, WebInterface

PAGE = "{% for i in range(n) %}<li>{{ i * 2 }}</li>{% endfor %}"


class Page(WebInterface):
    """A web interface with one template, rendered without serving (Flask's test client).

    (Templates from a loader are cached; ``render_template_string`` never is.)"""

    def create_app(self) -> Flask:
        app = super().create_app()
        app.jinja_loader = DictLoader({"page.html": PAGE})
        return app

    def register_routes(self, app: Flask, ctx: Any) -> None:
        @app.route("/")
        def page() -> str:
            return render_template("page.html", n=3)


def render(cache: Path | None) -> tuple[str, int]:
    """The page's HTML and how many times Jinja compiled a template to produce it."""
    web = Page(port=0, template_cache=cache)
    app = web.create_app()
    web.register_routes(app, None)
    compiled = 0
    real_compile = app.jinja_env.compile

    def counting_compile(*args: Any, **kwargs: Any) -> Any:
        nonlocal compiled
        compiled += 1
        return real_compile(*args, **kwargs)

    app.jinja_env.compile = counting_compile  # type: ignore[method-assign]
    body = app.test_client().get("/").get_data(as_text=True)
    return body, compiled


EXPECTED = "<li>0</li><li>2</li><li>4</li>"


def test_a_restart_loads_compiled_templates_instead_of_compiling(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "templates"  # created on first use
    assert render(cache) == (EXPECTED, 1)
    assert len(list(cache.iterdir())) == 1
    assert render(cache) == (EXPECTED, 0)  # the next process: nothing to compile
    assert render(None) == (EXPECTED, 1)  # without a cache, every process compiles


@pytest.mark.parametrize(
    "damage",
    [
        lambda good: good[: len(good) // 2],  # a crash mid-write
        lambda good: good[:12] + b"\xff" * 40,  # Jinja's header, then garbage
        lambda good: b"",
    ],
)
def test_a_corrupt_cache_file_is_compiled_again_and_replaced(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    render(tmp_path)
    (cached,) = tmp_path.iterdir()
    good = cached.read_bytes()
    cached.write_bytes(damage(good))
    assert render(tmp_path) == (EXPECTED, 1)
    assert cached.read_bytes() == good
    assert render(tmp_path) == (EXPECTED, 0)


def test_a_cache_file_that_cannot_be_decoded_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Jinja itself shrugs off the damage above; anything it lets through is caught here.
    def undecodable(self: FileSystemBytecodeCache, bucket: Any) -> None:
        raise ValueError("bad marshal data")

    monkeypatch.setattr(FileSystemBytecodeCache, "load_bytecode", undecodable)
    cache = TemplateCache(tmp_path)
    resets: list[bool] = []
    bucket = SimpleNamespace(reset=lambda: resets.append(True))
    with caplog.at_level(logging.WARNING, "bussdcc_framework.web"):
        cache.load_bytecode(bucket)  # type: ignore[arg-type]
        cache.load_bytecode(bucket)  # type: ignore[arg-type]
    assert resets == [True, True]  # treated as a miss: the template is compiled
    assert caplog.text.count("ignoring unreadable compiled template") == 1
