"""``config/web.py``: each ``WEB_SERVER`` shape's command line, and make serve's default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import web


@pytest.mark.parametrize("shape", web.SHAPES)
def test_every_shape_names_an_installed_server_and_an_importable_app(shape, monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    argv = web.command(shape)
    assert Path(argv[0]).exists(), argv[0]
    if "-c" not in argv:  # gunicorn reads bind and workers from config/gunicorn.conf.py, the others here
        assert argv[argv.index("--port") + 1] == "8123" and argv[argv.index("--workers") + 1] == "3"
    module, _, attr = argv[-1].partition(":")
    assert getattr(__import__(module, fromlist=[attr]), attr) is not None


def test_make_serve_default_serves_websockets_and_unknown_shapes_are_refused(monkeypatch):
    assert web.DEFAULT in web.WEBSOCKETS
    with pytest.raises(SystemExit, match="choose one of"):
        web.command("tornado")


def test_the_procfile_runs_the_launcher():
    from django.conf import settings

    procfile = (Path(settings.BASE_DIR) / "Procfile").read_text()
    assert re.search(r"^web: python -m config\.web$", procfile, re.M), procfile


def test_the_split_shape_serves_http_by_wsgi_and_websockets_by_asgi_on_their_own_port(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.delenv("WEBSOCKET_PORT", raising=False)
    http, ws = web.command("split"), web.websocket_command()
    assert http[http.index("--interface") + 1] == "wsgi" and http[-1] == "config.wsgi:application"
    assert ws[ws.index("--interface") + 1] == "asginl" and ws[ws.index("--port") + 1] == "8124"
    monkeypatch.setenv("WEBSOCKET_PORT", "9000")
    assert web.websocket_command()[ws.index("--port") + 1] == "9000"
