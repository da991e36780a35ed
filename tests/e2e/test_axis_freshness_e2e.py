"""The embedded stack's axis is a faithful peer (issue 8): a request signed two days earlier is refused, a
byte-identical replay of a sendEdoc is refused and not stored, and the gateway's own traffic (every poll, fetch,
acknowledgement and 01 answer, each signed afresh) still goes through inside the ±5-minute window."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import requests

from chalicelib.core.clock import VN_TZ
from chalicelib.standards.axis_protocol import sha256_file, sign_headers
from chalicelib.standards.edxml import Business, Organ
from tests.e2e.helpers import eventually
from tests.support.axis import sim as _sim
from tests.support.organs import G22, H62, NAMES
from tests.support.packages import vpcp_header, vpcp_package


def _secret(stack: dict, system_id: str) -> str:
    return next(s["secret"] for s in stack["axis"]["systems"] if s["system_id"] == system_id)


def _send_headers(stack: dict, path, when: datetime) -> dict[str, str]:
    return sign_headers({"Content-Type": "application/octet-stream", "from": G22, "to": json.dumps([H62]),
                         "servicetype": "eDoc", "messagetype": "edoc", "hash-file": sha256_file(path)},
                        G22, _secret(stack, G22), when)


def test_stale_and_replayed_requests_are_refused_and_the_gateway_still_polls(stack, stack_handle, sample_pdf,
                                                                              tmp_path):
    notation = f"VPCP-FR{uuid.uuid4().hex[:6].upper()}"
    path = tmp_path / "vpcp.edxml"
    vpcp_package(path, Organ(G22, NAMES[G22]), [Organ(H62, NAMES[H62])],
                 vpcp_header("77", notation, "V/v kiểm tra chống gửi lại yêu cầu"), Business(), sample_pdf)
    url = stack["axis"]["url"] + "/sendEdoc"
    before = _sim(stack, f"/_sim/packages?to={H62}&from={G22}")["count"]

    stale = requests.post(url, data=path.read_bytes(), timeout=10,
                          headers=_send_headers(stack, path, datetime.now(VN_TZ) - timedelta(days=2)))
    assert stale.status_code == 401
    assert stale.json()["ErrorCode"] == "401" and "stale_timestamp" in stale.json()["ErrorDesc"]

    headers = _send_headers(stack, path, datetime.now(VN_TZ))
    first = requests.post(url, data=path.read_bytes(), headers=headers, timeout=10)
    replay = requests.post(url, data=path.read_bytes(), headers=headers, timeout=10)
    assert first.status_code == 200 and first.json()["DocId"]
    assert replay.status_code == 401 and "replayed_request" in replay.json()["ErrorDesc"]
    held = _sim(stack, f"/_sim/packages?to={H62}&from={G22}")
    assert held["count"] == before + 1  # the stale request and the replay stored nothing

    def taken() -> bool:  # the gateway's poll lists, fetches and acknowledges it: its requests are all fresh
        [envelope] = [e for e in _sim(stack, f"/_sim/packages?to={H62}&from={G22}")["items"]
                      if e["sendId"] == first.json()["DocId"]]
        return envelope["acknowledged"]

    eventually(stack_handle, taken, what="the one stored envelope acknowledged by the gateway's poll")
