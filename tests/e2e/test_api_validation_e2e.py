"""`POST /v1/documents` refusals: secret documents, unknown or inactive recipients, bad metadata — each with a
stable code and a Vietnamese message, and nothing written."""

from __future__ import annotations

import pytest

from devstack.client import ApiError
from devstack.demo_data import SAMPLES

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
