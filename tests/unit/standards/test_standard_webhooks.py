"""Standard Webhooks signatures (chalicelib.standards.standard_webhooks) checked by the specification's own Python
library (`standardwebhooks`), so what the gateway sends is what any receiver's library accepts."""

from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.standards.standard_webhooks import InvalidSignature, headers, new_secret, sign, verify

BODY = json.dumps({"id": "evt_1", "type": "document.signed", "data": {"subject": "Công văn"}},
                  ensure_ascii=False).encode("utf-8")


def test_a_fresh_secret_is_whsec_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert new_secret() != secret


def test_the_library_verifies_what_the_gateway_signs():
    secret = new_secret()
    signed = headers([secret], "evt_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, signed)["data"]["subject"] == "Công văn"
    assert signed["webhook-signature"].startswith("v1,")


def test_every_secret_of_a_rotation_signs_and_each_verifies_alone():
    old, new = new_secret(), new_secret()
    signed = headers([new, old], "evt_2", int(time.time()), BODY)
    assert len(signed["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, signed)
        verify(secret, signed, BODY, now=int(time.time()))
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, signed)


def test_a_changed_body_a_stale_timestamp_or_another_id_fail():
    secret, now = new_secret(), int(time.time())
    signed = headers([secret], "evt_3", now, BODY)
    with pytest.raises(InvalidSignature):
        verify(secret, signed, BODY + b" ", now=now)
    with pytest.raises(InvalidSignature):
        verify(secret, {**signed, "webhook-id": "evt_4"}, BODY, now=now)
    with pytest.raises(InvalidSignature):
        verify(secret, signed, BODY, now=now + 301)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers([secret], "evt_3", now - 3600, BODY))


def test_the_signature_is_hmac_sha256_of_id_timestamp_body():
    import hashlib
    import hmac

    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    expected = base64.b64encode(hmac.new(b"k" * 24, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_1", 1700000000, BODY) == "v1," + expected
