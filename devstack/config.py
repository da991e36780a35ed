"""Where the embedded stack lives and listens: its state directory, region, stage name and ports.

One home for these constants because three parts read them (the in-process stack, the child-process handle that
tests use, and the command line), and a second copy of "which port is moto on" is how two of them drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_HOST", "DEFAULT_REGION", "DEFAULT_STATE_DIR", "MOTO_ACCOUNT", "PKCS11_AGENCIES_ENV", "REPO_ROOT",
    "STACK_FILE", "STAGE", "Ports",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
DEFAULT_REGION = "ap-southeast-1"
DEFAULT_HOST = "127.0.0.1"
#: The Chalice stage the stack runs (`.chalice/config.json`), also the app's `STAGE` environment variable.
STAGE = "local"
STACK_FILE = "stack.json"
#: Comma-separated served demo agencies to put on PKCS#11 (a SoftHSM2 token under the state dir) instead of KMS,
#: read from the stack's `app_env` (`start_stack(..., app_env={...})`, `--env`) or its own environment.
PKCS11_AGENCIES_ENV = "EDOC_LOCAL_PKCS11_AGENCIES"
#: The account moto reports; only used to build ARNs in events and contexts.
MOTO_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Ports:
    """Listening ports; 0 = any free port (tests, parallel stacks)."""

    moto: int = 4566
    api: int = 8000
    axis: int = 8100
    #: The web page (devstack.web_server, issue 10).
    web: int = 8080

    @classmethod
    def from_base(cls, base: int) -> Ports:
        """0 → all free ports; otherwise moto=base, api=base+1, axis=base+2, web=base+3."""
        return cls(0, 0, 0, 0) if base == 0 else cls(base, base + 1, base + 2, base + 3)
