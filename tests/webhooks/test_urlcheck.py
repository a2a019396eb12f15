"""The SSRF guard: only http(s) URLs whose host resolves to public addresses."""

from __future__ import annotations

import pytest

from webhooks.urlcheck import UnsafeUrl, address_is_public, url_parse, url_resolve


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "127.8.9.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (CGNAT)
        "0.0.0.0",  # noqa: S104 (an address under test, not a bind)
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
    ],
)
def test_internal_addresses_are_not_public(ip):
    assert not address_is_public(ip)


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(ip):
    assert address_is_public(ip)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",
    ],
)
def test_urls_pointing_inside_are_refused(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(UnsafeUrl):
        url_resolve(url)


def test_allow_private_lets_loopback_through(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    target = url_resolve("http://127.0.0.1:9/x?y=1")
    assert (target.ip, target.port, target.path) == ("127.0.0.1", 9, "/x?y=1")
    assert target.connect_url == "http://127.0.0.1:9/x?y=1"
    assert target.host_header == "127.0.0.1:9"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "example.com/hook",
        "http:///nohost",
        "http://user:pw@example.com/",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "http://example.com/\n",
        "http://example.com/#frag",
        "https://" + "a" * 2000 + ".com/",
    ],
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(UnsafeUrl):
        url_parse(url)


def test_an_unresolvable_host_is_refused():
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        url_resolve("https://no-such-host.invalid/hook")
