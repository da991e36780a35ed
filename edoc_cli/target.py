"""Which gateway `edoc` talks to: a named profile from the config file, or by default the embedded stack.

Why two sources: an agency's system and a province's admins run against a deployed stage, described once in
`~/.config/edoc/config.toml` (`[profiles.<name>]`: `api_url`, `region`, `user_pool_id`, `client_id`, and
`cognito_endpoint` only when not AWS's own); a developer runs against `make run`, whose `.local/stack.json` already
says all of it, demo users and their passwords included (README "The embedded stack"). `EDOC_HOME` moves the config
directory (tests give each run its own); `EDOC_STACK_FILE` names a stack.json elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edoc_cli.errors import CliError

__all__ = ["Target", "config_dir", "find_stack_file", "resolve_target"]

_PROFILE_KEYS = ("api_url", "region", "user_pool_id", "client_id")


def config_dir() -> Path:
    """`$EDOC_HOME`, else `$XDG_CONFIG_HOME/edoc`, else `~/.config/edoc`."""
    if os.environ.get("EDOC_HOME"):
        return Path(os.environ["EDOC_HOME"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "edoc"


@dataclass(frozen=True)
class Target:
    """A gateway: its API, its Cognito pool and app client, and (embedded stack only) its stack.json."""

    name: str
    api_url: str
    region: str
    user_pool_id: str
    client_id: str
    cognito_endpoint: str | None = None
    stack: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def cache_key(self) -> str:
        """Tokens are kept per gateway, not per profile name: two stacks on one machine never share a token."""
        digest = hashlib.sha256(f"{self.api_url}|{self.user_pool_id}|{self.client_id}".encode()).hexdigest()[:12]
        return f"{self.name}-{digest}"

    def demo_user(self, username: str) -> dict[str, Any] | None:
        """The embedded stack's demo user of that name (password, TOTP secret), or None."""
        for user in (self.stack or {}).get("users", []):
            if user.get("username") == username:
                return user
        return None


def find_stack_file(start: Path | None = None) -> Path | None:
    """`$EDOC_STACK_FILE`, else the nearest `.local/stack.json` from the working directory upwards."""
    if os.environ.get("EDOC_STACK_FILE"):
        return Path(os.environ["EDOC_STACK_FILE"])
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".local" / "stack.json"
        if candidate.is_file():
            return candidate
    return None


def _from_stack(path: Path) -> Target:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return Target(name="local", api_url=info["api_url"], region=info["region"],
                      user_pool_id=info["cognito"]["user_pool_id"], client_id=info["cognito"]["client_id"],
                      cognito_endpoint=info["aws_endpoint_url"], stack=info)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError("stack_file_unreadable", f"Không đọc được {path}: {exc}") from exc


def _from_profile(name: str) -> Target:
    path = config_dir() / "config.toml"
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8")).get("profiles", {})
    except FileNotFoundError:
        profiles = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CliError("config_unreadable", f"Không đọc được tệp cấu hình {path}: {exc}") from exc
    profile = profiles.get(name)
    if not isinstance(profile, dict):
        raise CliError("unknown_profile", f"Không có hồ sơ '{name}' trong {path}.", {"profile": name})
    missing = [key for key in _PROFILE_KEYS if not profile.get(key)]
    if missing:
        raise CliError("incomplete_profile", f"Hồ sơ '{name}' thiếu: {', '.join(missing)}.", {"missing": missing})
    return Target(name=name, api_url=profile["api_url"], region=profile["region"],
                  user_pool_id=profile["user_pool_id"], client_id=profile["client_id"],
                  cognito_endpoint=profile.get("cognito_endpoint") or None)


def resolve_target(profile: str | None) -> Target:
    """The profile when one is named (`--profile`, `EDOC_PROFILE`), otherwise the embedded stack."""
    name = profile or os.environ.get("EDOC_PROFILE")
    if name and name != "local":
        return _from_profile(name)
    stack_file = find_stack_file()
    if stack_file is None:
        raise CliError("no_gateway", "Không tìm thấy cổng: chạy `make run` (tạo .local/stack.json) hoặc dùng "
                                     "--profile TÊN với hồ sơ trong " + str(config_dir() / "config.toml") + ".")
    return _from_stack(stack_file)
