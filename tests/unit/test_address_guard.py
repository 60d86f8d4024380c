"""The address guard: which hosts and addresses coopwatch may connect to."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from worker.adapters.address_guard import (
    BlockedAddressError,
    GuardedResolver,
    build_allow_list,
    check_url,
    classify_url,
    is_address_allowed,
    parse_ip,
    redact_url,
)
from worker.core.errors import ErrorKind


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0x7f.1", "127.0.0.1"),  # hex, short
        ("0x7f000001", "127.0.0.1"),  # hex, whole
        ("127.1", "127.0.0.1"),  # short
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x0A.0.0.1", "10.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),  # trailing dot of a fully qualified name
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("example.org", None),
        ("08.0.0.1", None),  # not valid octal: a (bad) hostname, left to the resolver
        ("1.2.3.4.5", None),
        ("4294967296", None),  # past 32 bits
        ("127.0.0.1 evil", None),  # inet_aton would ignore the tail; we do not
        ("deadbeef", None),
        ("", None),
    ],
)
def test_parse_ip_reads_every_spelling(spelling: str, address: str | None) -> None:
    parsed = parse_ip(spelling)
    assert (None if parsed is None else str(parsed)) == address


@pytest.mark.parametrize(
    "ip",
    [
        # IPv4 loopback, private, link-local, shared, multicast, reserved, unspecified
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        # odd spellings of blocked IPv4
        "2130706433",
        "0177.0.0.1",
        "0x7f.1",
        "127.1",
        "0",
        "012.0.0.1",
        # IPv6
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",  # deprecated site-local
        "ff02::1",  # multicast
        "ff0e::1",
        "2001:db8::1",  # documentation
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        # IPv4 embedded in IPv6
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::1",  # local-use NAT64
        "2001::1",  # Teredo
        # not addresses at all
        "localhost",
        "example.org",
        "",
    ],
)
def test_blocked_by_default(ip: str) -> None:
    assert not is_address_allowed(ip, ())


@pytest.mark.parametrize(
    "ip",
    [
        "93.184.215.14",
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:82b::200e",
        "::ffff:8.8.8.8",  # IPv4-mapped: judged as the IPv4 address it reaches
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "134744072",  # 8.8.8.8 in decimal
    ],
)
def test_public_addresses_allowed(ip: str) -> None:
    assert is_address_allowed(ip, ())


@pytest.mark.parametrize(
    ("ip", "allow", "allowed"),
    [
        ("127.0.0.1", ["127.0.0.1"], True),
        ("127.0.0.2", ["127.0.0.1"], False),
        ("127.0.0.2", ["127.0.0.0/8"], True),
        ("10.9.8.7", ["10.0.0.0/8"], True),
        ("10.9.8.7", ["192.168.0.0/16"], False),
        ("2130706433", ["127.0.0.1"], True),  # odd spelling of an allowed address
        ("127.0.0.1", ["0177.0.0.1"], True),  # odd spelling in the allow list
        ("::ffff:127.0.0.1", ["127.0.0.1"], True),  # mapped form of an allowed address
        ("::1", ["127.0.0.1"], False),
        ("::1", ["::1"], True),
        ("fd00::5", ["fd00::/8"], True),
        ("127.0.0.1", ["localhost"], False),  # hostname entries do not cover addresses
        ("127.0.0.1", ["10.0.0.0/8", "127.0.0.1/32"], True),
    ],
)
def test_allow_list(ip: str, allow: list[str], allowed: bool) -> None:
    assert is_address_allowed(ip, allow) is allowed


def test_allow_list_splits_hostnames_and_networks() -> None:
    allow = build_allow_list(("LocalHost.", "10.0.0.0/8", "0x7f.1", "feeds.internal"))
    assert allow.hostnames == frozenset({"localhost", "feeds.internal"})
    assert [str(n) for n in allow.networks] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert allow.allows_host("LOCALHOST")


def test_malformed_cidr_is_refused() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        build_allow_list(("10.0.0.0/33",))


@pytest.mark.parametrize(
    ("url", "allow", "kind"),
    [
        ("https://example.org/feed.xml", (), None),
        ("http://example.org:8080/rss", (), None),
        ("http://localhost/feed", (), None),  # a name: judged after resolution
        ("http://127.0.0.1/feed", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://127.0.0.1:8080/feed", ("127.0.0.1",), None),
        ("http://2130706433/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://0177.0.0.1/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://0x7f.1/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://127.1/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://127.0.0.1./", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://[::1]/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://[::ffff:127.0.0.1]/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://[::ffff:7f00:1]:80/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://[fe80::1%25eth0]/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://[64:ff9b::a9fe:a9fe]/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://169.254.169.254/latest/meta-data/", (), ErrorKind.BLOCKED_ADDRESS),
        ("http://[2606:4700:4700::1111]/", (), None),
        ("http://8.8.8.8/", (), None),
        ("http://localhost/", ("localhost",), None),
        ("http://LOCALHOST/", ("localhost",), None),
        ("ftp://example.org/feed", (), ErrorKind.BAD_URL),
        ("file:///etc/passwd", (), ErrorKind.BAD_URL),
        ("gopher://127.0.0.1:70/", ("127.0.0.1",), ErrorKind.BAD_URL),
        ("javascript:alert(1)", (), ErrorKind.BAD_URL),
        ("example.org/feed", (), ErrorKind.BAD_URL),
        ("http:///feed", (), ErrorKind.BAD_URL),
        ("", (), ErrorKind.BAD_URL),
    ],
)
def test_classify_url(url: str, allow: tuple[str, ...], kind: ErrorKind | None) -> None:
    problem = classify_url(url, allow)
    assert (None if problem is None else problem.kind) == kind


def test_check_url_message_names_url_host_and_address() -> None:
    message = check_url("http://0x7f.1:8080/feed", ())
    assert message is not None
    assert "http://0x7f.1:8080/feed" in message
    assert "0x7f.1" in message
    assert "127.0.0.1" in message


def test_check_url_other_schemes_for_webhooks() -> None:
    assert check_url("json://hooks.example.org/x", (), schemes=("json", "jsons")) is None
    message = check_url("json://10.0.0.5/x", (), schemes=("json", "jsons"))
    assert message is not None
    assert "10.0.0.5" in message


def test_check_url_resolving_names() -> None:
    # "localhost" comes from the hosts file: no DNS traffic.
    message = check_url("http://localhost:8080/hook", (), resolve=True)
    assert message is not None
    assert "localhost" in message
    assert "127.0.0.1" in message
    assert check_url("http://localhost:8080/hook", ("localhost",), resolve=True) is None
    assert check_url("http://localhost/hook", ("127.0.0.0/8", "::1"), resolve=True) is None
    assert check_url("http://localhost/hook", ()) is None  # without resolve: names pass
    assert check_url("http://127.0.0.1/hook", (), resolve=True) is not None


def test_messages_do_not_show_credentials() -> None:
    message = check_url("http://user:s3cret@127.0.0.1/feed", ())
    assert message is not None
    assert "s3cret" not in message
    assert redact_url("https://u:p@example.org/x?y=1") == "https://example.org/x?y=1"


class _FixedResolver(AbstractResolver):
    """Answers every lookup with the given addresses, or fails like a DNS error."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if not self.addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        self.closed = True


def _resolve(addresses: list[str], allow: tuple[str, ...], host: str) -> list[str]:
    async def run() -> list[str]:
        resolver = GuardedResolver(allow, inner=_FixedResolver(addresses))
        try:
            return [r["host"] for r in await resolver.resolve(host, 80, socket.AF_UNSPEC)]
        finally:
            await resolver.close()

    return asyncio.run(run())


def test_resolver_drops_blocked_addresses() -> None:
    kept = _resolve(["127.0.0.1", "93.184.215.14", "::1", "2606:4700::1"], (), "mixed.example")
    assert kept == ["93.184.215.14", "2606:4700::1"]


def test_resolver_refuses_a_name_with_only_blocked_addresses() -> None:
    with pytest.raises(BlockedAddressError) as caught:
        _resolve(["127.0.0.1", "::1"], (), "rebind.example")
    assert caught.value.host == "rebind.example"
    assert "rebind.example" in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_resolver_allows_listed_networks_and_hostnames() -> None:
    assert _resolve(["10.0.0.7"], ("10.0.0.0/8",), "intranet.example") == ["10.0.0.7"]
    assert _resolve(["127.0.0.1", "::1"], ("LOCALHOST",), "localhost") == ["127.0.0.1", "::1"]


def test_resolver_passes_dns_failures_through() -> None:
    with pytest.raises(socket.gaierror):
        _resolve([], (), "no-such-host.example")


def test_resolver_blocks_real_localhost_lookup() -> None:
    async def run() -> None:
        resolver = GuardedResolver(())
        try:
            await resolver.resolve("localhost", 80, socket.AF_INET)
        finally:
            await resolver.close()

    with pytest.raises(BlockedAddressError, match="localhost"):
        asyncio.run(run())
