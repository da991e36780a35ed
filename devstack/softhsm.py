"""SoftHSM2 tokens for the embedded stack and the tests: a real PKCS#11 module standing in for CloudHSM.

Why a real token and not a mock: the PKCS#11 backend (chalicelib/keys/pkcs11.py) must be exercised through the
same C interface an HSM offers (login, object search, `C_Sign` with the raw mechanisms), or the tests would only
show that a mock agrees with itself.

A token lives in a directory of its own: `softhsm2.conf` (pointing at `tokens/`) and `token.json` (label and PINs,
mode 0600: a demo token, never production). SoftHSM reads its configuration from `SOFTHSM2_CONF` once per process,
when the module is initialised, so key generation runs in a child process (`python -m devstack.softhsm
keygen ...`) with that variable set: the caller's process may already have the module loaded for another token
directory, or may load it later for this one (the embedded stack sets `SOFTHSM2_CONF` before it imports the app).
Keys are generated on the token (`C_GenerateKeyPair`, sensitive and not extractable): like on an HSM, the private
key never exists outside it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SoftHsmToken", "available", "ensure_token", "find_module", "generate_keypair"]

#: Where Debian's `softhsm2` package (and common builds) put the module.
MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
CONF_FILE = "softhsm2.conf"
TOKEN_FILE = "token.json"


def find_module() -> str | None:
    """The SoftHSM2 PKCS#11 module on this machine, or None (install Debian `softhsm2`)."""
    return next((p for p in MODULE_CANDIDATES if os.path.exists(p)), None)


def available() -> bool:
    return find_module() is not None and shutil.which("softhsm2-util") is not None


@dataclass(frozen=True)
class SoftHsmToken:
    directory: Path
    label: str
    pin: str
    so_pin: str
    module: str

    @property
    def conf_path(self) -> Path:
        return self.directory / CONF_FILE

    @property
    def env(self) -> dict[str, str]:
        """What a process needs in its environment to see this token."""
        return {"SOFTHSM2_CONF": str(self.conf_path)}


def ensure_token(directory: Path, label: str = "edoc-demo") -> SoftHsmToken:
    """The token in `directory`, initialised the first time (idempotent: a second call returns the same token)."""
    module = find_module()
    if module is None or shutil.which("softhsm2-util") is None:
        raise RuntimeError("SoftHSM2 is not installed (Debian package softhsm2; .ci/install-system-packages)")
    directory = Path(directory)
    (directory / "tokens").mkdir(parents=True, exist_ok=True)
    conf = directory / CONF_FILE
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n", encoding="utf-8")
    state_path = directory / TOKEN_FILE
    state: dict[str, Any] = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
    if state.get("label") == label and state.get("initialized"):
        return SoftHsmToken(directory, label, state["pin"], state["so_pin"], module)
    state = {"label": label, "pin": secrets.token_hex(8), "so_pin": secrets.token_hex(8), "initialized": False}
    _write_private(state_path, state)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", state["so_pin"],
                    "--pin", state["pin"]], check=True, capture_output=True, timeout=60,
                   env={**os.environ, "SOFTHSM2_CONF": str(conf)})
    state["initialized"] = True
    _write_private(state_path, state)
    return SoftHsmToken(directory, label, state["pin"], state["so_pin"], module)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def generate_keypair(token: SoftHsmToken, key_label: str, key_id: bytes, *, ec: bool = False) -> bytes:
    """Generate a key pair on the token in a child process (see the module docstring); returns the SPKI DER.

    If a private key with this label already exists it is kept and its public key returned (idempotent).
    """
    cmd = [sys.executable, "-m", "devstack.softhsm", "keygen", "--dir", str(token.directory),
           "--key-label", key_label, "--key-id", key_id.hex()]
    if ec:
        cmd.append("--ec")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, **token.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root),
                                                                                  os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=root)
    if proc.returncode != 0:
        raise RuntimeError(f"SoftHSM key generation failed: {proc.stderr.strip()[-2000:]}")
    return base64.b64decode(json.loads(proc.stdout)["public_key_der"])


def _keygen_here(directory: Path, key_label: str, key_id: bytes, ec: bool) -> bytes:
    """In this process: requires SOFTHSM2_CONF to name this token's configuration."""
    import pkcs11
    from asn1crypto import keys
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.exceptions import NoSuchKey

    state = json.loads((directory / TOKEN_FILE).read_text(encoding="utf-8"))
    if os.environ.get("SOFTHSM2_CONF") != str(directory / CONF_FILE):
        raise RuntimeError("SOFTHSM2_CONF must point at this token's configuration")
    lib = pkcs11.lib(find_module())
    with lib.get_token(token_label=state["label"]).open(user_pin=state["pin"], rw=True) as session:
        try:
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=key_label)
        except NoSuchKey:
            private_template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True,
                                Attribute.PRIVATE: True, Attribute.TOKEN: True}
            public_template = {Attribute.VERIFY: True, Attribute.TOKEN: True}
            if ec:
                from pkcs11.util.ec import encode_named_curve_parameters

                params = session.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
                public, _ = params.generate_keypair(store=True, label=key_label, id=key_id,
                                                    public_template=public_template,
                                                    private_template=private_template)
            else:
                public, _ = session.generate_keypair(KeyType.RSA, 2048, store=True, label=key_label, id=key_id,
                                                     public_template=public_template,
                                                     private_template=private_template)
        if public.key_type == KeyType.EC:
            from pkcs11.util.ec import encode_ec_public_key

            return encode_ec_public_key(public)
        return keys.PublicKeyInfo({
            "algorithm": {"algorithm": "rsa"},
            "public_key": keys.RSAPublicKey({"modulus": int.from_bytes(public[Attribute.MODULUS], "big"),
                                             "public_exponent": int.from_bytes(public[Attribute.PUBLIC_EXPONENT],
                                                                               "big")}),
        }).dump()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.softhsm",
                                     description="SoftHSM2 demo tokens (embedded stack and tests only)")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create (or reuse) a token in DIR")
    init.add_argument("--dir", type=Path, required=True)
    init.add_argument("--label", default="edoc-demo")
    keygen = sub.add_parser("keygen", help="generate a key pair on the token in DIR; prints its public key")
    keygen.add_argument("--dir", type=Path, required=True)
    keygen.add_argument("--key-label", required=True)
    keygen.add_argument("--key-id", required=True, help="CKA_ID in hex")
    keygen.add_argument("--ec", action="store_true", help="ECDSA P-256 instead of RSA-2048")
    args = parser.parse_args(argv)
    if args.command == "init":
        token = ensure_token(args.dir, args.label)
        print(json.dumps({"label": token.label, "conf": str(token.conf_path), "module": token.module}))
        return 0
    os.environ["SOFTHSM2_CONF"] = str(Path(args.dir) / CONF_FILE)  # this process has not loaded the module yet
    spki = _keygen_here(args.dir, args.key_label, bytes.fromhex(args.key_id), args.ec)
    print(json.dumps({"public_key_der": base64.b64encode(spki).decode("ascii")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
