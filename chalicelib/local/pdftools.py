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


def pdfsig_report(path: str | Path) -> list[dict[str, Any]]:
    """One dict per signature in `path`, in document order, as poppler's pdfsig sees it.

    Keys: `index`, `field`, `common_name`, `subject`, `signing_time`, `hash_algorithm`, `type`, `ranges` (list of
    (start, end)), `total_document_signed` (bool), `validation` (text), `valid` (True only for "Signature is
    Valid."), `certificate_validation` (text). An unsigned document gives []. No online OCSP lookups.
    """
    proc = subprocess.run(["pdfsig", "-no-ocsp", str(path)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LC_ALL": "C.UTF-8"})
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
    return sigs


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
