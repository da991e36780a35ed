"""The PKCS#11 key backend: an organisation key on an HSM (CloudHSM or any token; SoftHSM2 in tests).

Why PKCS#11 and not KMS for an HSM: KMS keys in a CloudHSM custom key store are symmetric only (NOTES.md), so an
asymmetric key that must live in an HSM is reached through the HSM vendor's PKCS#11 module.

How a key is named: an RFC 7512 PKCS#11 URI, stored as the agency's `signing_key.key_id`, e.g.

    pkcs11:token=edoc-demo;object=edoc-sign-000-00-00-H03;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so
        &pin-source=secretsmanager:edoc-gateway/pkcs11/000-00-00-H03

- `token` (token label), `object` (key label) and/or `id` (CKA_ID) find the private key, and its public key by the
  same label/id;
- `module-path` must be one of the modules the deployment allows (`PKCS11_MODULES`); without it the first allowed
  module is used. Loading a shared library runs its code, so a key record can never name an arbitrary file;
- `pin-source` names the Secrets Manager secret that holds the user PIN (`secretsmanager:<secret id>`, under
  `edoc-gateway/pkcs11/`). The PIN itself is never in a record, a request, code or a log line.

Signing uses pyHanko's own PKCS#11 mechanism selection (`select_pkcs11_signing_params`) with
`use_raw_mechanism=True`: the digest (RSA: DigestInfo) is computed here and the token signs with `CKM_RSA_PKCS` or
`CKM_ECDSA`. SoftHSM2 has no `CKM_ECDSA_SHA256` (NOTES.md), and the raw mechanisms exist on every token we target.

Per warm container: one loaded module, one logged-in session per token (PKCS#11 login state is per application,
so a second session would find the user already logged in), one key handle per key; a lock serialises use of a
session (the embedded stack signs from several threads). A wrong PIN is remembered per secret version, so the
gateway never burns the token's PIN retry counter document after document: it tries again only once an admin has
put a new PIN version in Secrets Manager.

python-pkcs11 (a compiled extension, ~2 MB wheel) is imported only here, inside functions: no other handler pays
for it at cold start.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

from chalicelib.core.errors import SigningUnavailable, ValidationFailed

URI_SCHEME = "pkcs11:"
PIN_SOURCE_PREFIX = "secretsmanager:"
#: Secrets that may hold a token PIN (the IAM policy grants GetSecretValue on the same prefix only).
PIN_SECRET_PREFIX = "edoc-gateway/pkcs11/"  # noqa: S105 (a name prefix, not a secret)

#: Errors after which the same call on a fresh session may work (session or device state lost).
_REOPEN_ERRORS = frozenset({
    "SessionClosed", "SessionHandleInvalid", "DeviceRemoved", "TokenNotPresent", "DeviceError",
    "UserNotLoggedIn", "ObjectHandleInvalid", "KeyHandleInvalid", "GeneralError",
})
#: Errors an admin must fix (wrong PIN, missing key or token, a key that cannot sign): never retried.
_ADMIN_ERRORS = frozenset({
    "PinIncorrect", "PinLocked", "PinExpired", "PinInvalid", "PinLenRange", "NoSuchToken", "NoSuchKey",
    "MultipleObjectsReturned", "MultipleTokensReturned", "MechanismInvalid", "KeyTypeInconsistent",
    "KeyFunctionNotPermitted", "UserPinNotInitialized", "TokenNotRecognised", "FunctionNotSupported",
})


# -- the key's name ------------------------------------------------------------------------------------------


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
    """The Secrets Manager secret id of a `pin-source`; refuses anything outside `edoc-gateway/pkcs11/`."""
    if not pin_source.startswith(PIN_SOURCE_PREFIX):
        raise ValueError(f"pin-source must be {PIN_SOURCE_PREFIX}<secret>")
    secret = pin_source[len(PIN_SOURCE_PREFIX):]
    name = secret.split(":secret:", 1)[1] if ":secret:" in secret else secret
    if not name.startswith(PIN_SECRET_PREFIX) or ".." in name:
        raise ValueError(f"the PIN secret must be under {PIN_SECRET_PREFIX}")
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


# -- tokens and sessions, per container -----------------------------------------------------------------------

#: A PIN source answers `(pin, version)` for a pin-source; the version lets a wrong PIN be remembered.
PinFetcher = Callable[[str], tuple[str, str]]


def secrets_manager_pin(pin_source: str) -> tuple[str, str]:
    """The PIN from Secrets Manager: the secret string itself, or its `pin` field if it is JSON."""
    import json

    from chalicelib.adapters import aws

    resp = aws.client("secretsmanager").get_secret_value(SecretId=pin_secret_id(pin_source))
    value = resp.get("SecretString") or ""
    if value.lstrip().startswith("{"):
        try:
            value = str(json.loads(value).get("pin", ""))
        except ValueError:
            value = ""
    if not value:
        raise SigningUnavailable("Bí mật chứa mã PIN của HSM rỗng hoặc sai định dạng.", code="pkcs11_pin_missing")
    return value, str(resp.get("VersionId", ""))


@dataclass
class _Token:
    """One token in one module: its logged-in session, and the secret version of a PIN that was refused."""

    module: str
    label: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    session: Any = None
    refused_pin_version: str | None = None


_libs: dict[str, Any] = {}
_tokens: dict[tuple[str, str], _Token] = {}
_registry_lock = threading.Lock()


def _lib(module: str) -> Any:
    """The loaded module (C_Initialize once per process: a second initialisation is an error on some HSMs)."""
    import pkcs11

    with _registry_lock:
        if module not in _libs:
            _libs[module] = pkcs11.lib(module)
        return _libs[module]


def _token(module: str, label: str) -> _Token:
    with _registry_lock:
        return _tokens.setdefault((module, label), _Token(module, label))


def clear_sessions() -> None:
    """Close every session (tests; a container never needs it). Loaded modules stay loaded."""
    with _registry_lock:
        tokens = list(_tokens.values())
        _tokens.clear()
    for tok in tokens:
        with tok.lock:
            if tok.session is not None:
                with contextlib.suppress(Exception):  # closing a dead session: nothing to do about it
                    tok.session.close()
                tok.session = None


def _error_name(exc: BaseException) -> str:
    return type(exc).__name__


class Pkcs11RawSigner:
    """A `RawSigner` (backends.py) for a private key on a PKCS#11 token.

    `algorithm`, `signature_size` and the public key are read from the token once, on first use.
    """

    def __init__(self, uri: Pkcs11Uri | str, *, modules: tuple[str, ...],
                 pin_fetcher: PinFetcher = secrets_manager_pin) -> None:
        self.uri = uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)
        self.module = choose_module(self.uri, modules)
        self._pin_fetcher = pin_fetcher
        self._key: Any = None
        self._key_session: Any = None
        self._algorithm: str | None = None
        self._signature_size: int | None = None
        self._public_key_der: bytes | None = None

    # -- RawSigner ------------------------------------------------------------------------------------------
    @property
    def algorithm(self) -> str:
        if self._algorithm is None:
            self._describe()
        return self._algorithm  # type: ignore[return-value]

    @property
    def signature_size(self) -> int:
        if self._signature_size is None:
            self._describe()
        return self._signature_size  # type: ignore[return-value]

    def sign(self, data: bytes) -> bytes:
        """Hash here, sign the digest on the token with the raw mechanism (pyHanko's parameter selection)."""
        from asn1crypto import algos
        from pyhanko.sign.pkcs11 import select_pkcs11_signing_params

        spec = select_pkcs11_signing_params(algos.SignedDigestAlgorithm({"algorithm": self.algorithm}), "sha256",
                                            use_raw_mechanism=True, sign_kwargs={})
        payload = spec.pre_sign_transform(data) if spec.pre_sign_transform else data

        def _sign(key: Any) -> bytes:
            return key.sign(payload, **spec.sign_kwargs)

        signature = self._with_key(_sign)
        return spec.post_sign_transform(signature) if spec.post_sign_transform else signature

    def public_key_der(self) -> bytes:
        """SubjectPublicKeyInfo DER of the key (for the CSR and to match an uploaded certificate)."""
        if self._public_key_der is None:
            self._describe()
        return self._public_key_der  # type: ignore[return-value]

    # -- internals ------------------------------------------------------------------------------------------
    def _describe(self) -> None:
        """Key type, size and public key, read once from the token."""
        from asn1crypto import keys

        def _read(key: Any) -> tuple[str, int, bytes]:
            from pkcs11 import Attribute, KeyType, ObjectClass

            if key.key_type == KeyType.RSA:
                pub = self._public_object(key, ObjectClass.PUBLIC_KEY) or key
                modulus = int.from_bytes(pub[Attribute.MODULUS], "big")
                exponent = int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big")
                spki = keys.PublicKeyInfo({
                    "algorithm": {"algorithm": "rsa"},
                    "public_key": keys.RSAPublicKey({"modulus": modulus, "public_exponent": exponent}),
                }).dump()
                return "sha256_rsa", (modulus.bit_length() + 7) // 8, spki
            if key.key_type == KeyType.EC:
                from pkcs11.util.ec import encode_ec_public_key

                from chalicelib.keys.backends import ecdsa_der_max_size

                pub = self._public_object(key, ObjectClass.PUBLIC_KEY)
                if pub is None:
                    raise SigningUnavailable("Không tìm thấy khóa công khai EC trên HSM.",
                                             code="pkcs11_public_key_missing", details=self.uri.key_description())
                spki = encode_ec_public_key(pub)
                bits = keys.PublicKeyInfo.load(spki).bit_size
                return "sha256_ecdsa", ecdsa_der_max_size(bits), spki
            raise SigningUnavailable("Loại khóa trên HSM không được hỗ trợ (chỉ RSA hoặc EC).",
                                     code="unsupported_key_type", details=self.uri.key_description())

        self._algorithm, self._signature_size, self._public_key_der = self._with_key(_read)

    def _public_object(self, private_key: Any, object_class: Any) -> Any:
        from pkcs11.exceptions import MultipleObjectsReturned, NoSuchKey

        tok = _token(self.module, self.uri.token)
        try:
            return tok.session.get_key(object_class=object_class, label=self.uri.object or None,
                                       id=self.uri.id or None)
        except (NoSuchKey, MultipleObjectsReturned):
            return None

    def _with_key(self, operation: Callable[[Any], Any]) -> Any:
        """Run `operation(private_key)` on the token's session; reopen once if the session or device was lost."""
        from pkcs11.exceptions import PKCS11Error

        tok = _token(self.module, self.uri.token)
        with tok.lock:
            for attempt in (1, 2):
                try:
                    return operation(self._private_key(tok))
                except PKCS11Error as exc:
                    name = _error_name(exc)
                    if name in _REOPEN_ERRORS and attempt == 1:
                        self._drop_session(tok)
                        continue
                    if name in _ADMIN_ERRORS:
                        self._key = None
                        raise SigningUnavailable(details={**self.uri.key_description(), "pkcs11_error": name}) \
                            from None
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop_session(self, tok: _Token) -> None:
        self._key = None
        if tok.session is not None:
            with contextlib.suppress(Exception):  # the session is gone already
                tok.session.close()
            tok.session = None

    def _private_key(self, tok: _Token) -> Any:
        from pkcs11 import ObjectClass

        if tok.session is None:
            tok.session = self._open(tok)
        if self._key is None or self._key_session is not tok.session:  # handles belong to one session
            self._key = tok.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=self.uri.object or None,
                                            id=self.uri.id or None)
            self._key_session = tok.session
        return self._key

    def _open(self, tok: _Token) -> Any:
        """Log in to the token with the PIN from its secret, unless that very secret version was refused."""
        from pkcs11.exceptions import PinIncorrect, PinLocked

        if not self.uri.pin_source:
            raise SigningUnavailable("Khóa PKCS#11 chưa có nguồn mã PIN (pin-source).", code="pkcs11_pin_missing",
                                     details=self.uri.key_description())
        pin, version = self._pin_fetcher(self.uri.pin_source)
        if version and version == tok.refused_pin_version:
            raise SigningUnavailable(details={**self.uri.key_description(), "pkcs11_error": "PinIncorrect",
                                              "pin_version_refused": True})
        try:
            library = _lib(self.module)
        except Exception as exc:  # python-pkcs11 raises RuntimeError/OSError when the file cannot be loaded
            raise SigningUnavailable("Không nạp được thư viện PKCS#11.", code="pkcs11_module_unavailable",
                                     details={"module_path": self.module}) from exc
        token = library.get_token(token_label=self.uri.token)
        try:
            session = token.open(user_pin=pin)
        except (PinIncorrect, PinLocked):
            tok.refused_pin_version = version or None
            raise
        finally:
            del pin
        tok.refused_pin_version = None
        return session

    def __repr__(self) -> str:  # never the PIN source's value, which would be harmless, nor anything else
        return f"Pkcs11RawSigner(token={self.uri.token!r}, object={self.uri.object!r}, id={self.uri.id.hex()!r})"

