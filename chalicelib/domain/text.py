"""The one validator for client text: every string a client sends that reaches a record or a package.

The character rules and NFC are `chalicelib.standards.xml_text` (XML 1.0 §2.2, UAX #15); this module makes them
the API's: `ClientText(...)`, a pydantic annotated type for request models (document metadata and its signer,
attachments), `client_text(...)` for the use cases that read a field by hand (reasons, admin inputs, filters), and
`body_text(...)` to check named fields of a JSON body before an older parser reads them. A refusal is always
`ValidationFailed` code `invalid_text` with `details.field` (the field's path, e.g. `signer.full_name`) and
`details.reason` (`control_character`, `surrogate`, `noncharacter`, `line_break`, `too_long`, `too_short`), never
the text itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.standards.xml_text import TextRejected, check_text

__all__ = ["INVALID_TEXT", "ClientText", "TextRule", "body_text", "client_text", "text_error",
           "validation_failed"]

INVALID_TEXT = "invalid_text"
_MESSAGE = "Văn bản gửi lên chứa ký tự không hợp lệ hoặc độ dài không đúng."


@dataclass(frozen=True)
class TextRule:
    """How one field's text is checked: lengths in code points after NFC; tab and line breaks only if multi-line."""

    max_len: int | None = None
    min_len: int = 0
    multiline: bool = False
    strip: bool = True

    def check(self, value: str) -> str:
        return check_text(value, max_len=self.max_len, min_len=self.min_len, multiline=self.multiline,
                          strip=self.strip)


def text_error(field: str, problem: TextRejected) -> ValidationFailed:
    """The API's refusal of one field's text."""
    return ValidationFailed(_MESSAGE, code=INVALID_TEXT, details={"field": field, **problem.details()})


def client_text(value: Any, field: str, *, max_len: int | None = None, min_len: int = 0,
                multiline: bool = False) -> str:
    """`value` checked and in NFC, or ValidationFailed (`invalid_text` for bad text, `invalid_request` for a
    value that is not a string)."""
    if not isinstance(value, str):
        raise ValidationFailed("Giá trị phải là chuỗi ký tự.", details={"field": field})
    try:
        return check_text(value, max_len=max_len, min_len=min_len, multiline=multiline)
    except TextRejected as exc:
        raise text_error(field, exc) from None


def body_text(body: Any, rules: Mapping[str, TextRule]) -> Any:
    """A copy of a JSON object body whose named string fields are checked and normalised by their rule, for use
    cases whose own parser reads the body afterwards; fields absent or not strings are left to that parser (which
    refuses wrong types with its own codes). A body that is not an object is returned as it is, for the same reason.
    A name `a.b` reaches into a nested object."""
    return _checked(body, rules, "")


def _checked(body: Any, rules: Mapping[str, TextRule], prefix: str) -> Any:
    if not isinstance(body, dict):
        return body
    out = dict(body)
    for name, rule in rules.items():
        head, _, rest = name.partition(".")
        if rest:
            if head in out:
                out[head] = _checked(out[head], {rest: rule}, f"{prefix}{head}.")
            continue
        value = out.get(head)
        if isinstance(value, str):
            try:
                out[head] = rule.check(value)
            except TextRejected as exc:
                raise text_error(prefix + name, exc) from None
    return out


# -- pydantic -------------------------------------------------------------------------------------------------


def ClientText(max_len: int | None = None, *, min_len: int = 0, multiline: bool = False) -> Any:  # noqa: N802
    """A pydantic string type under the client-text rule: `name: ClientText(100, min_len=1)`.

    The length bounds live here, not in `Field(max_length=...)`: pydantic would count before NFC, and a name
    typed in NFD (every mark a code point of its own) would be refused for a length it does not have. It runs
    before pydantic's own string checks, so a `Field(pattern=...)` sees the checked NFC text."""
    from pydantic import BeforeValidator  # lazy: pydantic only for request models, not every importer of this
    from pydantic_core import PydanticCustomError  # lazy: with pydantic

    rule = TextRule(max_len=max_len, min_len=min_len, multiline=multiline)

    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # pydantic's own str validation refuses it with its own message
        try:
            return rule.check(value)
        except TextRejected as exc:
            limit = {"too_long": "tối đa {limit} ký tự", "too_short": "tối thiểu {limit} ký tự"}
            raise PydanticCustomError(INVALID_TEXT, limit.get(exc.reason, "ký tự không hợp lệ ({reason})"),
                                      exc.details()) from None

    return Annotated[str, BeforeValidator(validate)]


def validation_failed(exc: Any) -> ValidationFailed:
    """A pydantic ValidationError as the API's answer: `invalid_text` (with `details.field`, `details.reason` of the
    first refused text and every error listed) when any text was refused, else `invalid_request` with the list.
    pydantic's own `string_unicode` (a lone surrogate it cannot decode) counts as refused text."""
    raw = exc.errors()
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in raw]
    for err, e in zip(errors, raw, strict=True):
        if e["type"] == INVALID_TEXT or e["type"] == "string_unicode":
            ctx = e.get("ctx") or TextRejected("surrogate").details()
            why = {k: ctx[k] for k in ("reason", "position", "char", "limit") if k in ctx}
            return ValidationFailed(_MESSAGE, code=INVALID_TEXT, details={"field": err["field"], **why,
                                                                          "errors": errors})
    return ValidationFailed(details={"errors": errors})
