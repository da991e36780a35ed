"""How a PKCS#11 signing key is named: an RFC 7512 PKCS#11 URI, stored as the agency's `signing_key.key_id`.

    pkcs11:token=edoc-demo;object=edoc-sign-000-00-00-H03;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so
        &pin-source=secretsmanager:edoc-gateway/prod/pkcs11/000-00-00-H03

- `token` (token label), `object` (key label) and/or `id` (CKA_ID) find the private key, and its public key by the
  same label/id (RFC 7512 §2.3);
- `module-path` must be one of the modules the deployment allows (`PKCS11_MODULES`); without it the first allowed
  module is used. Loading a shared library runs its code, so a key record can never name an arbitrary file;
- `pin-source` names the Secrets Manager secret that holds the user PIN (`secretsmanager:<secret id>`, under
  `edoc-gateway/<stage>/pkcs11/`). The PIN itself is never in a record, a request, code or a log line: RFC 7512's
  `pin-value` is refused.

Why a module of its own: naming a key is pure string work that the admin API, provisioning and the token code
(`pkcs11.py`) share; it needs neither python-pkcs11 nor AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

from chalicelib.core.errors import SigningUnavailable, ValidationFailed
from chalicelib.core.settings import get_settings

__all__ = ["PIN_SOURCE_PREFIX", "URI_SCHEME", "Pkcs11Uri", "choose_module", "pin_secret_id",
           "uri_from_request"]

URI_SCHEME = "pkcs11:"
PIN_SOURCE_PREFIX = "secretsmanager:"
#: Secrets that may hold a token PIN (the IAM policy grants GetSecretValue on the same prefix only).


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI the gateway uses to find a signing key."""

    token: str = ""
    object: str = ""
    id: bytes = b""
    module_path: str = ""
    pin_source: str = ""

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("a PKCS#11 key URI needs the token label (token=...)")
        if not (self.object or self.id):
            raise ValueError("a PKCS#11 key URI needs the key label (object=...) or id (id=...)")
        if self.pin_source:
            pin_secret_id(self.pin_source)  # validates

    @classmethod
    def parse(cls, uri: str) -> Pkcs11Uri:
        """Parse `pkcs11:path-attributes?query-attributes`; unknown attributes (e.g. `type`) are ignored."""
        if not isinstance(uri, str) or not uri.startswith(URI_SCHEME):
            raise ValueError("not a PKCS#11 URI (pkcs11:...)")
        path, _, query = uri[len(URI_SCHEME):].partition("?")
        attrs: dict[str, Any] = {}
        for part in filter(None, path.split(";")):
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"malformed PKCS#11 URI attribute {name!r}")
            if name == "id":
                attrs["id"] = unquote_to_bytes(value)
            elif name in ("token", "object"):
                attrs[name] = unquote(value)
        for part in filter(None, query.split("&")):
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"malformed PKCS#11 URI query attribute {name!r}")
            if name == "module-path":
                attrs["module_path"] = unquote(value)
            elif name == "pin-value":
                # RFC 7512 allows the PIN in the URI; a stored key name must never carry it.
                raise ValueError("a PIN must not be written into the key URI: use pin-source")
            elif name == "pin-source":
                attrs["pin_source"] = unquote(value)
        return cls(**attrs)

    def __str__(self) -> str:
        safe = "-._~:[]@!$'()*+,&"  # RFC 7512 pk11-pchar, less '=' and ';' which separate attributes
        path = [f"token={quote(self.token, safe=safe)}"]
        if self.object:
            path.append(f"object={quote(self.object, safe=safe)}")
        if self.id:
            path.append("id=" + "".join(f"%{b:02x}" for b in self.id))
        query = []
        if self.module_path:
            query.append(f"module-path={quote(self.module_path, safe='/-._~:')}")
        if self.pin_source:
            query.append(f"pin-source={quote(self.pin_source, safe='/-._~:')}")
        return URI_SCHEME + ";".join(path) + ("?" + "&".join(query) if query else "")

    def key_description(self) -> dict[str, str]:
        """What to show in errors and logs: where the key is, never how to log in."""
        out = {"token": self.token}
        if self.object:
            out["object"] = self.object
        if self.id:
            out["id"] = self.id.hex()
        return out


def pin_secret_id(pin_source: str) -> str:
    """The Secrets Manager secret id of a `pin-source`; refuses anything outside this stage's
    `edoc-gateway/<stage>/pkcs11/` (chalicelib.core.names; the IAM policies grant nothing else)."""
    if not pin_source.startswith(PIN_SOURCE_PREFIX):
        raise ValueError(f"pin-source must be {PIN_SOURCE_PREFIX}<secret>")
    secret = pin_source[len(PIN_SOURCE_PREFIX):]
    name = secret.split(":secret:", 1)[1] if ":secret:" in secret else secret
    prefix = get_settings().pin_secret_prefix
    if not name.startswith(prefix) or ".." in name:
        raise ValueError(f"the PIN secret must be under {prefix}")
    return secret


def uri_from_request(body: dict[str, Any]) -> Pkcs11Uri:
    """The key URI from an admin's registration request: either `key_uri`, or `pkcs11` with named fields.

    Refuses a PIN in the request outright: it belongs in Secrets Manager, and a request body ends up in logs.
    """
    spec = body.get("pkcs11") or {}
    if not isinstance(spec, dict):
        raise ValidationFailed("Trường pkcs11 phải là một đối tượng.", code="invalid_pkcs11_key")
    if any(k.lower() in ("pin", "user_pin", "pin_value") for k in spec) or "pin" in body:
        raise ValidationFailed("Không gửi mã PIN qua API: lưu mã PIN trong Secrets Manager và gửi tên bí mật "
                               "(pin_secret).", code="pin_not_allowed")
    try:
        if body.get("key_uri"):
            return Pkcs11Uri.parse(str(body["key_uri"]))
        key_id = spec.get("key_id_hex") or ""
        pin_secret = spec.get("pin_secret") or ""
        return Pkcs11Uri(token=str(spec.get("token_label") or ""), object=str(spec.get("key_label") or ""),
                         id=bytes.fromhex(str(key_id)) if key_id else b"",
                         module_path=str(spec.get("module_path") or ""),
                         pin_source=f"{PIN_SOURCE_PREFIX}{pin_secret}" if pin_secret else "")
    except ValueError as exc:
        raise ValidationFailed("Khóa PKCS#11 không hợp lệ.", code="invalid_pkcs11_key",
                               details={"reason": str(exc)}) from exc


def choose_module(uri: Pkcs11Uri, allowed: tuple[str, ...]) -> str:
    """The module to load for `uri`: its `module-path` if the deployment allows it, else the default."""
    if not allowed:
        raise SigningUnavailable("Hệ thống chưa cấu hình thư viện PKCS#11.", code="pkcs11_not_configured")
    if not uri.module_path:
        return allowed[0]
    if uri.module_path not in allowed:
        raise SigningUnavailable("Thư viện PKCS#11 của khóa không nằm trong danh sách cho phép.",
                                 code="pkcs11_module_not_allowed", details={"module_path": uri.module_path})
    return uri.module_path
