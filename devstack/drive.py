"""Outside clients driving documents through a running stack, shared by the chaos run (`devstack.chaos_run`) and
the load run (`devstack.load_run`): create through the API, upload through the presigned POST, wait for the axis to
fill, read every document back, and check at the axis that each recipient holds exactly one package per document.

Why shared: both runs make the same promise ("one package per recipient per document, nothing lost, nothing
doubled") and must check it the same way; only what they do to the stack meanwhile differs.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from devstack.client import ApiError, GatewayClient

__all__ = ["DONE", "AxisCounts", "axis_failures", "check_axis", "held", "metadata", "patiently", "send_ids", "sim",
           "submit_all", "wait_all"]

DONE = frozenset({"DISPATCHED", "FAILED", "REJECTED"})


class AxisCounts(Protocol):
    """What `check_axis` fills in (the runs' reports)."""

    packages: dict[str, tuple[int, int]]  # recipient -> (held, expected)
    doubled: list[str]
    mismatched: list[str]


def sim(info: dict[str, Any], path: str) -> Any:
    """A GET on the axis simulator's control API (`/_sim/*`)."""
    import urllib.request

    with urllib.request.urlopen(info["axis"]["url"] + path, timeout=30) as resp:  # noqa: S310 (the local simulator)
        return json.loads(resp.read())


def metadata(i: int, recipients: list[str]) -> dict[str, Any]:
    """The first demo sample's metadata, numbered `i`, addressed to `recipients`."""
    from devstack.demo_data import SAMPLES

    md = json.loads(json.dumps(SAMPLES[0].metadata))
    md["number"] = str(5000 + i)
    md["notation"] = f"{md['notation']}-C{i}"
    md["recipients"] = recipients
    return md


def patiently(call: Callable[[], Any], counter: list[int], attempts: int = 6) -> Any:
    """An outside client's retry of a 5xx answer (counted in `counter[0]`), as an agency's software would."""
    for attempt in range(attempts):
        try:
            return call()
        except ApiError as exc:
            if exc.status < 500 or attempt == attempts - 1:
                raise
            counter[0] += 1
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def held(info: dict[str, Any], senders: Iterable[str]) -> int:
    """Documents' packages at the axis from `senders` (all recipients)."""
    senders = set(senders)
    return sum(1 for p in sim(info, "/_sim/packages?messagetype=edoc")["items"] if p["from"] in senders)


def submit_all(info: dict[str, Any], tokens: dict[str, str], wanted: list[tuple[str, list[str]]], pdf: bytes,
               retries: list[int], *, workers: int = 8) -> dict[str, dict[str, Any]]:
    """Create and upload document i from `wanted[i]` = (sender, recipients), `workers` at once; returns
    `{document_id: {"sender", "recipients", "created_at", "uploaded_at"}}` (time.time() of the client)."""
    local = threading.local()

    def submit(i: int) -> tuple[str, dict[str, Any]]:
        if not hasattr(local, "client"):
            local.client = GatewayClient(info)
        sender, recipients = wanted[i]
        created_at = time.time()
        created = patiently(lambda: local.client.create_document(tokens[sender], metadata(i, recipients)), retries)
        local.client.upload(created["upload"], pdf)
        return created["document_id"], {"sender": sender, "recipients": recipients, "created_at": created_at,
                                        "uploaded_at": time.time()}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(submit, range(len(wanted))))


def wait_all(info: dict[str, Any], client: GatewayClient, tokens: dict[str, str], docs: dict[str, dict],
             deadline: float, retries: list[int], *, poll: float = 2.0, already: int = 0) -> dict[str, dict]:
    """Watch the axis fill (cheap; `already`: the senders' packages held before), then the senders' lists, then
    read each document's full view."""
    senders = sorted({d["sender"] for d in docs.values()})
    expected = already + sum(len(d["recipients"]) for d in docs.values())
    while time.monotonic() < deadline and held(info, senders) < expected:
        time.sleep(poll)
    while time.monotonic() < deadline:
        listed: dict[str, str] = {}
        for sender in senders:
            params: dict[str, Any] = {"limit": 200}
            while True:
                page = patiently(lambda s=sender, p=dict(params): client.call("GET", "/v1/documents", tokens[s],
                                                                              params=p), retries)
                listed.update({item["document_id"]: item["state"] for item in page["items"]})
                if not page.get("next"):
                    break
                params["cursor"] = page["next"]
        if all(listed.get(d) in DONE for d in docs):
            break
        time.sleep(poll)
    local = threading.local()

    def view(document_id: str) -> tuple[str, dict]:
        if not hasattr(local, "client"):
            local.client = GatewayClient(info)
        token = tokens[docs[document_id]["sender"]]
        return document_id, patiently(lambda: local.client.get_document(token, document_id), retries)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(view, docs))


def send_ids(info: dict[str, Any], recipients: Iterable[str]) -> dict[str, set[str]]:
    """recipient → the sendIds of the documents' packages it holds now (a later run's check leaves them out)."""
    return {r: {p["sendId"] for p in sim(info, f"/_sim/packages?to={r}&messagetype=edoc")["items"]}
            for r in recipients}


def check_axis(info: dict[str, Any], views: dict[str, dict], docs: dict[str, dict], recipients: Iterable[str],
               report: AxisCounts, *, before: dict[str, set[str]] | None = None) -> None:
    """Each recipient holds exactly one package per document addressed to it, the one its delivery row names
    (`before`: packages held before this run, `send_ids`, left out)."""
    senders = {d["sender"] for d in docs.values()}
    for recipient in recipients:
        old = (before or {}).get(recipient, set())
        at_axis = [p for p in sim(info, f"/_sim/packages?to={recipient}&messagetype=edoc")["items"]
                   if p["from"] in senders and p["sendId"] not in old]
        expected = {d: v for d, v in views.items() if recipient in docs[d]["recipients"]}
        report.packages[recipient] = (len(at_axis), len(expected))
        by_send = Counter(p["sendId"] for p in at_axis)
        report.doubled += [s for s, n in by_send.items() if n > 1]
        for document_id, view in expected.items():
            delivery = next((d for d in view["deliveries"] if d["organ_id"] == recipient), {})
            if delivery.get("status") != "SENT" or by_send.get(delivery.get("axis_doc_id")) != 1:
                report.mismatched.append(f"{document_id}→{recipient}")


def axis_failures(report: AxisCounts, states: dict[str, int], documents: int, dead_letters: int) -> list[str]:
    """The checks every run makes, in words (empty when they held): all `documents` DISPATCHED, each recipient
    holding one package per document, none stored twice or unnamed by its delivery, no dead letter."""
    out = []
    if dict(states) != {"DISPATCHED": documents}:
        lost = documents - states.get("DISPATCHED", 0)
        out.append(f"states {dict(states)}, expected all {documents} DISPATCHED (lost: {lost})")
    for recipient, (at_axis, expected) in sorted(report.packages.items()):
        if at_axis != expected:
            out.append(f"{recipient} holds {at_axis} packages for {expected} documents")
    if report.doubled:
        out.append(f"packages stored twice: {report.doubled[:5]}")
    if report.mismatched:
        out.append(f"deliveries not naming their package: {report.mismatched[:5]}")
    if dead_letters:
        out.append(f"{dead_letters} dead letters")
    return out

