"""Issue 8, PDF bombs: every parse of an untrusted PDF is bounded. Each bomb (built at test time by
tests/support/pdf_bombs.py) is refused or reported by the upload check and by the verifier, within a time and memory
each test PRINTS (measured in a forked child: tests/support/measure.py); the caps asserted are generous on purpose
(the naive parse of the xref bomb took 7 s and 500 MB)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.core.errors import UploadRejected
from chalicelib.signing import verification
from chalicelib.signing.pdf_checks import check_upload
from chalicelib.signing.pdf_limits import ParseLimits, PdfTooComplex, prescan
from devstack.sample_pdf import render_text_pdf
from tests.support import pdf_bombs
from tests.support.measure import measured
from tests.support.pki import person_sign

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "documents"
MB = 1024 * 1024
#: Generous bounds: the child's own limits are 5 s of CPU and 256 MB; a pre-scan refusal costs about a millisecond.
CPU_CAP_S = 8.0
RSS_CAP_MB = 300.0

BOMBS = {
    "xref_stream_2M_entries": (pdf_bombs.xref_stream_bomb, "xref_too_large"),
    "xref_table_2M_entries": (pdf_bombs.xref_table_bomb, "xref_too_large"),
    "million_objects": (pdf_bombs.many_objects_pdf, "xref_too_large"),
    "object_stream_1M_header": (pdf_bombs.object_stream_bomb, "object_stream_too_large"),
    "page_tree_loop": (pdf_bombs.page_tree_loop, "page_tree_loop"),
    "deep_page_tree": (pdf_bombs.deep_page_tree, "page_tree_too_deep"),
    "deep_nesting": (pdf_bombs.deep_nesting, "nesting_too_deep"),
}


@pytest.fixture(scope="module")
def good_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (FIXTURES / "vinhphuc-7413-UBND-VX3-congvan.txt").read_text(encoding="utf-8")
    return render_text_pdf("ỦY BAN NHÂN DÂN TỈNH VĨNH PHÚC", text, tmp_path_factory.mktemp("pdf") / "cv.pdf")


@pytest.fixture(scope="module", autouse=True)
def warm(good_pdf: Path) -> None:
    """pyHanko imported and used once, as in a warm Lambda: the measures are then of the parse, not of the import."""
    check_upload(good_pdf, 10 * MB)
    verification.verify_pdf(good_pdf)


def _upload_outcome(path: Path) -> tuple[str, str | None]:
    try:
        check_upload(path, 10 * MB)
    except UploadRejected as exc:
        return exc.code, exc.details.get("reason")
    return "accepted", None


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_each_bomb_is_refused_by_the_upload_check_with_its_reason_in_bounded_time_and_memory(tmp_path, name):
    build, reason = BOMBS[name]
    path = _write(tmp_path, name, build())
    cost = measured(_upload_outcome, path)
    print(f"\ncheck_upload({name}, {path.stat().st_size} bytes): {cost}")
    assert cost.outcome == repr(("pdf_too_complex", reason))
    assert cost.cpu_s < CPU_CAP_S and cost.peak_rss_mb < RSS_CAP_MB


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_each_bomb_gets_a_report_from_the_verifier_never_an_exception_in_bounded_time_and_memory(tmp_path, name):
    build, reason = BOMBS[name]
    path = _write(tmp_path, name, build())
    cost = measured(verification.verify_pdf, path)
    print(f"\nverify_pdf({name}, {path.stat().st_size} bytes): {cost}")
    report = eval(cost.outcome)  # noqa: S307 - our own repr of a dict of plain values
    assert isinstance(report, dict) and report["signatures"] == []
    if name.startswith(("xref", "million", "object_stream", "deep_nesting")):
        # The verifier never walks the page tree (it has no use for pages), so those two are plain unsigned files.
        assert report["error"] == "pdf_too_complex" and report["detail"] == reason
    assert verification.summary(report) in ("unreadable", "unsigned")
    assert cost.cpu_s < CPU_CAP_S and cost.peak_rss_mb < RSS_CAP_MB


def test_what_no_declared_size_catches_the_child_s_cpu_limit_does(tmp_path):
    """The object-stream bomb with its /N bound lifted: 4.6 s of CPU in-process; the child is stopped at 1 s."""
    path = _write(tmp_path, "objstm", pdf_bombs.object_stream_bomb())
    lifted = ParseLimits(max_object_stream_entries=10_000_000, cpu_seconds=1)
    cost = measured(_upload_outcome_with, path, lifted)
    print(f"\ncheck_upload(object stream bomb, /N bound lifted, 1 s of CPU allowed): {cost}")
    assert cost.outcome == repr(("pdf_too_complex", "cpu_time"))
    assert cost.cpu_s < 3 and cost.wall_s < 10


def _upload_outcome_with(path: Path, limits: ParseLimits) -> tuple[str, str | None]:
    try:
        check_upload(path, 10 * MB, limits=limits)
    except UploadRejected as exc:
        return exc.code, exc.details.get("reason")
    return "accepted", None


def test_the_pre_scan_reads_declared_sizes_without_building_anything(tmp_path):
    path = _write(tmp_path, "bomb", pdf_bombs.xref_stream_bomb())
    with open(path, "rb") as fh, pytest.raises(PdfTooComplex) as info:
        prescan(fh, path.stat().st_size)
    assert info.value.details == {"reason": "xref_too_large", "declared": 2_000_000, "max_entries": 300_000}
    # Within the limit, the same shape passes the pre-scan (the bound is the number, not the shape).
    small = _write(tmp_path, "small", pdf_bombs.xref_stream_bomb(1000))
    with open(small, "rb") as fh:
        facts = prescan(fh, small.stat().st_size)
    assert (facts.entries, facts.revisions, facts.declared_size) == (1000, 1, 1000)


def test_a_good_pdf_passes_every_bound(good_pdf):
    with open(good_pdf, "rb") as fh:
        facts = prescan(fh, good_pdf.stat().st_size)
    assert facts.revisions == 1 and 0 < facts.entries < 100 and not facts.unread
    assert check_upload(good_pdf, 10 * MB).page_count == 2
    assert verification.verify_pdf(good_pdf) == {"signatures": []}


def test_limits_are_parameters_a_lower_one_refuses_a_normal_file(good_pdf):
    tight = ParseLimits(max_xref_entries=5)
    with pytest.raises(UploadRejected) as info:
        check_upload(good_pdf, 10 * MB, limits=tight)
    assert info.value.code == "pdf_too_complex" and info.value.details["reason"] == "xref_too_large"
    assert verification.verify_pdf(good_pdf, limits=tight)["error"] == "pdf_too_complex"


@pytest.mark.parametrize("kind", sorted(pdf_bombs.SIG_VALUES))
def test_a_signature_value_that_is_not_a_dictionary_is_malformed_never_an_exception(tmp_path, kind):
    path = _write(tmp_path, kind, pdf_bombs.sig_value_not_dict(pdf_bombs.SIG_VALUES[kind]))
    report = verification.verify_pdf(path)
    upload = _upload_outcome(path)
    print(f"\n/V {kind}: report {report}, upload {upload}")
    assert set(report) >= {"signatures"}
    if kind in ("number", "array", "string", "name", "ref_to_stream"):
        assert report["error"] == "malformed_pdf" and report["detail"] == "signature_value_not_dictionary"
        assert upload == ("malformed_pdf", "signature_value_not_dictionary")
    else:  # empty (null) or a dictionary pyHanko reads as no signature or a broken one: data, not a crash
        assert verification.summary(report) in ("unsigned", "unreadable", "invalid")
        assert upload[0] in ("accepted", "malformed_pdf")


def test_a_small_pdf_whose_naive_report_is_huge_gets_a_report_that_fits(tmp_path, ca, good_pdf):
    signed = tmp_path / "person.pdf"
    person_sign(good_pdf, signed, ca)
    bomb = pdf_bombs.huge_report_pdf(signed, tmp_path / "huge-report.pdf", fields=300, name_length=2_000)
    cost = measured(verification.verify_pdf, bomb)
    report = eval(cost.outcome)  # noqa: S307 - our own repr of a dict of plain values
    size = len(json.dumps(report, ensure_ascii=False).encode("utf-8"))
    naive = report["signature_count"] * 2_000 * 2  # each entry would repeat the 2,000-letter name (2 bytes each)
    print(f"\nreport on a {bomb.stat().st_size}-byte PDF with {report['signature_count']} signatures: {size} bytes "
          f"(naive: over {naive} bytes); {cost}")
    assert report["truncated"] is True and report["signature_count"] == 301
    assert len(report["signatures"]) <= verification.MAX_SIGNATURES
    assert size <= verification.MAX_REPORT_BYTES
    assert all(len(s["field"]) <= verification.MAX_TEXT["field"] for s in report["signatures"])
    assert verification.summary(report) != "valid"
    assert cost.cpu_s < CPU_CAP_S * 2 and cost.peak_rss_mb < RSS_CAP_MB


def test_the_signer_pre_scans_too_even_when_called_without_the_upload_check(tmp_path, ca):
    from chalicelib.signing.pades import sign_pdf_file
    from tests.support.pki import local_identity

    bomb = _write(tmp_path, "bomb", pdf_bombs.xref_stream_bomb())
    identity = local_identity(ca, "000.00.00.H62", "UBND tỉnh Vĩnh Phúc")
    cost = measured(_sign_outcome, sign_pdf_file, bomb, tmp_path / "out.pdf", identity)
    print(f"\nsign_pdf_file(xref bomb): {cost}")
    assert cost.outcome == repr(("pdf_too_complex", "xref_too_large"))
    assert not (tmp_path / "out.pdf").exists() and cost.cpu_s < CPU_CAP_S


def _sign_outcome(sign, src: Path, dst: Path, identity) -> tuple[str, str | None]:
    try:
        sign(src, dst, identity)
    except UploadRejected as exc:
        return exc.code, exc.details.get("reason")
    return "signed", None


def _prescan(data: bytes, limits: ParseLimits | None = None):
    import io

    return prescan(io.BytesIO(data), len(data), limits or ParseLimits())


def test_the_pre_scan_reads_the_real_size_not_one_hidden_in_a_string_or_a_comment():
    three = pdf_bombs.raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"],
                              trailer_extra=b"/Info (/Size 3 \\) (nested) ) %/Size 3\n", size=2_000_000)
    with pytest.raises(PdfTooComplex) as info:
        _prescan(three)
    assert info.value.details["declared"] == 2_000_000


def test_a_prev_chain_that_loops_is_read_once_and_a_long_one_is_refused():
    base = pdf_bombs.raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
    xref = int(base.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    looped = base.replace(b"/Root 1 0 R ", b"/Root 1 0 R /Prev %d " % xref)
    assert _prescan(looped).revisions == 1
    # Revisions appended one after another, each pointing at the one before: past the limit, refused.
    chain, previous = looped, xref
    for _ in range(3):
        at = len(chain)
        chain += (b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 3 /Root 1 0 R /Prev %d >>\n"
                  b"startxref\n%d\n%%%%EOF\n" % (previous, at))
        previous = at
    assert _prescan(chain).revisions == 4
    with pytest.raises(PdfTooComplex) as info:
        _prescan(chain, ParseLimits(max_revisions=3))
    assert info.value.reason == "too_many_revisions"


@pytest.mark.parametrize(("widths", "ok"), [(b"[1 4 2]", True), (b"[1 9 2]", False), (b"[1 4]", False),
                                            (b"[-1 4 2]", False)])
def test_xref_stream_widths_are_checked(widths, ok):
    data = pdf_bombs.xref_stream_bomb(10).replace(b"/W [0 0 0]", b"/W " + widths)
    if ok:
        assert _prescan(data).entries == 10
    else:
        with pytest.raises(PdfTooComplex) as info:
            _prescan(data)
        assert info.value.reason == "xref_width"


def test_index_counts_are_summed():
    data = pdf_bombs.xref_stream_bomb(10).replace(b"/W [0 0 0]", b"/W [1 4 2] /Index [0 5 200000 200000]")
    with pytest.raises(PdfTooComplex) as info:
        _prescan(data, ParseLimits(max_xref_entries=100_000, max_pages=10))
    assert info.value.details["declared"] == 200_005
