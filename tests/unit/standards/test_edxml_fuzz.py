"""Malformed input of every kind: `parse_package` returns or raises `EdxmlError`, never anything else (issue 8).

A seeded mutator works on valid packages at three levels, the XML text, the base64 of an attachment and the ZIP
inside it, and hypothesis throws arbitrary bytes at the ZIP reader. The reader's own net (`unreadable_package`)
would turn an unforeseen exception into an `EdxmlError` too, so the test also fails when that net is what caught
it: each such case is a hole to close with a proper check. Time and memory are printed.
"""

from __future__ import annotations

import base64
import collections
import io
import random
import re
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.clock import VN_TZ
from chalicelib.standards.edxml import AttachmentSource, EdxmlError, Organ, ResponseFor, parse_package
from chalicelib.standards.edxml.errors import EdxmlReadError
from chalicelib.standards.edxml.limits import ReadLimits
from chalicelib.standards.edxml.unzip import extract_single_entry
from tests.support.organs import G22, H62, NAMES
from tests.support.packages import status_package, vpcp_header, write_package

SEED = 20261202
CASES = 4000
_CTE = re.compile(rb"<ContentTransferEncoded>([^<]*)</ContentTransferEncoded>")
_ELEMENT = re.compile(rb"<((?:edXML:)?\w+)>.*?</\1>", re.DOTALL)
TOKENS = [b"<", b">", b"</", b"/>", b"&", b"&amp;", b"&#0;", b"&#xD800;", b"&bogus;", b"<!DOCTYPE x>", b"<![CDATA[",
          b"]]>", b"<!--", b"-->", b"<?pi x?>", b"\x00", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b'"', b"'",
          b"=", b"xmlns:edXML=''", b"xmlns=\"urn:x\"", b"<edXML>", b"</edXML>", b"<Attachment>",
          b"<ContentTransferEncoded>", b"</ContentTransferEncoded>", b"PK\x03\x04", b"====", b"\r\n", b"9" * 5000,
          b"<edXML:From><edXML:OrganId>", b"<edXML:PromulgationDate>9999/99/99",
          b"<edXML:Timestamp>9999-12-31T23:59:59+14:00"]
ENCODINGS = [b"UTF-16", b"ISO-8859-1", b"windows-1258", b"shift_jis", b"UTF-32", b"bogus-8", b"ascii", b"utf-7"]


def seeds(tmp_path: Path) -> list[bytes]:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n")
    header = vpcp_header("12", "VPCP-KSTT", "V/v kiểm thử đầu vào hỏng", content="Tóm tắt.")
    doc = write_package(tmp_path / "d.edxml", sender=Organ(G22, NAMES[G22]), recipients=[Organ(H62, NAMES[H62])],
                        header=header, attachments=[AttachmentSource("a.pdf", "application/pdf", pdf),
                                                    AttachmentSource("b.pdf", "application/pdf", pdf)]).read_bytes()
    status = status_package(Organ(H62, NAMES[H62]), ResponseFor(G22, "12/VPCP-KSTT", header.document_id,
                                                                date(2026, 12, 1)), "02", "Sai nơi nhận.")
    return [doc, status]


def _mutate_zip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    choice = rng.randrange(4)
    if choice == 0 and out:  # a header field or a data byte
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(min(len(out), 64) if rng.random() < 0.7 else len(out))] = rng.randrange(256)
    elif choice == 1:
        del out[rng.randrange(len(out) + 1):]
    elif choice == 2:  # a whole header field to an extreme value
        pos = rng.choice([6, 8, 14, 18, 22, 26, 28])
        out[pos:pos + 2] = rng.choice([b"\xff\xff", b"\x00\x00", b"\x01\x00", b"\x08\x00", b"\x63\x00"])
    else:  # another entry, or garbage, after it
        out += rng.choice([data, b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(40)), b"PK\x07\x08"])
    return bytes(out)


def mutate(rng: random.Random, raw: bytes) -> bytes:
    if not raw:
        return rng.choice(TOKENS)
    data = bytearray(raw)
    kind = rng.randrange(10)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        del data[rng.randrange(len(data)):]
    elif kind == 2:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice(TOKENS)
    elif kind == 3:
        start = rng.randrange(len(data))
        del data[start:start + rng.randint(1, 200)]
    elif kind == 4:
        start = rng.randrange(len(data))
        span = bytes(data[start:start + rng.randint(1, 400)])
        at = rng.randrange(len(data) + 1)
        data[at:at] = span * rng.randint(1, 3)
    elif kind in (5, 6):
        contents = list(_CTE.finditer(raw))
        if not contents:
            return mutate(rng, raw)
        found = rng.choice(contents)
        if kind == 5:
            try:
                archive = base64.b64decode(found.group(1))
            except ValueError:  # an earlier mutation broke the base64 already
                return mutate(rng, raw)
            payload = base64.b64encode(_mutate_zip(rng, archive))
        else:
            text = bytearray(found.group(1))
            at = rng.randrange(len(text) + 1)
            text[at:at] = rng.choice([b"=", b"*", b"\xc3\xa9", b"A", b"AA", b" \n", b"=A=="])
            payload = bytes(text)
        return raw[:found.start(1)] + payload + raw[found.end(1):]
    elif kind == 7:
        return re.sub(rb'encoding="[^"]*"', b'encoding="' + rng.choice(ENCODINGS) + b'"', raw, count=1)
    elif kind == 8:  # a whole element repeated, emptied or dropped
        elements = list(_ELEMENT.finditer(raw))
        if not elements:
            return mutate(rng, raw)
        found = rng.choice(elements)
        name = found.group(1)
        block = rng.choice([found.group(0) * rng.randint(2, 60), b"", b"<" + name + b"></" + name + b">",
                            b"<" + name + b">" + found.group(0) + b"</" + name + b">"])
        return raw[:found.start()] + block + raw[found.end():]
    else:
        for _ in range(rng.randint(2, 5)):
            data = bytearray(mutate(rng, bytes(data)))
    return bytes(data)


def test_mutated_packages_are_read_or_refused_with_an_edxml_error(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    base = seeds(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    limits = ReadLimits(token_bytes=256 * 1024)
    outcomes: collections.Counter[str] = collections.Counter()
    holes: list[tuple[int, str, str]] = []
    proc = psutil.Process()
    rss_before = proc.memory_info().rss
    slowest = 0.0
    started = time.monotonic()
    for case in range(CASES):
        raw = mutate(rng, rng.choice(base))
        began = time.monotonic()
        try:
            with parse_package(io.BytesIO(raw), tmp_dir=str(out), limits=limits):
                outcomes["parsed"] += 1
        except EdxmlError as exc:
            outcomes[exc.code] += 1
            if exc.code == "unreadable_package":
                holes.append((case, str(exc.details), repr(exc.__cause__)[:200]))
        except Exception as exc:  # noqa: BLE001 (the very thing this test hunts)
            holes.append((case, type(exc).__name__, repr(exc)[:200]))
        slowest = max(slowest, time.monotonic() - began)
        assert list(out.iterdir()) == [], f"case {case} left temporary files"
    total = time.monotonic() - started
    rss_growth = (proc.memory_info().rss - rss_before) / 1e6
    print(f"\n{CASES} mutated packages in {total:.1f} s (slowest {slowest * 1000:.0f} ms), "
          f"RSS growth {rss_growth:.1f} MB; outcomes: {dict(outcomes.most_common())}")
    assert not holes, holes[:10]
    assert outcomes["parsed"] and len(outcomes) >= 8  # the mutator reaches both success and many refusals
    assert slowest < 10  # generous: each input is a few kilobytes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_any_bytes_after_a_zip_signature_give_an_entry_or_an_edxml_read_error(tail: bytes) -> None:
    out = io.BytesIO()
    try:
        extract_single_entry(io.BytesIO(b"PK\x03\x04" + tail), out, ReadLimits(attachment_bytes=1 << 20))
    except EdxmlReadError as exc:
        assert exc.code in {"bad_attachment_zip", "zip_encrypted", "zip_unsupported_method", "zip_bad_deflate",
                            "zip_crc_mismatch", "zip_multiple_entries", "zip_ratio_exceeded",
                            "attachment_too_large"}, exc.code
    assert len(out.getvalue()) <= 1 << 20


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2000), flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                     max_size=6))
def test_flipped_bytes_in_a_real_zip_give_the_file_or_an_edxml_read_error(method: int, data: bytes,
                                                                          flips: list[tuple[int, int]]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        zf.writestr(zipfile.ZipInfo("a.pdf", datetime.now(VN_TZ).timetuple()[:6]), data)
    archive = bytearray(buf.getvalue())
    for pos, value in flips:
        archive[pos % len(archive)] = value
    out = io.BytesIO()
    try:
        extract_single_entry(io.BytesIO(bytes(archive)), out, ReadLimits())
    except EdxmlReadError:
        return
    if not flips:
        assert out.getvalue() == data
