"""The axis's `XroadVnpt-*` header signing (VXP connector 2.0.1): sign, verify, and what verification refuses."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.standards.axis_protocol import (
    DEFAULT_MAX_SKEW,
    VN_TZ,
    ReplayCache,
    SignatureError,
    format_timestamp,
    parse_timestamp,
    sign_headers,
    verify_headers,
)

SECRETS = {"000.00.00.H62": "bí-mật-của-UBND-Vĩnh-Phúc", "000.00.00.G22": "vpcp-secret"}
NOW = datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=VN_TZ)
PARAMS = {"Content-Type": "application/octet-stream", "from": "000.00.00.H62",
          "to": '["000.00.00.G22","000.00.00.K62"]', "servicetype": "eDoc", "messagetype": "edoc",
          "hash-file": hashlib.sha256(b"package").hexdigest()}


def signed(params: dict[str, str] | None = None, system_id: str = "000.00.00.H62") -> dict[str, str]:
    return sign_headers(PARAMS if params is None else params, system_id, SECRETS[system_id], NOW)


def test_timestamp_format_has_a_literal_plus_and_four_digit_millis() -> None:
    assert format_timestamp(NOW) == "02012024T030405+0678"
    assert format_timestamp(datetime(2024, 1, 1, 20, 4, 5, 7_000, tzinfo=UTC)) == "02012024T030405+0007"
    assert parse_timestamp("02012024T030405+0678") == NOW


def test_signed_headers_follow_the_reference_client() -> None:
    headers = signed()
    sign_json = headers["XroadVnpt-sign-header"]
    assert " " not in sign_json  # compact JSON
    carried = json.loads(sign_json)
    assert carried == {"XroadVnpt-timestamp": "02012024T030405+0678", "XroadVnpt-systemid": "000.00.00.H62",
                       **{f"XroadVnpt-{k}": v for k, v in PARAMS.items()}}
    for key, value in carried.items():
        assert headers[key] == value  # every parameter also travels as its own header
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["XroadVnpt-sign-header-key"].split(";") == [k.removeprefix("XroadVnpt-") for k in carried]
    assert headers["XroadVnpt-hash-header"] == hmac.new(
        SECRETS["000.00.00.H62"].encode(), sign_json.encode(), hashlib.sha256).hexdigest()
    assert headers["XroadVnpt-version"] == "3.0.201608"
    assert all(v.isascii() for v in headers.values())


def test_json_calls_default_to_application_json() -> None:
    headers = signed({"docId": "0123456789abcdef01234567"})
    assert headers["Content-Type"] == headers["XroadVnpt-Content-Type"] == "application/json"


def test_verify_returns_the_signed_parameters() -> None:
    params = verify_headers(signed(), SECRETS.get)
    assert params == {"timestamp": "02012024T030405+0678", "systemid": "000.00.00.H62", **PARAMS}


def test_header_names_are_case_insensitive() -> None:
    lowered = {k.lower(): v for k, v in signed().items()}
    assert verify_headers(lowered, SECRETS.get)["from"] == "000.00.00.H62"


def test_key_order_does_not_matter() -> None:
    # Another client may serialise its map in any order: the HMAC covers the JSON exactly as transmitted.
    headers = signed()
    carried = json.loads(headers["XroadVnpt-sign-header"])
    reordered = json.dumps(dict(reversed(list(carried.items()))), separators=(",", ":"))
    assert reordered != headers["XroadVnpt-sign-header"]
    headers["XroadVnpt-sign-header"] = reordered
    headers["XroadVnpt-sign-header-key"] = ";".join(reversed(headers["XroadVnpt-sign-header-key"].split(";")))
    headers["XroadVnpt-hash-header"] = hmac.new(SECRETS["000.00.00.H62"].encode(), reordered.encode(),
                                                hashlib.sha256).hexdigest().upper()  # hex case does not matter
    assert verify_headers(headers, SECRETS.get) == verify_headers(signed(), SECRETS.get)


def _tampered(**changes: str) -> dict[str, str]:
    headers = signed()
    headers.update(changes)
    return headers


@pytest.mark.parametrize(("headers", "reason"), [
    (_tampered(**{"XroadVnpt-to": '["000.00.00.H03"]'}), "header_mismatch"),
    (_tampered(**{"XroadVnpt-sign-header": signed()["XroadVnpt-sign-header"].replace("K62", "H03")}),
     "bad_signature"),
    (_tampered(**{"XroadVnpt-hash-header": "0" * 64}), "bad_signature"),
    (_tampered(**{"XroadVnpt-sign-header-key": "timestamp;systemid"}), "key_list_mismatch"),
    (_tampered(**{"XroadVnpt-sign-header": "{not json"}), "malformed_sign_header"),
    (_tampered(**{"XroadVnpt-sign-header": '["a"]'}), "malformed_sign_header"),
    ({k: v for k, v in signed().items() if k != "XroadVnpt-hash-header"}, "missing_headers"),
    ({k: v for k, v in signed().items() if k != "XroadVnpt-from"}, "header_mismatch"),
])
def test_tampering_is_detected(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_headers(headers, SECRETS.get)
    assert caught.value.reason == reason


def test_another_systems_secret_does_not_verify() -> None:
    headers = sign_headers(PARAMS, "000.00.00.H62", SECRETS["000.00.00.G22"], NOW)
    with pytest.raises(SignatureError) as caught:
        verify_headers(headers, SECRETS.get)
    assert caught.value.reason == "bad_signature"


def test_unknown_system_is_refused() -> None:
    headers = sign_headers(PARAMS, "000.00.00.H03", "whatever", NOW)
    with pytest.raises(SignatureError) as caught:
        verify_headers(headers, SECRETS.get)
    assert caught.value.reason == "unknown_system"


def test_replay_window_is_enforced_when_asked() -> None:
    headers = signed()
    assert verify_headers(headers, SECRETS.get, now=NOW + timedelta(minutes=4), max_skew=timedelta(minutes=5))
    with pytest.raises(SignatureError) as caught:
        verify_headers(headers, SECRETS.get, now=NOW + timedelta(hours=1), max_skew=timedelta(minutes=5))
    assert caught.value.reason == "stale_timestamp"


@pytest.mark.parametrize("params", [{"from": "Ủy ban"}, {"docId": "abc\r\nX-Injected: 1"}, {"bad key": "x"},
                                    {"systemid": "000.00.00.G22"}, {"version": "1"}, {"docId": "a", "DOCID": "b"}])
def test_values_that_cannot_be_headers_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        sign_headers(params, "000.00.00.H62", "s", NOW)


_ascii = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_keys = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
    lambda k: k.lower() not in ("timestamp", "systemid", "content-type", "sign-header", "sign-header-key",
                                "hash-header", "version"))
_params = st.lists(st.tuples(_keys, _ascii), max_size=6, unique_by=lambda kv: kv[0].lower()).map(dict)


@given(_params, st.text(min_size=1, max_size=40))
def test_property_any_ascii_parameters_sign_and_verify(params: dict[str, str], secret: str) -> None:
    headers = sign_headers(params, "vxp.saas.03", secret, NOW)
    verified = verify_headers(headers, {"vxp.saas.03": secret}.get)
    assert {k: verified[k] for k in params} == params


# -- freshness: the timestamp window and the replay cache ---------------------------------------------------------


def test_a_replay_cache_refuses_a_signature_seen_within_the_window() -> None:
    cache = ReplayCache(DEFAULT_MAX_SKEW)
    headers = signed()
    lookup = SECRETS.get
    assert verify_headers(headers, lookup, now=NOW, max_skew=DEFAULT_MAX_SKEW, replay=cache)["systemid"]
    with pytest.raises(SignatureError) as caught:
        verify_headers(headers, lookup, now=NOW + timedelta(seconds=30), max_skew=DEFAULT_MAX_SKEW, replay=cache)
    assert caught.value.reason == "replayed_request"
    later = sign_headers(PARAMS, "000.00.00.H62", SECRETS["000.00.00.H62"], NOW + timedelta(milliseconds=1))
    assert verify_headers(later, lookup, now=NOW, max_skew=DEFAULT_MAX_SKEW, replay=cache)  # a fresh signature
    with pytest.raises(SignatureError) as stale:  # past the window the timestamp check refuses it instead
        verify_headers(headers, lookup, now=NOW + timedelta(minutes=6), max_skew=DEFAULT_MAX_SKEW, replay=cache)
    assert stale.value.reason == "stale_timestamp"


def test_a_refused_signature_is_not_remembered_and_old_ones_are_forgotten() -> None:
    cache = ReplayCache(timedelta(minutes=5), max_entries=10)
    forged = {**signed(), "XroadVnpt-hash-header": "0" * 64}
    with pytest.raises(SignatureError):
        verify_headers(forged, SECRETS.get, now=NOW, max_skew=cache.window, replay=cache)
    assert len(cache) == 0  # an unauthenticated request cannot fill the cache
    for i in range(10):
        cache.admit(f"k{i}", NOW, NOW)
    with pytest.raises(SignatureError):
        cache.admit("one too many", NOW, NOW)  # full: refuse rather than forget what it must still recognise
    cache.admit("k0-later", NOW, NOW + timedelta(minutes=6))  # the old entries left the window
    assert len(cache) == 1


def test_a_replay_cache_needs_the_window() -> None:
    with pytest.raises(ValueError, match="max_skew"):
        verify_headers(signed(), SECRETS.get, replay=ReplayCache())
