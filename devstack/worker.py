"""`python -m devstack.worker <spec.json>`: one function of the gateway in its own process, as a Lambda container.

Why a process per function: each function must run under the credentials of its own role (made from the
deployable template, `devstack.provision.iam`), with nothing else in its environment, as on AWS; and separate
processes let the stack use the machine's cores (DESIGN.md). The stack (`devstack.stack`) writes the spec: the
function's name, its Lambda environment (the stage's variables, the provisioned resources, the role session's
`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`), the pump's options, where to record AWS calls
(`devstack.call_log`), and where to say it is ready.

- `api_handler`: the HTTP routes on chalice.local's server (`chalice_app.ApiServer`); the ready file has its URL.
- an event handler: `pump.EventPump` for that handler only; its SQS polling uses the function's role, as Lambda's
  pollers do. SIGUSR1 runs its schedules now.
SIGTERM or SIGINT stops it (an invocation under way finishes first), and so does the end of the stack's process.
Its cold start and work go to `<functions dir>/metrics/<function>-<pid>.json` (`devstack.function_metrics`); the
spec's optional `instance` (default 0) numbers several processes of one function.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["API_FUNCTION", "main"]

#: The function Chalice generates for the HTTP routes.
API_FUNCTION = "api_handler"

log = logging.getLogger("edoc.local.worker")


def _write_ready(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    tmp.replace(path)


def _sqs_client(region: str) -> Any:
    import boto3  # lazy: as the app's own clients, after the environment is set

    from devstack.call_log import tag_poller

    # Lambda's poller, not the function: its calls are recorded as the poller's (devstack.call_log).
    return tag_poller(boto3.session.Session().client("sqs", region_name=region))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m devstack.worker <spec.json>", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    function = spec["function"]
    # First, so that cold start is counted from before `import app` (devstack.function_metrics, issue 11).
    from devstack.function_metrics import FunctionMetrics

    metrics = FunctionMetrics(Path(spec["ready_file"]).parent / "metrics", function, int(spec.get("instance") or 0))
    logging.basicConfig(level=logging.DEBUG if spec.get("verbose") else logging.INFO,
                        format=f"%(asctime)s %(name)s[{function}] %(levelname)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from devstack import call_log, chalice_app, sampler
    from devstack.pump import EventPump, PumpOptions

    profile = sampler.start_from_env(function)  # EDOC_PROFILE_DIR: where this container's CPU goes (bench-load)

    disk_config = chalice_app.read_config()
    app = chalice_app.load_app(disk_config, spec["env"])
    metrics.mark_app_loaded()
    # After `import app` (which makes no AWS call), so that import_app is the app's own: these import botocore.
    if spec.get("record_dir"):
        call_log.install(Path(spec["record_dir"]), function)
    if spec["env"].get("EDOC_CHAOS_RATE"):
        # lazy: the chaos run's AWS faults (devstack.chaos), in this function's own calls only when asked for
        from devstack import chaos

        stats_dir = spec["env"].get("EDOC_CHAOS_STATS_DIR")
        stats = {chaos.STATS_FILE_ENV: f"{stats_dir}/{function}-{os.getpid()}.json"} if stats_dir else {}
        chaos.install_from_env({**spec["env"], **stats})
    stop = threading.Event()
    pump: EventPump | None = None
    server: chalice_app.ApiServer | None = None
    if function == API_FUNCTION:
        server = chalice_app.ApiServer(app, disk_config, spec["host"], int(spec.get("api_port") or 0), metrics=metrics)
        ready: dict[str, Any] = {"function": function, "instance": spec.get("instance", 0), "pid": os.getpid(),
                                 "url": server.url}
    else:
        options = PumpOptions(**spec.get("pump_options", {}))
        pump = EventPump(app, sqs=_sqs_client(spec["region"]), region=spec["region"],
                         function_settings=lambda name: chalice_app.function_settings(disk_config, name),
                         options=options, state_of=chalice_app.document_state, functions={function},
                         metrics=metrics)
        if not pump.sqs_sources and not pump.schedules:
            log.error("%s: no such event handler on the app", function)
            return 2
        pump.start()
        ready = {"function": function, "instance": spec.get("instance", 0), "pid": os.getpid(),
                 "schedules": [s.name for s in pump.schedules]}
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: pump.trigger_schedules() if pump else None)
    _write_ready(Path(spec["ready_file"]), ready)
    parent = os.getppid()
    try:
        while not stop.wait(0.5):
            if os.getppid() != parent:  # the stack died without stopping us (SIGKILL): a container without AWS
                log.warning("%s: the stack's process is gone; stopping", function)
                break
    finally:
        if pump is not None:
            pump.stop()
        if server is not None:
            server.stop()
        metrics.close()
        if profile is not None:
            profile.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
