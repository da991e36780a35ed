"""Which webhook URLs the gateway may call (issue 14, SSRF guard): the rule on the URL and on each address it
resolves to, pure (stdlib `ipaddress` and `urllib.parse`; the resolution itself is the adapter's,
chalicelib.adapters.webhook_http).

Why: a subscription's URL is chosen by an agency's clerk, and the delivery function runs inside AWS with a role;
a URL naming the instance metadata service, a VPC address or a loopback service would make the gateway a proxy
into places the clerk cannot reach (OWASP "Server Side Request Forgery Prevention Cheat Sheet": allow-list the
scheme, resolve, check every address, connect to the address checked). So:

- `https` only; `http` only to a loopback address and only on the embedded stack (`local_receivers`, the setting
  `WEBHOOK_LOCAL_RECEIVERS` that devstack sets on stage `local` alone);
- no user-info, no fragment, a host, a port in 1–65535;
- every address the host resolves to must be public: not private (RFC 1918, RFC 4193 fc00::/7), loopback (outside
  the embedded stack), link-local (169.254/16, fe80::/10, which holds the metadata service 169.254.169.254), CGNAT
  (100.64/10, RFC 6598), multicast, reserved, unspecified, documentation/benchmark ranges, the AWS IPv6 metadata
  address fd00:ec2::254, nor any IPv4-mapped (::ffff:a.b.c.d), 6to4 or NAT64 form of those (checked as the IPv4
  address inside).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["MAX_URL_CHARS", "UrlRefused", "WebhookTarget", "refusal_of", "parse_target"]

MAX_URL_CHARS = 2048

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_EXTRA_BLOCKED = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "240.0.0.0/4", "255.255.255.255/32", "2001:db8::/32", "100::/64", "2001::/23"))


class UrlRefused(Exception):
    """A URL or an address the gateway will not call; `reason` is a stable code (docs/contract.md#webhooks)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class WebhookTarget:
    """A URL that passed the syntactic rules: what the delivery connects to (after resolving `host`)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line


def parse_target(url: str, *, local_receivers: bool) -> WebhookTarget:
    """The URL's parts, or UrlRefused (`webhook_url_invalid`, `webhook_url_insecure`). A literal IP host is
    checked here too; a name is checked once resolved (`refusal_of`)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS or any(c.isspace() for c in url):
        raise UrlRefused("webhook_url_invalid", "not a URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("webhook_url_invalid", str(exc)) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in ("https", "http") or not host or parts.username is not None or parts.password is not None \
            or parts.fragment:
        raise UrlRefused("webhook_url_invalid", "https://host[:port]/path, no user-info or fragment")
    port = port or (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise UrlRefused("webhook_url_invalid", "port")
    literal = _literal(host)
    if scheme == "http" and not (local_receivers and (host == "localhost" or (literal and literal.is_loopback))):
        raise UrlRefused("webhook_url_insecure", "https only")
    if literal is not None:
        problem = refusal_of(str(literal), local_receivers=local_receivers)
        if problem:
            raise UrlRefused("webhook_url_forbidden_address", problem)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(url=url, scheme=scheme, host=host, port=port, path=path)


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, 6to4, NAT64), which is what a connection reaches."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_of(address: str, *, local_receivers: bool) -> str | None:
    """Why the gateway must not connect to `address` (a resolved IP, text), or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not_an_ip"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return refusal_of(str(inner), local_receivers=local_receivers)
    if ip in _METADATA:
        return "metadata"
    if ip.is_loopback:
        return None if local_receivers else "loopback"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "cgnat"
    for name, flag in (("link_local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("unspecified", ip.is_unspecified), ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if flag:
            return name
    if any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return "reserved"
    if not ip.is_global:
        return "not_global"
    return None
