"""Where a webhook may be sent: http(s) only, and only to allowed addresses.

The host is resolved before *every* send and each address it resolves to must
be public (globally routable) or inside ``WEBHOOK_ALLOWED_NETWORKS``; the
request then goes to the checked address (Host header and TLS SNI keep the
name), so DNS rebinding between the check and the connect cannot redirect it
to an internal service. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from tracker.errors import ValidationFailed
from tracker.webhooks.conf import conf

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValidationFailed):
    code = "webhook_target_refused"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]  # sockaddr[0] is the address text for IP families


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in conf("WEBHOOK_ALLOWED_NETWORKS")]


def address_allowed(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in net for net in _networks() if net.version == address.version):
        return True
    return address.is_global and not address.is_multicast


def check_url_syntax(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL, else TargetRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"Not a valid URL: {exc}.", field="url") from exc
    allowed = {"https", "http"} if conf("WEBHOOK_ALLOW_HTTP") else {"https"}
    if parts.scheme not in allowed:
        raise TargetRefused(f"The URL scheme must be one of {sorted(allowed)}.", field="url")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.", field="url")
    if parts.username or parts.password:
        raise TargetRefused("Credentials in the URL are not allowed; use the signature.", field="url")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_target(url: str) -> Target:
    """Resolve ``url``'s host and return the address to connect to, or refuse.

    Every resolved address must be allowed (not just the first), so a name with
    one public and one internal record is refused.
    """
    scheme, host, port = check_url_syntax(url)
    try:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
    except (OSError, ValueError) as exc:
        raise TargetRefused(f"Cannot resolve {host}: {exc}.", field="url") from exc
    if not addresses:
        raise TargetRefused(f"{host} resolves to no address.", field="url")
    refused = [str(a) for a in addresses if not address_allowed(a)]
    if refused:
        raise TargetRefused(
            f"{host} resolves to an address webhooks may not reach ({', '.join(refused)}); "
            "see WEBHOOK_ALLOWED_NETWORKS.",
            field="url",
        )
    return Target(scheme=scheme, host=host, port=port, address=addresses[0])
