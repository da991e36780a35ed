"""The SSRF guard's rules (chalicelib.domain.webhook_urls) and the delivery rules (chalicelib.domain.webhook_events),
pure."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import webhook_events as ev
from chalicelib.domain.webhook_urls import UrlRefused, parse_target, refusal_of

FORBIDDEN = {
    "10.1.2.3": "private", "172.16.0.1": "private", "192.168.0.1": "private", "127.0.0.1": "loopback",
    "169.254.169.254": "metadata", "169.254.1.1": "link_local", "100.64.0.1": "cgnat", "100.127.255.254": "cgnat",
    "224.0.0.1": "multicast", "0.0.0.0": "unspecified",  # noqa: S104  an address to refuse, not to bind
    "240.0.0.1": "private", "192.0.2.1": "private",
    "::1": "loopback", "fe80::1": "link_local", "fc00::1": "private", "fd00:ec2::254": "metadata",
    "ff02::1": "multicast", "::": "unspecified", "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "metadata", "::ffff:127.0.0.1": "loopback", "2002:a00:1::": "private",
    "64:ff9b::a9fe:a9fe": "metadata", "2001:db8::1": "private",
}


@pytest.mark.parametrize(("address", "reason"), sorted(FORBIDDEN.items()))
def test_private_metadata_and_their_ipv6_forms_are_refused(address, reason):
    found = refusal_of(address, local_receivers=False)
    assert found is not None
    assert found == reason or reason == "private"  # several names fit some ranges; "private" means any refusal


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "203.162.4.191", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert refusal_of(address, local_receivers=False) is None


def test_loopback_only_on_the_embedded_stack_and_metadata_never():
    assert refusal_of("127.0.0.1", local_receivers=True) is None
    assert refusal_of("::1", local_receivers=True) is None
    assert refusal_of("169.254.169.254", local_receivers=True) == "metadata"
    assert refusal_of("10.0.0.1", local_receivers=True) == "private"


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_an_ipv4_mapped_address_is_judged_as_its_ipv4(n):
    v4 = ipaddress.IPv4Address(n)
    mapped = ipaddress.IPv6Address(f"::ffff:{v4}")
    assert (refusal_of(str(mapped), local_receivers=False) is None) == (refusal_of(str(v4), local_receivers=False)
                                                                        is None)


@pytest.mark.parametrize(("url", "reason"), [
    ("http://receiver.example/h", "webhook_url_insecure"),
    ("http://127.0.0.1:8080/h", "webhook_url_insecure"),
    ("ftp://receiver.example/h", "webhook_url_invalid"),
    ("https://user:pw@receiver.example/h", "webhook_url_invalid"),
    ("https://receiver.example/h#frag", "webhook_url_invalid"),
    ("https:///nohost", "webhook_url_invalid"),
    ("https://receiver.example:99999/", "webhook_url_invalid"),
    ("https://10.0.0.1/h", "webhook_url_forbidden_address"),
    ("https://[fd00:ec2::254]/", "webhook_url_forbidden_address"),
    ("https://169.254.169.254/latest/meta-data/", "webhook_url_forbidden_address"),
])
def test_urls_refused(url, reason):
    with pytest.raises(UrlRefused) as refused:
        parse_target(url, local_receivers=False)
    assert refused.value.reason == reason


def test_urls_accepted_and_their_parts():
    target = parse_target("https://Receiver.Example:8443/hooks/edoc?x=1", local_receivers=False)
    assert (target.host, target.port, target.path) == ("receiver.example", 8443, "/hooks/edoc?x=1")
    assert parse_target("http://127.0.0.1:9/h", local_receivers=True).port == 9
    with pytest.raises(UrlRefused):
        parse_target("http://receiver.example/h", local_receivers=True)  # http only to loopback


def test_backoff_spreads_the_attempts_over_about_a_day():
    waits = [ev.backoff_seconds(n, 30, 14400) for n in range(1, 15)]  # after attempts 1..14, the 15th is the last
    assert waits[:4] == [30, 60, 120, 240] and max(waits) == 14400
    assert 20 * 3600 <= sum(waits) <= 30 * 3600
    assert ev.backoff_seconds(1, 1, 2) == 1 and ev.backoff_seconds(5, 1, 2) == 2


def test_event_ids_are_stable_and_types_filtered():
    assert ev.event_id("doc", "SIGNED", "t") == ev.event_id("doc", "SIGNED", "t") != ev.event_id("doc", "SIGNED", "u")
    assert ev.event_id("x").startswith("evt_") and len(ev.event_id("x")) == 28
    assert ev.subscribed(["*"], "inbox.received") and ev.subscribed(["document.signed"], "document.signed")
    assert not ev.subscribed(["document.signed"], "delivery.status")
    assert ev.subscribed(["document.signed"], ev.TEST_EVENT)
    assert ev.should_disable(75, 75) and not ev.should_disable(74, 75) and not ev.should_disable(10**6, 0)
    assert ev.body_bytes({"b": "ă", "a": 1}) == '{"a":1,"b":"ă"}'.encode()
