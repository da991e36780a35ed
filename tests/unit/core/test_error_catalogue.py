"""The error-code catalogue (chalicelib.core.error_codes) is complete, Vietnamese, snake_case, and rendered.

Completeness is read from the source with `ast`, so a code added at a raise site without its catalogue entry fails
here. The places a code is spelled (each seen in the tree):
- the `code=` keyword of any call (`NotFound("…", code="document_not_found")`, `_own(..., code="…")`) and the
  `code` keyword-only default of a function;
- the first positional argument of an exception whose `__init__` takes `code` or `reason` first (`EdxmlError`,
  `SignatureError`);
- a class body's `code = "…"` (the families in core/errors.py, the axis errors, `PayloadTooLarge`...);
- a record's reason: a dict literal's `"reason"` / `"reason_code"` entry (not inside `details`), the reason passed
  to the poller's `refuse(base, outcome, reason, ...)`, and a `reason = …` assignment;
- a verification report's `"error"` (answered by POST /v1/verify as the code), and what a `*_problem` function
  returns (`certificates._validity_problem`, raised as the code);
- the values (or the strings in tuple values) of a dict assigned to a name ending in `_ERROR_CODES` (the tables
  that map Chalice's and API Gateway's own refusals to codes, chalicelib.api.chalice_errors).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.core import error_codes
from chalicelib.core.errors import CertificateRejected, CertificateUnusable, GatewayError, NotFound, ValidationFailed

REPO = Path(__file__).resolve().parents[3]
SOURCES = sorted([*REPO.joinpath("chalicelib").rglob("*.py"), REPO / "app.py"])
REASON_KEYS = {"reason", "reason_code"}
VIETNAMESE = re.compile("[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.IGNORECASE)
SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_(?:[a-z0-9]+|\{n\}))*")


@dataclass(frozen=True)
class Spelling:
    code: str
    where: str
    recorded: bool  # written on a record as its reason


def _literals(node: ast.AST | None, *, templates: bool = False) -> list[str]:
    """The strings `node` can be: a constant, either branch of `a if c else b`, an f-string as `prefix_{n}`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body, templates=templates) + _literals(node.orelse, templates=templates)
    if templates and isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "{n}" for v in node.values)]
    return []


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in SOURCES}


def _code_first_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """Exception classes whose `__init__(self, code_or_reason, ...)` takes the code as the first argument."""
    found = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__" and len(item.args.args) > 1 \
                            and item.args.args[1].arg in {"code", "reason"}:
                        found.add(node.name)
    classes = [n for tree in trees.values() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    grew = True
    while grew:  # subclasses that inherit such an __init__ (EdxmlReadError(EdxmlError)) take the code first too
        grew = False
        for node in classes:
            if node.name not in found and any(_name(base) in found for base in node.bases):
                found.add(node.name)
                grew = True
    return found


def spellings() -> Iterator[Spelling]:
    """Every code literal in chalicelib and app.py, with where it is and whether it is a record's reason."""
    trees = _trees()
    code_first = _code_first_classes(trees)
    for path, tree in trees.items():
        rel = path.relative_to(REPO)
        details = {id(k.value) for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords
                   if k.arg == "details"}
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "code":
                        yield from (Spelling(c, where, False) for c in _literals(keyword.value))
                if _name(node.func) in code_first and node.args:
                    yield from (Spelling(c, where, False) for c in _literals(node.args[0]))
                if _name(node.func) == "refuse" and len(node.args) >= 3:
                    yield from (Spelling(c, where, True) for c in _literals(node.args[2], templates=True))
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code"
                                                            for t in item.targets):
                        yield from (Spelling(c, where, False) for c in _literals(item.value))
            elif isinstance(node, ast.Dict) and id(node) not in details:
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value in REASON_KEYS | {"error"}:
                        recorded = key.value in REASON_KEYS
                        yield from (Spelling(c, where, recorded) for c in _literals(value))
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "reason"
                                                      for t in node.targets):
                yield from (Spelling(c, where, True) for c in _literals(node.value))
            elif isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    isinstance(t, ast.Name) and t.id.endswith("_ERROR_CODES")
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])):
                for value in node.value.values:
                    items = value.elts if isinstance(value, ast.Tuple) else [value]
                    yield from (Spelling(c, where, False) for item in items for c in _literals(item))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
                    if arg.arg == "code":
                        yield from (Spelling(c, where, False) for c in _literals(default))
                if node.name.endswith("_problem"):
                    for ret in ast.walk(node):
                        if isinstance(ret, ast.Return):
                            yield from (Spelling(c, f"{rel}:{ret.lineno}", False) for c in _literals(ret.value))


SPELLINGS = list(spellings())


def test_the_scan_finds_the_codes_it_is_meant_to_find():
    # One of each kind of spelling above, so a scanner that silently finds nothing cannot pass.
    found = {s.code for s in SPELLINGS}
    assert {"document_not_found", "malformed_xml", "bad_signature", "axis_unavailable", "upload_rejected",
            "axis_send_unconfirmed", "signing_error", "unknown_document", "not_registered", "business_doc_type_{n}",
            "encrypted_pdf", "certificate_not_yet_valid", "replaced_document_not_found"} <= found
    assert len(found) >= 100


def test_every_code_spelled_in_the_gateway_is_in_the_catalogue():
    missing = sorted({f"{s.code} ({s.where})" for s in SPELLINGS if s.code not in error_codes.CODES})
    assert not missing, "add these codes to chalicelib/core/error_codes.py:\n" + "\n".join(missing)


def test_every_code_written_on_a_record_is_marked_recorded():
    unmarked = sorted({f"{s.code} ({s.where})" for s in SPELLINGS
                       if s.recorded and s.code in error_codes.CODES and not error_codes.CODES[s.code].recorded})
    assert not unmarked


def test_the_catalogue_has_no_entry_nothing_spells():
    spelled = {s.code for s in SPELLINGS}
    assert sorted(set(error_codes.CODES) - spelled) == []


def test_each_code_appears_once():
    codes = [e.code for entries in error_codes.AREAS.values() for e in entries]
    assert len(codes) == len(set(codes)) == len(error_codes.CODES)


@pytest.mark.parametrize("entry", list(error_codes.CODES.values()), ids=lambda e: e.code)
def test_every_entry_is_snake_case_vietnamese_and_explained(entry):
    assert SNAKE.fullmatch(entry.code), entry.code
    assert VIETNAMESE.search(entry.message), entry.message
    assert entry.message.strip() == entry.message and entry.message[-1] in ".)", entry.message
    assert entry.meaning and "\n" not in entry.meaning
    assert all(400 <= status <= 599 for status in entry.statuses)


def test_class_messages_agree_with_the_catalogue():
    """A class that spells its own default message (the axis errors, EdxmlError, PayloadTooLarge) says what the
    catalogue says for its code, so the catalogue stays the place to read them."""
    disagree = []
    for path, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                body = {t.id: item.value for item in node.body if isinstance(item, ast.Assign)
                        for t in item.targets if isinstance(t, ast.Name)}
                code, message = _literals(body.get("code")), _literals(body.get("message"))
                if code and message and error_codes.CODES[code[0]].message != message[0]:
                    disagree.append(f"{node.name} ({path.relative_to(REPO)}): {code[0]}")
    assert not disagree


def test_a_code_without_a_message_takes_the_catalogues():
    assert NotFound(code="inbox_item_not_found").message == "Không tìm thấy văn bản đến."
    assert CertificateUnusable(code="certificate_not_yet_valid").message == \
        "Chứng thư số của cơ quan chưa đến thời hạn hiệu lực."
    # the raise site's own message wins; a code the catalogue lacks keeps the class's default
    assert NotFound("Văn bản khác.", code="inbox_item_not_found").message == "Văn bản khác."
    assert ValidationFailed(code="not_in_the_catalogue").message == "Dữ liệu gửi lên không hợp lệ."


def test_the_class_sets_the_status_and_a_bare_gateway_error_takes_the_catalogues():
    assert NotFound(code="invalid_json").status == 404  # the family decides the HTTP answer
    assert CertificateRejected(code="certificate_expired").status == 422
    assert CertificateUnusable().status == 503
    assert GatewayError(code="document_not_found").status == 404
    assert GatewayError(code="not_in_the_catalogue").status == 400
    assert GatewayError().to_body() == {"error": {"code": "bad_request", "message": "Yêu cầu không hợp lệ.",
                                                  "details": {}}}


def test_the_families_defaults_are_unchanged():
    # Byte-identical wire messages: the defaults moved into the catalogue, they did not change.
    assert ValidationFailed().message == "Dữ liệu gửi lên không hợp lệ."
    assert CertificateUnusable().message == "Chứng thư số của cơ quan đã hết hạn, không thể ký văn bản."
    assert CertificateRejected().message == "Chứng thư số không được chấp nhận."


def test_docs_error_codes_md_is_the_rendered_catalogue():
    page = REPO / "docs" / "error-codes.md"
    assert page.read_text(encoding="utf-8") == error_codes.markdown(), \
        "regenerate: .venv/bin/python -m chalicelib.core.error_codes > docs/error-codes.md"
    for code in error_codes.CODES:
        assert f"`{code}`" in page.read_text(encoding="utf-8")
