"""The wire shapes of outgoing documents and their amendments (docs/contract.md#wire-shapes): what
`GET /v1/documents/{id}`, the listing and the amendment answers show. Internal fields (leases, S3 keys, package hashes)
stay inside.

Why a module of its own: the documents' and the amendments' use cases both answer with a record, and neither
should import the other to do so.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.amendment_rules import UPDATE

__all__ = ["present", "present_amendment"]


def present(record: dict[str, Any], events: list[dict] | None = None,
            deliveries: list[dict] | None = None) -> dict[str, Any]:
    """The wire shape of a record (docs/contract.md#document-detail); internal fields (lease, keys) stay inside."""
    out: dict[str, Any] = {
        "document_id": record["document_id"], "organ_id": record["organ_id"], "state": record["state"],
        "metadata": record["metadata"], "created_at": record["created_at"], "updated_at": record["updated_at"],
    }
    for name in ("reason", "reason_message", "axis_error_code", "original_sha256", "original_size", "signed_sha256",
                 "signed_at", "pades_level", "dispatched_at", "revoked_at", "revocation_reason", "replaced_by",
                 "replaced_at", "register"):  # register: the number issued at signing (issue 12)
        if record.get(name):
            out[name] = record[name]
    if record.get("reason_details"):
        out["details"] = record["reason_details"]
    if record.get("attachments"):
        out["attachments"] = [
            {k: a[k] for k in ("index", "name", "file_name", "original_sha256", "original_size", "signed_sha256")
             if a.get(k)}
            for a in record["attachments"]]
    if record.get("replaces"):
        out["replaces"] = {k: record["replaces"].get(k) for k in ("document_id", "edxml_document_id")}
    if events is not None:
        out["timeline"] = [{"state": e["state"], "at": e["at"], **e.get("detail", {})} for e in events]
    if deliveries is not None:
        out["deliveries"] = [
            {"organ_id": d["organ_id"], "status": d["status"], "updated_at": d["updated_at"],
             **({"axis_doc_id": d["axis_doc_id"]} if d.get("axis_doc_id") else {}),
             **({"paper": d["paper"]} if "paper" in d else {}),
             **{k: d[k] for k in ("status_code", "status_meaning", "reason", "revocation", "update",
                                  "added_by_amendment") if d.get(k)},
             **({"removed": True} if d.get("removed") else {}),
             "history": d.get("history", [])}
            for d in deliveries
        ]
    return out


def present_amendment(item: dict[str, Any]) -> dict[str, Any]:
    """The wire shape of an amendment (in `GET /v1/documents/{id}` and the revoke/update answers)."""
    out = {k: item.get(k) for k in ("amendment_id", "kind", "reason", "status", "created_at", "created_by",
                                    "targets")}
    if item.get("kind") == UPDATE:
        out.update({k: item.get(k, []) for k in ("added", "removed", "recipients", "document_to")})
    for name in ("sent_at", "sent", "failed_at", "reason_code", "reason_message", "axis_error_code", "by_admin"):
        if item.get(name):
            out[name] = item[name]
    return out
