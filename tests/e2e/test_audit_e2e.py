"""The audit trail and the trust roots on the embedded stack (issue 9, acceptance 1), over HTTP as the demo users,
with each function under its own IAM role.

Given a clerk of UBND tỉnh Vĩnh Phúc who creates and sends a document and then revokes it, and the admin who reads
that document, then `GET /v1/admin/audit?resource_id=` finds the three entries (who, what, the result), today's
chain verifies, and after one entry is altered directly in DynamoDB the verify answer is `valid: false` naming it.
Given a PDF signed under a CA the gateway does not know, `/v1/verify` says untrusted; once the admin adds that CA
as a trust root it says trusted, and after the admin deletes it untrusted again; each step is audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.core.settings import AUDIT_TABLE
from devstack.client import ApiError, GatewayClient
from devstack.demo_data import SAMPLES
from devstack.pki import DemoCA
from tests.support.pki import fresh_ca, person_sign

SENDER = SAMPLES[0].uploader


def _audit_table(stack: dict[str, Any]) -> Any:
    return boto3.resource("dynamodb", endpoint_url=stack["aws_endpoint_url"], region_name=stack["region"],
                          aws_access_key_id=stack["aws_admin"]["access_key_id"],
                          aws_secret_access_key=stack["aws_admin"]["secret_access_key"]).Table(AUDIT_TABLE)


@pytest.fixture(scope="module")
def admin(client: GatewayClient) -> str:
    return client.login("admin")


@pytest.fixture(scope="module")
def clerk(client: GatewayClient) -> str:
    return client.login(client.user_for(SENDER))


@pytest.fixture(scope="module")
def revoked(client: GatewayClient, clerk: str, admin: str, sample_pdf: Path) -> str:
    created = client.create_document(clerk, dict(SAMPLES[0].metadata, notation="UBND-AUDIT"))
    client.upload(created["upload"], sample_pdf)
    doc = client.wait_for(clerk, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert doc["state"] == "DISPATCHED", doc
    read = client.get_document(admin, created["document_id"])  # the admin reads the clerk's document
    assert read["document_id"] == created["document_id"]
    client.call("POST", f"/v1/documents/{created['document_id']}/revoke", clerk, json={"reason": "Kiểm thử nhật ký"})
    return created["document_id"]


def test_the_clerks_acts_and_the_admins_read_are_found_by_resource(client: GatewayClient, admin: str,
                                                                   revoked: str) -> None:
    items = client.call("GET", "/v1/admin/audit", admin, params={"resource_id": revoked})["items"]
    seen = [(i["action"], i["actor"]["username"], i["actor"]["admin"], i["result"]) for i in reversed(items)]
    clerk_name = client.user_for(SENDER)
    assert ("create_document", clerk_name, False, "ok") in seen
    assert ("get_document", "admin", True, "ok") in seen
    assert ("revoke_document", clerk_name, False, "ok") in seen
    assert [a for a, *_ in seen].index("get_document") < [a for a, *_ in seen].index("revoke_document")
    for entry in items:
        assert entry["resource"] == {"type": "document", "id": revoked}
        assert entry["source_ip"] and entry["at"].endswith("Z") and len(entry["hash"]) == 64
    mine = client.call("GET", "/v1/admin/audit", admin, params={"actor": clerk_name, "resource_id": revoked})
    assert {i["actor"]["username"] for i in mine["items"]} == {clerk_name}


def test_clerks_cannot_read_the_trail(client: GatewayClient, clerk: str) -> None:
    for path in ("/v1/admin/audit", "/v1/admin/audit/verify?day=2026-01-01", "/v1/admin/trust-roots"):
        with pytest.raises(ApiError) as info:
            client.call("GET", path, clerk)
        assert info.value.status == 403 and info.value.code == "forbidden"


def test_verify_holds_then_fails_on_the_altered_entry(client: GatewayClient, admin: str, revoked: str,
                                                      stack: dict[str, Any]) -> None:
    [entry] = [i for i in client.call("GET", "/v1/admin/audit", admin, params={"resource_id": revoked})["items"]
               if i["action"] == "get_document"]
    day = entry["day"]
    report = client.call("GET", "/v1/admin/audit/verify", admin, params={"day": day})
    assert report["valid"] is True and report["entries"] >= 3
    # issue 11: a chain per agency; the admin's read is in the admin's agency's chain, the clerk's acts in theirs
    chains = {c["organ_id"]: c for c in report["chains"]}
    organ = entry["actor"]["organ_id"]
    assert chains[organ]["valid"] is True and SENDER in chains, sorted(chains)
    assert sum(c["entries"] for c in chains.values()) == report["entries"]
    table, key = _audit_table(stack), {"pk": f"CHAIN#{organ}", "sk": f"DAY#{day}#SEQ#{entry['seq']:010d}"}

    def set_result(value: str) -> None:
        table.update_item(Key=key, UpdateExpression="SET #r = :r", ExpressionAttributeNames={"#r": "result"},
                          ExpressionAttributeValues={":r": value})

    set_result("forbidden")
    try:
        report = client.call("GET", "/v1/admin/audit/verify", admin, params={"day": day})
        assert report["valid"] is False
        assert report["first_bad"]["seq"] == entry["seq"] and report["first_bad"]["problem"] == "altered"
        assert report["first_bad"]["organ_id"] == organ
        by_organ = {c["organ_id"]: c["valid"] for c in report["chains"]}
        assert by_organ[organ] is False and by_organ[SENDER] is True, "only the altered chain is invalid"
    finally:
        set_result(entry["result"])  # the stack is shared by the session: leave the day's chain as it was
    assert client.call("GET", "/v1/admin/audit/verify", admin, params={"day": day})["valid"] is True


@pytest.fixture(scope="module")
def stranger_ca(tmp_path_factory: pytest.TempPathFactory) -> DemoCA:
    return fresh_ca(tmp_path_factory.mktemp("stranger-ca"))


def _trusted(client: GatewayClient, token: str, pdf: bytes) -> bool:
    report = client.call("POST", "/v1/verify", token, data=pdf, headers={"Content-Type": "application/pdf"})
    (sig,) = report["signatures"]
    assert sig["intact"]
    return bool(sig["trusted"])


def test_a_trust_root_added_and_deleted_by_the_admin(client: GatewayClient, admin: str, clerk: str,
                                                     stranger_ca: DemoCA, sample_pdf: Path, tmp_path: Path) -> None:
    signed = tmp_path / "signed.pdf"
    person_sign(sample_pdf, signed, stranger_ca)
    pdf = signed.read_bytes()
    assert _trusted(client, clerk, pdf) is False

    added = client.call("POST", "/v1/admin/trust-roots", admin, json={"pem": stranger_ca.root_cert_pem})
    listed = client.call("GET", "/v1/admin/trust-roots", admin)["items"]
    assert added["fingerprint"] in {r["fingerprint"] for r in listed if r["source"] == "admin"}
    assert any(r["source"] == "configured" for r in listed), "the stack's demo root stays trusted"
    with pytest.raises(ApiError) as info:
        client.call("POST", "/v1/admin/trust-roots", admin, json={"pem": stranger_ca.root_cert_pem})
    assert info.value.status == 409 and info.value.code == "trust_root_exists"
    assert _trusted(client, clerk, pdf) is True

    client.call("DELETE", f"/v1/admin/trust-roots/{added['fingerprint']}", admin)
    assert added["fingerprint"] not in {r["fingerprint"] for r in client.call("GET", "/v1/admin/trust-roots",
                                                                              admin)["items"]}
    assert _trusted(client, clerk, pdf) is False

    actions = [i["action"] for i in client.call("GET", "/v1/admin/audit", admin,
                                                params={"resource_id": added["fingerprint"]})["items"]]
    assert actions == ["admin_delete_trust_root", "admin_add_trust_root"]
    # The refused duplicate is audited too, with its code (a refused POST names no resource: nothing was made).
    latest = client.call("GET", "/v1/admin/audit", admin, params={"actor": "admin", "limit": "20"})["items"]
    assert any(i["action"] == "admin_add_trust_root" and i["result"] == "trust_root_exists"
               and i["resource"] == {"type": "trust-roots", "id": ""} for i in latest)
