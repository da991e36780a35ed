"""Signing one PDF file: the organisation's PAdES signature (Nghị định 30/2020/NĐ-CP, Art. 5 and Phụ lục I).

What this module guarantees:
- PAdES baseline B-B (`ETSI.CAdES.detached`), SHA-256, as an incremental update: the original bytes stay the
  prefix of the signed file, so signatures already in the upload (the competent person's) stay valid;
- B-T when a `PadesProfile` names a timestamp authority (RFC 3161 signature timestamp in the CMS), and B-LT on top
  of it: the signer's certificate is checked for revocation (OCSP, else CRL; `keys.revocation`) BEFORE the
  key is used, a revoked one is refused (`certificate_revoked`), and the certificates and revocation answers of the
  signer's and the TSA's paths go into the document security store (DSS) in a second incremental update;
- a visible stamp (`stamp.py`, its rules in `standards.appearance` and docs/signature-appearance.md): the
  organisation's seal (red, transparent PNG, `seal.SealImage`) over the left part of the box and, beside it, the
  organisation's name and the signing time in ISO 8601 with +07:00, in TeX Gyre Termes (`font.py`);
- exactly one call to the key backend per document.

Why it does not just call `PdfSigner.sign_pdf`: that path copies the upload into the output, then reads the whole
output again to digest the /ByteRange, and the caller hashes both files once more (about 4.6x SHA-256 per MB on
96 MB). Here the upload is read once: copied to `dst_path` while one SHA-256 runs over it, and the hash state of
that shared prefix is forked three ways (original digest, /ByteRange digest, signed-file digest); only the small
incremental section (tens of KB) is read back. Memory is one copy buffer plus the incremental section, whatever the
document's size. The pyHanko steps around it (field creation, DocMDP checks, PAdES extension, appearance, CMS) are
pyHanko's own, through `PdfSigner.init_signing_session` and `prepare_tbs_document`.

Per warm container, built once: the font (parsed, shaped with HarfBuzz), each font subset (fontTools subsetting
costs ~80 ms, so subsets are cached by glyph set, which is stable per organisation), one pyHanko `Signer` per
key with its signature-size reservation per timestamp authority (`signer_for`), one timestamper per TSA URL (its
dummy token sizes the reservation) and the revocation answers (briefly). The seal image is decoded once per
container by the caller (`seal.load_png`, cached by S3 ETag); a document only writes its two compressed streams.

pyHanko is imported inside functions (~150 ms at cold start): this module is imported by the signing handler
only, but keeping it light also keeps `import chalicelib.signing.pades` cheap for what needs only the dataclasses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib.core.errors import UploadRejected
from chalicelib.domain.issuance import Mark
from chalicelib.signing import font, ltv, pdf_limits, stamp
from chalicelib.signing.identity import SigningIdentity
from chalicelib.signing.marks import MSG_BLANKS_LOCKED, add_marks, marks_forbidden
from chalicelib.signing.profile import LEVEL_B_B, LEVEL_B_LT, LEVEL_B_T, PadesProfile, SignResult
from chalicelib.signing.seal import SealImage, seal_content_class
from chalicelib.signing.signer import cached_signer, clear_signers, signer_class
from chalicelib.standards.appearance import StampBox, signing_time

__all__ = ["MSG_LOCKED", "async_sign_pdf_file", "clear_caches", "sign_pdf_file", "warm_up"]

#: Copy/hash buffer. 1 MiB: large enough that per-call overhead vanishes, small enough to be irrelevant to RSS.
_CHUNK = 1 << 20
_FIELD_PREFIX = "CoQuan"
MSG_LOCKED = "Tệp PDF đã được chứng thực không cho phép thay đổi, không thể ký thêm."


def warm_up() -> None:
    """Load what every signature needs (pyHanko modules, font, stamp style) ahead of the first document, e.g. at
    handler import when provisioned concurrency makes init time free."""
    font.font_program()
    font.engine_classes()
    stamp.stamp_style()
    signer_class()
    seal_content_class()


def clear_caches() -> None:
    """Forget cached signers and font subsets (tests that rotate keys; an admin key rotation in a warm container
    is handled by the cache key, not by this)."""
    clear_signers()
    font.font_subset.cache_clear()
    stamp.clear_styles()


def _copy_and_hash(src: Any, dst: Any) -> tuple[Any, int]:
    """Copy `src` to `dst` in 1 MiB chunks through one reused buffer, hashing as it goes; (sha256 state, size)."""
    h = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    size = 0
    while True:
        n = src.readinto(buf)
        if not n:
            break
        chunk = view[:n]
        h.update(chunk)
        dst.write(chunk)
        size += n
    return h, size


def _field_name(reader: Any, organ_id: str) -> str:
    """A top-level field name not yet used. Dots are field-hierarchy separators in PDF, so the code's dots go."""
    base = f"{_FIELD_PREFIX}_{organ_id}".replace(".", "_")
    taken: set[str] = set()
    try:
        for ref in reader.root["/AcroForm"]["/Fields"]:
            name = ref.get_object().get("/T")
            if name is not None:
                taken.add(str(name))
    except (KeyError, TypeError):
        pass
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def _refuse_if_locked(reader: Any) -> None:
    """A document certified by its author with DocMDP level 1 ("no changes", ISO 32000-1 §12.8.2.2) cannot take
    another signature without invalidating the certification: that is the upload's nature, not a transient fault,
    so it is rejected with its own code instead of failing (and being retried) inside pyHanko."""
    from pyhanko.sign.fields import MDPPerm  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign.validation import read_certification_data  # lazy: pyHanko ~150 ms at cold start

    data = read_certification_data(reader)
    if data is not None and data.permission == MDPPerm.NO_CHANGES:
        raise UploadRejected(MSG_LOCKED, code="locked_pdf")


def sign_pdf_file(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str], identity: SigningIdentity, *,
                  signed_at: dt.datetime | None = None, box: StampBox | None = None, seal: SealImage | None = None,
                  profile: PadesProfile | None = None, stamp_label: str | None = None,
                  marks: Sequence[Mark] = ()) -> SignResult:
    """Sign `src_path` into `dst_path` (PAdES at `profile`'s level, B-B by default, visible stamp with `seal` if
    given) and return the digests, time and level for the record. `stamp_label` replaces the organisation's name
    as the stamp's first line: a phụ lục is stamped with the document's số/ký hiệu instead (signature-appearance.md).
    `marks`: the number and date written into the first page's blanks (chalicelib.signing.marks), in the signature's
    own incremental update, so the signature covers them and the original stays the file's first bytes.

    Synchronous wrapper for the Lambda handlers; from inside a running event loop use `async_sign_pdf_file`.
    Raises `UploadRejected` (`locked_pdf`, `blanks_locked`, `stamp_page_missing`, `stamp_outside_page`,
    `pdf_too_complex`) when the upload itself is the problem, `SigningUnavailable` when the key cannot sign
    (`CertificateUnusable` with `certificate_revoked` at B-LT), `ltv.RevocationUnavailable` or `OSError` when a TSA
    or revocation source cannot be reached (transient); `dst_path` is removed on failure.
    """
    import asyncio  # lazy: asyncio ~30 ms, signing only

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(async_sign_pdf_file(src_path, dst_path, identity, signed_at=signed_at, box=box, seal=seal,
                                               profile=profile, stamp_label=stamp_label, marks=marks))
    raise RuntimeError("sign_pdf_file called inside a running event loop: await async_sign_pdf_file instead")


async def async_sign_pdf_file(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str],
                              identity: SigningIdentity, *, signed_at: dt.datetime | None = None,
                              box: StampBox | None = None, seal: SealImage | None = None,
                              profile: PadesProfile | None = None, stamp_label: str | None = None,
                              marks: Sequence[Mark] = ()) -> SignResult:
    """Async form of `sign_pdf_file` (the key backend, TSA and revocation calls are the awaits that matter)."""
    try:
        return await _sign(Path(src_path), Path(dst_path), identity, signing_time(signed_at), box or StampBox(), seal,
                           profile or PadesProfile(), stamp_label, tuple(marks))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(dst_path)
        raise


async def _sign(src_path: Path, dst_path: Path, identity: SigningIdentity, signed_at: dt.datetime,
                box: StampBox, seal: SealImage | None, profile: PadesProfile,
                stamp_label: str | None = None, marks: tuple[Mark, ...] = ()) -> SignResult:
    """The signature itself: level material, the copy under one hash pass, pyHanko's preparation, one key call."""
    from pyhanko.pdf_utils.generic import pdf_date  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.pdf_utils.reader import PdfFileReader  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign import fields  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest, SignatureObject  # lazy: pyHanko ~150 ms
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign.signers.pdf_signer import PdfPostSignatureDocument  # lazy: pyHanko ~150 ms at cold start

    cached = cached_signer(identity)
    signer = cached.signer

    # The level's material first: a revoked certificate is refused before the upload is even copied.
    level = profile.level
    timestamper = None
    validation_context = None
    if level != LEVEL_B_B:
        timestamper = ltv.timestamper_for(profile.tsa_url)
    if level == LEVEL_B_LT:
        try:
            validation_context = await ltv.long_term_context(identity, timestamper, profile)
            ltv.quiet_pyhanko()
        except ltv.NoLongTermData as exc:
            logging.getLogger(__name__).warning("PAdES B-LT not possible for %s, signing at B-T: %s",
                                                identity.organ_id, exc)
            level = LEVEL_B_T

    with open(src_path, "rb") as src, open(dst_path, "w+b") as out:
        prefix, size = _copy_and_hash(src, out)
        original_sha256 = prefix.copy().hexdigest()

        # The declared sizes first (issue 8): cheap, and the signer never builds what an upload declares past the
        # bounds, even when called without `pdf_checks.check_upload` (which also bounds the full parse).
        try:
            pdf_limits.prescan(out, size)
        except pdf_limits.PdfTooComplex as exc:
            raise UploadRejected(code="pdf_too_complex", details=exc.details) from exc
        out.seek(size)
        # Parse the copy, not the source: pyHanko then appends the incremental section to the very same file.
        reader = PdfFileReader(out)  # strict, pyHanko's default DecodeLimits: an upload is untrusted input
        writer = IncrementalPdfFileWriter.from_reader(reader)
        page_ix, _, rect = stamp.stamp_rect(reader, box)
        field_name = _field_name(reader, identity.organ_id)
        stamp_style, text_width = stamp.style_for(rect, seal)
        pdf_signer = PdfSigner(
            PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256",
                                 subfilter=fields.SigSeedSubFilter.PADES, name=identity.org_name,
                                 embed_validation_info=level == LEVEL_B_LT,
                                 validation_context=validation_context if level == LEVEL_B_LT else None),
            signer=signer,
            timestamper=timestamper,
            stamp_style=stamp_style,
            new_field_spec=fields.SigFieldSpec(sig_field_name=field_name, on_page=page_ix,
                                               box=tuple(round(v, 2) for v in rect)),  # type: ignore[arg-type]
        )
        _refuse_if_locked(reader)
        if marks:
            if marks_forbidden(reader):
                raise UploadRejected(MSG_BLANKS_LOCKED, code="blanks_locked")
            add_marks(writer, 0, list(marks), at=pdf_date(signed_at))
        session = pdf_signer.init_signing_session(writer)
        # One signing time for the stamp and the signature dictionary's /M (PAdES puts no signing-time in the CMS).
        session.system_time = signed_at
        # None for B-B and B-T; for B-LT the signer's and the TSA's validated paths (from our pre-fetched data).
        validation_info = await session.perform_presign_validation(writer)
        reserve_key = profile.tsa_url if timestamper is not None else ""
        bytes_reserved = cached.bytes_reserved.get(reserve_key)
        if bytes_reserved is None:
            # The CMS has the same size for every document of a key (and TSA): size it by one dry run per container.
            bytes_reserved = await session.estimate_signature_container_size(validation_info, tight=False)
            cached.bytes_reserved[reserve_key] = bytes_reserved
        tbs = session.prepare_tbs_document(
            validation_info=validation_info,
            bytes_reserved=bytes_reserved,
            appearance_text_params={"org_name": stamp.wrap(stamp_label or identity.org_name, text_width),
                                    "signed_at": signed_at.isoformat()},
        )
        sig_obj = session.sig_field["/V"]
        if not isinstance(sig_obj, SignatureObject):  # pragma: no cover - pyHanko internals changed
            raise RuntimeError("signature dictionary not found after preparing the document")

        # Write the incremental section after the copied original (same as pyHanko's in-place signing).
        writer.digest_aware_write = True
        writer.write_in_place()
        eof = out.tell()
        sig_start, sig_end = sig_obj.contents.offsets
        sig_obj.byte_range.fill_offsets(out, sig_start, sig_end, eof)
        out.seek(size)
        tail = out.read(eof - size)
        if not (size <= sig_start < sig_end <= eof):  # pragma: no cover - would be a pyHanko behaviour change
            raise RuntimeError("signature placeholder outside the incremental section")

        # /ByteRange digest = original prefix + the tail minus the <...> placeholder.
        md = prefix.copy()
        md.update(memoryview(tail)[: sig_start - size])
        md.update(memoryview(tail)[sig_end - size:])
        document_digest = md.digest()

        cms = await signer.async_sign(document_digest, "sha256", use_pades=True, timestamper=timestamper,
                                      signed_attr_settings=PdfCMSSignedAttributes(signing_time=signed_at))
        sig_contents = PreparedByteRangeDigest(
            document_digest=document_digest, reserved_region_start=sig_start, reserved_region_end=sig_end,
        ).fill_with_cms(out, cms)
        if tbs.post_sign_instructions is not None:
            # B-LT: the DSS (certificates, OCSP responses, CRLs of both paths) as a second incremental update.
            await PdfPostSignatureDocument(sig_contents, tbs.post_sign_instructions,
                                           validation_context).post_signature_processing(out)
        out.seek(size)
        tail = out.read()
        final = prefix.copy()
        final.update(tail)
        signed_size = size + len(tail)
        out.flush()

    return SignResult(original_sha256=original_sha256, signed_sha256=final.hexdigest(), signed_at=signed_at,
                      signed_size=signed_size, field_name=field_name, level=level, original_size=size)
