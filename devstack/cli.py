"""`python -m devstack run`: the command line of the embedded stack, and the foreground loop that serves it.

Why a module of its own: the options are the one place a developer tunes the stack (ports, state directory,
faster retries and schedules, app environment overrides), and `start_stack()` passes the same options to a child
process through this command line, so both read them here.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from devstack.config import DEFAULT_HOST, DEFAULT_REGION, DEFAULT_STATE_DIR, Ports
from devstack.stack import Stack

__all__ = ["add_run_arguments", "run"]

log = logging.getLogger("edoc.local")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Ports()
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    parser.add_argument("--port-moto", type=int, default=defaults.moto, help="moto (AWS) port; 0 = any free")
    parser.add_argument("--port-api", type=int, default=defaults.api, help="API port; 0 = any free")
    parser.add_argument("--port-axis", type=int, default=defaults.axis, help="axis simulator port; 0 = any free")
    parser.add_argument("--port-web", type=int, default=defaults.web, help="web page port; 0 = any free")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where stack.json, the demo CA and axis credentials live (default .local/)")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--retry-after", type=int, default=None, metavar="SECONDS",
                        help="set the pumped queues' visibility timeout to SECONDS, so failed SQS messages come "
                             "back sooner unless their handler delayed them itself (faster local retries; AWS "
                             "keeps infra/'s timeout)")
    parser.add_argument("--sqs-concurrency", type=int, default=1, metavar="N",
                        help="invocations of each SQS handler running at once (Lambda runs several pollers per "
                             "queue; default 1, one at a time)")
    parser.add_argument("--sqs-processes", type=int, default=1, metavar="K",
                        help="processes (Lambda containers) per SQS handler, each with --sqs-concurrency pollers; "
                             "one per core lets the stack use the cores (default 1)")
    parser.add_argument("--sqs-wait-seconds", type=int, default=1, metavar="S",
                        help="long-poll wait of each ReceiveMessage (Lambda's pollers wait 20 s; default 1 so that "
                             "the stack stops quickly); idle pollers cost moto one call per S seconds each")
    parser.add_argument("--schedule-seconds", type=float, default=None, metavar="SECONDS",
                        help="run scheduled handlers every SECONDS instead of their rate/cron")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="override one of the app's environment variables (repeatable), "
                             "e.g. --env MAX_UPLOAD_BYTES=2097152")
    parser.add_argument("--bare", action="store_true",
                        help="only the AWS resources the deployed template makes (no demo agencies, users, keys, "
                             "seals or axis secret): the account `edoc admin bootstrap` starts from")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env wants NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def run(args: argparse.Namespace) -> int:
    """Start the stack, print how to use it, and serve until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()
    stack = Stack(args.state_dir, host=args.host, ports=Ports(args.port_moto, args.port_api, args.port_axis,
                                                              args.port_web),
                  region=args.region, retry_after=args.retry_after, schedule_seconds=args.schedule_seconds,
                  app_env=_parse_env(args.env), sqs_concurrency=args.sqs_concurrency,
                  sqs_processes=args.sqs_processes, sqs_wait_seconds=args.sqs_wait_seconds, bare=args.bare)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: stack.trigger_schedules())
    try:
        stack.start()
    except Exception as exc:
        log.error("embedded stack failed to start: %s", exc, exc_info=args.verbose)
        return 1
    print(stack.banner(), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping …")
        stack.stop()
    return 0
