"""check_upload: every rejection code, a good PDF's facts, flat memory, and no crash on hostile bytes."""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import UploadRejected
from chalicelib.signing.pdf_checks import PdfFacts, check_upload
from devstack.sample_pdf import make_pdf_of_size, render_text_pdf

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "documents"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def good_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (FIXTURES / "vinhphuc-7413-UBND-VX3-congvan.txt").read_text(encoding="utf-8")
    return render_text_pdf("ỦY BAN NHÂN DÂN TỈNH VĨNH PHÚC", text, tmp_path_factory.mktemp("pdf") / "cv.pdf")


def _rejected(path: Path, max_bytes: int = 10 * MB) -> UploadRejected:
    with pytest.raises(UploadRejected) as info:
        check_upload(path, max_bytes)
    assert info.value.status == 422
    return info.value


def test_good_pdf_facts(good_pdf: Path) -> None:
    facts = check_upload(good_pdf, 10 * MB)
    assert facts == PdfFacts(size=good_pdf.stat().st_size, page_count=2, signature_field_count=0, signature_count=0)


def test_counts_existing_signatures(tmp_path: Path, good_pdf: Path) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    # An empty signature field (e.g. the person's box still to be signed) counts as a field, not a signature.
    out = tmp_path / "field.pdf"
    with open(good_pdf, "rb") as fh:
        writer = IncrementalPdfFileWriter(fh)
        fields.append_signature_field(writer, fields.SigFieldSpec("NguoiKy", on_page=-1, box=(100, 100, 250, 150)))
        with open(out, "wb") as dst:
            writer.write(dst)
    facts = check_upload(out, 10 * MB)
    assert (facts.signature_field_count, facts.signature_count) == (1, 0)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    err = _rejected(path)
    assert err.code == "empty_file"
    assert err.message == "Tệp tải lên rỗng."


def test_file_too_large(good_pdf: Path) -> None:
    size = good_pdf.stat().st_size
    err = _rejected(good_pdf, max_bytes=size - 1)
    assert err.code == "file_too_large"
    assert err.details == {"size": size, "max_bytes": size - 1}
    assert err.message == "Tệp vượt quá dung lượng cho phép."
    # exactly at the limit is allowed
    assert check_upload(good_pdf, size).size == size


@pytest.mark.parametrize("content", [
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    "Đây là văn bản, không phải PDF".encode(),
    b"PK\x03\x04 docx",
])
def test_not_a_pdf(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(content)
    err = _rejected(path)
    assert err.code == "not_a_pdf"
    assert err.message == "Tệp không phải PDF."


def test_header_not_at_start_is_not_a_pdf(tmp_path: Path, good_pdf: Path) -> None:
    path = tmp_path / "junk.pdf"
    path.write_bytes(b"junk\n" + good_pdf.read_bytes())
    err = _rejected(path)
    assert err.code == "not_a_pdf"
    assert err.details == {"header_offset": 5}


def test_truncated_pdf(tmp_path: Path, good_pdf: Path) -> None:
    data = good_pdf.read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) // 2])
    err = _rejected(path)
    assert err.code == "malformed_pdf"
    assert err.message == "Tệp PDF bị hỏng hoặc không đầy đủ."


def test_garbage_between_header_and_eof(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\nthis is not a pdf body\nstartxref\n12345\n%%EOF\n")
    assert _rejected(path).code == "malformed_pdf"


def test_broken_xref_offset(tmp_path: Path, good_pdf: Path) -> None:
    data = good_pdf.read_bytes()
    pos = data.rindex(b"startxref")
    path = tmp_path / "badxref.pdf"
    path.write_bytes(data[:pos] + b"startxref\n7\n%%EOF\n")
    assert _rejected(path).code == "malformed_pdf"


def test_no_pages(tmp_path: Path) -> None:
    body = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, obj in enumerate(body, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 3\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path = tmp_path / "nopages.pdf"
    path.write_bytes(bytes(out))
    err = _rejected(path)
    assert err.code == "malformed_pdf"
    assert err.details == {"reason": "no_pages"}


@pytest.mark.parametrize("user_password", ["secret", ""])
def test_encrypted_pdf(tmp_path: Path, good_pdf: Path, user_password: str) -> None:
    # An empty user password (owner-password-only "protected" PDFs) is still encryption: the update would have
    # to be encrypted with the same key, which the gateway does not do.
    path = tmp_path / "enc.pdf"
    subprocess.run(["qpdf", "--encrypt", user_password, "owner-pw", "256", "--", str(good_pdf), str(path)],
                   check=True)
    err = _rejected(path)
    assert err.code == "encrypted_pdf"
    assert err.message == "Tệp PDF đã bị mã hóa, không thể ký."


def test_large_file_is_not_read_into_memory(tmp_path: Path) -> None:
    path = make_pdf_of_size(tmp_path / "big.pdf", 24 * MB)
    tracemalloc.start()
    try:
        facts = check_upload(path, 150 * MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert facts.page_count == 1
    assert facts.size >= 24 * MB
    assert peak < 2 * MB, f"check_upload allocated {peak} bytes for a {facts.size}-byte file"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048))
def test_hostile_bytes_only_ever_reject(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "fuzz.pdf"
    path.write_bytes(b"%PDF-1.7\n" + body + b"\nstartxref\n9\n%%EOF\n")
    with pytest.raises(UploadRejected) as info:
        check_upload(path, 10 * MB)
    assert info.value.code == "malformed_pdf"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_real_pdf_gives_facts_or_rejection(tmp_path: Path, good_pdf: Path, data: st.DataObject) -> None:
    raw = bytearray(good_pdf.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path / "corrupt.pdf"
    path.write_bytes(bytes(raw))
    try:
        facts = check_upload(path, 10 * MB)
    except UploadRejected as exc:
        assert exc.code in {"not_a_pdf", "malformed_pdf", "encrypted_pdf"}
    else:
        assert facts.page_count >= 1
