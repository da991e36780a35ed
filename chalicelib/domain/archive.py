"""What the archive keeps and for how long (issue 13): signed documents and inbound packages are official records,
which NĐ 30/2020 and the Archives Law (Luật Lưu trữ) keep for years.

Why per object and not a bucket default: S3 Object Lock's default retention would lock every object of the bucket,
the uploads too, which the signer deletes once signed (their bytes are the signed file's start: chalicelib/outbound/
sign_upload.py `_drop_originals`). So every write under an archived prefix carries its own retention, in governance
mode (an administrator holding `s3:BypassGovernanceRetention` can still remove a record, for instance one a court
orders destroyed; nobody else, and no function, can delete or overwrite-in-place a version before its date), for
`ARCHIVE_RETENTION_DAYS` days (the template's `ArchiveRetentionDays`, docs/operations.md#archive). The bucket's
lifecycle expires what is not archived (older versions of uploads), never a version still under retention.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["ARCHIVED_PREFIXES", "LOCK_MODE", "is_archived", "retain_until"]

#: The prefixes whose objects are records: the signed PDFs (and phụ lục) and everything the axis brought in.
ARCHIVED_PREFIXES = ("signed/", "inbound/")
LOCK_MODE = "GOVERNANCE"


def is_archived(key: str) -> bool:
    return key.startswith(ARCHIVED_PREFIXES)


def retain_until(now: dt.datetime, days: int) -> dt.datetime | None:
    """The date a version written `now` is kept until; None when retention is off (`days` ≤ 0, the default outside
    a deployed stage and the embedded stack)."""
    if days <= 0:
        return None
    return (now.astimezone(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)
