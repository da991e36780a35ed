"""What `sign_document` reads before it decides: the document's record and its agency, in one request.

Why one BatchGetItem (issue 11, fewer AWS calls per document): the handler needs both for every upload event, they
live in two tables, and the agency's code is known before either is read (it is in the upload's S3 key). Both reads
are strongly consistent: the record because the handler decides on its state, the agency because it carries the
signing key, which is never cached (chalicelib.adapters.agency_registry.AGENCY_TTL_SECONDS): an activation
(chalicelib.admin.keys.activate, a conditional write on the agency item) is seen by the very next document, so a
retired key never signs after it. Unit tests point the use case at fakes (`use_document_store`,
`use_agency_registry`); then the two ports are asked one after the other, as before.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.agency_registry import Agency, AgencyRegistry, get_agency_registry
from chalicelib.adapters.document_store import DocumentStore, doc_pk, get_document_store
from chalicelib.adapters.dynamo import plain
from chalicelib.adapters.record_body import BODY, META, join

__all__ = ["record_and_agency"]

#: BatchGetItem rounds for keys DynamoDB left unprocessed (throttling) before the message is left to SQS.
_MAX_ROUNDS = 4


def record_and_agency(document_id: str, organ_id: str) -> tuple[dict[str, Any] | None, Agency | None]:
    """`(record, agency)` as stored now; either is None when it is not there."""
    store, registry = get_document_store(), get_agency_registry()
    if not (isinstance(store, DocumentStore) and isinstance(registry, AgencyRegistry)):
        return store.get(document_id), registry.get(organ_id)
    request: dict[str, Any] = {
        store.table_name: {"Keys": [{"pk": doc_pk(document_id), "sk": META}, {"pk": doc_pk(document_id), "sk": BODY}],
                           "ConsistentRead": True},
        registry.table_name: {"Keys": [{"organ_id": organ_id}], "ConsistentRead": True},
    }
    found: dict[str, list[dict[str, Any]]] = {}
    client = aws.table(store.table_name).meta.client  # the resource's client: Python values in, Python values out
    for _ in range(_MAX_ROUNDS):
        resp = client.batch_get_item(RequestItems=request)
        for table, items in resp.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        request = resp.get("UnprocessedKeys") or {}
        if not request:
            break
    else:  # throttled throughout: the message is retried by SQS (its visibility timeout is the backoff)
        raise RuntimeError("BatchGetItem left keys unprocessed")
    record = join([plain(i) for i in found.get(store.table_name, [])])  # the state item and its body
    agency = next(iter(found.get(registry.table_name, [])), None)
    return record, (Agency.from_item(agency) if agency else None)
