"""`/v1/admin/agencies`: the agency registry an administrator runs (issue 9, "Agency registry"; admins only).

The registry is the one recipient checks use (chalicelib.domain.recipients): an agency set inactive here is
refused as a recipient with `recipient_inactive`. Level and parent derive from the code (QCVN 102:2016), never
sent. The rules are pure (chalicelib.domain.agencies, chalicelib.domain.agency_requests); the registry's table is
`chalicelib.adapters.agency_registry` (a fake in unit tests through `use_agency_registry`), the seal's bucket
`chalicelib.adapters.objects`.

Lists: `GET /v1/admin/agencies` reads the whole registry (a paginated Scan, then filters and order here) and
answers one page of it after the opaque cursor. Why not a GSI per filter: a province registers a few hundred to a
few thousand agencies (a few MB), admins list them occasionally, and five combinable filters plus an accent-free
`q` would need an index each and still a filter; one Scan keeps every filter exact and the order stable
(top level first, chalicelib.domain.agencies.list_order), whatever DynamoDB's hash order is.

Seal (NĐ 30/2020 Phụ lục I: the organisation's signature shows its seal): `POST .../seal` hands out a presigned
POST for `seals/<organ_id>/<token>.png`; `PUT .../seal {"key"}` reads the object and checks it (a PNG the signer can
draw, with an alpha channel, ≤ 512 KB, ≤ 2000 × 2000 px) before the agency's `seal_key`/`seal_etag` point at it:
the signer never sees an unchecked image.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from pydantic import ValidationError

from chalicelib.adapters.agency_registry import get_agency_registry
from chalicelib.adapters.dynamo import MAX_CURSOR_CHARS, ConditionFailed, plain
from chalicelib.adapters.objects import get_objects
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import Conflict, Forbidden, GatewayError, NotFound, ValidationFailed
from chalicelib.core.log import logger
from chalicelib.domain.agencies import SOURCE_LOCAL, AgencyFilter, fold_name, list_order, matches
from chalicelib.domain.agency_requests import AgencyCreate, AgencyPatch, SealConfirm
from chalicelib.domain.caller import Caller
from chalicelib.domain.links import expires_at
from chalicelib.domain.paging import page_limit
from chalicelib.domain.ports import NotModified, ObjectUnavailable
from chalicelib.domain.text import TextRule, client_text, text_error, validation_failed
from chalicelib.signing.seal import SealImageError, load_png
from chalicelib.standards.identifiers import is_strict, level, parent
from chalicelib.standards.xml_text import TextRejected

__all__ = ["MAX_SEAL_BYTES", "MAX_SEAL_SIDE_PX", "check_seal", "confirm_seal", "create_agency", "get_agency",
           "list_agencies", "present", "request_model", "require_admin", "seal_upload", "update_agency"]

MAX_SEAL_BYTES = 512 * 1024
MAX_SEAL_SIDE_PX = 2000
SEAL_URL_TTL_SECONDS = 600
_CONTACT = ("email", "telephone", "address")


def require_admin(caller: Caller) -> None:
    """The admin check of the use cases, behind the route's own (`admin=True`, chalicelib.api.http): the same one
    403 `forbidden` answer (issue 9), kept so a use case called from elsewhere is never open."""
    if not getattr(caller, "is_admin", False):
        raise Forbidden(details={"required_group": "admins"})


def present(item: dict[str, Any]) -> dict[str, Any]:
    """One agency as the API answers it (docs/contract.md#agency-registry); JSON-ready (no Decimal)."""
    item = plain(item)
    code = item["organ_id"]
    seal = {"key": item["seal_key"], "etag": item.get("seal_etag", "")} if item.get("seal_key") else None
    return {
        "organ_id": code, "name": item.get("name", code), "short_name": item.get("short_name", ""),
        "level": level(code), "parent": parent(code), "active": bool(item.get("active", True)),
        "served": bool(item.get("served", False)), "paper_in_parallel": bool(item.get("paper", False)),
        "contact": {name: item.get(name, "") for name in _CONTACT}, "seal": seal,
        "stamp": dict(item["stamp"]) if item.get("stamp") else None,
        "metadata_check": item.get("metadata_check", "reject"),
        "source": item.get("source", SOURCE_LOCAL),
        "updated_at": item.get("updated_at"), "created_at": item.get("created_at"),
    }


_ANY_TEXT = TextRule(multiline=True, strip=False)


def _characters(value: Any, field: str) -> None:
    """Every string of the body, known field or not, through the one validator's character rules first: a
    control character is `invalid_text` wherever it is (lengths and one-line rules are the model's)."""
    if isinstance(value, str):
        try:
            _ANY_TEXT.check(value)
        except TextRejected as exc:
            raise text_error(field, exc) from None
    elif isinstance(value, dict):
        for key, inner in value.items():
            _characters(inner, f"{field}.{key}" if field else str(key))
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            _characters(inner, f"{field}.{n}")


def request_model(model: Any, body: Any) -> Any:
    """A JSON body through its pydantic model, refusals in the API's codes (invalid_text, invalid_organ_id,
    invalid_request)."""
    if not isinstance(body, dict):
        raise ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.", code="json_not_object")
    _characters(body, "")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        if any(e["loc"][:1] == ("organ_id",) and e["type"] not in ("invalid_text", "string_unicode") for e in errors):
            raise ValidationFailed("Mã định danh cơ quan không đúng định dạng (QCVN 102:2016).",
                                   code="invalid_organ_id", details={"organ_id": str(body.get("organ_id"))[:32]}
                                   ) from exc
        raise validation_failed(exc) from exc


def _item(organ_id: str) -> dict[str, Any]:
    item = get_agency_registry().item(organ_id) if is_strict(organ_id) else None
    if item is None:
        raise NotFound("Không tìm thấy cơ quan.", code="unknown_agency", details={"organ_id": organ_id[:32]})
    return item


# -- list and read --------------------------------------------------------------------------------------------


def _flag(name: str, value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value in ("true", "false"):
        return value == "true"
    raise ValidationFailed("Tham số lọc không hợp lệ.", code="invalid_filter", details={"filter": name})


def _filter(q: str | None, level_: str | None, parent_: str | None, served: str | None,
            active: str | None) -> AgencyFilter:
    lvl = None
    if level_:
        if level_ not in ("1", "2", "3", "4"):
            raise ValidationFailed("Tham số lọc không hợp lệ.", code="invalid_filter", details={"filter": "level"})
        lvl = int(level_)
    if parent_ and not is_strict(parent_):
        raise ValidationFailed("Tham số lọc không hợp lệ.", code="invalid_filter", details={"filter": "parent"})
    words = client_text(q, "q", max_len=200) if q else None
    return AgencyFilter(q=words or None, level=lvl, parent=parent_ or None, served=_flag("served", served),
                        active=_flag("active", active))


def _encode(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    """The code a cursor resumes after; anything but one of ours is `invalid_cursor` (never a 500)."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        value = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")))
        if not isinstance(value, dict) or set(value) != {"after"} or not is_strict(value["after"]):
            raise ValueError("not ours")
        return str(value["after"])
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor") from exc


def list_agencies(caller: Caller, *, q: str | None = None, level: str | None = None, parent: str | None = None,
                  served: str | None = None, active: str | None = None, limit: str | None = None,
                  cursor: str | None = None) -> dict[str, Any]:
    """`GET /v1/admin/agencies`: filtered, ordered top level first, one page after `cursor` (see the module)."""
    require_admin(caller)
    size = page_limit(limit)
    wanted = _filter(q, level, parent, served, active)
    after = list_order(_decode(cursor)) if cursor else None
    found = sorted((i for i in get_agency_registry().items() if matches(i, wanted)),
                   key=lambda i: list_order(i["organ_id"]))
    if after is not None:
        found = [i for i in found if list_order(i["organ_id"]) > after]
    page = found[:size]
    body: dict[str, Any] = {"items": [present(i) for i in page]}
    if len(found) > size:
        body["next"] = _encode(page[-1]["organ_id"])
    return body


def get_agency(caller: Caller, organ_id: str) -> dict[str, Any]:
    """`GET /v1/admin/agencies/{organ_id}`; `unknown_agency` (404) for a code the registry does not hold."""
    require_admin(caller)
    return present(_item(organ_id))


# -- register and change --------------------------------------------------------------------------------------


def create_agency(caller: Caller, body: Any) -> dict[str, Any]:
    """`POST /v1/admin/agencies` (201): a new agency, `source: "local"`; `agency_exists` (409) for a known code."""
    require_admin(caller)
    request = request_model(AgencyCreate, body)
    at = now_iso()
    item: dict[str, Any] = {
        "organ_id": request.organ_id, "name": request.name, "name_folded": fold_name(request.name),
        "short_name": request.short_name, "active": True, "served": request.served,
        "paper": request.paper_in_parallel, **request.contact.model_dump(), "source": SOURCE_LOCAL,
        "created_at": at, "updated_at": at, "created_by": caller.username, "updated_by": caller.username,
    }
    try:
        get_agency_registry().create(item)
    except ConditionFailed as exc:
        raise Conflict("Cơ quan đã có trong danh bạ.", code="agency_exists",
                       details={"organ_id": request.organ_id}) from exc
    logger.info("agency registered", extra={"organ_id": request.organ_id, "served": request.served,
                                            "by": caller.username})
    return present({**item, "version": 1})


def update_agency(caller: Caller, organ_id: str, body: Any) -> dict[str, Any]:
    """`PATCH /v1/admin/agencies/{organ_id}`: any of the registration's fields, `active`, `stamp` (null clears it).

    A conditional update on the item's `version` as read: a change by another admin or the sync meanwhile is
    `agency_changed` (409), never a silent overwrite.
    """
    require_admin(caller)
    item = _item(organ_id)
    request = request_model(AgencyPatch, body)
    given = request.model_fields_set
    fields: dict[str, Any] = {}
    remove: tuple[str, ...] = ()
    if "name" in given and request.name is not None:
        fields.update(name=request.name, name_folded=fold_name(request.name))
    if "short_name" in given and request.short_name is not None:
        fields["short_name"] = request.short_name
    if "contact" in given and request.contact is not None:
        fields.update({k: v for k, v in request.contact.model_dump().items() if k in request.contact.model_fields_set})
    for name, attribute in (("paper_in_parallel", "paper"), ("served", "served"), ("active", "active")):
        value = getattr(request, name)
        if name in given and value is not None:
            fields[attribute] = value
    if "metadata_check" in given and request.metadata_check is not None:
        fields["metadata_check"] = request.metadata_check
    if "stamp" in given:
        if request.stamp is None:
            remove = ("stamp",)
        else:
            fields["stamp"] = request.stamp.as_record()
    at = now_iso()
    fields.update(updated_at=at, updated_by=caller.username)
    version = int(item.get("version", 0))
    try:
        get_agency_registry().update(organ_id, fields, version=version, remove=remove)
    except ConditionFailed as exc:
        raise Conflict("Thông tin cơ quan vừa được thay đổi bởi thao tác khác, vui lòng tải lại.",
                       code="agency_changed") from exc
    logger.info("agency updated", extra={"organ_id": organ_id, "fields": sorted(fields), "by": caller.username})
    updated = {**item, **fields, "version": version + 1}
    for name in remove:
        updated.pop(name, None)
    return present(updated)


# -- the seal ---------------------------------------------------------------------------------------------------


def seal_upload(caller: Caller, organ_id: str) -> dict[str, Any]:
    """`POST /v1/admin/agencies/{organ_id}/seal`: a presigned POST for a new seal PNG (then `PUT .../seal`)."""
    require_admin(caller)
    _item(organ_id)
    key = f"seals/{organ_id}/{secrets.token_hex(16)}.png"
    post = get_objects().presigned_post(key, content_type="image/png", max_bytes=MAX_SEAL_BYTES,
                                        expires=SEAL_URL_TTL_SECONDS)
    return {"key": key, "url": post["url"], "fields": post["fields"], "max_bytes": MAX_SEAL_BYTES,
            "expires_at": expires_at(SEAL_URL_TTL_SECONDS)}


def check_seal(data: bytes) -> tuple[int, int]:
    """(width, height) of a seal PNG the signer can draw with transparency, or `invalid_seal` saying why.

    The signer's own PNG reader (chalicelib.signing.seal.load_png) decides what it can draw; on top: an alpha
    channel (colour type 4 or 6: a seal without transparency hides the signature under it), ≤ 512 KB,
    ≤ 2000 × 2000 px (a seal is a few centimetres wide).
    """
    def refuse(reason: str, **details: Any) -> GatewayError:
        return GatewayError(code="invalid_seal", details={"reason": reason, **details})  # 422 (the catalogue's)

    if len(data) > MAX_SEAL_BYTES:
        raise refuse("too_large", max_bytes=MAX_SEAL_BYTES)
    try:
        image = load_png(data)
    except SealImageError as exc:
        raise refuse("not_a_usable_png", problem=str(exc)) from exc
    if image.alpha_data is None:
        raise refuse("no_transparency")
    if image.width > MAX_SEAL_SIDE_PX or image.height > MAX_SEAL_SIDE_PX:
        raise refuse("too_many_pixels", max_side_px=MAX_SEAL_SIDE_PX)
    return image.width, image.height


def confirm_seal(caller: Caller, organ_id: str, body: Any) -> dict[str, Any]:
    """`PUT /v1/admin/agencies/{organ_id}/seal {"key"}`: check the uploaded PNG, then point the agency at it."""
    require_admin(caller)
    item = _item(organ_id)
    key = request_model(SealConfirm, body).key
    prefix = f"seals/{organ_id}/"
    name = key[len(prefix):]
    if not key.startswith(prefix) or not name.endswith(".png") or "/" in name or len(name) != 36:
        raise ValidationFailed("Khóa ảnh con dấu không phải của cơ quan này.", code="invalid_seal_key")
    try:
        data, etag = get_objects().read_if_changed(key, None, MAX_SEAL_BYTES + 1)
    except (ObjectUnavailable, NotModified) as exc:
        raise NotFound("Chưa tải ảnh con dấu lên.", code="seal_not_uploaded", details={"key": key}) from exc
    width, height = check_seal(data)
    version = int(item.get("version", 0))
    fields = {"seal_key": key, "seal_etag": etag, "updated_at": now_iso(), "updated_by": caller.username}
    try:
        get_agency_registry().update(organ_id, fields, version=version)
    except ConditionFailed as exc:
        raise Conflict("Thông tin cơ quan vừa được thay đổi bởi thao tác khác, vui lòng tải lại.",
                       code="agency_changed") from exc
    logger.info("agency seal set", extra={"organ_id": organ_id, "key": key, "width": width, "height": height})
    return present({**item, **fields, "version": version + 1})
