"""The one validator for client text (chalicelib.standards.xml_text, chalicelib.domain.text): XML 1.0 characters,
no lone surrogates, NFC, lengths after NFC; `invalid_text` with `details.field` wherever it refuses."""

from __future__ import annotations

import unicodedata
from xml.parsers import expat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from chalicelib.core.errors import ValidationFailed
from chalicelib.domain.metadata import DocumentMetadata
from chalicelib.domain.text import ClientText, TextRule, body_text, client_text, validation_failed
from chalicelib.standards.edxml.markup import escape_text
from chalicelib.standards.xml_text import TextRejected, check_text, first_bad_char
from devstack.demo_data import SAMPLES

METADATA = SAMPLES[0].metadata
NAME_NFC = "Nguyễn Thị Hồng Nhung"
NAME_NFD = unicodedata.normalize("NFD", NAME_NFC)

#: One of each kind of character the rule refuses everywhere, with the reason it gives.
REFUSED = [
    ("\x00", "control_character"), ("\x01", "control_character"), ("\x1f", "control_character"),
    ("\x7f", "control_character"), ("\x85", "control_character"), ("\x9f", "control_character"),
    ("\ud800", "surrogate"), ("\udfff", "surrogate"),
    ("\ufffe", "noncharacter"), ("\uffff", "noncharacter"), ("\ufdd0", "noncharacter"),
    ("\U0001fffe", "noncharacter"), ("\U0010ffff", "noncharacter"),
]


@pytest.mark.parametrize(("char", "reason"), REFUSED)
def test_characters_xml_cannot_carry_are_refused_with_where_and_why(char, reason):
    with pytest.raises(TextRejected) as info:
        check_text(f"Quyết{char}định", multiline=True)
    assert info.value.details() == {"reason": reason, "position": 5, "char": f"U+{ord(char):04X}"}


@pytest.mark.parametrize("text", ["Tiếng Việt có dấu", "QĐ-UBND & <b>", "emoji 📄 ok", "\u00a0nbsp\u00a0", "中文"])
def test_ordinary_text_passes_unchanged(text):
    assert check_text(text, strip=False) == text
    assert first_bad_char(text) is None


def test_nfd_becomes_nfc_and_lengths_count_after_normalising():
    assert len(NAME_NFD) > len(NAME_NFC)
    assert check_text(NAME_NFD, max_len=len(NAME_NFC)) == NAME_NFC
    with pytest.raises(TextRejected) as info:
        check_text(NAME_NFD, max_len=len(NAME_NFC) - 1)
    assert info.value.reason == "too_long" and info.value.limit == len(NAME_NFC) - 1


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_tab_and_line_breaks_only_in_multi_line_text(char):
    with pytest.raises(TextRejected) as info:
        check_text(f"a{char}b")
    assert info.value.reason == "line_break"
    assert check_text(f"a{char}b", multiline=True) == ("a\tb" if char == "\t" else "a\nb")


def test_multi_line_text_has_lf_line_ends():
    assert check_text("một\r\nhai\rba\n", multiline=True) == "một\nhai\nba"


def test_too_short_after_stripping():
    with pytest.raises(TextRejected) as info:
        check_text("   ", min_len=1)
    assert info.value.reason == "too_short"


def test_client_text_refuses_with_invalid_text_and_the_field():
    with pytest.raises(ValidationFailed) as info:
        client_text("a\x01", "query.state")
    assert info.value.code == "invalid_text" and info.value.status == 400
    assert info.value.details == {"field": "query.state", "reason": "control_character", "position": 1,
                                  "char": "U+0001"}
    with pytest.raises(ValidationFailed) as info:
        client_text(5, "query.state")
    assert info.value.code == "invalid_request"


def test_body_text_checks_named_fields_and_leaves_the_rest_to_the_parser():
    rules = {"reason": TextRule(multiline=True), "pkcs11.key_label": TextRule(10)}
    out = body_text({"reason": unicodedata.normalize("NFD", " Sai địa chỉ\r\n"), "pkcs11": {"key_label": "k1"},
                     "other": "\x01"}, rules)
    assert out["reason"] == "Sai địa chỉ" and out["pkcs11"] == {"key_label": "k1"}
    assert out["other"] == "\x01", "only the named fields (the JSON edge refuses the rest)"
    for body, field in (({"reason": "a\x02"}, "reason"), ({"pkcs11": {"key_label": "x" * 11}}, "pkcs11.key_label")):
        with pytest.raises(ValidationFailed) as info:
            body_text(body, rules)
        assert info.value.code == "invalid_text" and info.value.details["field"] == field
    assert body_text([1], rules) == [1] and body_text({"reason": 5}, rules) == {"reason": 5}


class _Model(BaseModel):
    name: ClientText(5, min_len=1)  # type: ignore[valid-type]


def test_the_pydantic_type_normalises_and_refuses():
    assert _Model(name=unicodedata.normalize("NFD", "Hồng")).name == "Hồng"
    for bad, reason in (("a\x0bb", "control_character"), ("abcdef", "too_long"), ("", "too_short")):
        with pytest.raises(ValidationError) as info:
            _Model(name=bad)
        failed = validation_failed(info.value)
        assert failed.code == "invalid_text" and failed.details["field"] == "name"
        assert failed.details["reason"] == reason


@pytest.mark.parametrize(("field", "value", "where"), [
    ("subject", "Về việc\x01", "subject"),
    ("place", "Vĩnh\x85Yên", "place"),
    ("notation", "UBND\ufffe", "notation"),
    ("signer", {**METADATA["signer"], "full_name": "Trần\x00"}, "signer.full_name"),
    ("signer", {**METADATA["signer"], "position": "CHỦ\nTỊCH"}, "signer.position"),
    ("signer", {**METADATA["signer"], "competence": "KT.\tCHỦ TỊCH"}, "signer.competence"),
    ("reply_to", "abc\x1b", "reply_to"),
    ("number", "12\x00", "number"),
    ("type", "QĐ\x07", "type"),
    ("recipients", ["000.00.12.H62\x00"], "recipients.0"),
    ("attachments", [{"name": "Phụ lục\x01"}], "attachments.0.name"),
    ("place", "\ud83d", "place"),
])
def test_every_metadata_text_field_refuses_bad_text(field, value, where):
    with pytest.raises(ValidationError) as info:
        DocumentMetadata.model_validate({**METADATA, field: value})
    failed = validation_failed(info.value)
    assert failed.code == "invalid_text" and failed.details["field"] == where, failed.details


def test_metadata_in_nfd_is_stored_in_nfc():
    nfd = {k: unicodedata.normalize("NFD", v) if isinstance(v, str) else v for k, v in METADATA.items()}
    nfd["signer"] = {k: unicodedata.normalize("NFD", v) for k, v in METADATA["signer"].items()}
    parsed = DocumentMetadata.model_validate(nfd)
    assert parsed.subject == unicodedata.normalize("NFC", METADATA["subject"])
    assert parsed.place == unicodedata.normalize("NFC", METADATA["place"])
    assert parsed.signer.full_name == unicodedata.normalize("NFC", METADATA["signer"]["full_name"])
    assert parsed.type == METADATA["type"]


def test_a_subject_may_span_lines_a_place_may_not():
    assert DocumentMetadata.model_validate({**METADATA, "subject": "Dòng một\r\nDòng hai"}).subject == \
        "Dòng một\nDòng hai"
    with pytest.raises(ValidationError):
        DocumentMetadata.model_validate({**METADATA, "place": "Vĩnh\nYên"})


def test_other_errors_stay_invalid_request():
    with pytest.raises(ValidationError) as info:
        DocumentMetadata.model_validate({**METADATA, "type": "XYZ"})
    assert validation_failed(info.value).code == "invalid_request"


# -- property: what the API accepts, a package can carry ---------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=60), st.booleans())
def test_accepted_text_is_nfc_and_survives_the_edxml_writer_and_an_xml_parser(text, multiline):
    try:
        checked = check_text(text, multiline=multiline)
    except TextRejected:
        return
    assert unicodedata.is_normalized("NFC", checked)
    checked.encode("utf-8")  # no lone surrogate: DynamoDB and every package are UTF-8
    parsed: list[str] = []
    parser = expat.ParserCreate()  # the parser the edXML reader uses; a fixed document, no entities
    parser.CharacterDataHandler = parsed.append
    parser.Parse(f"<t>{escape_text(checked)}</t>".encode(), True)
    assert "".join(parsed) == checked
