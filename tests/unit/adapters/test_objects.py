"""chalicelib.adapters.objects without S3: what it keeps per container and how it streams a body to disk."""

from __future__ import annotations

import io
from pathlib import Path

from chalicelib.adapters import objects


def test_one_store_per_bucket_per_container() -> None:
    assert objects._for_bucket("edoc-a") is objects._for_bucket("edoc-a")
    assert objects._for_bucket("edoc-a") is not objects._for_bucket("edoc-b")


def test_a_body_is_saved_whole_and_closed_every_time(tmp_path: Path) -> None:
    """Each call writes its own body (nothing remembered between calls: a cached `save` would keep every body and
    skip a repeated call)."""
    target = tmp_path / "out.pdf"
    for content in (b"%PDF-1.7 first" * 1000, b"%PDF-1.7 second"):
        body = io.BytesIO(content)
        objects.save(body, str(target))
        assert target.read_bytes() == content and body.closed
    assert not hasattr(objects.save, "cache_info")
