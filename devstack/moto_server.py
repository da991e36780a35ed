"""`python -m devstack.moto_server <spec.json>`: moto, the embedded AWS, in a process of its own, IAM enforced.

Why its own process: every function's AWS calls (tens per document) end here, each with moto's IAM evaluation;
sharing the stack's GIL, moto capped the whole stack at about one core (issue 11). The order that makes
enforcement safe is kept, here in the child: moto's patches (`moto_fixes`: isolated transactions; `moto_iam`:
what AWS authorises that moto does not) are applied, the server starts, the operator user is made while moto still
answers unsigned calls, and only then is `INITIAL_NO_AUTH_ACTION_COUNT` set to 0 (from here on every request must
be signed by a principal whose policies allow it). The ready file (0600) carries the endpoint and the operator's
credentials; the stack reads it and passes them to provisioning, as it did when moto was its own thread.

Spec: {"host", "port", "region", "ready_file"}. SIGTERM stops it; so does the end of the stack's process.
`EDOC_PROFILE_DIR` set: a sampling profile of the server is written there at stop (`devstack.sampler`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m devstack.moto_server <spec.json>", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    # lazy: moto's server is slow to import; only this process needs it
    from moto import settings as moto_settings
    from moto.server import ThreadedMotoServer

    from devstack import moto_fixes, moto_iam, moto_speed, sampler, write_meter
    from devstack.parts import serve_until_stopped, write_ready
    from devstack.provision.clients import Clients
    from devstack.provision.cognito import TOTP_FLAG
    from devstack.provision.iam import admin_credentials

    # moto checks TOTP codes only with this set, and reads it per call in its own process (an admin's wrong MFA
    # code must be refused: tests/e2e/test_api_validation_e2e.py); it was the stack's process's while moto ran there.
    os.environ.setdefault(TOTP_FLAG, "true")

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s moto %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
    moto_fixes.apply()  # TransactWriteItems: isolated and O(items), as on DynamoDB (see the module)
    moto_iam.apply()  # presigned GETs and POSTs authorised as their signer, and the rest (see the module)
    moto_speed.apply()  # no directory listing and no lock-held pattern matching per request (see the module)
    # DynamoDB's write units, table and indexes, as DynamoDB bills them, for the load run's bill (see the module)
    write_meter.apply(Path(spec["ready_file"]).parent / write_meter.FILE_NAME)
    # Each request is a thread that blocks on its socket a few times; with the default 5 ms switch interval a
    # thread whose read returned waits up to 5 ms for the GIL behind a busy one, per I/O (the "convoy"): moto's
    # answers are short, so a shorter interval trades a little switching for much lower latency per call.
    sys.setswitchinterval(float(spec.get("switch_interval", 0.001)))
    server = ThreadedMotoServer(ip_address=spec["host"], port=int(spec.get("port") or 0), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    admin = admin_credentials(Clients(endpoint, spec["region"]))
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # from here on, IAM is enforced
    profile = sampler.start_from_env("moto")
    write_ready(Path(spec["ready_file"]), {"pid": os.getpid(), "endpoint": endpoint, "admin": admin})
    try:
        serve_until_stopped("moto")
    finally:
        if profile is not None:
            profile.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
