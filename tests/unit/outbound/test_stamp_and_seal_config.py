"""Where the organisation's signature goes (upload metadata, agency, default) and how the seal image is fetched:
once per container per seal version, keyed by the S3 ETag."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from chalicelib.adapters import aws
from chalicelib.adapters.agency_registry import Agency
from chalicelib.core.errors import SigningUnavailable
from chalicelib.domain.metadata import DocumentMetadata, StampPlacement
from chalicelib.outbound import sign_upload
from chalicelib.signing.pades import StampBox
from devstack.seal import make_demo_seal

BASE = {
    "number": "7413", "notation": "UBND-VX3", "type": "CV", "subject": "V/v thử", "issued_on": "2019-09-20",
    "place": "Vĩnh Phúc", "signer": {"full_name": "Trần Thị Minh Lợi"}, "recipients": ["000.00.00.G22"],
}


def test_stamp_is_optional_and_validated() -> None:
    assert DocumentMetadata.model_validate(BASE).stamp is None
    md = DocumentMetadata.model_validate({**BASE, "stamp": {"page": 1, "x": 320.5, "y": 96, "width": 260,
                                                            "height": 90}})
    assert md.stamp == StampPlacement(page=1, x=320.5, y=96, width=260, height=90)
    assert DocumentMetadata.model_validate({**BASE, "stamp": {}}).stamp == StampPlacement()  # all defaults
    for bad in ({"page": 0}, {"x": -1}, {"width": 10}, {"height": 5000}, {"x": float("nan")},
                {"y": float("inf")}, {"colour": "red"}, {"page": "last"}):
        with pytest.raises(ValidationError):
            DocumentMetadata.model_validate({**BASE, "stamp": bad})


def test_stamp_record_form_is_dynamodb_ready_and_round_trips_to_the_box() -> None:
    placement = StampPlacement(page=-1, x=320.456, y=96, width=260)
    record = placement.as_record()
    assert record == {"page": -1, "x": Decimal("320.46"), "y": Decimal("96"), "width": Decimal("260")}
    # what the store hands back (Decimal → int/float), into the signer's box
    plain = {k: (int(v) if isinstance(v, Decimal) and v == v.to_integral_value() else
                 float(v) if isinstance(v, Decimal) else v) for k, v in record.items()}
    assert StampBox.from_placement(plain) == StampBox(page=-1, x=320.46, y=96.0, width=260.0)


def _agency(**kw: Any) -> Agency:
    return Agency(organ_id="000.00.12.H62", name="Sở Thông tin và Truyền thông Vĩnh Phúc", served=True, **kw)


def test_upload_placement_wins_over_agency_placement_over_default() -> None:
    agency = _agency(stamp={"page": 1, "x": Decimal("100"), "y": Decimal("700")})
    assert sign_upload.stamp_box({}, _agency()) == StampBox()
    assert sign_upload.stamp_box({}, agency) == StampBox(page=0, x=100.0, y=700.0)
    upload = {"stamp_box": {"page": -1, "x": 300, "y": 80, "width": 250, "height": 90}}
    assert sign_upload.stamp_box(upload, agency) == StampBox(page=-1, x=300.0, y=80.0, width=250.0, height=90.0)
    # A broken agency setting does not stop signing: the default place is used.
    assert sign_upload.stamp_box({}, _agency(stamp={"page": 0})) == StampBox()


class _FakeS3:
    """get_object with If-None-Match, as S3 (and moto: checked) answers it: 304 as a ClientError."""

    def __init__(self, objects: dict[str, tuple[bytes, str]]) -> None:
        self.objects = objects
        self.calls: list[dict[str, Any]] = []

        class _Exceptions:
            ClientError = ClientError

        self.exceptions = _Exceptions

    def get_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        if kw["Key"] not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "GetObject")
        data, etag = self.objects[kw["Key"]]
        if kw.get("IfNoneMatch") == etag:
            raise ClientError({"Error": {"Code": "304", "Message": "Not Modified"}}, "GetObject")

        class _Body:
            def read(self, n: int = -1) -> bytes:
                return data

        return {"Body": _Body(), "ETag": etag}


@pytest.fixture
def fake_s3(monkeypatch: pytest.MonkeyPatch) -> _FakeS3:
    s3 = _FakeS3({"seals/000.00.12.H62.png": (make_demo_seal("Sở TT&TT"), '"v1"')})
    monkeypatch.setattr(aws, "client", lambda service: s3)
    monkeypatch.setattr(sign_upload, "_seals", {})
    return s3


def test_seal_downloaded_and_decoded_once_per_etag(fake_s3: _FakeS3) -> None:
    agency = _agency(seal_key="seals/000.00.12.H62.png", seal_etag='"v1"')
    first = sign_upload.agency_seal("bucket", agency)
    assert first is not None and first.width == first.height
    assert sign_upload.agency_seal("bucket", agency) is first
    assert len(fake_s3.calls) == 1  # the registry's ETag matches the cache: no S3 call at all

    # A new seal registered: new ETag in the registry → downloaded again.
    fake_s3.objects["seals/000.00.12.H62.png"] = (make_demo_seal("Sở Thông tin và Truyền thông"), '"v2"')
    second = sign_upload.agency_seal("bucket", _agency(seal_key="seals/000.00.12.H62.png", seal_etag='"v2"'))
    assert second is not first and len(fake_s3.calls) == 2


def test_without_registry_etag_a_conditional_get_keeps_the_cache(fake_s3: _FakeS3) -> None:
    agency = _agency(seal_key="seals/000.00.12.H62.png")
    first = sign_upload.agency_seal("bucket", agency)
    again = sign_upload.agency_seal("bucket", agency)
    assert again is first
    assert fake_s3.calls[1]["IfNoneMatch"] == '"v1"'  # 304: not downloaded, not decoded again


def test_no_seal_registered_means_text_only(fake_s3: _FakeS3) -> None:
    assert sign_upload.agency_seal("bucket", _agency()) is None
    assert fake_s3.calls == []


@pytest.mark.parametrize("objects", [{}, {"seals/000.00.12.H62.png": (b"not a png", '"x"')}])
def test_registered_but_unusable_seal_stops_signing_for_an_admin(monkeypatch: pytest.MonkeyPatch,
                                                                 objects: dict) -> None:
    s3 = _FakeS3(objects)
    monkeypatch.setattr(aws, "client", lambda service: s3)
    monkeypatch.setattr(sign_upload, "_seals", {})
    with pytest.raises(SigningUnavailable) as info:
        sign_upload.agency_seal("bucket", _agency(seal_key="seals/000.00.12.H62.png"))
    assert info.value.code == "seal_unavailable"
