"""Agree or say why (issue 12): the page's own header against the record's metadata, pure (chalicelib.domain.
agreement) and through the signer's check on real PDFs (chalicelib.outbound.text_check), including every sample
PDF the suite uploads, which must keep passing."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from chalicelib.core.errors import UploadRejected
from chalicelib.domain.agreement import applies, disagreements
from chalicelib.domain.document_reader import read_document
from chalicelib.domain.page_text import lines_from_rows
from chalicelib.outbound.text_check import check_against_text
from devstack.demo_data import SAMPLES
from devstack.sample_pdf import render_text_pdf
from tests.support.documents import bacgiang_congvan_pdf, fresh_metadata
from tests.support.nd30_pdf import corpus, render_nd30_pdf

HEADER = ["UBND TỈNH VĨNH PHÚC | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
          "SỞ NỘI VỤ | Độc lập - Tự do - Hạnh phúc"]
METADATA = {"number": "5", "notation": "QĐ-SNV", "type": "QĐ", "issued_on": "2021-02-03",
            "subject": "Về việc ban hành Quy chế văn thư"}


def _reading(number_line: str, date_line: str, header: list[str] = HEADER):
    return read_document(lines_from_rows(header + [f"{number_line} | {date_line}", "", "QUYẾT ĐỊNH",
                                                   "Về việc ban hành Quy chế văn thư.", "", "Căn cứ Luật."]))


def test_a_page_that_says_what_the_record_says_agrees() -> None:
    reading = _reading("Số: 05/QĐ-SNV", "Vĩnh Phúc, ngày 03 tháng 02 năm 2021")
    assert applies(reading)
    assert disagreements(reading, METADATA) == {}
    assert disagreements(reading, dict(METADATA, notation="QD-SNV", subject="VỀ VIỆC BAN HÀNH QUY CHẾ VĂN THƯ")) == {}


def test_each_differing_field_is_named_with_both_values() -> None:
    reading = _reading("Số: 06/QĐ-SNV", "Vĩnh Phúc, ngày 04 tháng 02 năm 2021")
    assert disagreements(reading, dict(METADATA, notation="TB-SNV", type="TB", subject="Lịch họp")) == {
        "number": {"document": "06", "metadata": "5"},
        "notation": {"document": "QĐ-SNV", "metadata": "TB-SNV"},
        "issued_on": {"document": "2021-02-04", "metadata": "2021-02-03"},
        "type": {"document": "QĐ", "metadata": "TB"},
        "subject": {"document": "Về việc ban hành Quy chế văn thư", "metadata": "Lịch họp"},
    }


def test_blanks_agree_with_what_the_clerk_fills_in() -> None:
    reading = _reading("Số:      /QĐ-SNV", "Vĩnh Phúc, ngày    tháng 02 năm 2021")
    assert disagreements(reading, METADATA) == {}
    assert disagreements(reading, dict(METADATA, issued_on="2021-03-01")) == {
        "issued_on": {"document": "2021-02", "metadata": "2021-03-01"}}


def test_no_quoc_hieu_no_check() -> None:
    reading = _reading("Số: 06/QĐ-SNV", "Vĩnh Phúc, ngày 04 tháng 02 năm 2021", header=[])
    assert not applies(reading)
    assert disagreements(reading, {"number": "1"}) == {}


def test_the_signers_check_on_a_pdf_rejects_warns_or_stays_off(tmp_path: Path) -> None:
    name, text, expected = next(d for d in corpus() if d[0] == "kh-stttt-chuyen-doi-so")
    pdf = str(render_nd30_pdf(text, tmp_path / "kh.pdf"))
    good = dict(expected["metadata"])
    assert check_against_text(pdf, good, "reject") == {}
    bad = dict(good, number="121", subject="Chuyển đổi số năm 2023")
    with pytest.raises(UploadRejected) as caught:
        check_against_text(pdf, bad, "reject")
    assert caught.value.code == "metadata_mismatch"
    assert set(caught.value.details["fields"]) == {"number", "subject"}
    assert set(check_against_text(pdf, bad, "warn")) == {"number", "subject"}
    assert check_against_text(pdf, bad, "off") == {}


def test_every_sample_pdf_the_suite_uploads_still_passes(tmp_path: Path) -> None:
    """The demo's five samples with their own metadata, and the ways tests upload them with metadata of their own
    (tests/support/documents.py: the 7413 công văn under another notation; UBND Bắc Giang's công văn under the
    7413 metadata): none has the quốc hiệu but the thông báo, whose metadata agrees with its text (no test uploads
    it under other metadata)."""
    for n, sample in enumerate(SAMPLES):
        pdf = str(render_text_pdf(sample.metadata["subject"], sample.text(), tmp_path / f"{n}.pdf"))
        assert check_against_text(pdf, copy.deepcopy(sample.metadata), "reject") == {}, sample.file
        if sample.file.startswith("vinhphuc-TB"):  # the one with a quốc hiệu: other metadata is refused
            with pytest.raises(UploadRejected):
                check_against_text(pdf, fresh_metadata("X1"), "reject")
        else:
            assert check_against_text(pdf, fresh_metadata("X1"), "reject") == {}, sample.file
    assert check_against_text(str(bacgiang_congvan_pdf(tmp_path)), fresh_metadata("X2"), "reject") == {}
