"""Which gateway `edoc` talks to and how it keeps a sign-in (edoc_cli.target, edoc_cli.session): profiles, the
embedded stack's stack.json, the token cache kept private, and the TOTP codes an authenticator app shows."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from edoc_cli.errors import CliError
from edoc_cli.output import when
from edoc_cli.session import Session, totp_code
from edoc_cli.target import resolve_target

STACK = {"api_url": "http://127.0.0.1:1", "region": "ap-southeast-1", "aws_endpoint_url": "http://127.0.0.1:2",
         "cognito": {"user_pool_id": "pool", "client_id": "client"},
         "users": [{"username": "clerk", "password": "pw", "organ_id": "000.00.00.H62", "admin": False}]}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDOC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EDOC_PROFILE", raising=False)
    monkeypatch.delenv("EDOC_STACK_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def test_rfc_6238_vectors() -> None:
    # RFC 6238 appendix B, SHA-1, secret "12345678901234567890" (base32 below), 6 digits (the last 6 of 8)
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp_code(secret, at=59) == "287082"
    assert totp_code(secret, at=1111111109) == "081804"


def test_the_embedded_stack_is_found_from_below_the_repository(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "stack.json").write_text(json.dumps(STACK), encoding="utf-8")
    (tmp_path / "docs" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "docs" / "deep")
    target = resolve_target(None)
    assert (target.name, target.api_url, target.cognito_endpoint) == ("local", STACK["api_url"],
                                                                       STACK["aws_endpoint_url"])
    assert target.demo_user("clerk")["password"] == "pw" and target.demo_user("nobody") is None


def test_no_stack_and_no_profile_says_what_to_do() -> None:
    with pytest.raises(CliError) as err:
        resolve_target(None)
    assert err.value.code == "no_gateway" and "make run" in err.value.message


def test_profiles_come_from_the_config_file(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text('[profiles.prod]\napi_url = "https://api.example/api"\n'
                                      'region = "ap-southeast-1"\nuser_pool_id = "p"\nclient_id = "c"\n'
                                      '[profiles.half]\napi_url = "x"\n', encoding="utf-8")
    prod = resolve_target("prod")
    assert (prod.api_url, prod.cognito_endpoint, prod.stack) == ("https://api.example/api", None, None)
    with pytest.raises(CliError) as err:
        resolve_target("half")
    assert err.value.code == "incomplete_profile" and err.value.details["missing"] == ["region", "user_pool_id",
                                                                                       "client_id"]
    with pytest.raises(CliError) as err:
        resolve_target("nope")
    assert err.value.code == "unknown_profile"


def test_tokens_are_private_and_per_gateway(home: Path, tmp_path: Path) -> None:
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "stack.json").write_text(json.dumps(STACK), encoding="utf-8")
    session = Session(resolve_target(None))
    session._save({"username": "clerk", "id_token": "t", "refresh_token": "r", "expires_at": time.time() + 3600})
    assert stat.S_IMODE(session.path.stat().st_mode) == 0o600
    assert session.id_token() == "t" and session.username == "clerk"
    other = resolve_target(None).__class__(**{**resolve_target(None).__dict__, "api_url": "http://127.0.0.1:3"})
    with pytest.raises(CliError) as err:
        Session(other).id_token()
    assert err.value.code == "not_logged_in"
    assert session.logout() and not session.logout()


def test_times_are_shown_in_vietnam_time() -> None:
    assert when("2026-12-04T04:02:25.299027Z") == "2026-12-04 11:02"
    assert when("2026-12-04T23:30:00+00:00") == "2026-12-05 06:30"
    assert when(None) == "" and when("soon") == "soon"
