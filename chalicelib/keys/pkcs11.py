"""The PKCS#11 key backend: an organisation key on an HSM (CloudHSM or any token; SoftHSM2 in tests).

Why PKCS#11 and not KMS for an HSM: KMS keys in a CloudHSM custom key store are symmetric only
(docs/traps.md#hsm-keys-need-pkcs11), so an asymmetric key that must live in an HSM is reached through the HSM vendor's
PKCS#11 module.

How a key is named: an RFC 7512 PKCS#11 URI (`pkcs11_uri.Pkcs11Uri`, re-exported here), stored as the agency's
`signing_key.key_id`. Its `pin-source` names the Secrets Manager secret holding the user PIN; the signer gets the
PIN from a `PinFetcher` passed in (`chalicelib.adapters.signing_keys.secrets_manager_pin` in the Lambda), so this
module never reaches for AWS.

Signing uses pyHanko's own PKCS#11 mechanism selection (`select_pkcs11_signing_params`) with
`use_raw_mechanism=True`: the digest (RSA: DigestInfo) is computed here and the token signs with `CKM_RSA_PKCS` or
`CKM_ECDSA`. SoftHSM2 has no `CKM_ECDSA_SHA256` (docs/traps.md#softhsm-raw-mechanism), and the raw mechanisms exist on
every token we target.

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

from chalicelib.core.errors import SigningUnavailable
from chalicelib.keys.pkcs11_uri import (
    PIN_SOURCE_PREFIX,
    URI_SCHEME,
    Pkcs11Uri,
    choose_module,
    pin_secret_id,
    uri_from_request,
)
from chalicelib.keys.raw_signer import ecdsa_der_max_size

#: The key's name is re-exported: callers see one module for "the PKCS#11 backend".
__all__ = ["PIN_SOURCE_PREFIX", "URI_SCHEME", "PinFetcher", "Pkcs11RawSigner", "Pkcs11Uri",
           "choose_module", "clear_sessions", "pin_secret_id", "uri_from_request"]

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


# -- tokens and sessions, per container -----------------------------------------------------------------------

#: A PIN source answers `(pin, version)` for a pin-source; the version lets a wrong PIN be remembered. Passed in
#: by the adapter that builds the signer, so the token code never imports an AWS client.
PinFetcher = Callable[[str], tuple[str, str]]


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
    import pkcs11  # lazy: python-pkcs11, token keys only

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

    def __init__(self, uri: Pkcs11Uri | str, *, modules: tuple[str, ...], pin_fetcher: PinFetcher) -> None:
        """`pin_fetcher` answers `(pin, version)` for the URI's pin-source (Secrets Manager in the Lambda)."""
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
        from asn1crypto import algos  # lazy: asn1crypto, cold start
        from pyhanko.sign.pkcs11 import select_pkcs11_signing_params  # lazy: pyHanko ~150 ms at cold start

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
        from asn1crypto import keys  # lazy: asn1crypto, cold start

        def _read(key: Any) -> tuple[str, int, bytes]:
            from pkcs11 import Attribute, KeyType, ObjectClass  # lazy: python-pkcs11, token keys only

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
                from pkcs11.util.ec import encode_ec_public_key  # lazy: python-pkcs11, token keys only

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
        from pkcs11.exceptions import MultipleObjectsReturned, NoSuchKey  # lazy: python-pkcs11, token keys only

        tok = _token(self.module, self.uri.token)
        try:
            return tok.session.get_key(object_class=object_class, label=self.uri.object or None,
                                       id=self.uri.id or None)
        except (NoSuchKey, MultipleObjectsReturned):
            return None

    def _with_key(self, operation: Callable[[Any], Any]) -> Any:
        """Run `operation(private_key)` on the token's session; reopen once if the session or device was lost."""
        from pkcs11.exceptions import PKCS11Error  # lazy: python-pkcs11, token keys only

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
        from pkcs11 import ObjectClass  # lazy: python-pkcs11, token keys only

        if tok.session is None:
            tok.session = self._open(tok)
        if self._key is None or self._key_session is not tok.session:  # handles belong to one session
            self._key = tok.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=self.uri.object or None,
                                            id=self.uri.id or None)
            self._key_session = tok.session
        return self._key

    def _open(self, tok: _Token) -> Any:
        """Log in to the token with the PIN from its secret, unless that very secret version was refused."""
        from pkcs11.exceptions import PinIncorrect, PinLocked  # lazy: python-pkcs11, token keys only

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

