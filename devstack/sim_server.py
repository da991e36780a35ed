"""`python -m devstack.sim_server <spec.json>`: the axis simulator and the local PKI (TSA, OCSP, CRL) in a process
of their own.

Why: they answer every dispatched package (the axis) and every signature at B-LT (a timestamp, OCSP, CRL), work the
stack's process did on the GIL it shared with moto (issue 11). Nothing reaches into their objects: tests and the
runs drive the simulator over HTTP (`/_sim/*`), and the PKI's revocation list is a file next to the CA
(`devstack.pki`), so a revocation made in another process is seen here.

Spec: {"host", "axis_port", "systems": {id: secret}, "agencies": [...], "ca_dir", "ready_file"}; the ready file
has the axis URL and the PKI's URLs. SIGTERM stops it (stored packages deleted); so does the end of the stack.
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
        print("usage: python -m devstack.sim_server <spec.json>", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    from devstack import sampler
    from devstack.axis_simulator import AxisSimulator
    from devstack.parts import serve_until_stopped, write_ready
    from devstack.pki import DemoCA
    from devstack.pki_server import LocalPki

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s sim %(levelname)s %(message)s")
    pki = LocalPki(DemoCA.load_or_create(Path(spec["ca_dir"])), host=spec["host"]).start()
    axis = AxisSimulator(spec["systems"], spec.get("agencies", []), host=spec["host"],
                         port=int(spec.get("axis_port") or 0)).start()
    profile = sampler.start_from_env("sim")
    write_ready(Path(spec["ready_file"]), {"pid": os.getpid(), "axis_url": str(axis.url).rstrip("/"),
                                           "pki": pki.urls})
    try:
        serve_until_stopped("axis+pki")
    finally:
        if profile is not None:
            profile.stop()
        axis.stop()
        pki.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
