"""ASGI entry points: websockets through Channels; HTTP two ways.

``application`` (what ``make serve`` runs, under granian): HTTP through Django's ASGI handler. Every sync view, and the
request_started/finished signals around it, hop onto Django's one sync thread
per process, several times per request.

``mixed`` (``WEB_SERVER=mixed``, see ``config/web.py``): HTTP straight to
Django's WSGI handler in a thread pool (``config.wsgi_pool``), websockets to
Channels. Same middleware, views and settings; one port.

Websockets are authenticated by the Django session and checked against
ALLOWED_HOSTS for their Origin, so another site's page cannot open a socket
with a user's cookie.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.wsgi_pool import WsgiInThreads  # noqa: E402
from tracker.routing import websocket_urlpatterns  # noqa: E402

websockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websockets})

_wsgi_in_threads = WsgiInThreads()
mixed = ProtocolTypeRouter({"http": _wsgi_in_threads, "lifespan": _wsgi_in_threads, "websocket": websockets})
