"""Metadata validation: what a clerk may send, and the clear refusals for what they may not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain.metadata import DOCUMENT_TYPES, DocumentMetadata

BASE = {
    "number": "7413", "notation": "UBND-VX3", "type": "CV", "subject": "V/v triển khai Chính quyền điện tử",
    "issued_on": "2019-09-20", "place": "Vĩnh Phúc",
    "signer": {"full_name": "Trần Thị Minh Lợi", "position": "PHÓ CHÁNH VĂN PHÒNG", "competence": "TL. CHỦ TỊCH"},
    "recipients": ["000.00.00.G22"],
}


def test_given_a_real_cong_van_when_validated_then_defaults_apply():
    md = DocumentMetadata.model_validate(BASE)
    assert md.type_name == "Công văn"
    assert md.urgency == "normal" and md.secrecy == "none" and md.priority == 0


@pytest.mark.parametrize(("given", "expected"), [("QD", "QĐ"), ("QĐ", "QĐ"), ("QyD", "QyĐ"), ("DA", "DA"),
                                                  ("ĐA", "ĐA"), ("TTr", "TTr")])
def test_given_ascii_folded_type_then_it_maps_to_the_phu_luc_iii_abbreviation(given, expected):
    assert DocumentMetadata.model_validate({**BASE, "type": given}).type == expected


@pytest.mark.parametrize("change", [
    {"type": "XYZ"}, {"recipients": []}, {"recipients": ["H62"]}, {"recipients": ["000.00.00.G22"] * 2},
    {"number": "12a"}, {"notation": "UBND VX3"}, {"issued_on": "20/09/2019"}, {"subject": ""},
    {"urgency": "asap"}, {"steering_type": 3}, {"unexpected": 1}, {"due_date": "2019-01-01"},
])
def test_given_bad_metadata_then_validation_fails(change):
    with pytest.raises(ValidationError):
        DocumentMetadata.model_validate({**BASE, **change})


def test_given_empty_number_then_accepted_until_issued():
    assert DocumentMetadata.model_validate({**BASE, "number": ""}).number == ""


@given(st.sampled_from(sorted(DOCUMENT_TYPES)))
def test_every_phu_luc_iii_type_round_trips(abbreviation):
    md = DocumentMetadata.model_validate({**BASE, "type": abbreviation})
    again = DocumentMetadata.model_validate(md.model_dump(mode="json"))
    assert again == md and again.type == abbreviation
