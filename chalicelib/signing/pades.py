"""The organisation's PAdES signature on an uploaded PDF (Nghị định 30/2020/NĐ-CP, Art. 5 and Phụ lục I): the
signing area's public surface, one import for the signing handler, tests and tools.

PAdES baseline B-B, B-T and B-LT (ETSI EN 319 142-1), as an incremental update that leaves every signature already
in the upload valid, with the visible stamp of docs/signature-appearance.md. One concern per module:

- `profile`: which level (`PadesProfile`) and what a signature leaves behind (`SignResult`);
- `identity`: who signs (`SigningIdentity`, `identity_from_pem`);
- `chalicelib.standards.appearance`: where the stamp goes and what it says (`StampBox`, sizes, time format);
- `font`, `stamp`, `seal`: drawing it (TeX Gyre Termes subsets, pyHanko stamp styles, the seal image);
- `signer`: the pyHanko signer over a key's `RawSigner`, one per key per container (`signer_for`);
- `ltv`: B-T timestamps and B-LT revocation evidence;
- `sign_file`: signing one file, the upload read once (`sign_pdf_file`, `async_sign_pdf_file`).

Importing this module imports no pyHanko (cold start): every module above imports it inside functions.
"""

from __future__ import annotations

from chalicelib.signing.font import FONT_PATH
from chalicelib.signing.identity import SigningIdentity, identity_from_pem
from chalicelib.signing.ltv import MSG_REVOKED
from chalicelib.signing.profile import LEVEL_B_B, LEVEL_B_LT, LEVEL_B_T, LEVELS, PadesProfile, SignResult
from chalicelib.signing.sign_file import MSG_LOCKED, async_sign_pdf_file, clear_caches, sign_pdf_file, warm_up
from chalicelib.signing.signer import signer_for
from chalicelib.signing.stamp import MSG_STAMP_PAGE, STAMP_TEXT
from chalicelib.standards.appearance import (
    ATTACHMENT_STAMP_HEIGHT,
    ATTACHMENT_STAMP_MARGIN,
    ATTACHMENT_STAMP_WIDTH,
    DEFAULT_STAMP_HEIGHT,
    DEFAULT_STAMP_MARGIN,
    DEFAULT_STAMP_WIDTH,
    SEAL_MAX_WIDTH_SHARE,
    STAMP_FONT_SIZE,
    STAMP_LEADING,
    STAMP_PADDING,
    StampBox,
)

__all__ = [
    "ATTACHMENT_STAMP_HEIGHT",
    "ATTACHMENT_STAMP_MARGIN",
    "ATTACHMENT_STAMP_WIDTH",
    "DEFAULT_STAMP_HEIGHT",
    "DEFAULT_STAMP_MARGIN",
    "DEFAULT_STAMP_WIDTH",
    "FONT_PATH",
    "LEVELS",
    "LEVEL_B_B",
    "LEVEL_B_LT",
    "LEVEL_B_T",
    "MSG_LOCKED",
    "MSG_REVOKED",
    "MSG_STAMP_PAGE",
    "SEAL_MAX_WIDTH_SHARE",
    "STAMP_FONT_SIZE",
    "STAMP_LEADING",
    "STAMP_PADDING",
    "STAMP_TEXT",
    "PadesProfile",
    "SignResult",
    "SigningIdentity",
    "StampBox",
    "async_sign_pdf_file",
    "clear_caches",
    "identity_from_pem",
    "sign_pdf_file",
    "signer_for",
    "warm_up",
]
