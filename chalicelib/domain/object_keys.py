"""The S3 keys of a document's files, in one place (pure): the API presigns them, the signing handler reads and
writes them, dispatch and the admin's retry name them, and an S3 event's key maps back to its document.

`incoming/<organ>/<id>.pdf` is the upload, `signed/<organ>/<id>.pdf` the signed PDF; a phụ lục's keys are
`incoming/<organ>/<id>/att-<n>.pdf` and `signed/<organ>/<id>/att-<n>.pdf` (chalicelib.domain.attachments).
"""

from __future__ import annotations

from chalicelib.domain.attachments import incoming_attachment_key, parse_incoming_key, signed_attachment_key

__all__ = ["incoming_attachment_key", "incoming_key", "parse_incoming_key", "signed_attachment_key", "signed_key"]


def incoming_key(organ_id: str, document_id: str) -> str:
    """Where the client uploads the document itself (the presigned POST's key)."""
    return f"incoming/{organ_id}/{document_id}.pdf"


def signed_key(organ_id: str, document_id: str) -> str:
    """Where the signing handler stores the signed document."""
    return f"signed/{organ_id}/{document_id}.pdf"
