"""S3 objects behind the `ObjectStore` port (chalicelib.domain.ports): the documents bucket's uploads, signed PDFs
and seals, and the presigned links the API hands out.

Why an adapter: the use cases (register, sign the upload, dispatch) name keys and files, not boto3 calls; this is
the one place that knows S3's error codes. The client comes from `aws.client("s3")` at each call (cheap: cached),
so a test that swaps the client or the endpoint is seen at once. `get_objects()` builds one adapter per bucket per
container; `use_objects()` points the use cases at another (tests/fakes).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.core.clock import utc_now
from chalicelib.core.settings import get_settings
from chalicelib.domain import archive
from chalicelib.domain.ports import NotModified, ObjectHead, ObjectStore, ObjectUnavailable

__all__ = ["S3Objects", "get_objects", "save", "use_objects"]

#: Error codes of a missing object (HEAD answers a bare 404; GET names it).
_MISSING = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
_UNREADABLE = frozenset({"404", "NoSuchKey", "AccessDenied", "403"})
#: The pieces a download is written in.
_CHUNK_BYTES = 1 << 20
#: Up to this size an upload is one PutObject; above it, boto3's multipart transfer (its default threshold).
SINGLE_PUT_BYTES = 8 * 1024 * 1024


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


class S3Objects:
    """One bucket's objects."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def _s3(self) -> Any:
        return aws.client("s3")

    def head(self, key: str, version_id: str | None = None) -> ObjectHead | None:
        """The object's size, user metadata and version, or None when it (or that version) is not there."""
        resp = self._ask("head_object", key, version_id)
        return _head_of(resp) if resp is not None else None

    def download(self, key: str, path: str, version_id: str | None = None) -> None:
        """The object to a local file, streamed in 1 MB pieces (signed PDFs reach 150 MB).

        One GetObject, not boto3's `download_file`: that one asks HeadObject first for the size (to split a large
        object into ranged GETs), a call per document the signing and dispatch handlers do not need (issue 11:
        their callers already know the object is there, and a Lambda streams 150 MB from S3 in about a second).
        A body cut short raises (botocore checks Content-Length), so a partial file is never taken for the object:
        the handler's message is retried."""
        extra = {"VersionId": version_id} if version_id else {}
        save(self._s3.get_object(Bucket=self.bucket, Key=key, **extra)["Body"], path)

    def open(self, key: str, version_id: str | None = None) -> tuple[ObjectHead, Any] | None:
        """What `head` says and the object's body, open, from one GetObject (issue 11: the signer checks an upload's
        binding and size on the answer's headers, then streams the body it already has, instead of a HeadObject and
        a GetObject); None when it (or that version) is not there. The caller closes the body (`save` does)."""
        resp = self._ask("get_object", key, version_id)
        return (_head_of(resp), resp["Body"]) if resp is not None else None

    def _ask(self, operation: str, key: str, version_id: str | None) -> dict[str, Any] | None:
        """HeadObject or GetObject of the key (that version, when given); None when it is not there."""
        s3 = self._s3
        extra = {"VersionId": version_id} if version_id else {}
        try:
            return dict(getattr(s3, operation)(Bucket=self.bucket, Key=key, **extra))
        except s3.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise

    def upload(self, path: str, key: str, *, content_type: str, metadata: dict[str, str] | None = None) -> None:
        """The local file to `key`: one streamed PutObject up to `SINGLE_PUT_BYTES`, multipart above it.

        Why not `upload_file` for every size (issue 11): boto3's transfer manager starts a thread pool and a future
        per file even for a 200 KB signed PDF, which cost the signing function more CPU than the PutObject itself;
        it pays off only where multipart does (S3 takes up to 5 GB in one PUT; a part failing alone is the gain)."""
        extra: dict[str, Any] = {"ContentType": content_type}
        if metadata is not None:
            extra["Metadata"] = metadata
        until = archive.retain_until(utc_now(), get_settings().archive_retention_days) if archive.is_archived(key) \
            else None
        if until is not None:  # a record (signed/, inbound/): locked until then (chalicelib.domain.archive)
            extra.update(ObjectLockMode=archive.LOCK_MODE, ObjectLockRetainUntilDate=until)
        if os.path.getsize(path) > SINGLE_PUT_BYTES:
            self._s3.upload_file(path, self.bucket, key, ExtraArgs=extra)
            return
        with open(path, "rb") as body:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)

    def delete_version(self, key: str, version_id: str) -> None:
        """That version of the object, deleted for good (DeleteObject with its VersionId, which leaves no delete
        marker and no noncurrent copy)."""
        self._s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)

    def read_if_changed(self, key: str, etag: str | None, limit: int) -> tuple[bytes, str]:
        """(up to `limit` bytes, ETag) of a small object; NotModified when `etag` is still current (a conditional
        GET, If-None-Match); ObjectUnavailable when it is missing or refused."""
        s3 = self._s3
        conditional = {"IfNoneMatch": etag} if etag else {}
        try:
            resp = s3.get_object(Bucket=self.bucket, Key=key, **conditional)
        except s3.exceptions.ClientError as exc:
            code = _code(exc)
            if code in ("304", "NotModified"):
                raise NotModified(key) from exc
            if code in _UNREADABLE:
                raise ObjectUnavailable(key, code) from exc
            raise
        return resp["Body"].read(limit), resp.get("ETag", "")

    def presigned_post(self, key: str, *, content_type: str, max_bytes: int, expires: int,
                       metadata: dict[str, str] | None = None) -> dict[str, Any]:
        """`{"url", "fields"}` of a browser upload limited to one content type and a size range; each `metadata`
        entry becomes an `x-amz-meta-<name>` field that the policy pins to exactly that value (the upload binding,
        chalicelib.domain.upload_binding), and S3 stores it as the object's user metadata."""
        meta = {f"x-amz-meta-{name}": value for name, value in (metadata or {}).items()}
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields={"Content-Type": content_type, **meta},
            Conditions=[{"Content-Type": content_type}, *({k: v} for k, v in meta.items()),
                        ["content-length-range", 1, max_bytes]], ExpiresIn=expires)
        return {"url": post["url"], "fields": post["fields"]}

    def presigned_get(self, key: str, *, content_type: str, expires: int, disposition: str | None = None) -> str:
        """A short-lived GET of `key`, answered with this Content-Type (and Content-Disposition, if given)."""
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentType": content_type}
        if disposition is not None:
            params["ResponseContentDisposition"] = disposition
        return self._s3.generate_presigned_url("get_object", ExpiresIn=expires, Params=params)


_override: ObjectStore | None = None


def _head_of(resp: dict[str, Any]) -> ObjectHead:
    """What a HeadObject or a GetObject answer says of the object (the same headers)."""
    metadata = {str(k).lower(): str(v) for k, v in (resp.get("Metadata") or {}).items()}
    version = resp.get("VersionId")
    return ObjectHead(size=int(resp["ContentLength"]), metadata=metadata,
                      version_id=str(version) if version and version != "null" else None)


def save(body: Any, path: str) -> None:
    """An open body (`S3Objects.open`, a GetObject's `Body`) to a local file in 1 MB pieces, then closed. A body cut
    short raises (botocore checks Content-Length), so a partial file is never taken for the object."""
    try:
        with open(path, "wb") as out:
            while chunk := body.read(_CHUNK_BYTES):
                out.write(chunk)
    finally:
        body.close()


@cache
def _for_bucket(bucket: str) -> S3Objects:
    return S3Objects(bucket)


def get_objects(bucket: str | None = None) -> ObjectStore:
    """The object store of `bucket` (default: the documents bucket), built once per container."""
    if _override is not None:
        return _override
    return _for_bucket(bucket or get_settings().documents_bucket)


def use_objects(store: ObjectStore | None) -> None:
    """Point every use case at `store` (an in-memory fake), or back at S3 with None."""
    global _override
    _override = store
