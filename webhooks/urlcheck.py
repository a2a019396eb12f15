"""Where a webhook may point (SSRF guard, SPEC "v1.1 — Webhooks").

A URL is http or https with a host; every address its host resolves to must be a
public unicast address — not loopback, private, link-local, shared (CGNAT), reserved,
multicast or unspecified, in IPv4 or IPv6 (including IPv4-mapped IPv6) — unless
`WEBHOOK_ALLOW_PRIVATE`. The check runs when an endpoint is saved and again before every
attempt, and the attempt connects to the address that was checked (never resolving the
name a second time), so a DNS answer that changes in between cannot steer it inside.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000


class UnsafeUrl(ValueError):
    """The URL is malformed, or its host resolves somewhere a webhook must not go."""


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to `ip`:`port`, present `host` (Host header, TLS SNI)."""

    scheme: str
    host: str
    port: int
    ip: str
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def connect_url(self) -> str:
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{ip}:{self.port}{self.path}"


def address_is_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or addr.sixtofour
        if mapped is not None and not address_is_public(str(mapped)):
            return False
    return addr.is_global and not (
        addr.is_multicast or addr.is_loopback or addr.is_link_local or addr.is_unspecified
    )


def url_parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL; raises UnsafeUrl when malformed."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"Use an http or https URL of at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise UnsafeUrl("The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"This is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("Only http and https URLs are allowed.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("The URL may not carry a user name or password.")
    if parts.fragment:
        raise UnsafeUrl("The URL may not have a #fragment.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


def url_resolve(url: str) -> Target:
    """Parse, resolve and check `url`; raises UnsafeUrl with a reason a seller can read."""
    scheme, host, port, path = url_parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"The host {host!r} does not resolve.") from None
    ips = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not ips:
        raise UnsafeUrl(f"The host {host!r} does not resolve.")
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for ip in ips:
            if not address_is_public(ip):
                raise UnsafeUrl(
                    f"The host {host!r} resolves to {ip}, a loopback, private, link-local or "
                    "reserved address; webhooks go to public addresses only."
                )
    return Target(scheme=scheme, host=host, port=port, ip=ips[0], path=path)
