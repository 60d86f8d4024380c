"""Which network addresses coopwatch may talk to: the guard against server-side request forgery.

Feed URLs and webhook targets are written by users, and a redirect can point anywhere, so by
default we refuse loopback, private, link-local, multicast, reserved and unspecified addresses,
IPv4 and IPv6, including IPv4 addresses embedded in IPv6 (IPv4-mapped, 6to4, NAT64) and the odd
spellings of IPv4 that the C library still accepts (``2130706433``, ``0177.0.0.1``, ``0x7f.1``,
``127.1``).

Two layers use this module:

* :func:`check_url` / :func:`classify_url` look at a URL before any request: scheme, host, and the
  host when it is an IP literal (aiohttp connects to literals without asking a resolver).
* :class:`GuardedResolver` wraps aiohttp's resolver and drops every disallowed address of a
  hostname, so the address actually connected to is checked, not just the name.

``allow`` entries are hostnames (exact, case-insensitive) or IP addresses / CIDR networks.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from worker.core.errors import ErrorKind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HTTP_SCHEMES: tuple[str, ...] = ("http", "https")

# Characters of the legacy numeric IPv4 forms inet_aton() accepts: digits, dots, hex.
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]{1,64}$")

# Ranges that ipaddress (Python 3.11) reports as global but that no feed should live on.
_EXTRA_BLOCKED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, shared address space
    ipaddress.ip_network("192.88.99.0/24"),  # deprecated 6to4 relay anycast
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64 prefix
    ipaddress.ip_network("fec0::/10"),  # deprecated site-local
)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddressError(OSError):
    """No address of a host may be connected to.

    An ``OSError`` so that aiohttp wraps it like any resolver failure
    (``ClientConnectorDNSError.os_error``) and the fetch adapter can tell it apart.
    """

    def __init__(self, host: str, addresses: Sequence[str]) -> None:
        shown = ", ".join(addresses) if addresses else "no address"
        super().__init__(f"host {host!r} resolves only to blocked addresses ({shown})")
        self.host = host
        self.addresses = tuple(addresses)


@dataclass(frozen=True, slots=True)
class UrlProblem:
    """Why a URL may not be fetched, as data."""

    kind: ErrorKind  # BAD_URL or BLOCKED_ADDRESS
    message: str


@dataclass(frozen=True, slots=True)
class AllowList:
    """``allow`` entries split into exact hostnames and networks."""

    hostnames: frozenset[str]
    networks: tuple[IPNetwork, ...]

    def allows_host(self, host: str) -> bool:
        return _normalise_hostname(host) in self.hostnames

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def parse_ip(text: str) -> IPAddress | None:
    """The IP address a host string denotes, accepting every spelling the C library accepts.

    Brackets and one trailing dot are removed; ``2130706433``, ``0177.0.0.1``, ``0x7f.1`` and
    ``127.1`` all give 127.0.0.1. Returns ``None`` for anything that is not an IP address.
    """
    host = text.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(host) or ".." in host or host.startswith("."):
        return None
    try:
        packed = socket.inet_aton(host)  # pure parsing, no I/O
    except OSError:
        return None
    return ipaddress.IPv4Address(packed)


@lru_cache(maxsize=64)
def build_allow_list(allow: tuple[str, ...]) -> AllowList:
    """Split ``allow`` into hostnames and networks; a malformed CIDR is a ``ValueError``."""
    hostnames: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in allow:
        entry = raw.strip()
        if "/" in entry:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        address = parse_ip(entry)
        if address is None:
            hostnames.add(_normalise_hostname(entry))
        else:
            networks.append(ipaddress.ip_network(address))
    return AllowList(frozenset(hostnames), tuple(networks))


def is_address_allowed(ip: str, allow: Sequence[str]) -> bool:
    """Whether connecting to ``ip`` is allowed: public, or covered by an ``allow`` network.

    Hostname entries of ``allow`` do not apply here (an address has no name). Anything that is
    not an IP address is refused.
    """
    address = parse_ip(ip)
    if address is None:
        return False
    allow_list = build_allow_list(tuple(allow))
    candidates = _addresses_to_judge(address)
    if any(allow_list.allows_address(candidate) for candidate in candidates):
        return True
    return all(_is_public(candidate) for candidate in candidates)


def classify_url(
    url: str | URL, allow: Sequence[str], *, schemes: Collection[str] = HTTP_SCHEMES
) -> UrlProblem | None:
    """What is wrong with fetching ``url`` before any lookup, or ``None``.

    Checks the scheme, that there is a host, and the host itself when it is an IP literal
    (in any spelling). Hostnames are checked after resolution by :class:`GuardedResolver`.
    """
    shown = redact_url(url)
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        host = parsed.host
    except (ValueError, TypeError) as exc:
        return UrlProblem(ErrorKind.BAD_URL, f"{shown}: not a valid URL ({exc})")
    if parsed.scheme.lower() not in schemes:
        wanted = " or ".join(sorted(schemes))
        return UrlProblem(ErrorKind.BAD_URL, f"{shown}: scheme {parsed.scheme!r} is not {wanted}")
    if not host:
        return UrlProblem(ErrorKind.BAD_URL, f"{shown}: URL has no host")
    allow_list = build_allow_list(tuple(allow))
    if allow_list.allows_host(host):
        return None
    address = parse_ip(host)
    if address is not None and not is_address_allowed(str(address), allow):
        return UrlProblem(
            ErrorKind.BLOCKED_ADDRESS,
            f"{shown}: host {host!r} is the blocked address {address}",
        )
    return None


def check_url(
    url: str,
    allow: Sequence[str],
    *,
    schemes: Collection[str] = HTTP_SCHEMES,
    resolve: bool = False,
) -> str | None:
    """An error message naming the URL and the problem, or ``None`` when ``url`` may be used.

    For webhook targets with other schemes (e.g. Apprise ``json://``), pass ``schemes``.
    With ``resolve=True`` a hostname is also looked up (blocking ``getaddrinfo``) and refused
    if ANY of its addresses is blocked; for clients such as Apprise that resolve on their own
    and cannot use :class:`GuardedResolver`. A name that does not resolve is not refused here:
    the request itself will fail and say so.
    """
    problem = classify_url(url, allow, schemes=schemes)
    if problem is None and resolve:
        problem = _resolved_problem(url, allow)
    return None if problem is None else problem.message


def _resolved_problem(url: str, allow: Sequence[str]) -> UrlProblem | None:
    parsed = URL(url)  # classify_url has accepted it
    host = parsed.host
    if not host or parse_ip(host) is not None or build_allow_list(tuple(allow)).allows_host(host):
        return None
    try:
        infos = socket.getaddrinfo(host, parsed.port or 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        return None
    addresses = sorted({str(info[4][0]) for info in infos})
    blocked = [address for address in addresses if not is_address_allowed(address, allow)]
    if not blocked:
        return None
    return UrlProblem(
        ErrorKind.BLOCKED_ADDRESS,
        f"{redact_url(url)}: host {host!r} resolves to blocked address {', '.join(blocked)}",
    )


def redact_url(url: str | URL) -> str:
    """``url`` without user name and password, for messages and logs."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        if parsed.user is None and parsed.password is None:
            return str(parsed)
        return str(parsed.with_user(None))
    except (ValueError, TypeError):
        return re.sub(r"//[^/@]*@", "//", str(url))


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that only returns addresses the guard allows.

    Raises :class:`BlockedAddressError` when the name resolves only to blocked addresses.
    Hosts listed by name in ``allow`` are resolved without filtering.
    """

    def __init__(self, allow: Sequence[str], inner: AbstractResolver | None = None) -> None:
        self._allow = tuple(allow)
        self._allow_list = build_allow_list(self._allow)
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allow_list.allows_host(host):
            return results
        kept = [r for r in results if is_address_allowed(r["host"], self._allow)]
        if not kept:
            raise BlockedAddressError(host, [r["host"] for r in results])
        return kept

    async def close(self) -> None:
        await self._inner.close()


def _normalise_hostname(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _addresses_to_judge(address: IPAddress) -> tuple[IPAddress, ...]:
    """The addresses a connection to ``address`` really reaches.

    IPv4-mapped and well-known-prefix NAT64 addresses are judged as the IPv4 address they reach
    (ipaddress counts 64:ff9b::/96 as reserved); 6to4 addresses both as themselves and as the
    IPv4 address they embed.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return (address,)
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address, address.sixtofour)
    if address in _NAT64_WELL_KNOWN:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    return (address,)


def _is_public(address: IPAddress) -> bool:
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return not any(address.version == net.version and address in net for net in _EXTRA_BLOCKED)
