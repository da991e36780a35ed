"""Poisoned packages from the axis on the embedded stack (issue 8): an encrypted ZIP entry, a corrupt deflate
stream, a zip bomb, an archive of two entries and XML nested too deep each end acknowledged `fail` after one poll,
listed for the administrator with the reader's own code, instead of being downloaded again every minute."""

from __future__ import annotations

import base64
import io
import re
import struct
import time
import uuid
import zipfile
import zlib

from chalicelib.standards.edxml import Business, Organ
from tests.e2e.helpers import eventually
from tests.support.axis import send_as
from tests.support.axis import sim as _sim
from tests.support.organs import G22, H62, NAMES
from tests.support.packages import vpcp_header, vpcp_package

_MiB = 1024 * 1024


def _zip(data: bytes, *names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names or ("a.pdf",):
            zf.writestr(name, data)
    return buf.getvalue()


def _bomb(size: int) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = b"".join(deflate.compress(bytes(_MiB)) for _ in range(size // _MiB)) + deflate.flush()
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, 0, len(body), 10, 5, 0) + b"a.pdf" + body


def _with_content(raw: bytes, payload: bytes) -> bytes:
    encoded = base64.b64encode(payload)
    return re.sub(rb"<ContentTransferEncoded>[^<]*</ContentTransferEncoded>",
                  lambda _: b"<ContentTransferEncoded>" + encoded + b"</ContentTransferEncoded>", raw, count=1)


def test_poisoned_packages_are_acknowledged_fail_once_and_listed(client, stack, stack_handle, sample_pdf, tmp_path):
    base = vpcp_package(tmp_path / "base.edxml", Organ(G22, NAMES[G22]), [Organ(H62, NAMES[H62])],
                        vpcp_header("91", f"VPCP-BOM{uuid.uuid4().hex[:5].upper()}", "V/v gói tin độc hại"),
                        Business(), sample_pdf)
    good = _zip(b"%PDF-1.7\n" + bytes(range(256)) * 64 + b"\n%%EOF\n")
    name_end = 30 + len("a.pdf")
    encrypted = bytearray(good)
    struct.pack_into("<H", encrypted, 6, 0x0001)
    at = base.index(b"<edXML:edXMLEnvelope")
    cases = {
        "zip_encrypted": _with_content(base, bytes(encrypted)),
        "zip_bad_deflate": _with_content(base, good[:name_end] + b"\xff" * 64 + good[name_end + 64:]),
        "zip_ratio_exceeded": _with_content(base, _bomb(512 * _MiB)),
        "zip_multiple_entries": _with_content(base, _zip(b"%PDF-1.7 x", "a.pdf", "b.pdf")),
        "xml_too_deep": base[:at] + b"<x>" * 50_000 + b"</x>" * 50_000 + base[at:],
    }
    g22 = client.axis_system(G22)
    sent = {code: send_as(g22, data, [H62], tmp_path) for code, data in cases.items()}
    admin = client.login(client.user_for("000.00.01.H62", admin=True))
    started = time.monotonic()

    def listed() -> dict[str, dict]:
        state = {e["docId"]: e for e in _sim(stack, f"/_sim/packages?to={H62}&from={G22}")["items"]}
        assert all(state[d]["acknowledged"] and state[d]["status"] == "fail" for d in sent.values())
        issues = {i["axis_doc_id"]: i for i in
                  client.call("GET", "/v1/admin/inbound-issues", admin, params={"limit": "200"})["items"]}
        assert set(sent.values()) <= set(issues)
        return issues

    issues = eventually(stack_handle, listed, what="poisoned envelopes acknowledged fail and listed")
    print(f"\n{len(cases)} poisoned envelopes refused and listed {time.monotonic() - started:.1f} s after sending")
    for code, doc_id in sent.items():
        assert (issues[doc_id]["outcome"], issues[doc_id]["reason"], issues[doc_id]["ack"]) == (
            "unparseable", code, "fail"), (code, issues[doc_id])
