"""Independent PDF checkers for the tests: poppler (pdfsig, pdftotext, pdftoppm) and qpdf.

Why not pyHanko alone: the gateway signs with pyHanko, so pyHanko agreeing with itself proves little. poppler's
pdfsig verifies with NSS, a different CMS implementation. pdfsig exits 0 even when a signature is invalid, so its
text output is parsed, and only the exact "Signature is Valid." counts.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["make_nss_db", "pdfsig_report", "pdftotext", "pdftotext_area", "pyhanko_report", "qpdf_check", "render_png"]

_SIG_HEADER = re.compile(r"^Signature #(\d+):\s*$")
_FIELD = re.compile(r"^\s+- (.+?)(?::\s(.*))?$")
_RANGE = re.compile(r"\[(\d+) - (\d+)\]")

_KEYS = {
    "Signature Field Name": "field",
    "Signer Certificate Common Name": "common_name",
    "Signer full Distinguished Name": "subject",
    "Signing Time": "signing_time",
    "Signing Hash Algorithm": "hash_algorithm",
    "Signature Type": "type",
    "Signed Ranges": "ranges",
    "Signature Validation": "validation",
    "Certificate Validation": "certificate_validation",
}


def pdfsig_report(path: str | Path, nssdir: str | None = None) -> list[dict[str, Any]]:
    """One dict per signature in `path`, in document order, as poppler's pdfsig sees it.

    Keys: `index`, `field`, `common_name`, `subject`, `signing_time`, `hash_algorithm`, `type`, `ranges` (list of
    (start, end)), `total_document_signed` (bool), `validation` (text), `valid` (True only for "Signature is
    Valid."), `certificate_validation` (text), `trusted` (True only for "Certificate is Trusted."). An unsigned
    document gives []. No online OCSP lookups. `nssdir` (e.g. from `make_nss_db`) is the NSS database whose
    trusted roots pdfsig checks certificates against.
    """
    cmd = ["pdfsig", "-no-ocsp", *(["-nssdir", nssdir] if nssdir else []), str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "LC_ALL": "C.UTF-8"})
    out = proc.stdout
    if "does not contain any signatures" in out + proc.stderr:
        return []
    if proc.returncode != 0 and "Signature #" not in out:
        raise RuntimeError(f"pdfsig failed ({proc.returncode}): {proc.stderr.strip() or out.strip()}")
    sigs: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in out.splitlines():
        header = _SIG_HEADER.match(line)
        if header:
            current = {"index": int(header.group(1)), "total_document_signed": False, "valid": False}
            sigs.append(current)
            continue
        if current is None:
            continue
        m = _FIELD.match(line)
        if not m:
            continue
        label, value = m.group(1).strip(), (m.group(2) or "").strip()
        if label == "Total document signed":
            current["total_document_signed"] = True
        elif label == "Not total document signed":
            current["total_document_signed"] = False
        elif label in _KEYS:
            key = _KEYS[label]
            current[key] = [(int(a), int(b)) for a, b in _RANGE.findall(value)] if key == "ranges" else value
    for sig in sigs:
        sig["valid"] = sig.get("validation") == "Signature is Valid."
        sig["trusted"] = sig.get("certificate_validation") == "Certificate is Trusted."
    return sigs


def make_nss_db(directory: str | Path, root_pem: str | bytes, nickname: str = "edoc-demo-root") -> str:
    """An NSS database in `directory` trusting `root_pem` for signing (certutil, Debian libnss3-tools); returns
    the `sql:` spec pdfsig's `-nssdir` takes. As a recipient would set up their own trust in the CA."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spec = f"sql:{directory}"
    subprocess.run(["certutil", "-N", "-d", spec, "--empty-password"], check=True, capture_output=True, timeout=60)
    pem = root_pem.encode("ascii") if isinstance(root_pem, str) else root_pem
    subprocess.run(["certutil", "-A", "-d", spec, "-n", nickname, "-t", "C,C,C"], input=pem, check=True,
                   capture_output=True, timeout=60)
    return spec


def pyhanko_report(path: str | Path, trust_roots: list[Any]) -> list[dict[str, Any]]:
    """Each signature as pyHanko's validator sees it, with the PAdES baseline level its embedded data proves.

    Not independent (the gateway signs with pyHanko): it answers the question pdfsig cannot, which PAdES level a
    document really is. `level` is B-B for an intact, valid, trusted PAdES signature; B-T when its signature
    timestamp token is valid and trusted too; B-LT when, on top of that, the document's DSS alone (no fetching,
    revocation information REQUIRED for every certificate of the signer's and the TSA's paths) makes it trusted.
    Keys: `field`, `intact`, `valid`, `trusted`, `timestamped`, `dss` (certs, ocsps, crls counts), `level`.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError
    from pyhanko_certvalidator import ValidationContext

    out: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        reader = PdfFileReader(fh)
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except NoDSSFoundError:
            dss = None
        for sig in reader.embedded_signatures:
            status = validate_pdf_signature(sig, ValidationContext(trust_roots=trust_roots))
            ts = status.timestamp_validity
            timestamped = bool(ts is not None and ts.intact and ts.valid and ts.trusted)
            entry: dict[str, Any] = {
                "field": sig.field_name, "intact": status.intact, "valid": status.valid, "trusted": status.trusted,
                "timestamped": timestamped, "subfilter": str(sig.sig_object.get("/SubFilter")),
                "dss": None if dss is None else {"certs": len(list(dss.load_certs())), "ocsps": len(dss.ocsps),
                                                 "crls": len(dss.crls)},
            }
            level = None
            if status.bottom_line and entry["subfilter"] == "/ETSI.CAdES.detached":
                level = "B-B"
                if timestamped:
                    level = "B-T"
                    if dss is not None:
                        offline = dss.as_validation_context({"trust_roots": trust_roots, "allow_fetching": False,
                                                             "revocation_mode": "require"})
                        lt = validate_pdf_signature(sig, offline)
                        lt_ts = lt.timestamp_validity
                        if lt.bottom_line and lt_ts is not None and lt_ts.valid and lt_ts.trusted:
                            level = "B-LT"
            entry["level"] = level
            out.append(entry)
    return out


def qpdf_check(path: str | Path) -> bool:
    """True when `qpdf --check` finds neither errors nor warnings (exit 0). Structure only, not signatures."""
    proc = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True, timeout=120)
    return proc.returncode == 0


def pdftotext(path: str | Path, first_page: int | None = None, last_page: int | None = None) -> str:
    """Text of the document (or of a page range, 1-based) as poppler extracts it, layout kept."""
    cmd = ["pdftotext", "-layout", "-enc", "UTF-8"]
    if first_page is not None:
        cmd += ["-f", str(first_page)]
    if last_page is not None:
        cmd += ["-l", str(last_page)]
    proc = subprocess.run([*cmd, str(path), "-"], capture_output=True, text=True, check=True, timeout=60)
    return proc.stdout


def pdftotext_area(path: str | Path, page: int, x: float, y_top: float, width: float, height: float,
                   resolution: int = 72) -> str:
    """Text inside a rectangle of one page (1-based), coordinates in points from the TOP-left, as pdftotext -x/-y
    take them at 72 dpi."""
    cmd = ["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page), "-r", str(resolution),
           "-x", str(int(x)), "-y", str(int(y_top)), "-W", str(int(width) + 1), "-H", str(int(height) + 1),
           str(path), "-"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


def render_png(path: str | Path, page: int, out_prefix: str | Path, resolution: int = 100) -> Path:
    """Render one page (1-based) to PNG with pdftoppm; returns the PNG's path."""
    out_prefix = Path(out_prefix)
    subprocess.run(["pdftoppm", "-r", str(resolution), "-f", str(page), "-l", str(page), "-png", "-singlefile",
                    str(path), str(out_prefix)], check=True, capture_output=True, timeout=60)
    return out_prefix.with_suffix(".png")
