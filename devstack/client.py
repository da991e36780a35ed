"""An outside client of the gateway, as an agency's software would be: Cognito login, the HTTP API, the
presigned POST straight to S3. Used by `make demo` and the end-to-end tests, so both drive the stack only
through its public surfaces (never by importing the app or reading its tables).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

__all__ = ["ApiError", "GatewayClient", "operator_client"]


def operator_client(info: dict[str, Any], service: str) -> Any:
    """A boto3 client on the stack's AWS as its operator: stack.json's `aws_admin` credentials (moto enforces IAM,
    `"iam": "enforced"`, so unsigned or unknown credentials are refused). For tests and tools that look at or
    change AWS directly, as an operator would; never what a client of the gateway does."""
    import boto3
    from botocore.config import Config

    admin = info.get("aws_admin") or {"access_key_id": "testing", "secret_access_key": "testing"}
    return boto3.session.Session().client(
        service, endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
        aws_access_key_id=admin["access_key_id"], aws_secret_access_key=admin["secret_access_key"],
        config=Config(signature_version="s3v4") if service == "s3" else None)


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body}")

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None


@dataclass
class GatewayClient:
    """Talks to a running stack described by its `.local/stack.json`."""

    info: dict[str, Any]
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.session = requests.Session()

    # -- identity ------------------------------------------------------------------------------------------
    def login(self, username: str, password: str | None = None) -> str:
        """An ID token from Cognito `USER_PASSWORD_AUTH` (the stack's demo users carry their passwords); an admin's
        sign-in then answers the `SOFTWARE_TOKEN_MFA` challenge with a code from its TOTP secret, as its
        authenticator app would (devstack/provision/cognito.py sets it up)."""
        import boto3

        user = next((u for u in self.info["users"] if u["username"] == username), {})
        if password is None:
            password = user["password"]
        idp = boto3.client("cognito-idp", endpoint_url=self.info["aws_endpoint_url"], region_name=self.info["region"],
                           aws_access_key_id="demo", aws_secret_access_key="demo")  # noqa: S106 (moto accepts any credentials)
        client_id = self.info["cognito"]["client_id"]
        resp = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": username, "PASSWORD": password})
        if resp.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
            resp = self._answer_totp(idp, client_id, username, resp["Session"], user.get("totp_secret"))
        return resp["AuthenticationResult"]["IdToken"]

    @staticmethod
    def _answer_totp(idp: Any, client_id: str, username: str, session: str, secret: str | None) -> dict[str, Any]:
        from devstack.provision.cognito import totp_code

        if not secret:
            raise RuntimeError(f"{username} needs an MFA code and the stack has no TOTP secret for it")
        for attempt in range(2):  # once more if the 30 s step turned between computing and checking the code
            try:
                return idp.respond_to_auth_challenge(
                    ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
                    ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": totp_code(secret)})
            except idp.exceptions.CodeMismatchException:
                if attempt:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")

    def user_for(self, organ_id: str, *, admin: bool = False) -> str:
        return next(u["username"] for u in self.info["users"] if u["organ_id"] == organ_id and u["admin"] == admin)

    # -- API -------------------------------------------------------------------------------------------------
    def call(self, method: str, path: str, token: str | None, *, json: Any = None, params: dict | None = None,
             data: bytes | None = None, headers: dict | None = None) -> Any:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        resp = self.session.request(method, self.info["api_url"].rstrip("/") + path, json=json, params=params,
                                    data=data, headers=hdrs, timeout=self.timeout)
        body = resp.json() if resp.content and "json" in resp.headers.get("Content-Type", "") else resp.text
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, body)
        return body

    def create_document(self, token: str, metadata: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/v1/documents", token, json=metadata)

    def upload(self, upload: dict[str, Any], pdf: Path | bytes, *, content_type: str = "application/pdf") -> int:
        """The multipart POST of `fields` plus `file` straight to S3, as the API tells the client to."""
        content = pdf if isinstance(pdf, bytes) else Path(pdf).read_bytes()
        resp = requests.post(upload["url"], data=upload["fields"],
                             files={"file": ("document.pdf", content, content_type)}, timeout=self.timeout)
        if resp.status_code >= 300:
            raise ApiError(resp.status_code, resp.text[:500])
        return resp.status_code

    def get_document(self, token: str, document_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/documents/{document_id}", token)

    def wait_for(self, token: str, document_id: str, states: set[str], timeout: float = 60.0) -> dict[str, Any]:
        """Poll the record until its state is one of `states` (the pump runs asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            doc = self.get_document(token, document_id)
            if doc["state"] in states:
                return doc
            if time.monotonic() > deadline:
                raise TimeoutError(f"{document_id} still {doc['state']} after {timeout}s")
            time.sleep(0.2)

    def download_signed(self, token: str, document_id: str, part: str | None = None) -> bytes:
        """The signed PDF; `part` `att-<n>` for a phụ lục uploaded with the document."""
        link = self.call("GET", f"/v1/documents/{document_id}/signed", token,
                         params={"part": part} if part else None)
        resp = requests.get(link["url"], timeout=self.timeout)
        resp.raise_for_status()
        return resp.content

    # -- the axis, as an external agency's own system ------------------------------------------------------------
    def axis_system(self, system_id: str) -> Any:
        from chalicelib.adapters.axis.client import AxisClient

        secret = next(s["secret"] for s in self.info["axis"]["systems"] if s["system_id"] == system_id)
        return AxisClient(self.info["axis"]["url"], system_id, secret, timeout=self.timeout)
