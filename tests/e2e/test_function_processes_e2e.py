"""The embedded stack's functions are processes of their own, each under its own role, started again when they die.

Given the session's stack, each function runs in a process of its own (stack.json lists one pid and one role per
function, all different); when the signing function's process is killed (SIGKILL, as an out-of-memory Lambda
container ends), then the stack starts a new one under the same role (stack.json names the new pid) and the next
upload is signed and dispatched as before.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.support.documents import fresh_metadata
from tests.support.organs import H62


def _functions(stack_handle) -> dict:
    return json.loads((Path(stack_handle.state_dir) / "stack.json").read_text(encoding="utf-8"))["functions"]


def test_a_killed_function_process_is_started_again_under_its_role(client, stack, stack_handle, sample_pdf) -> None:
    functions = _functions(stack_handle)
    assert stack["iam"] == "enforced"
    assert {"api_handler", "sign_document", "dispatch_document", "poll_axis"} <= set(functions)
    assert len({f["pid"] for f in functions.values()}) == len(functions)
    assert len({f["role_arn"] for f in functions.values()}) == len(functions)
    assert os.getpid() not in {f["pid"] for f in functions.values()}

    killed = functions["sign_document"]["pid"]
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while _functions(stack_handle)["sign_document"]["pid"] == killed:
        assert time.monotonic() < deadline, "the signing function was not started again"
        time.sleep(0.2)
    assert _functions(stack_handle)["sign_document"]["role_arn"] == functions["sign_document"]["role_arn"]
    # A long poll the killed process left open in moto (at most the pump's 1 s wait) can still be answered, to a dead
    # socket: a message it took would stay invisible for the queue's visibility timeout (120 s), as on SQS, longer
    # than this test waits. The upload comes after those polls have ended (a flake on 2026-12-03 otherwise).
    time.sleep(3)

    clerk = client.login(client.user_for(H62))
    created = client.create_document(clerk, fresh_metadata("RESTART"))
    client.upload(created["upload"], sample_pdf)
    done = client.wait_for(clerk, created["document_id"], {"DISPATCHED", "FAILED"}, timeout=120)
    assert done["state"] == "DISPATCHED", done.get("reason")
