"""The axis client against the axis simulator over real HTTP on 127.0.0.1: sends, receipts, refusals, faults."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import urllib3

from chalicelib.adapters.axis.client import AxisClient
from chalicelib.adapters.axis.errors import AxisAuthError, AxisBusinessError, AxisTransientError
from chalicelib.core.clock import VN_TZ
from chalicelib.standards.axis_protocol import sign_headers
from chalicelib.standards.edxml import (
    Organ,
    ResponseFor,
    build_status_package,
    parse_package,
)
from devstack.axis_simulator import AxisSimulator
from tests.support.organs import G22, H03, H62, NAMES
from tests.support.packages import vinh_phuc_7413_package

SYSTEMS = {H62: "secret-ubnd-vinh-phuc", G22: "secret-van-phong-chinh-phu", H03: "secret-ubnd-bac-giang"}
DIRECTORY = [{"organ_id": H62, "name": NAMES[H62], "email": "ubnd@vinhphuc.gov.vn"},
             {"organ_id": "000.00.12.H62", "name": "Sở Thông tin và Truyền thông Vĩnh Phúc"},
             {"organ_id": G22, "name": NAMES[G22], "email": "vpcp@chinhphu.vn"},
             {"organ_id": H03, "name": NAMES[H03]}]
HTTP = urllib3.PoolManager(retries=False)


@pytest.fixture(scope="module")
def sim() -> Iterator[AxisSimulator]:
    with AxisSimulator(SYSTEMS, DIRECTORY) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def clean(sim: AxisSimulator) -> None:
    assert control(sim, "POST", "/_sim/reset").status == 200


def control(sim: AxisSimulator, method: str, path: str, body: dict | None = None) -> urllib3.BaseHTTPResponse:
    return HTTP.request(method, sim.url + path, body=json.dumps(body).encode() if body is not None else None,
                        headers={"Content-Type": "application/json"})


def fault(sim: AxisSimulator, **spec: object) -> None:
    resp = control(sim, "POST", "/_sim/faults", spec)
    assert resp.status == 201, resp.data


def packages(sim: AxisSimulator, to: str) -> dict:
    return json.loads(control(sim, "GET", f"/_sim/packages?to={to}").data)


def client(sim: AxisSimulator, system_id: str, **kwargs: object) -> AxisClient:
    return AxisClient(sim.url, system_id, SYSTEMS[system_id], **kwargs)  # type: ignore[arg-type]


@pytest.fixture()
def package(tmp_path: Path) -> Path:
    """A real document package of UBND tỉnh Vĩnh Phúc for VPCP and UBND tỉnh Bắc Giang."""
    return vinh_phuc_7413_package(tmp_path)


# -- the happy path -----------------------------------------------------------------------------------------------


def test_send_to_two_recipients_each_lists_gets_and_acknowledges_its_own_copy(sim: AxisSimulator, package: Path,
                                                                               tmp_path: Path) -> None:
    sender = client(sim, H62)
    result = sender.send_edoc(str(package), to=[G22, H03])
    assert result.status == "OK" and result.error_code == "0"
    assert len(result.doc_id) == 24 and int(result.doc_id, 16) >= 0

    copies = {}
    for system_id in (G22, H03):
        listed = client(sim, system_id).get_received_edoc_list()
        assert [(e["from"], e["to"], e["messageType"]) for e in listed] == [(H62, system_id, "edoc")]
        copies[system_id] = listed[0]["docId"]
    assert copies[G22] != copies[H03]  # one envelope, with its own DocId, per recipient
    assert client(sim, H62).get_received_edoc_list() == []  # the sender received nothing

    vpcp = client(sim, G22)
    assert vpcp.get_edoc(copies[G22]) == package.read_bytes()
    saved = vpcp.get_edoc(copies[G22], tmp_path / "received.edxml")  # streamed to disk
    with parse_package(saved, tmp_dir=str(tmp_path)) as parsed:
        assert parsed.document_id == "000.00.00.H62,2019/09/20,7413/UBND-VX3"
        assert [r.organ_id for r in parsed.recipients] == [G22, H03]
    vpcp.update_status(copies[G22], "done")
    assert vpcp.get_received_edoc_list() == []  # acknowledged: it stops appearing
    assert packages(sim, G22)["pending"] == 0

    bac_giang = client(sim, H03)
    assert [e["docId"] for e in bac_giang.get_received_edoc_list()] == [copies[H03]]  # untouched by G22's ack
    bac_giang.update_status(copies[H03], "processing")
    assert [e["status"] for e in bac_giang.get_received_edoc_list()] == ["processing"]  # processing is no ack
    assert bac_giang.get_edoc(copies[H03]) == package.read_bytes()
    bac_giang.update_status(copies[H03], "fail")
    assert bac_giang.get_received_edoc_list() == []

    sent = {row["toCode"]: row for row in sender.get_sent_edoc_list(result.doc_id)}
    assert sent.keys() == {G22, H03}
    assert sent[G22]["receiveStatus"] == "done" and sent[H03]["receiveStatus"] == "fail"


def test_a_recipient_cannot_fetch_or_acknowledge_another_recipients_copy(sim: AxisSimulator, package: Path) -> None:
    client(sim, H62).send_edoc(str(package), to=[G22])
    doc_id = client(sim, G22).get_received_edoc_list()[0]["docId"]
    with pytest.raises(AxisBusinessError) as caught:
        client(sim, H03).get_edoc(doc_id)
    assert caught.value.error_code == "1005"
    with pytest.raises(AxisBusinessError):
        client(sim, H03).update_status(doc_id, "done")
    assert packages(sim, G22)["pending"] == 1
    with pytest.raises(AxisBusinessError):
        client(sim, H62).get_edoc(doc_id)  # not even the sender


def test_status_packages_travel_in_their_own_list(sim: AxisSimulator, package: Path, tmp_path: Path) -> None:
    status = tmp_path / "status.edxml"
    status.write_bytes(build_status_package(
        reporter=Organ(G22, "Văn phòng Chính phủ"),
        response_for=ResponseFor(H62, "7413/UBND-VX3", "000.00.00.H62,2019/09/20,7413/UBND-VX3", date(2019, 9, 20)),
        status_code="01", timestamp=datetime.now(VN_TZ)))
    client(sim, G22).send_edoc(str(status), to=[H62], messagetype="status")
    vinh_phuc = client(sim, H62)
    assert vinh_phuc.get_received_edoc_list("edoc") == []
    listed = vinh_phuc.get_received_edoc_list("status")
    assert [(e["from"], e["messageType"]) for e in listed] == [(G22, "status")]
    with parse_package(io.BytesIO(vinh_phuc.get_edoc(listed[0]["docId"]))) as parsed:
        assert parsed.message_type == "status" and parsed.status_code == "01"


def test_received_list_pages(sim: AxisSimulator, package: Path) -> None:
    sender = client(sim, H62)
    for _ in range(3):
        sender.send_edoc(str(package), to=[G22])
    vpcp = client(sim, G22)
    everything = [e["docId"] for e in vpcp.get_received_edoc_list()]
    assert len(everything) == 3
    pages = [e["docId"] for i in (1, 2) for e in vpcp.get_received_edoc_list(pageSize=2, pageIndex=i)]
    assert pages == everything


def test_agencies_directory(sim: AxisSimulator) -> None:
    rows = {r["code"]: r for r in client(sim, H03).get_agencies_list()}
    assert rows.keys() == {H62, "000.00.12.H62", G22, H03}
    assert rows["000.00.12.H62"]["pid"] == rows[H62]["id"]  # the Sở sits under UBND tỉnh
    assert rows[G22]["mail"] == "vpcp@chinhphu.vn"


def test_the_directory_changes_at_runtime_and_resets(sim: AxisSimulator) -> None:
    """`/_sim/directory` (the gateway's sync tests): add, rename, withdraw, then back to the starting directory;
    a withdrawn agency can no longer receive."""
    answer = control(sim, "POST", "/_sim/directory", {"add": [{"code": "000.00.50.H62", "name": "Sở Ngoại vụ"}],
                                                      "rename": {H03: "UBND tỉnh Bắc Giang (mới)"},
                                                      "withdraw": ["000.00.12.H62"]})
    assert json.loads(answer.data) == {"count": 4, "changed": 3}
    rows = {r["code"]: r["name"] for r in client(sim, H03).get_agencies_list()}
    assert rows == {H62: NAMES[H62], G22: NAMES[G22], H03: "UBND tỉnh Bắc Giang (mới)", "000.00.50.H62": "Sở Ngoại vụ"}
    assert not sim.known("000.00.12.H62") and sim.known("000.00.50.H62")
    assert control(sim, "POST", "/_sim/directory", {"add": "nope"}).status == 400
    assert json.loads(control(sim, "POST", "/_sim/directory", {"reset": True}).data)["count"] == 4
    assert {r["code"] for r in json.loads(control(sim, "GET", "/_sim/directory").data)["agencies"]} == {
        H62, "000.00.12.H62", G22, H03}


# -- refusals -----------------------------------------------------------------------------------------------------


def test_wrong_secret_is_refused(sim: AxisSimulator, package: Path) -> None:
    impostor = AxisClient(sim.url, H62, "not-the-secret")
    with pytest.raises(AxisAuthError):
        impostor.send_edoc(str(package), to=[G22])
    with pytest.raises(AxisAuthError):
        impostor.get_received_edoc_list()
    with pytest.raises(AxisAuthError):
        AxisClient(sim.url, "000.00.00.H99", "anything").get_agencies_list()  # unknown system
    assert packages(sim, G22)["count"] == 0


def test_from_other_than_the_system_id_is_a_business_error(sim: AxisSimulator, package: Path) -> None:
    with pytest.raises(AxisBusinessError) as caught:
        client(sim, H62).send_edoc(str(package), to=[G22], sender=H03)
    assert caught.value.error_code == "1001"
    assert packages(sim, G22)["count"] == 0


def test_unknown_recipient_is_a_business_error(sim: AxisSimulator, package: Path) -> None:
    with pytest.raises(AxisBusinessError) as caught:
        client(sim, H62).send_edoc(str(package), to=[G22, "000.00.00.H98"])
    assert caught.value.error_code == "1003"
    assert packages(sim, G22)["count"] == 0  # all or nothing


def test_hash_file_must_match_the_body(sim: AxisSimulator, package: Path) -> None:
    body = package.read_bytes()
    headers = sign_headers({"Content-Type": "application/octet-stream", "from": H62, "to": json.dumps([G22]),
                            "servicetype": "eDoc", "messagetype": "edoc", "hash-file": "0" * 64},
                           H62, SYSTEMS[H62], datetime.now(VN_TZ))
    resp = HTTP.request("POST", sim.url + "/sendEdoc", body=body, headers=headers)
    answer = json.loads(resp.data)
    assert (answer["status"], answer["ErrorCode"]) == ("FAIL", "1002")
    assert packages(sim, G22)["count"] == 0


def test_control_endpoints_validate_fault_specs(sim: AxisSimulator) -> None:
    assert control(sim, "POST", "/_sim/faults", {"kind": "meteor"}).status == 400
    assert control(sim, "POST", "/_sim/faults", {"kind": "5xx", "rate": 2}).status == 400
    fault(sim, kind="slow", delay=0.01)
    assert len(json.loads(control(sim, "GET", "/_sim/faults").data)["faults"]) == 1
    assert json.loads(control(sim, "DELETE", "/_sim/faults").data) == {"cleared": 1}


# -- faults -------------------------------------------------------------------------------------------------------


def test_5xx_is_transient_and_stores_nothing(sim: AxisSimulator, package: Path) -> None:
    fault(sim, kind="5xx", count=1, paths=["/sendEdoc"])
    sender = client(sim, H62)
    with pytest.raises(AxisTransientError):
        sender.send_edoc(str(package), to=[G22])
    assert packages(sim, G22)["count"] == 0
    sender.send_edoc(str(package), to=[G22])  # the fault was used up: the retry goes through
    assert packages(sim, G22)["count"] == 1


def test_timeout_is_transient(sim: AxisSimulator, package: Path) -> None:
    fault(sim, kind="timeout", count=1, delay=5)
    started = time.monotonic()
    with pytest.raises(AxisTransientError):
        client(sim, H62, timeout=0.5).send_edoc(str(package), to=[G22])
    assert time.monotonic() - started < 3


def test_slow_answers_still_arrive(sim: AxisSimulator) -> None:
    fault(sim, kind="slow", count=1, delay=0.3, paths=["getAgenciesList"])
    started = time.monotonic()
    assert client(sim, H62).get_agencies_list()
    assert time.monotonic() - started >= 0.3


def test_business_error_fault_carries_its_code(sim: AxisSimulator, package: Path) -> None:
    fault(sim, kind="business_error", count=1, paths=["/sendEdoc"], error_code="E042",
          error_desc="Gói tin không hợp lệ")
    with pytest.raises(AxisBusinessError) as caught:
        client(sim, H62).send_edoc(str(package), to=[G22])
    assert (caught.value.error_code, caught.value.error_desc) == ("E042", "Gói tin không hợp lệ")


def test_faults_can_target_one_system(sim: AxisSimulator) -> None:
    fault(sim, kind="5xx", systems=[G22])
    assert client(sim, H62).get_agencies_list()
    with pytest.raises(AxisTransientError):
        client(sim, G22).get_agencies_list()


def test_duplicate_deliveries(sim: AxisSimulator, package: Path) -> None:
    fault(sim, kind="duplicate", count=1, paths=["/sendEdoc"])
    client(sim, H62).send_edoc(str(package), to=[G22])
    assert packages(sim, G22)["count"] == 2  # the axis delivered the same package twice, under two DocIds
    control(sim, "DELETE", "/_sim/faults")
    fault(sim, kind="duplicate", count=1, paths=["/getReceivedEdocList"])
    listed = client(sim, G22).get_received_edoc_list()
    assert len(listed) == 4 and len({e["docId"] for e in listed}) == 2


def test_store_then_timeout_keeps_the_package_but_never_answers(sim: AxisSimulator, package: Path) -> None:
    """What a sender sees when its worker dies after the upload or the answer is lost: a timeout, yet the package is
    on the axis (and counted as the fault's hit)."""
    fault(sim, kind="store_then_timeout", count=1, delay=3)
    started = time.monotonic()
    with pytest.raises(AxisTransientError) as caught:
        client(sim, H62, timeout=0.5).send_edoc(str(package), to=[G22])
    assert time.monotonic() - started < 2.5 and "http_status" not in caught.value.details
    held = packages(sim, G22)
    assert held["count"] == 1 and held["items"][0]["from"] == H62
    [spec] = json.loads(control(sim, "GET", "/_sim/faults").data)["faults"]
    assert (spec["kind"], spec["count"], spec["hits"]) == ("store_then_timeout", 0, 1)


def test_sent_list_without_doc_id_lists_our_own_sends_with_their_hashes(sim: AxisSimulator, package: Path) -> None:
    """The simulator's EXTENSION of getSentEdocList (no docId), which the gateway reconciles lost answers with."""
    from chalicelib.standards.axis_protocol import sha256_file

    sender = client(sim, H62)
    first = sender.send_edoc(str(package), to=[G22])
    second = sender.send_edoc(str(package), to=[H03])
    client(sim, G22).send_edoc(str(package), to=[H03])  # another system's send: never in H62's list

    listed = sender.list_sent_edocs(page_size=1)  # one item a page: the client follows the pages
    assert [(i["docId"], i["toCode"], i["hashFile"]) for i in listed] == [
        (first.doc_id, G22, sha256_file(package)), (second.doc_id, H03, sha256_file(package))]
    assert [i["docId"] for i in sender.list_sent_edocs(to_code=H03)] == [second.doc_id]
    today = datetime.now(VN_TZ).strftime("%d/%m/%Y")
    assert len(sender.list_sent_edocs(from_date=today)) == 2
    assert sender.list_sent_edocs(from_date="01/01/2999") == []
    # with a docId it is the documented call, per recipient
    assert [i["toCode"] for i in sender.get_sent_edoc_list(first.doc_id)] == [G22]


def test_connection_refused_is_transient(package: Path) -> None:
    stopped = AxisSimulator(SYSTEMS).start()
    url = stopped.url
    stopped.stop()
    with pytest.raises(AxisTransientError):
        AxisClient(url, H62, SYSTEMS[H62], timeout=2).send_edoc(str(package), to=[G22])


def test_runs_as_its_own_process_with_the_stacks_systems_file(tmp_path: Path, package: Path) -> None:
    import subprocess
    import sys

    systems_file = tmp_path / "axis-systems.json"  # the shape the embedded stack writes
    systems_file.write_text(json.dumps({"served": {H62: SYSTEMS[H62]}, "external": {G22: SYSTEMS[G22]}}))
    proc = subprocess.Popen([sys.executable, "-m", "devstack.axis_simulator", "--port", "0",
                             "--systems-json", str(systems_file)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        url = proc.stdout.readline().split()[3]  # "axis simulator on http://127.0.0.1:PORT (...)"
        result = AxisClient(url, H62, SYSTEMS[H62], timeout=5).send_edoc(str(package), to=[G22])
        listed = AxisClient(url, G22, SYSTEMS[G22], timeout=5).get_received_edoc_list()
        assert [e["from"] for e in listed] == [H62] and result.doc_id
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0  # SIGTERM is a clean stop
