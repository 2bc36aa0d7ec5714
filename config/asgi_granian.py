"""``config.asgi``'s apps as granian serves them (``config/web.py``).

Granian leaves the client address alone; uvicorn (under gunicorn) replaced it
with the X-Forwarded-For of a trusted proxy. Lockouts (axes), audit records and
the request log key on that address, so behind a proxy it must be the
client's, not the proxy's: the same rule here, from the same setting,
``FORWARDED_ALLOW_IPS`` (default: this host only).
"""

import os

from granian.utils.proxies import wrap_asgi_with_proxy_headers

from config import asgi

TRUSTED = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

application = wrap_asgi_with_proxy_headers(asgi.application, TRUSTED)
mixed = wrap_asgi_with_proxy_headers(asgi.mixed, TRUSTED)
