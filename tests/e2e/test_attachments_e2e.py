"""Phụ lục uploaded with a document as further PDFs, end to end on the embedded stack.

Given a clerk of UBND tỉnh Vĩnh Phúc registering the 7413/UBND-VX3 công văn with two phụ lục, when the three PDFs
are uploaded through their presigned POSTs (the document first, or the phụ lục first), then the document is signed
once all three are there and reaches DISPATCHED; every signed PDF passes pdfsig and qpdf, each phụ lục carries the
top-right stamp with số/ký hiệu, and Văn phòng Chính phủ's system fetches ONE package with three Attachment
entries, byte for byte the signed PDFs, and the phụ lục names in OtherInfo/Appendixes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from devstack.pdftools import pdfsig_report, pdftotext, qpdf_check
from devstack.sample_pdf import render_text_pdf
from tests.support.axis import packages_for as _packages_for
from tests.support.documents import SAMPLE
from tests.support.documents import fresh_metadata as _fresh_metadata
from tests.support.organs import G22

SENDER = SAMPLE.uploader
VPCP = G22
NAMES = ["Phụ lục I", "Phụ lục II"]


@pytest.fixture(scope="module")
def appendix_pdfs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("appendix")
    return [render_text_pdf(name.upper(), f"{name}: danh sách kèm theo Công văn số 7413/UBND-VX3.\n" * 5,
                            out / f"phu-luc-{i}.pdf") for i, name in enumerate(NAMES, start=1)]


@pytest.mark.parametrize("order", ["main_first", "attachments_first"])
def test_document_with_two_appendixes_travels_in_one_package(client, sample_pdf, appendix_pdfs, tmp_path,
                                                             order):
    token = client.login(client.user_for(SENDER))
    metadata = _fresh_metadata(f"ATT{1 if order == 'main_first' else 2}")
    metadata["attachments"] = [{"name": NAMES[0], "file_name": "phu-luc-I.pdf"}, {"name": NAMES[1]}]
    created = client.create_document(token, metadata)
    assert {"url", "fields", "expires_at", "max_bytes"} == set(created["upload"])  # wire shape unchanged
    uploads = created["attachment_uploads"]
    assert [(u["index"], u["name"]) for u in uploads] == [(1, NAMES[0]), (2, NAMES[1])]
    assert all(u["fields"]["key"].endswith(f"/{created['document_id']}/att-{u['index']}.pdf") for u in uploads)

    parts = [(created["upload"], sample_pdf), *zip(uploads, appendix_pdfs, strict=True)]
    if order == "attachments_first":
        parts = parts[1:] + parts[:1]
    for i, (upload, pdf) in enumerate(parts):
        client.upload(upload, pdf)
        if i == 0:  # one part alone is not signed
            assert client.get_document(token, created["document_id"])["state"] == "AWAITING_UPLOAD"
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=120)
    assert doc["state"] == "DISPATCHED", doc
    assert [e["state"] for e in doc["timeline"]] == ["AWAITING_UPLOAD", "UPLOADED", "SIGNED", "DISPATCHED"]
    assert [(a["index"], a["name"]) for a in doc["attachments"]] == [(1, NAMES[0]), (2, NAMES[1])]

    signed = [client.download_signed(token, created["document_id"])]
    signed += [client.download_signed(token, created["document_id"], part=f"att-{n}") for n in (1, 2)]
    assert hashlib.sha256(signed[0]).hexdigest() == doc["signed_sha256"]
    for n, (att, pdf) in enumerate(zip(doc["attachments"], appendix_pdfs, strict=True), start=1):
        assert att["original_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
        assert att["signed_sha256"] == hashlib.sha256(signed[n]).hexdigest()
    for n, data in enumerate(signed):
        path = tmp_path / f"signed-{n}.pdf"
        path.write_bytes(data)
        report = pdfsig_report(path)
        assert len(report) == 1 and report[0]["valid"], (n, report)
        assert qpdf_check(path), n
        if n:
            first_page = pdftotext(path, 1, 1)
            assert f"Số: 7413/{metadata['notation']}" in first_page
            assert doc["signed_at"] in first_page

    header_id = f"{SENDER},2019/09/20,7413/{metadata['notation']}"
    packages = _packages_for(client, VPCP, header_id)
    assert len(packages) == 1, f"{VPCP} holds {len(packages)} packages"
    _, package, _ = packages[0]
    assert [Path(a.path).read_bytes() for a in package.attachments] == signed
    assert [a.name for a in package.attachments][1:] == ["phu-luc-I.pdf", f"7413-{metadata['notation']}-phu-luc-2.pdf"]
    assert package.appendixes == NAMES


def test_bad_appendix_rejects_the_document_naming_the_part(client, sample_pdf, tmp_path):
    token = client.login(client.user_for(SENDER))
    metadata = _fresh_metadata("ATT3")
    metadata["attachments"] = [{"name": NAMES[0]}]
    created = client.create_document(token, metadata)
    client.upload(created["attachment_uploads"][0], b"this is not a PDF at all")
    client.upload(created["upload"], sample_pdf)
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert doc["state"] == "REJECTED", doc
    assert doc["reason"] == "not_a_pdf"
    assert doc["details"] == {"part": "att-1", "name": NAMES[0]}
