"""Is a URL's host on this machine or a private network? (webhook targets)

Anyone allowed to register a webhook could otherwise make Odoo send record data
to an internal service (loopback, private ranges, cloud metadata addresses).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

#: System parameter that lets webhooks target this machine or a private network.
ALLOW_INTERNAL_PARAM = "bj_api_sync.webhook_allow_internal_urls"


def allows_internal(value):
    """Tell whether the system parameter's ``value`` allows internal targets."""
    return str(value or "").strip().lower() in ("1", "true", "yes")


def is_internal_address(text):
    """Tell whether the IP address ``text`` is not public (loopback, private,
    link-local, reserved); None when ``text`` is no IP address."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return not address.is_global


def internal_host(url, resolve=socket.getaddrinfo):
    """Return the host of ``url`` when it is, or resolves to, a non-public
    address (loopback, private, link-local, reserved); else None.

    A host that does not resolve is not judged here: its delivery fails and is
    logged like any other unreachable endpoint.
    """
    host = (urlsplit(url).hostname or "").strip().lower().rstrip(".")
    if not host:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return host
    verdict = is_internal_address(host)
    if verdict is not None:
        return host if verdict else None
    try:
        infos = resolve(host, None)
    except (OSError, UnicodeError):
        return None
    if any(is_internal_address(info[4][0]) for info in infos):
        return host
    return None
