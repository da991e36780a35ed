"""Numbering at issuance through the `sign_document` handler on moto (issue 12, acceptance 2): a draft registered
with `"number": "auto"` gets the next number of its agency's register when it is signed, written in the PDF's blanks
and on the record (so the edXML carries it); a redelivered event issues nothing new; a document refused after its
number was issued keeps it and the register says so; a refusal before it (a certification that forbids the marks)
uses no number."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from devstack.pdftools import pdfsig_report, pdftotext
from tests.support import uploads
from tests.support.handlers import RECIPIENTS, HandlerEnv, assert_not_retried
from tests.support.nd30_pdf import CORPUS, render_nd30_pdf
from tests.support.organs import H62
from tests.support.pki import person_sign
from tests.support.records import incoming, object_bytes, signed

YEAR = 2020
METADATA = {
    "number": "auto", "notation": "TB-STTTT", "type": "TB", "issued_on": "2020-06-03", "place": "Vĩnh Phúc",
    "subject": "Kết luận của Giám đốc Sở tại cuộc họp giao ban tháng 5 năm 2020 về triển khai gửi, nhận văn bản "
               "điện tử có ký số",
    "signer": {"full_name": "Hoàng Thị Lan", "position": "CHÁNH VĂN PHÒNG", "competence": "TL. GIÁM ĐỐC"},
    "recipients": RECIPIENTS,
}


@pytest.fixture(scope="module")
def env(handler_env: HandlerEnv) -> HandlerEnv:
    return handler_env


@pytest.fixture(autouse=True)
def clean(env: HandlerEnv) -> Any:
    env.reset()
    yield
    env.simulator.reset()


@pytest.fixture(scope="module")
def draft(tmp_path_factory: pytest.TempPathFactory, ca: Any) -> bytes:
    """The notice as its signer left it: "Số:      /TB-STTTT", "ngày    tháng 6 năm 2020", the leader's signature."""
    folder = tmp_path_factory.mktemp("draft")
    blank = render_nd30_pdf((CORPUS / "tb-stttt-giao-ban-blank.txt").read_text(encoding="utf-8"), folder / "b.pdf")
    person_sign(blank, folder / "person.pdf", ca)
    return (folder / "person.pdf").read_bytes()


def record_of(document_id: str) -> dict[str, Any]:
    """The record as every reader sees it (its state item joined with its body)."""
    from chalicelib.adapters.document_store import get_document_store

    return get_document_store().get(document_id)


def register(organ_id: str = H62) -> list[dict[str, Any]]:
    from chalicelib.adapters.register_store import get_register_store

    items, cursor = get_register_store().page(organ_id, "outgoing", YEAR, limit=1000)
    assert cursor is None
    return items


def send(env: HandlerEnv, data: bytes, **changes: Any) -> tuple[str, list[dict[str, Any]]]:
    """Register the document as a clerk of H62, upload `data`, hand the notification to sign_document."""
    from chalicelib.api.auth import Caller
    from chalicelib.outbound.documents import create_document

    created = uploads.remember(create_document(Caller("clerk-h62", H62, False), {**METADATA, **changes}))
    document_id = created["document_id"]
    key = incoming(H62, document_id)
    env.s3.put_object(Bucket=env.bucket, Key=key, Body=data, ContentType="application/pdf",
                      Metadata=uploads.metadata(key))
    messages = env.upload.receive()
    assert [unquote_plus(r["s3"]["object"]["key"]) for m in messages for r in json.loads(m["Body"])["Records"]] == [key]
    assert_not_retried(env.upload.deliver(messages))
    return document_id, messages


def test_auto_numbering_fills_the_blanks_keeps_every_signature_valid_and_is_idempotent(
        env: HandlerEnv, draft: bytes, tmp_path: Path) -> None:
    before = len(register())
    first, _ = send(env, draft)
    second, messages = send(env, draft)

    records = [record_of(first), record_of(second)]
    assert [r["state"] for r in records] == ["SIGNED", "SIGNED"]
    numbers = [int(r["metadata"]["number"]) for r in records]
    assert numbers == [before + 1, before + 2]  # consecutive, from the register
    assert records[0]["register"] == {"direction": "outgoing", "year": YEAR, "n": before + 1,
                                      "number": f"{before + 1:02d}"}
    entries = register()[before:]
    assert [(e["n"], e["holder_id"], e["notation"]) for e in entries] == [
        (before + 1, first, "TB-STTTT"), (before + 2, second, "TB-STTTT")]

    out = tmp_path / "signed.pdf"
    out.write_bytes(object_bytes(env, signed(H62, first)))
    header = " ".join(pdftotext(out, 1, 1).split("\n")[:4])
    assert re.search(rf"Số:\s*{before + 1:02d}\s*/TB-STTTT", header), header
    assert re.search(r"ngày\s+03\s+tháng 6 năm 2020", header), header
    sigs = pdfsig_report(out)
    assert len(sigs) == 2 and all(s["valid"] for s in sigs), sigs

    # the same notification once more (at-least-once delivery): nothing new is issued, the record is unchanged
    from chalicelib.outbound.sign_upload import process_upload

    process_upload(env.bucket, incoming(H62, second))
    assert len(register()) == before + 2 and record_of(second)["metadata"]["number"] == f"{before + 2:02d}"
    env.dispatch.receive()


def test_a_document_refused_after_its_number_was_issued_keeps_it_and_the_register_says_so(
        env: HandlerEnv, draft: bytes) -> None:
    before = len(register())
    # the stamp's page does not exist: known only when signing, after the number was issued
    document_id, _ = send(env, draft, stamp={"page": 9, "x": 300, "y": 100, "width": 200, "height": 60})
    record = record_of(document_id)
    assert record["state"] == "REJECTED" and record["reason"] == "stamp_page_missing"
    assert record["metadata"]["number"] == f"{before + 1:02d}" and record["register"]["n"] == before + 1
    [entry] = register()[before:]
    assert entry["holder_id"] == document_id and entry["state"] == "REJECTED"
    assert entry["reason"] == "stamp_page_missing"
    # and the next document takes the next number: none is reused, none skipped
    after, _ = send(env, draft)
    assert record_of(after)["metadata"]["number"] == f"{before + 2:02d}"
    env.dispatch.receive()


def test_a_certification_forbidding_the_marks_is_refused_before_any_number_is_issued(
        env: HandlerEnv, tmp_path: Path, ca: Any) -> None:
    blank = render_nd30_pdf((CORPUS / "tb-stttt-giao-ban-blank.txt").read_text(encoding="utf-8"), tmp_path / "b.pdf")
    person_sign(blank, tmp_path / "certified.pdf", ca, certify="FILL_FORMS")
    before = len(register())
    document_id, _ = send(env, (tmp_path / "certified.pdf").read_bytes())
    record = record_of(document_id)
    assert record["state"] == "REJECTED" and record["reason"] == "blanks_locked"
    assert "register" not in record and record["metadata"]["number"] == ""
    assert len(register()) == before


def test_a_number_the_clerk_gave_is_written_into_the_blanks_and_nothing_is_issued(
        env: HandlerEnv, draft: bytes, tmp_path: Path) -> None:
    before = len(register())
    document_id, _ = send(env, draft, number="127")
    record = record_of(document_id)
    assert record["state"] == "SIGNED" and record["metadata"]["number"] == "127" and "register" not in record
    assert len(register()) == before
    out = tmp_path / "signed.pdf"
    out.write_bytes(object_bytes(env, signed(H62, document_id)))
    assert re.search(r"Số:\s*127\s*/TB-STTTT", pdftotext(out, 1, 1))
    assert date.fromisoformat(record["metadata"]["issued_on"]) == date(2020, 6, 3)
    env.dispatch.receive()
