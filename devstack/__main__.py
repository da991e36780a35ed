"""`python -m devstack run` starts the embedded stack; `python -m devstack demo` runs the demo;
`python -m devstack chaos` runs the chaos run on a stack of its own (devstack/chaos_run.py);
`python -m devstack webhook-receiver` prints the webhooks a clerk's agency gets (devstack/webhook_receiver.py)."""

from __future__ import annotations

import argparse
import sys

from devstack.cli import add_run_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_run_arguments(commands.add_parser("run", help="start moto, the axis simulator, the API and the event "
                                                      "pump on 127.0.0.1 until Ctrl-C"))
    commands.add_parser("demo", help="push the sample documents through a running (or a fresh) stack")
    commands.add_parser("webhook-receiver", help="register a webhook for a clerk's agency on the running stack and "
                                                 "print each event it receives, verified", add_help=False)
    commands.add_parser("chaos", help="documents through a stack whose AWS calls fail and whose pumps are "
                                      "killed; prints a table (--help for its options)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "webhook-receiver":
        from devstack.webhook_receiver import main as receiver_main

        return receiver_main(rest)
    if args.command == "chaos":
        from devstack.chaos_run import main as chaos_main

        return chaos_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "demo":
        from devstack.demo import main as demo_main

        return demo_main()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
