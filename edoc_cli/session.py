"""Signing in to the gateway's Cognito pool and keeping the tokens between commands.

Why here and not in each command: every command needs an ID token (docs/contract.md#auth), and a script that calls
`edoc` a thousand times must not sign in a thousand times. `edoc login` keeps the ID and refresh tokens in the
config directory (`tokens/<gateway>.json`, mode 0600, never printed); a later command refreshes the ID token with
`REFRESH_TOKEN_AUTH` a minute before it expires. Administrators need MFA (docs/contract.md#auth): the
`SOFTWARE_TOKEN_MFA` challenge takes `--mfa-code`, or on the embedded stack the demo admin's TOTP secret.
Sign-in calls are unsigned, as Cognito's public API allows, so no AWS credentials are needed.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from typing import Any

from edoc_cli.errors import CliError
from edoc_cli.target import Target, config_dir

__all__ = ["Session", "totp_code"]

_REFRESH_MARGIN = 60


def totp_code(secret: str, at: float | None = None) -> str:
    """RFC 6238 (6 digits, SHA-1, 30 s), what an authenticator app shows for a Cognito TOTP secret (base32)."""
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    totp = TOTP(key, 6, SHA1(), 30, enforce_key_length=False)  # noqa: S303 (RFC 6238 and Cognito use SHA-1)
    return totp.generate(time.time() if at is None else at).decode()


def _idp(target: Target) -> Any:
    # boto3 is imported on first use: `edoc --help` and argument errors answer without loading it.
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.session.Session().client(
        "cognito-idp", region_name=target.region, endpoint_url=target.cognito_endpoint,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 3}))


class Session:
    """The signed-in user of one gateway: `login()` once, then `id_token()` for every call."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.path = config_dir() / "tokens" / f"{target.cache_key}.json"

    # -- the cache -----------------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _save(self, tokens: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(tokens, fh)
        tmp.replace(self.path)

    def logout(self) -> bool:
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False

    @property
    def username(self) -> str | None:
        return (self._load() or {}).get("username")

    # -- sign-in -------------------------------------------------------------------------------------------
    def login(self, username: str, password: str | None = None, *, mfa_code: str | None = None,
              totp_secret: str | None = None, ask: Callable[[str], str] | None = None) -> dict[str, Any]:
        """USER_PASSWORD_AUTH, then the MFA challenge if the pool asks; the tokens are kept for later commands.
        `totp_secret` (the bootstrap's own admin, or the embedded stack's demo admin) answers the challenge with a
        fresh code, recomputed if the 30 s step turned before Cognito checked it."""
        demo = self.target.demo_user(username) or {}
        password = password if password is not None else demo.get("password")
        if password is None:
            if ask is None:
                raise CliError("password_required", "Cần mật khẩu: dùng --password-stdin.")
            password = ask("Mật khẩu")
        idp = _idp(self.target)
        try:
            resp = idp.initiate_auth(ClientId=self.target.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": username, "PASSWORD": password})
            if resp.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
                resp = self._answer_mfa(idp, username, resp["Session"], mfa_code,
                                        totp_secret or demo.get("totp_secret"), ask)
            elif resp.get("ChallengeName"):
                raise CliError("challenge_unsupported", f"Cognito yêu cầu {resp['ChallengeName']}: hãy hoàn tất "
                                                        "đăng nhập lần đầu trên trang web.",
                               {"challenge": resp["ChallengeName"]})
        except idp.exceptions.NotAuthorizedException as exc:
            raise CliError("login_failed", "Sai tên đăng nhập hoặc mật khẩu.", {"username": username}) from exc
        except idp.exceptions.UserNotFoundException as exc:
            raise CliError("login_failed", "Sai tên đăng nhập hoặc mật khẩu.", {"username": username}) from exc
        except idp.exceptions.CodeMismatchException as exc:
            raise CliError("mfa_code_mismatch", "Mã xác thực hai lớp không đúng.") from exc
        result = resp["AuthenticationResult"]
        tokens = {"username": username, "id_token": result["IdToken"], "refresh_token": result.get("RefreshToken"),
                  "expires_at": time.time() + int(result.get("ExpiresIn", 3600))}
        self._save(tokens)
        return tokens

    def _answer_mfa(self, idp: Any, username: str, session: str, code: str | None, secret: str | None,
                    ask: Callable[[str], str] | None) -> dict[str, Any]:
        for attempt in range(2):  # a TOTP step may turn between computing the code and Cognito checking it
            answer = code or (totp_code(secret) if secret else None)
            if answer is None:
                if ask is None:
                    raise CliError("mfa_required", "Tài khoản quản trị cần mã xác thực hai lớp: dùng --mfa-code.")
                answer = ask("Mã xác thực (ứng dụng xác thực)")
            try:
                return idp.respond_to_auth_challenge(
                    ClientId=self.target.client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
                    ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": answer})
            except idp.exceptions.CodeMismatchException:
                if attempt or code or not secret:
                    raise
                time.sleep(1)  # the check ran in the next step: its code now
        raise AssertionError("unreachable")

    # -- the token for a call --------------------------------------------------------------------------------
    def id_token(self, *, as_user: str | None = None) -> str:
        """The current ID token, refreshed when it is about to expire. `as_user` (embedded stack): sign in as that
        demo user first when the cached one is someone else."""
        tokens = self._load()
        if as_user and (tokens or {}).get("username") != as_user:
            tokens = self.login(as_user)
        if not tokens:
            raise CliError("not_logged_in", "Chưa đăng nhập: chạy `edoc login TÊN_ĐĂNG_NHẬP`.")
        if tokens["expires_at"] - _REFRESH_MARGIN > time.time():
            return tokens["id_token"]
        return self._refresh(tokens)["id_token"]

    def _refresh(self, tokens: dict[str, Any]) -> dict[str, Any]:
        if not tokens.get("refresh_token"):
            raise CliError("session_expired", "Phiên đăng nhập đã hết hạn: chạy lại `edoc login`.")
        idp = _idp(self.target)
        try:
            resp = idp.initiate_auth(ClientId=self.target.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                     AuthParameters={"REFRESH_TOKEN": tokens["refresh_token"]})
        except idp.exceptions.NotAuthorizedException as exc:
            self.logout()
            raise CliError("session_expired", "Phiên đăng nhập đã hết hạn: chạy lại `edoc login`.") from exc
        result = resp["AuthenticationResult"]
        tokens = {**tokens, "id_token": result["IdToken"],
                  "expires_at": time.time() + int(result.get("ExpiresIn", 3600))}
        self._save(tokens)
        return tokens
