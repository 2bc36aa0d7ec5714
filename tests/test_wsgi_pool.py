"""``config.wsgi_pool.WsgiInThreads``: Django's WSGI handler behind the ASGI server, in one hop."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from config import wsgi_pool
from config.wsgi_pool import WsgiInThreads


async def _call(app: WsgiInThreads, scope: dict[str, Any], body: list[bytes]) -> list[dict[str, Any]]:
    incoming = [{"type": "http.request", "body": b, "more_body": i < len(body) - 1} for i, b in enumerate(body)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _scope(**extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/päth/x",
        "root_path": "",
        "query_string": b"a=1&b=%C3%A4",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", b"11"),
            (b"x-forwarded-for", b"10.0.0.1"),
            (b"accept", b"text/html"),
            (b"accept", b"application/json"),
        ],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
        **extra,
    }


async def test_environ_body_and_the_whole_call_on_one_thread():
    seen: dict[str, Any] = {}

    class Body:
        def __iter__(self):
            seen["iter_thread"] = threading.get_ident()
            yield b"hello "
            yield b"world"

        def close(self) -> None:
            seen["close_thread"] = threading.get_ident()

    def app(environ, start_response):
        seen.update(environ)
        seen["app_thread"] = threading.get_ident()
        seen["body"] = environ["wsgi.input"].read()
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-One", "1")])
        return Body()

    sent = await _call(WsgiInThreads(app, threads=2), _scope(), [b'{"a":', b" 1}   "])
    assert sent == [
        {"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain"), (b"x-one", b"1")]},
        {"type": "http.response.body", "body": b"hello world", "more_body": False},
    ]
    assert seen["body"] == b'{"a": 1}   '
    assert seen["PATH_INFO"] == "/päth/x".encode().decode("latin-1")  # PEP 3333: bytes as latin-1
    assert seen["QUERY_STRING"] == "a=1&b=%C3%A4" and seen["REQUEST_METHOD"] == "POST"
    assert seen["CONTENT_TYPE"] == "application/json" and seen["CONTENT_LENGTH"] == "11"
    assert seen["HTTP_ACCEPT"] == "text/html,application/json" and seen["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"
    assert seen["REMOTE_ADDR"] == "127.0.0.1" and seen["SERVER_PORT"] == "8000"
    assert seen["wsgi.url_scheme"] == "http" and seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    # The database connection the view opened is returned by close() on the same thread.
    assert seen["app_thread"] == seen["iter_thread"] == seen["close_thread"] != threading.get_ident()


async def test_a_large_response_streams_from_the_thread(monkeypatch):
    monkeypatch.setattr(wsgi_pool, "BUFFER", 10)
    closed = []

    class Body:
        def __iter__(self):
            yield from (b"0123456789", b"abcdefghij", b"xyz")

        def close(self) -> None:
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    sent = await _call(WsgiInThreads(app, threads=1), _scope(method="GET"), [b""])
    assert sent[0]["type"] == "http.response.start"
    assert b"".join(m["body"] for m in sent[1:]) == b"0123456789abcdefghijxyz"
    assert sent[-1]["more_body"] is False and all(m["more_body"] for m in sent[1:-1]) and len(sent) > 2
    assert closed == [True]


async def test_lifespan_and_other_scopes():
    app = WsgiInThreads(lambda e, s: [], threads=1)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(ValueError, match="websocket"):
        await app({"type": "websocket"}, receive, send)


@pytest.mark.django_db
async def test_django_answers_through_it():
    sent = await _call(
        WsgiInThreads(threads=1), _scope(method="GET", path="/healthz", query_string=b"", headers=[]), [b""]
    )
    assert sent[0]["status"] == 200 and b'"status": "ok"' in sent[1]["body"]
