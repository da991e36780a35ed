"""Bounds on untrusted edXML (issue 8): every cap of `parse_package` and every kind of bad ZIP entry is refused with
its own code, in bounded time and memory (printed), and no other exception type ever leaves the reader."""

from __future__ import annotations

import base64
import io
import re
import struct
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from chalicelib.standards.edxml import AttachmentSource, EdxmlError, Organ, parse_package
from chalicelib.standards.edxml.limits import ReadLimits
from tests.support.organs import G22, H62, NAMES
from tests.support.packages import vpcp_header, write_package

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
_MiB = 1024 * 1024


def package(tmp_path: Path, attachments: int = 1) -> bytes:
    """A small, valid package of Văn phòng Chính phủ for UBND tỉnh Vĩnh Phúc with `attachments` PDFs."""
    sources = []
    for i in range(attachments):
        pdf = tmp_path / f"a{i}.pdf"
        pdf.write_bytes(PDF)
        sources.append(AttachmentSource(f"a{i}.pdf", "application/pdf", pdf))
    header = vpcp_header("12", "VPCP-KSTT", "V/v thử giới hạn của gói tin", content="Tóm tắt nội dung.")
    return write_package(tmp_path / "p.edxml", sender=Organ(G22, NAMES[G22]), recipients=[Organ(H62, NAMES[H62])],
                         header=header, attachments=sources).read_bytes()


def with_content(raw: bytes, payload: bytes) -> bytes:
    """`raw` with its (first) attachment's content replaced by the base64 of `payload`."""
    encoded = base64.b64encode(payload)
    return re.sub(rb"<ContentTransferEncoded>[^<]*</ContentTransferEncoded>",
                  lambda _: b"<ContentTransferEncoded>" + encoded + b"</ContentTransferEncoded>", raw, count=1)


def refused(raw: bytes, tmp_path: Path, limits: ReadLimits | None = None) -> str:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    with pytest.raises(EdxmlError) as caught:
        parse_package(io.BytesIO(raw), tmp_dir=str(out), limits=limits)
    assert list(out.iterdir()) == []  # nothing left behind
    assert caught.value.message
    return caught.value.code


def zipped(data: bytes, name: str = "a.pdf", method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


# -- XML bounds ---------------------------------------------------------------------------------------------------


def test_the_default_limits_accept_a_real_package(tmp_path: Path) -> None:
    with parse_package(io.BytesIO(package(tmp_path, attachments=3)), tmp_dir=str(tmp_path)) as parsed:
        assert [Path(a.path).read_bytes() for a in parsed.attachments] == [PDF] * 3


@pytest.mark.parametrize(("limits", "code"), [
    (ReadLimits(package_bytes=2000), "package_too_large"),
    (ReadLimits(elements=20), "too_many_elements"),
    (ReadLimits(depth=4), "xml_too_deep"),
    (ReadLimits(text_chars=10), "element_too_large"),
    (ReadLimits(total_text_chars=200), "text_too_large"),
    (ReadLimits(attachments=2), "too_many_attachments"),
    (ReadLimits(attachment_bytes=len(PDF) - 1), "attachment_too_large"),
    (ReadLimits(total_attachment_bytes=2 * len(PDF)), "attachments_too_large"),
])
def test_each_bound_has_its_code(tmp_path: Path, limits: ReadLimits, code: str) -> None:
    assert refused(package(tmp_path, attachments=3), tmp_path, limits) == code


def test_deep_nesting_is_refused_with_the_default_limits(tmp_path: Path) -> None:
    raw = b"<edXML>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</edXML>"
    assert refused(raw, tmp_path) == "xml_too_deep"


def test_millions_of_empty_comments_count_as_elements(tmp_path: Path) -> None:
    valid = package(tmp_path)
    at = valid.index(b"<edXML:edXMLEnvelope")
    raw = valid[:at] + b"<!---->" * 1_000_000 + valid[at:]
    started = time.monotonic()
    assert refused(raw, tmp_path) == "too_many_elements"
    print(f"7 MB of empty comments refused in {time.monotonic() - started:.2f} s")


def test_a_huge_comment_or_attribute_is_refused_before_expat_holds_it_all(tmp_path: Path) -> None:
    valid = package(tmp_path)
    at = valid.index(b"<edXML:edXMLEnvelope")
    for junk in (b"<!--" + b"x" * (3 * _MiB) + b"-->", b'<x a="' + b"y" * (3 * _MiB) + b'"/>',
                 b"<?pi " + b"z" * (3 * _MiB) + b"?>"):
        assert refused(valid[:at] + junk + valid[at:], tmp_path) == "xml_token_too_large"


@pytest.mark.parametrize("content", [b"QUJD<x/>REVG", b"QUJD"])
def test_an_attachment_with_elements_inside_or_two_contents_is_malformed(tmp_path: Path, content: bytes) -> None:
    raw = package(tmp_path)
    extra = b"" if b"<" in content else b"<ContentTransferEncoded>QUJD</ContentTransferEncoded>"
    raw = re.sub(rb"<ContentTransferEncoded>[^<]*</ContentTransferEncoded>",
                 lambda m: b"<ContentTransferEncoded>" + content + b"</ContentTransferEncoded>" + extra, raw, count=1)
    assert refused(raw, tmp_path) == "malformed_attachment"


def test_huge_integers_are_warnings_not_values(tmp_path: Path) -> None:
    raw = re.sub(rb"<edXML:PageAmount>[^<]*</edXML:PageAmount>", b"<edXML:PageAmount>" + b"9" * 60
                 + b"</edXML:PageAmount>", package(tmp_path))
    with parse_package(io.BytesIO(raw), tmp_dir=str(tmp_path)) as parsed:
        assert parsed.page_amount is None and any("PageAmount" in w for w in parsed.warnings)


# -- ZIP entries --------------------------------------------------------------------------------------------------


def _bomb(size: int) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = bytes(_MiB)
    body = b"".join(deflate.compress(block) for _ in range(size // _MiB)) + deflate.flush()
    crc = 0
    for _ in range(size // _MiB):
        crc = zlib.crc32(block, crc)
    header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(body), 10, 5, 0)
    return header + b"a.pdf" + body  # declares 10 bytes uncompressed: never believed


def zip_cases() -> list[tuple[str, bytes, str]]:
    good = zipped(PDF)
    stored = zipped(PDF, method=zipfile.ZIP_STORED)
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.pdf", PDF)
        zf.writestr("b.pdf", PDF)
    name_end = 30 + len("a.pdf")
    return [
        ("encrypted flag", patched(good, 6, "<H", 0x0001), "zip_encrypted"),
        ("AES method 99", patched(good, 8, "<H", 99), "zip_encrypted"),
        ("bzip2", zipped(PDF, method=zipfile.ZIP_BZIP2), "zip_unsupported_method"),
        ("lzma", zipped(PDF, method=zipfile.ZIP_LZMA), "zip_unsupported_method"),
        ("stored with a data descriptor", patched(stored, 6, "<H", 0x0008), "zip_unsupported_method"),
        ("corrupt deflate", good[:name_end] + b"\xff" * 64 + good[name_end + 64:], "zip_bad_deflate"),
        ("truncated deflate", good[:name_end + 20], "zip_bad_deflate"),
        ("crc mismatch", patched(good, 14, "<I", zlib.crc32(PDF) ^ 1), "zip_crc_mismatch"),
        ("stored crc mismatch", patched(stored, 14, "<I", zlib.crc32(PDF) ^ 1), "zip_crc_mismatch"),
        ("two entries", two.getvalue(), "zip_multiple_entries"),
        ("size lie", patched(good, 22, "<I", 3), "bad_attachment_zip"),
        ("truncated header", good[:20], "bad_attachment_zip"),
        ("zip64 marker without its extra", patched(good, 22, "<I", 0xFFFFFFFF), "bad_attachment_zip"),
    ]


@pytest.mark.parametrize(("label", "payload", "code"), zip_cases(), ids=[c[0] for c in zip_cases()])
def test_bad_zip_entries_have_their_codes(tmp_path: Path, label: str, payload: bytes, code: str) -> None:
    assert refused(with_content(package(tmp_path), payload), tmp_path) == code


def test_zips_other_producers_write_are_read(tmp_path: Path) -> None:
    """A data descriptor (a writer that cannot seek, as Java's ZipOutputStream), ZIP64 extras, a stored entry."""

    class Unseekable(io.BytesIO):
        def tell(self) -> int:
            raise OSError("a pipe")  # zipfile then writes a data descriptor after the entry

        def seek(self, *_: object) -> int:
            raise OSError("a pipe")

    streamed = Unseekable()
    with zipfile.ZipFile(streamed, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("a.pdf", "w") as entry:
        entry.write(PDF)
    forced = io.BytesIO()
    with zipfile.ZipFile(forced, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("a.pdf", "w", force_zip64=True) as entry:
        entry.write(PDF)
    assert struct.unpack_from("<H", streamed.getvalue(), 6)[0] & 0x8  # really a data descriptor
    for payload in (streamed.getvalue(), forced.getvalue(), zipped(PDF, method=zipfile.ZIP_STORED)):
        with parse_package(io.BytesIO(with_content(package(tmp_path), payload)), tmp_dir=str(tmp_path)) as parsed:
            assert Path(parsed.attachments[0].path).read_bytes() == PDF


def _measured(raw: bytes, tmp_path: Path, limits: ReadLimits | None = None) -> tuple[str, float, int]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        code = refused(raw, tmp_path, limits)
        return code, time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_refused_by_ratio_in_bounded_time_and_memory(tmp_path: Path) -> None:
    bomb = _bomb(1024 * _MiB)  # 1 GiB of zeros in about 1 MB, declaring 10 bytes
    code, seconds, peak = _measured(with_content(package(tmp_path), bomb), tmp_path)
    print(f"zip bomb ({len(bomb)} bytes → 1 GiB): {code} in {seconds:.2f} s, peak {peak / _MiB:.1f} MiB traced")
    assert code == "zip_ratio_exceeded"
    assert peak < 32 * _MiB
    assert seconds < 30  # generous: the ratio trips after about 8 MiB of output


def test_the_absolute_cap_holds_whatever_the_ratio(tmp_path: Path) -> None:
    limits = ReadLimits(zip_ratio=10 ** 9, attachment_bytes=4 * _MiB)
    code, seconds, peak = _measured(with_content(package(tmp_path), _bomb(64 * _MiB)), tmp_path, limits)
    print(f"64 MiB entry, cap 4 MiB: {code} in {seconds:.2f} s, peak {peak / _MiB:.1f} MiB traced")
    assert code == "attachment_too_large"
    assert peak < 32 * _MiB
