"""edoc-gateway: the table of contents. Routes and event handlers only, each a few lines calling chalicelib.

Heavy modules (boto3, pydantic, pyHanko, PyJWT) are imported inside the handlers that use them, so each
Lambda's cold start pays only for what it runs (DESIGN.md: importing this module ≤ 300 ms).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from chalicelib import settings
from chalicelib.errors import GatewayError, ValidationFailed
from chalicelib.log import logger

app = Chalice(app_name="edoc-gateway")
app.api.cors = False


def _json(status: int, body: Any) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"})


def api(path: str, methods: list[str] | None = None, *, auth: bool = True, status: int = 200) -> Callable:
    """A route that authenticates the caller (unless `auth=False`) and maps GatewayError to its JSON answer."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def handler(**params: str) -> Response:
            try:
                if auth:
                    from chalicelib.auth import caller_from_headers

                    params["caller"] = caller_from_headers(dict(app.current_request.headers))
                return _json(status, func(**params))
            except GatewayError as exc:
                return _json(exc.status, exc.to_body())
            except Exception:
                logger.exception("unhandled error", extra={"path": path})
                return _json(500, {"error": {"code": "internal_error",
                                             "message": "Lỗi hệ thống, vui lòng thử lại sau.", "details": {}}})

        return app.route(path, methods=methods or ["GET"])(handler)

    return decorate


def _body() -> Any:
    raw = app.current_request.raw_body or b"{}"
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed("Nội dung yêu cầu không phải JSON hợp lệ.", code="invalid_json") from exc


def _query(name: str) -> str | None:
    return (app.current_request.query_params or {}).get(name)


# -- health --------------------------------------------------------------------------------------------------
@api("/v1/health", auth=False)
def health() -> dict:
    return {"status": "ok", "stage": settings.get_settings().stage}


# -- agency: outgoing documents -----------------------------------------------------------------------------
@api("/v1/documents", methods=["POST"], status=201)
def create_document(caller: Any) -> dict:
    from chalicelib import documents

    return documents.create_document(caller, _body())


@api("/v1/documents")
def list_documents(caller: Any) -> dict:
    from chalicelib import documents

    return documents.list_documents(caller, limit=_query("limit"), cursor=_query("cursor"), state=_query("state"))


@api("/v1/documents/{document_id}")
def get_document(caller: Any, document_id: str) -> dict:
    from chalicelib import documents

    return documents.get_document(caller, document_id)


@api("/v1/documents/{document_id}/signed")
def get_signed_document(caller: Any, document_id: str) -> dict:
    from chalicelib import documents

    return documents.signed_download(caller, document_id)


# -- events --------------------------------------------------------------------------------------------------
def _batch(event: Any, handle: Callable[[str, int], None]) -> dict:
    """Process an SQS batch record by record; failed records are reported (ReportBatchItemFailures)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record: Any) -> None:
        handle(record.body, int(record.attributes.approximate_receive_count or 1))

    # raise_on_entire_batch_failure=False: a batch whose every record failed is reported in batchItemFailures
    # like any other, not turned into an invocation error (Lambda Errors metric, concurrency backoff).
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event.to_dict(), record_handler=record_handler, processor=processor,
                                    context=event.context)


@app.on_sqs_message(queue=settings.UPLOAD_QUEUE, batch_size=1)
def sign_document(event: Any) -> dict:
    from chalicelib.signing_flow import handle_upload_message

    return _batch(event, handle_upload_message)


@app.on_sqs_message(queue=settings.DISPATCH_QUEUE, batch_size=10)
def dispatch_document(event: Any) -> dict:
    from chalicelib.dispatch import handle_dispatch_message

    return _batch(event, handle_dispatch_message)
