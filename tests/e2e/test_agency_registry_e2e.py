"""The agency registry and the axis directory sync on the embedded stack (issue 9, acceptance 1).

- An admin registers an agency the axis knows; a clerk addresses a document to it and it goes DISPATCHED; the admin
  deactivates it and the next document to it is refused with `recipient_inactive`.
- A clerk calling the admin routes gets the one 403 `forbidden` answer.
- `q` finds an agency by accent-free words.
- A sync against a directory that renames one agency, adds one and withdraws one reports exactly that and the
  registry shows it; a served agency the directory renames keeps its name and every local setting (held).
- A seal is uploaded through the presigned POST and checked before the agency points at it.

The directory is the simulator's (devstack.axis_sim.directory), changed through `/_sim/directory` and restored after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.client import ApiError, GatewayClient
from devstack.seal import make_demo_seal
from tests.support.axis import sim
from tests.support.documents import fresh_metadata
from tests.support.organs import H62
from tests.support.seals import png

NEW = "000.00.50.H62"  # on the axis (added to the directory by the test), not in the registry until registered
NEW_NAME = "Sở Ngoại vụ Vĩnh Phúc"
SERVED = "000.00.13.H62"  # Sở Nội vụ Vĩnh Phúc, a served demo agency
RENAMED, WITHDRAWN, ADDED = "000.00.21.H62", "000.00.22.H62", "000.00.51.H62"  # generated entries, and a new one


@pytest.fixture(scope="module")
def admin(client: GatewayClient) -> str:
    return client.login("admin")


@pytest.fixture(scope="module")
def clerk(client: GatewayClient) -> str:
    return client.login(client.user_for(H62))


@pytest.fixture(scope="module")
def directory(stack: dict) -> Iterator[None]:
    """The simulator's directory, with NEW on it; back to the stack's own afterwards."""
    sim(stack, "/_sim/directory", "POST", {"add": [{"code": NEW, "name": NEW_NAME}]})
    try:
        yield
    finally:
        sim(stack, "/_sim/directory", "POST", {"reset": True})


def _refused(call) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def test_a_clerk_gets_the_one_forbidden_answer_on_every_registry_route(client: GatewayClient, clerk: str) -> None:
    for method, path, body in (("GET", "/v1/admin/agencies", None), ("GET", f"/v1/admin/agencies/{H62}", None),
                               ("POST", "/v1/admin/agencies", {"organ_id": NEW, "name": "x"}),
                               ("PATCH", f"/v1/admin/agencies/{H62}", {"active": False}),
                               ("POST", "/v1/admin/agencies/sync", {}),
                               ("POST", f"/v1/admin/agencies/{H62}/seal", {})):
        err = _refused(lambda m=method, p=path, b=body: client.call(m, p, clerk, json=b))
        assert (err.status, err.code) == (403, "forbidden"), (method, path)


def test_register_address_deactivate_refused(client: GatewayClient, stack_handle, admin: str, clerk: str,
                                             directory: None, sample_pdf) -> None:
    created = client.call("POST", "/v1/admin/agencies", admin, json={
        "organ_id": NEW, "name": NEW_NAME, "contact": {"email": "songoaivu@vinhphuc.gov.vn"}})
    assert {k: created[k] for k in ("organ_id", "level", "parent", "active", "served", "source")} == {
        "organ_id": NEW, "level": 2, "parent": "000.00.00.H62", "active": True, "served": False, "source": "local"}
    assert _refused(lambda: client.call("POST", "/v1/admin/agencies", admin,
                                        json={"organ_id": NEW, "name": "again"})).code == "agency_exists"
    assert _refused(lambda: client.call("POST", "/v1/admin/agencies", admin,
                                        json={"organ_id": "0.0.50.H62", "name": "x"})).code == "invalid_organ_id"

    document = client.create_document(clerk, fresh_metadata("REG1", [NEW]))
    client.upload(document["upload"], sample_pdf)
    sent = client.wait_for(clerk, document["document_id"], {"DISPATCHED", "FAILED", "REJECTED"}, timeout=90)
    assert sent["state"] == "DISPATCHED" and [d["organ_id"] for d in sent["deliveries"]] == [NEW]

    patched = client.call("PATCH", f"/v1/admin/agencies/{NEW}", admin, json={"active": False})
    assert patched["active"] is False
    err = _refused(lambda: client.create_document(clerk, fresh_metadata("REG2", [NEW])))
    assert (err.status, err.code) == (422, "recipient_inactive")
    assert err.body["error"]["details"]["recipients"] == [NEW]
    assert client.call("GET", f"/v1/admin/agencies/{NEW}", admin)["active"] is False


def test_q_finds_an_agency_by_accent_free_words(client: GatewayClient, admin: str) -> None:
    found = client.call("GET", "/v1/admin/agencies", admin, params={"q": "so noi VU vinh phuc"})
    assert [a["organ_id"] for a in found["items"]] == [SERVED]
    assert client.call("GET", "/v1/admin/agencies", admin, params={"q": "khong co co quan nay"})["items"] == []
    err = _refused(lambda: client.call("GET", "/v1/admin/agencies", admin, params={"cursor": "not-a-cursor"}))
    assert (err.status, err.code) == (400, "invalid_cursor")
    level1 = client.call("GET", "/v1/admin/agencies", admin, params={"level": "1", "served": "true", "limit": "2"})
    assert [a["organ_id"] for a in level1["items"]] == ["000.00.00.H03", "000.00.00.H62"] and "next" not in level1


def test_sync_reports_exactly_what_the_directory_changed(client: GatewayClient, stack: dict, admin: str,
                                                         directory: None) -> None:
    client.call("POST", "/v1/admin/agencies/sync", admin, json={})  # the registry now holds the whole directory
    served_before = client.call("GET", f"/v1/admin/agencies/{SERVED}", admin)
    old_name = client.call("GET", f"/v1/admin/agencies/{RENAMED}", admin)["name"]
    sim(stack, "/_sim/directory", "POST", {
        "add": [{"code": ADDED, "name": "Sở Du lịch Vĩnh Phúc", "mail": "sdl@vinhphuc.gov.vn"}],
        "rename": {RENAMED: "Sở Kế hoạch và Đầu tư tỉnh Vĩnh Phúc", SERVED: "Sở Nội vụ (tên mới)"},
        "withdraw": [WITHDRAWN]})

    report = client.call("POST", "/v1/admin/agencies/sync", admin, json={})
    assert report["added"] == [ADDED]
    assert report["renamed"] == [{"organ_id": RENAMED, "from": old_name, "to": "Sở Kế hoạch và Đầu tư tỉnh Vĩnh Phúc"}]
    assert report["withdrawn"] == [WITHDRAWN]
    assert report["held"] == [{"organ_id": SERVED, "change": "renamed", "from": served_before["name"],
                               "to": "Sở Nội vụ (tên mới)"}]
    assert report["sync_id"] and report["unchanged"] > 300 and report["conflicts"] == []

    added = client.call("GET", f"/v1/admin/agencies/{ADDED}", admin)
    assert (added["source"], added["served"], added["active"], added["contact"]["email"]) == (
        "axis", False, True, "sdl@vinhphuc.gov.vn")
    assert client.call("GET", f"/v1/admin/agencies/{RENAMED}", admin)["name"] == "Sở Kế hoạch và Đầu tư tỉnh Vĩnh Phúc"
    withdrawn = client.call("GET", f"/v1/admin/agencies/{WITHDRAWN}", admin)
    assert withdrawn["active"] is False, "withdrawn: inactive, never deleted"
    assert client.call("GET", f"/v1/admin/agencies/{SERVED}", admin) == served_before, "a served agency is held"
    log = client.call("GET", "/v1/admin/agencies/changes", admin, params={"sync_id": report["sync_id"]})["items"]
    assert sorted((c["organ_id"], c["change"]) for c in log) == [
        (RENAMED, "renamed"), (WITHDRAWN, "withdrawn"), (ADDED, "added")]
    again = client.call("POST", "/v1/admin/agencies/sync", admin, json={})
    assert (again["added"], again["renamed"], again["withdrawn"]) == ([], [], [])


def test_a_seal_is_checked_before_the_agency_points_at_it(client: GatewayClient, admin: str,
                                                          directory: None) -> None:
    code = "000.00.52.H62"
    client.call("POST", "/v1/admin/agencies", admin, json={"organ_id": code, "name": "Ban Quản lý dự án"})
    flat = client.call("POST", f"/v1/admin/agencies/{code}/seal", admin, json={})
    client.upload(flat, png(200, 200, 2), content_type="image/png")
    err = _refused(lambda: client.call("PUT", f"/v1/admin/agencies/{code}/seal", admin, json={"key": flat["key"]}))
    assert (err.status, err.code, err.body["error"]["details"]["reason"]) == (422, "invalid_seal", "no_transparency")
    assert client.call("GET", f"/v1/admin/agencies/{code}", admin)["seal"] is None

    post = client.call("POST", f"/v1/admin/agencies/{code}/seal", admin, json={})
    client.upload(post, make_demo_seal("BAN QUẢN LÝ DỰ ÁN", size_px=400), content_type="image/png")
    done = client.call("PUT", f"/v1/admin/agencies/{code}/seal", admin, json={"key": post["key"]})
    assert done["seal"]["key"] == post["key"] and done["seal"]["etag"]
    stamped = client.call("PATCH", f"/v1/admin/agencies/{code}", admin,
                          json={"stamp": {"page": 1, "x": 320, "y": 60, "width": 240, "height": 90}})
    assert stamped["stamp"] == {"page": 1, "x": 320, "y": 60, "width": 240, "height": 90}
    err = _refused(lambda: client.call("PATCH", f"/v1/admin/agencies/{code}", admin, json={"stamp": {"page": 0}}))
    assert err.status == 400


def test_a_served_agencys_new_seal_is_the_one_its_next_document_is_signed_with(
        client: GatewayClient, admin: str, sample_pdf) -> None:
    """The seal's key is new (`seals/<organ_id>/<token>.png`): the signer, under its own role with IAM enforced,
    reads it (a missing grant would end the document `FAILED seal_unavailable`) and draws it."""
    code = "000.00.00.H03"  # UBND tỉnh Bắc Giang, served, with a clerk
    post = client.call("POST", f"/v1/admin/agencies/{code}/seal", admin, json={})
    client.upload(post, make_demo_seal("ỦY BAN NHÂN DÂN TỈNH BẮC GIANG", size_px=360), content_type="image/png")
    assert client.call("PUT", f"/v1/admin/agencies/{code}/seal", admin, json={"key": post["key"]})["seal"]["key"] \
        == post["key"]

    clerk = client.login(client.user_for(code))
    document = client.create_document(clerk, fresh_metadata("SEAL1", ["000.00.00.G22"]))
    client.upload(document["upload"], sample_pdf)
    done = client.wait_for(clerk, document["document_id"], {"DISPATCHED", "FAILED", "REJECTED"}, timeout=90)
    assert done["state"] == "DISPATCHED", (done["state"], done.get("reason"))
    assert done["signed_sha256"] and done["pades_level"]
