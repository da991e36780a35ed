"""The axis simulator as a faithful peer (issue 8): stale and replayed requests are refused as the real axis refuses
them, and the client signs every request afresh, retries included, so its own normal flow never looks replayed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3

from chalicelib.adapters.axis.client import AxisClient
from chalicelib.adapters.axis.errors import AxisAuthError, AxisTransientError
from chalicelib.core.clock import VN_TZ
from chalicelib.standards.axis_protocol import HASH_HEADER, format_timestamp, sha256_file, sign_headers
from devstack.axis_simulator import AxisSimulator
from tests.support.organs import G22, H03, H62
from tests.support.packages import vinh_phuc_7413_package

SYSTEMS = {H62: "secret-ubnd-vinh-phuc", G22: "secret-van-phong-chinh-phu", H03: "secret-ubnd-bac-giang"}
HTTP = urllib3.PoolManager(retries=False)


@pytest.fixture(scope="module")
def sim() -> Iterator[AxisSimulator]:
    with AxisSimulator(SYSTEMS) as simulator:  # the default window: ±5 minutes, with the replay cache
        yield simulator


@pytest.fixture(autouse=True)
def clean(sim: AxisSimulator) -> None:
    sim.reset()


@pytest.fixture()
def package(tmp_path: Path) -> Path:
    return vinh_phuc_7413_package(tmp_path)


class Recording(urllib3.PoolManager):
    """A pool that remembers the headers of every request it sent."""

    def __init__(self) -> None:
        super().__init__(retries=False)
        self.sent: list[dict[str, str]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.sent.append(dict(kwargs.get("headers") or {}))
        return super().request(method, url, *args, **kwargs)


def raw_send(sim: AxisSimulator, package: Path, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    resp = HTTP.request("POST", sim.url + "/sendEdoc", body=package.read_bytes(), headers=headers)
    return resp.status, json.loads(resp.data)


def send_headers(package: Path, when: datetime) -> dict[str, str]:
    return sign_headers({"Content-Type": "application/octet-stream", "from": H62, "to": json.dumps([G22]),
                         "servicetype": "eDoc", "messagetype": "edoc", "hash-file": sha256_file(package)},
                        H62, SYSTEMS[H62], when)


def test_a_request_signed_two_days_earlier_is_refused(sim: AxisSimulator, package: Path) -> None:
    two_days_ago = lambda: datetime.now(VN_TZ) - timedelta(days=2)  # noqa: E731
    with pytest.raises(AxisAuthError):
        AxisClient(sim.url, H62, SYSTEMS[H62], clock=two_days_ago).send_edoc(str(package), to=[G22])
    status, answer = raw_send(sim, package, send_headers(package, datetime.now(VN_TZ) - timedelta(days=2)))
    assert (status, answer["status"], answer["ErrorCode"]) == (401, "FAIL", "401")
    assert "stale_timestamp" in answer["ErrorDesc"]
    ahead = datetime.now(VN_TZ) + timedelta(minutes=6)  # a clock running ahead is no better
    assert raw_send(sim, package, send_headers(package, ahead))[0] == 401
    assert sim.packages(G22)["count"] == 0


def test_a_byte_identical_replayed_send_is_refused_and_not_stored(sim: AxisSimulator, package: Path) -> None:
    headers = send_headers(package, datetime.now(VN_TZ))
    status, first = raw_send(sim, package, headers)
    assert (status, first["status"]) == (200, "OK")
    status, again = raw_send(sim, package, headers)  # the very same bytes, seconds later
    assert (status, again["status"], again["ErrorCode"]) == (401, "FAIL", "401")
    assert "replayed_request" in again["ErrorDesc"]
    held = sim.packages(G22)
    assert held["count"] == 1 and held["items"][0]["docId"] == first["DocId"]


def test_a_replayed_read_is_refused_too(sim: AxisSimulator, package: Path) -> None:
    AxisClient(sim.url, H62, SYSTEMS[H62]).send_edoc(str(package), to=[G22])
    headers = sign_headers({"servicetype": "eDoc", "messagetype": "edoc"}, G22, SYSTEMS[G22], datetime.now(VN_TZ))
    url = sim.url + "/getReceivedEdocList"
    assert HTTP.request("POST", url, body=b"{}", headers=headers).status == 200
    assert HTTP.request("POST", url, body=b"{}", headers=headers).status == 401


def test_the_client_signs_every_request_afresh_even_with_a_frozen_clock(sim: AxisSimulator) -> None:
    frozen = datetime.now(VN_TZ)
    http = Recording()
    client = AxisClient(sim.url, G22, SYSTEMS[G22], http=http, clock=lambda: frozen)
    for _ in range(5):  # the same call, the same parameters, in the same millisecond of the clock
        assert client.get_received_edoc_list() == []
    stamps = [h["XroadVnpt-timestamp"] for h in http.sent]
    assert len(set(stamps)) == 5 and stamps == sorted(stamps)
    assert len({h[HASH_HEADER] for h in http.sent}) == 5
    other = AxisClient(sim.url, G22, SYSTEMS[G22], http=http, clock=lambda: frozen)  # another client, same system
    assert other.get_received_edoc_list() == []
    assert len({h[HASH_HEADER] for h in http.sent}) == 6


def test_a_retry_after_a_transient_failure_carries_a_new_signature(sim: AxisSimulator, package: Path) -> None:
    sim.add_fault({"kind": "5xx", "count": 1, "paths": ["/sendEdoc"]})  # authenticated, then failed
    http = Recording()
    sender = AxisClient(sim.url, H62, SYSTEMS[H62], http=http)
    with pytest.raises(AxisTransientError):
        sender.send_edoc(str(package), to=[G22])
    result = sender.send_edoc(str(package), to=[G22])  # what dispatch's retry does: accepted, not a replay
    assert result.doc_id and sim.packages(G22)["count"] == 1
    first, retry = http.sent
    assert first["XroadVnpt-hash-file"] == retry["XroadVnpt-hash-file"]  # the same package...
    assert first[HASH_HEADER] != retry[HASH_HEADER]  # ...signed anew
    assert first["XroadVnpt-timestamp"] < retry["XroadVnpt-timestamp"]


def test_the_normal_flow_still_works_inside_the_window(sim: AxisSimulator, package: Path, tmp_path: Path) -> None:
    sent = AxisClient(sim.url, H62, SYSTEMS[H62]).send_edoc(str(package), to=[G22, H03])
    for system_id in (G22, H03):
        receiver = AxisClient(sim.url, system_id, SYSTEMS[system_id])
        [envelope] = receiver.get_received_edoc_list()
        assert receiver.get_edoc(envelope["docId"], tmp_path / f"{system_id}.edxml")
        assert receiver.get_edoc(envelope["docId"]) == package.read_bytes()  # fetching again is a new request
        receiver.update_status(envelope["docId"], "done")
        assert receiver.get_received_edoc_list() == []
    assert {row["toCode"] for row in AxisClient(sim.url, H62, SYSTEMS[H62]).get_sent_edoc_list(sent.doc_id)} \
        == {G22, H03}


def test_the_window_can_be_widened_or_turned_off() -> None:
    http = Recording()
    for max_skew in (None, timedelta(days=3)):
        with AxisSimulator(SYSTEMS, max_skew=max_skew) as lax:
            stale = AxisClient(lax.url, G22, SYSTEMS[G22], http=http,
                               clock=lambda: datetime.now(VN_TZ) - timedelta(days=2))
            assert stale.get_received_edoc_list() == []
    assert all(h["XroadVnpt-timestamp"][:8] == format_timestamp(datetime.now(VN_TZ) - timedelta(days=2))[:8]
               for h in http.sent)  # really signed two days back
