"""Documents the tests register and sign: PDFs rendered from the fixture texts, and registration metadata made from
the demo sample (7413/UBND-VX3 of UBND tỉnh Vĩnh Phúc) under a notation of the test's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devstack.demo_data import SAMPLES
from devstack.sample_pdf import render_text_pdf

__all__ = ["FIXTURES", "SAMPLE", "bacgiang_congvan_pdf", "fresh_metadata"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "documents"
SAMPLE = SAMPLES[0]


def bacgiang_congvan_pdf(folder: Path) -> Path:
    """UBND tỉnh Bắc Giang's công văn on digital signatures (tests/fixtures/documents), as `folder`/cv.pdf."""
    text = (FIXTURES / "bacgiang-UBND-KT-congvan-ky-so.txt").read_text(encoding="utf-8")
    return render_text_pdf("ỦY BAN NHÂN DÂN TỈNH BẮC GIANG", text, folder / "cv.pdf")


def fresh_metadata(suffix: str, recipients: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A deep copy of the sample's metadata whose notation ends in `-suffix` (so it is a new document), with
    `recipients` (when given) and `extra` fields set."""
    metadata = json.loads(json.dumps(SAMPLE.metadata))
    metadata["notation"] = f"{metadata['notation']}-{suffix}"
    if recipients is not None:
        metadata["recipients"] = recipients
    metadata.update(extra)
    return metadata
