"""Django's WSGI handler behind an ASGI server, with one thread hop per request.

Django's own ASGI handler runs a sync view's middleware chain, the
request_started signal and the response's ``close()`` (request_finished) each
through ``sync_to_async`` onto the process's one sync thread: several hops
per request, all queued on that one thread. Here the request body is read on
the event loop first, then the whole WSGI call (signals, middleware, view,
iterating the response and ``close()``) runs in one call on a pool thread,
so Django's thread-local database connection is opened and returned to the
pool by the same thread. Responses up to ``BUFFER`` bytes come back in that
one hop; a larger or streaming one (an export, a big static file) is sent
from the thread chunk by chunk as it is produced.

Used by ``config.asgi.mixed``: HTTP here, websockets to Channels, one port.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: response bytes gathered in the thread before it starts sending as it goes
BUFFER = 256 * 1024
#: request bodies beyond this spill from memory to a temporary file
SPOOL = 1024 * 1024


def _environ(scope: Scope, body: Any) -> dict[str, Any]:
    """PEP 3333 environ from an ASGI HTTP scope (paths and headers as latin-1 strings)."""
    root = scope.get("root_path", "")
    path = scope["path"]
    if root and path.startswith(root):
        path = path[len(root) :]
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
            key = name
        else:
            key = f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class _Call:
    """One request's WSGI call, run entirely on one pool thread."""

    def __init__(self, app: WsgiApp, loop: asyncio.AbstractEventLoop, send: Send) -> None:
        self.app = app
        self.loop = loop
        self.send = send
        self.start: Message | None = None
        self.streaming = False

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        if exc_info is not None and self.streaming:
            raise exc_info[1].with_traceback(exc_info[2])
        self.start = {
            "type": "http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [(k.strip().lower().encode("latin-1"), v.strip().encode("latin-1")) for k, v in headers],
        }
        return self._write

    def _write(self, chunk: bytes) -> None:  # the legacy write() callable; Django never uses it
        self._send_now({"type": "http.response.body", "body": chunk, "more_body": True})

    def _send_now(self, message: Message) -> None:
        if not self.streaming:
            self.streaming = True
            if self.start is None:
                raise RuntimeError("the WSGI app sent a body before start_response")
            self._on_loop(self.send(self.start))
        self._on_loop(self.send(message))

    def _on_loop(self, sending: Awaitable[None]) -> None:
        async def wrapped() -> None:  # run_coroutine_threadsafe takes a coroutine, send() is any awaitable
            await sending

        asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result()

    def __call__(self, environ: dict[str, Any]) -> list[bytes] | None:
        """Run the app; the buffered body, or None when it was already sent from here."""
        chunks: list[bytes] = []
        size = 0
        iterable = self.app(environ, self.start_response)
        try:
            for chunk in iterable:
                if not chunk:
                    continue
                if self.streaming:
                    self._send_now({"type": "http.response.body", "body": chunk, "more_body": True})
                    continue
                chunks.append(chunk)
                size += len(chunk)
                if size > BUFFER:
                    self._send_now({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
                    chunks = []
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()  # request_finished: the thread's database connection goes back to the pool
        if self.streaming:
            self._send_now({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})
            return None
        return chunks


class WsgiInThreads:
    """An ASGI app for ``http`` (and ``lifespan``) that runs a WSGI app on a thread pool."""

    def __init__(self, app: WsgiApp | None = None, threads: int | None = None) -> None:
        self._app = app
        self.threads = threads or int(os.environ.get("WEB_THREADS") or 4)
        self._executor: ThreadPoolExecutor | None = None
        self._pid: int | None = None

    @property
    def app(self) -> WsgiApp:
        if self._app is None:
            from config.wsgi import application

            self._app = application
        return self._app

    def _pool(self) -> ThreadPoolExecutor:
        # Made in the serving process, never inherited across a fork (gunicorn preloads).
        if self._executor is None or self._pid != os.getpid():
            self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="wsgi")
            self._pid = os.getpid()
        return self._executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            raise ValueError(f"WsgiInThreads serves http, not {scope['type']!r}")
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body.write(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body.seek(0)
            call = _Call(self.app, asyncio.get_running_loop(), send)
            chunks = await asyncio.get_running_loop().run_in_executor(self._pool(), call, _environ(scope, body))
        finally:
            body.close()
        if chunks is None:
            return
        if call.start is None:
            raise RuntimeError("the WSGI app returned without calling start_response")
        await send(call.start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})
