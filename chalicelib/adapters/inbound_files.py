"""S3 for what the axis brings in: the raw package of each envelope, each filed attachment, and the short-lived
download links the inbox hands out.

Keys (documents bucket): `inbound/<organ_id>/<axis docId>.edxml` (the package as it came, stored before anything
else so nothing a sender sent can be lost) and `inbound/<organ_id>/<inbox_id>/<nn>-<name>` (attachments).
Why an adapter: the poll and the inbox use cases talk to this small surface (`chalicelib.domain.inbound_ports`),
not to boto3, so their unit tests run against an in-memory twin; `inbound_files()` builds it once per container.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.core.settings import get_settings

__all__ = ["InboundFiles", "inbound_files"]


class InboundFiles:
    """Inbound objects in one bucket (the documents bucket)."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def _s3(self) -> Any:
        return aws.client("s3")

    def put_file(self, path: str, key: str, content_type: str) -> None:
        """Upload the file at `path` (streamed, multipart when large)."""
        self._s3.upload_file(path, self.bucket, key, ExtraArgs={"ContentType": content_type})

    def download_url(self, key: str, *, disposition: str, content_type: str, expires_in: int) -> str:
        """A presigned GET of `key`, answered with the given Content-Disposition and Content-Type."""
        return self._s3.generate_presigned_url("get_object", ExpiresIn=expires_in, Params={
            "Bucket": self.bucket, "Key": key, "ResponseContentDisposition": disposition,
            "ResponseContentType": content_type})


def inbound_files() -> InboundFiles:
    """The adapter of the configured documents bucket, built once per container (and per bucket name)."""
    return _files_for(get_settings().documents_bucket)


@cache
def _files_for(bucket: str) -> InboundFiles:
    return InboundFiles(bucket)
