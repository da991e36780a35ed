"""API refusals on the stack, each with a stable code and a Vietnamese message, and nothing written: secret
documents, unknown or inactive recipients, bad metadata; and hostile input (issue 8): text no record or package can
carry (invalid_text, in metadata, reasons, admin inputs, filters), deep, oversized and non-object JSON, malformed and
foreign cursors; admins without MFA (mfa_required), and the demo admin's real TOTP sign-in."""

from __future__ import annotations

import base64
import json
import unicodedata
import uuid

import boto3
import pytest

from devstack.client import ApiError
from devstack.demo_data import SAMPLES
from tests.e2e.helpers import eventually
from tests.support.documents import fresh_metadata
from tests.support.organs import H03

SAMPLE = SAMPLES[0]


@pytest.fixture(scope="module")
def token(client):
    return client.login(client.user_for(SAMPLE.uploader))


@pytest.mark.parametrize("secrecy", ["confidential", "secret", "top_secret"])
def test_secret_documents_never_get_an_upload(client, token, secrecy):
    with pytest.raises(ApiError) as info:
        client.create_document(token, dict(SAMPLE.metadata, secrecy=secrecy))
    assert info.value.status == 422 and info.value.code == "secret_document"
    assert "mật" in info.value.body["error"]["message"]


def test_unknown_recipient_is_refused(client, token):
    with pytest.raises(ApiError) as info:
        client.create_document(token, dict(SAMPLE.metadata, recipients=["000.00.99.H62"]))
    assert info.value.status == 422 and info.value.code == "unknown_recipient"
    assert info.value.body["error"]["details"]["recipients"] == ["000.00.99.H62"]


def test_invalid_metadata_lists_the_fields(client, token):
    with pytest.raises(ApiError) as info:
        client.create_document(token, dict(SAMPLE.metadata, type="XYZ", issued_on="20/09/2019"))
    assert info.value.status == 400 and info.value.code == "invalid_request"
    fields = {e["field"] for e in info.value.body["error"]["details"]["errors"]}
    assert {"type", "issued_on"} <= fields


def test_not_json_is_refused(client, token):
    with pytest.raises(ApiError) as info:
        client.call("POST", "/v1/documents", token, data=b"{not json", headers={"Content-Type": "application/json"})
    assert info.value.status == 400 and info.value.code == "invalid_json"


def test_unknown_document_id_is_404(client, token):
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", "x" * 300):
        with pytest.raises(ApiError) as info:
            client.call("GET", f"/v1/documents/{bad}", token)
        assert info.value.status == 404


def test_listing_pages_with_a_cursor(client, token, sample_pdf):
    for i in range(3):
        client.create_document(token, dict(SAMPLE.metadata, notation=f"UBND-PAGE{i}"))
    first = client.call("GET", "/v1/documents", token, params={"limit": "2"})
    assert len(first["items"]) == 2 and first["next"]
    second = client.call("GET", "/v1/documents", token, params={"limit": "2", "cursor": first["next"]})
    assert not {d["document_id"] for d in first["items"]} & {d["document_id"] for d in second["items"]}
    with pytest.raises(ApiError) as info:
        client.call("GET", "/v1/documents", token, params={"cursor": "garbage!"})
    assert info.value.code == "invalid_cursor"


# -- issue 8: hostile input at the API (text, JSON, cursors) and admin MFA, on the stack ------------------------------

def _refused(client, method, path, token, *, status, code, **kwargs) -> dict:
    with pytest.raises(ApiError) as info:
        client.call(method, path, token, **kwargs)
    assert (info.value.status, info.value.code) == (status, code), info.value.body
    return info.value.body["error"]["details"]


def _notations(client, token) -> set[str]:
    listed = client.call("GET", "/v1/documents", token, params={"limit": "200"})["items"]
    return {d["metadata"]["notation"] for d in listed}


@pytest.mark.parametrize(("change", "field"), [
    ({"subject": "Về việc\u0001 triển khai"}, "subject"),  # what failed at dispatch as axis_unavailable
    ({"place": "Vĩnh\u0085Yên"}, "place"),
    ({"signer": {"full_name": "Nguyễn\ufffeVăn A"}}, "signer.full_name"),
    ({"signer": {"full_name": "Nguyễn Văn A", "position": "CHỦ\nTỊCH"}}, "signer.position"),
    ({"attachments": [{"name": "Phụ lục\u0007I"}]}, "attachments.0.name"),
])
def test_metadata_text_no_package_can_carry_is_400_invalid_text_and_nothing_is_written(client, token, change,
                                                                                         field):
    suffix = uuid.uuid4().hex[:6].upper()
    metadata = fresh_metadata(suffix, **change)
    details = _refused(client, "POST", "/v1/documents", token, status=400, code="invalid_text", json=metadata)
    assert details["field"] == field
    assert metadata["notation"] not in _notations(client, token)


def test_a_lone_surrogate_in_the_raw_json_is_invalid_text(client, token):
    raw = json.dumps(fresh_metadata("SUR")).replace("UBND", "UBND\\ud800", 1).encode()
    details = _refused(client, "POST", "/v1/documents", token, status=400, code="invalid_text", data=raw,
                       headers={"Content-Type": "application/json"})
    assert details["reason"] == "surrogate"


def test_metadata_in_nfd_is_accepted_and_kept_in_nfc(client, token):
    metadata = fresh_metadata(f"NFD{uuid.uuid4().hex[:4].upper()}")
    nfd = dict(metadata, subject=unicodedata.normalize("NFD", metadata["subject"]),
               place=unicodedata.normalize("NFD", metadata["place"]),
               signer={k: unicodedata.normalize("NFD", v) for k, v in metadata["signer"].items()})
    assert nfd["subject"] != metadata["subject"], "the sample has Vietnamese marks to decompose"
    created = client.create_document(token, nfd)
    stored = client.get_document(token, created["document_id"])["metadata"]
    assert stored["subject"] == unicodedata.normalize("NFC", metadata["subject"])
    assert stored["place"] == unicodedata.normalize("NFC", metadata["place"])
    assert stored["signer"]["full_name"] == unicodedata.normalize("NFC", metadata["signer"]["full_name"])


@pytest.mark.parametrize("depth", [40, 5000, 100_000])
def test_deep_json_is_400_json_too_deep(client, token, depth):
    raw = b'{"a":' * depth + b"1" + b"}" * depth
    _refused(client, "POST", "/v1/documents", token, status=400, code="json_too_deep", data=raw,
             headers={"Content-Type": "application/json"})


def test_an_oversized_json_body_is_413(client, token):
    raw = json.dumps(fresh_metadata("BIG", subject="x" * (1024 * 1024))).encode()
    _refused(client, "POST", "/v1/documents", token, status=413, code="body_too_large", data=raw,
             headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/v1/documents", f"/v1/documents/{uuid.uuid4()}/revoke",
                                  f"/v1/documents/{uuid.uuid4()}/update", f"/v1/inbox/{uuid.uuid4()}/status"])
@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
def test_a_body_that_is_not_an_object_is_400_json_not_object(client, token, path, body):
    _refused(client, "POST", path, token, status=400, code="json_not_object",
             data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/v1/documents/{id}/revoke", "/v1/documents/{id}/update"])
def test_an_amendment_reason_with_a_control_character_is_invalid_text(client, token, path):
    details = _refused(client, "POST", path.format(id=uuid.uuid4()), token, status=400, code="invalid_text",
                       json={"reason": "Sai\u0001 nơi nhận", "recipients_added": [H03]})
    assert details["field"] == "reason"


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


WRONG_CURSORS = [
    _b64({"gsi1pk": f"ORG#{SAMPLE.uploader}"}),  # gave 500 before (a missing key attribute)
    _b64({"pk": 1, "sk": "META", "gsi1pk": f"ORG#{SAMPLE.uploader}", "gsi1sk": "x"}),  # a number: 500 before
    _b64({"pk": "DOC#x", "sk": "META", "gsi1pk": f"ORG#{SAMPLE.uploader}", "gsi1sk": "x", "more": "x"}),
    _b64({"pk": "DOC#x", "sk": "META", "gsi1pk": "ORG#000.00.00.H03", "gsi1sk": "x"}),  # another agency's list
    _b64(["pk"]), _b64("[" * 500), "x" * 3000, "garbage!",
]


@pytest.mark.parametrize("cursor", WRONG_CURSORS)
@pytest.mark.parametrize("path", ["/v1/documents", "/v1/inbox"])
def test_a_malformed_cursor_is_400_invalid_cursor(client, token, path, cursor):
    _refused(client, "GET", path, token, status=400, code="invalid_cursor", params={"cursor": cursor})


def test_another_agencys_real_cursor_is_invalid_cursor(client, token):
    other = client.login(client.user_for(H03))
    for i in range(2):
        client.create_document(other, fresh_metadata(f"CUR{i}{uuid.uuid4().hex[:4].upper()}", recipients=[
            SAMPLE.uploader]))
    page = client.call("GET", "/v1/documents", other, params={"limit": "1"})
    assert page["next"]
    _refused(client, "GET", "/v1/documents", token, status=400, code="invalid_cursor", params={"cursor": page["next"]})


def test_a_list_filter_with_a_control_character_is_invalid_text(client, token):
    details = _refused(client, "GET", "/v1/documents", token, status=400, code="invalid_text",
                       params={"state": "SIGNED\u0001"})
    assert details["field"] == "query.state"


def test_a_clerks_status_reason_is_checked_and_kept_in_nfc(client, stack_handle, sample_pdf):
    """The reason a clerk gives goes into a status package: U+0001 there once broke every later poll_axis run."""
    sender = client.login(client.user_for(SAMPLE.uploader))
    notation_suffix = f"RSN{uuid.uuid4().hex[:4].upper()}"
    created = client.create_document(sender, fresh_metadata(notation_suffix, recipients=[H03]))
    client.upload(created["upload"], sample_pdf)
    assert client.wait_for(sender, created["document_id"], {"DISPATCHED", "FAILED", "REJECTED"},
                           timeout=90)["state"] == "DISPATCHED"
    clerk = client.login(client.user_for(H03))

    def filed() -> dict:
        items = [i for i in client.call("GET", "/v1/inbox", clerk, params={"limit": "200"})["items"]
                 if i["notation"].endswith(notation_suffix)]
        assert len(items) == 1
        return items[0]

    item = eventually(stack_handle, filed, what="the document in H03's inbox")
    path = f"/v1/inbox/{item['inbox_id']}/status"
    details = _refused(client, "POST", path, clerk, status=400, code="invalid_text",
                       json={"code": "02", "reason": "Sai\u0001 thẩm quyền"})
    assert details["field"] == "reason"
    reason = "Không đúng thẩm quyền giải quyết"
    answer = client.call("POST", path, clerk, json={"code": "02", "reason": unicodedata.normalize("NFD", reason)})
    assert answer["status_history"][-1]["reason"] == reason


# -- admin MFA -------------------------------------------------------------------------------------------------------


def _idp(stack):
    return boto3.client("cognito-idp", endpoint_url=stack["aws_endpoint_url"], region_name=stack["region"],
                        aws_access_key_id=stack["aws_admin"]["access_key_id"],
                        aws_secret_access_key=stack["aws_admin"]["secret_access_key"])


def test_the_demo_admin_signs_in_with_a_totp_code_and_a_wrong_code_is_refused(client, stack):
    admin = next(u for u in stack["users"] if u["admin"])
    idp = _idp(stack)
    first = idp.initiate_auth(ClientId=stack["cognito"]["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": admin["username"], "PASSWORD": admin["password"]})
    assert first["ChallengeName"] == "SOFTWARE_TOKEN_MFA" and "AuthenticationResult" not in first
    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.respond_to_auth_challenge(ClientId=stack["cognito"]["client_id"], ChallengeName="SOFTWARE_TOKEN_MFA",
                                      Session=first["Session"],
                                      ChallengeResponses={"USERNAME": admin["username"],
                                                          "SOFTWARE_TOKEN_MFA_CODE": "000000"})
    user = idp.admin_get_user(UserPoolId=stack["cognito"]["user_pool_id"], Username=admin["username"])
    assert "SOFTWARE_TOKEN_MFA" in user["UserMFASettingList"]
    token = client.login(admin["username"])
    assert "items" in client.call("GET", "/v1/admin/inbound-issues", token)


def test_an_admin_without_mfa_is_403_mfa_required(client, stack):
    idp, pool = _idp(stack), stack["cognito"]["user_pool_id"]
    username, password = f"admin-nomfa-{uuid.uuid4().hex[:6]}", "Kh0ng-c0-MFA!x"
    idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "custom:organ_id", "Value": SAMPLE.uploader}])
    idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName="admins")
    token = client.login(username, password)  # no challenge: MFA is optional in the pool, and not set up
    for method, path in (("GET", "/v1/admin/inbound-issues"), ("GET", "/v1/admin/keys"), ("GET", "/v1/documents")):
        details = _refused(client, method, path, token, status=403, code="mfa_required")
        assert details["required"] == ["SOFTWARE_TOKEN_MFA"]
    # The same account out of the admins group is a clerk: no MFA needed.
    idp.admin_remove_user_from_group(UserPoolId=pool, Username=username, GroupName="admins")
    assert "items" in client.call("GET", "/v1/documents", client.login(username, password))


def test_admin_key_requests_check_their_text(client, stack):
    admin = client.login(next(u["username"] for u in stack["users"] if u["admin"]))
    details = _refused(client, "POST", "/v1/admin/keys", admin, status=400, code="invalid_text",
                       json={"organ_id": "000.00.00.H62\u0000"})
    assert details["field"] == "organ_id"
    _refused(client, "POST", "/v1/admin/keys", admin, status=400, code="json_not_object",
             data=b"[]", headers={"Content-Type": "application/json"})
