"""verification.summary (trust counts: never `valid` for an untrusted, unverifiable or partial signature),
verification.fit (reports cut to fit, and say so), and a fuzz test: mutated copies of a really signed PDF make
`verify_pdf` return a report and `check_upload` return or raise only `UploadRejected`, each within bounded time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import UploadRejected
from chalicelib.signing import verification
from chalicelib.signing.pdf_checks import check_upload
from chalicelib.signing.verification import fit, summary, worst
from devstack.sample_pdf import render_text_pdf
from tests.support.pki import person_sign

GOOD = {"field": "S", "intact": True, "valid": True, "trusted": True, "covers_whole_document": True,
        "modification_level": "NONE"}


@pytest.mark.parametrize(("signatures", "extra", "word"), [
    ([GOOD], {}, "valid"),
    ([dict(GOOD, trusted=False)], {}, "untrusted"),  # self-signed: the "showed as valid"
    ([GOOD, dict(GOOD, trusted=False)], {}, "untrusted"),
    ([dict(GOOD, intact=False, trusted=False)], {}, "invalid"),
    ([dict(GOOD, valid=False)], {}, "invalid"),
    ([dict(GOOD, error="ValueError", intact=False, valid=False)], {}, "unreadable"),
    ([dict(GOOD, covers_whole_document=False, modification_level="FORM_FILLING")], {}, "partial"),
    ([dict(GOOD, covers_whole_document=False, modification_level="LTA_UPDATES")], {}, "valid"),  # B-LT's DSS
    ([GOOD, GOOD], {"truncated": True, "signature_count": 30}, "partial"),  # not every signature was checked
    ([], {}, "unsigned"),
    ([], {"error": "pdf_too_complex"}, "unreadable"),
])
def test_summary_says_valid_only_when_everything_holds(signatures, extra, word):
    assert summary({"signatures": signatures, **extra}) == word


def test_worst_combines_attachments_worst_first():
    assert worst({"valid", "untrusted"}) == "untrusted"
    assert worst(["valid", "partial", "unsigned"]) == "unsigned"
    assert worst({"valid"}) == "valid" and worst({"no such word", "valid"}) == "unreadable"
    assert list(verification.SUMMARY_WORDS)[0] == "unreadable" and verification.SUMMARY_WORDS[-1] == "valid"


def test_fit_caps_strings_and_signatures_and_says_so():
    long = dict(GOOD, field="Đ" * 5000, signer_subject="x" * 9000, organisation="ơ" * 900)
    report = fit({"signatures": [dict(long, field=f"{i}" + "Đ" * 5000) for i in range(100)]})
    assert report["truncated"] is True and report["signature_count"] == 100
    assert len(report["signatures"]) <= verification.MAX_SIGNATURES
    assert report["signatures"][-1]["field"].startswith("99")  # the last one is kept: summary judges it
    assert all(len(s["field"]) <= 200 and s["field"].endswith("…") for s in report["signatures"])
    small = fit({"signatures": [GOOD]})
    assert small == {"signatures": [GOOD]}  # nothing cut, nothing added
    tiny = fit({"signatures": [dict(GOOD, field=str(i)) for i in range(10)]}, max_bytes=600)
    assert [s["field"] for s in tiny["signatures"]][-1] == "9" and tiny["truncated"] is True


@pytest.fixture(scope="module")
def signed_pdf(tmp_path_factory, ca) -> bytes:
    folder = tmp_path_factory.mktemp("fuzz")
    source = render_text_pdf("Công văn", "Nội dung thử nghiệm.", folder / "source.pdf")
    person_sign(source, folder / "signed.pdf", ca)
    return (folder / "signed.pdf").read_bytes()


@st.composite
def mutations(draw, data: bytes):
    """A copy of `data` with a few bytes replaced, a slice deleted or duplicated, or cut short."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "delete", "duplicate", "truncate", "digits"]))
        at = draw(st.integers(0, max(0, len(buf) - 1)))
        span = draw(st.integers(1, 64))
        if kind == "replace":
            buf[at:at + span] = draw(st.binary(min_size=span, max_size=span))
        elif kind == "delete":
            del buf[at:at + span]
        elif kind == "duplicate":
            buf[at:at] = buf[at:at + span]
        elif kind == "truncate":
            del buf[max(at, 16):]
        else:  # make a number in the structure huge: sizes, counts, offsets
            buf[at:at + 1] = b"9999999"
    return bytes(buf)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_signed_pdfs_never_raise_and_stay_bounded(tmp_path, signed_pdf, data):
    mutated = data.draw(mutations(signed_pdf))
    path = Path(tmp_path) / "mutated.pdf"
    path.write_bytes(mutated)
    started = time.monotonic()
    report = verification.verify_pdf(path)
    assert isinstance(report, dict) and isinstance(report["signatures"], list)
    assert summary(report) in verification.SUMMARY_WORDS
    try:
        check_upload(path, 10 * 1024 * 1024)
    except UploadRejected as exc:
        assert exc.code in {"not_a_pdf", "malformed_pdf", "encrypted_pdf", "pdf_too_complex", "empty_file"}
    elapsed = time.monotonic() - started
    assert elapsed < 30  # the child's CPU limit (5 s each) and wall clock (20 s) bound both calls
