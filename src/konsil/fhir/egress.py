"""Outbound HTTP to addresses an organization gave us (webhook receivers), without reaching our own network.

A receiver URL is checked when it is subscribed (scheme, no credentials, every address the host resolves to is a
public one) and again on every delivery at the socket: the connection is refused unless the peer it actually
reached is public, so a DNS answer that changes after the check (rebinding) cannot aim a delivery at an internal
service. Redirects are not followed. Private ranges an operator trusts (an integration engine on 10.0.0.0/8, say)
are listed in KONSIL_WEBHOOK_ALLOWED_NETWORKS.

Written on the standard library (http.client, urllib): the well-kept SSRF guards on PyPI wrap `requests`, which
Konsil does not otherwise use.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


class EgressRefused(ValueError):
    """The address is not one Konsil sends data to."""


def _allowed_networks():
    nets = []
    for text in getattr(settings, "KONSIL_WEBHOOK_ALLOWED_NETWORKS", ()) or ():
        try:
            nets.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError:
            continue
    return nets


def address_allowed(address: str) -> bool:
    """A globally routable unicast address, or one inside a network the operator allowed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _allowed_networks()):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str) -> None:
    """Raise EgressRefused unless `url` is an http(s) URL whose host resolves only to allowed addresses."""
    try:
        parts = urlsplit(str(url or ""))
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EgressRefused(_("Give the receiver's http(s) URL.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressRefused(_("Give the receiver's http(s) URL."))
    if parts.username or parts.password:
        raise EgressRefused(_("Put no user name or password in the URL; deliveries are signed instead."))
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise EgressRefused(_("The receiver's host name does not resolve.")) from None
    if not infos or not all(address_allowed(info[4][0]) for info in infos):
        raise EgressRefused(_("The receiver resolves to a private or internal address, which Konsil does not "
                              "send to."))


def _checked_peer(sock) -> None:
    peer = sock.getpeername()[0]
    if not address_allowed(peer):
        sock.close()
        raise EgressRefused(f"connection to a non-public address refused ({peer})")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        super().connect()
        _checked_peer(self.sock)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        super().connect()  # the TLS handshake happens on a socket connected to the address checked below
        _checked_peer(self.sock)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is the receiver's answer, recorded as such


def open_guarded(request, timeout: float):
    """urllib's urlopen with the peer check on every connection and no redirects."""
    opener = urllib.request.OpenerDirector()
    for handler in (_GuardedHTTPHandler(), _GuardedHTTPSHandler(), _NoRedirect(),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener.open(request, timeout=timeout)
