"""Runs INSIDE an unzipped Lambda package, in a fresh interpreter that sees only the package and the standard
library (`python -I -S package_probe.py <package dir> <inputs.json> <out.json>`): every path the gateway's
functions take, with no site-packages to fall back on (issue 11, acceptance 3; tests/integration/
test_package_contents.py runs it and reads the answer).

Why a script and not a test module: it must not import pytest, devstack or tests (none of them is in the package);
the test prepares the inputs (a PDF, the demo seal, a local RSA key and its certificate) with the venv's tools and
hands their paths over in inputs.json. What it proves, one step each (a failing step is recorded, not fatal, so one
run reports every missing piece):

- `import app`, every chalicelib module, and every import placed inside a function (app.py's handlers and
  chalicelib's lazy third-party imports, read from the source with `ast`, as tests/architecture/test_house.py does);
- a real PAdES B-B signature with the agency's seal and a local RSA key (chalicelib.keys.backends.LocalKeySigner),
  verified by the package's own chalicelib.signing.verification; pyHanko's XMP path (lxml) is live;
- an edXML package written and parsed back (chalicelib.standards.edxml);
- a boto3 client per service the gateway calls, each building and signing a real request (sent nowhere: a
  `before-send` hook captures it), an S3 presigned POST and GET, and the DynamoDB Table resource;
- an RS256 ID token verified with PyJWT through chalicelib.api.jwks; an XLSX report through openpyxl;
- an SQS batch through powertools (chalicelib.api.events.sqs_batch); pkcs11 and pyHanko's PKCS#11 signer loaded;
- nothing loaded from outside the package and the standard library, and nothing of the package compiled from
  source (every module from the bytecode infra/lean_package.py ships: Lambda cannot write a cache).

The answer (out.json) also lists every module loaded and every package file opened, which is how the exclusion
table in infra/lean_package.py was checked against what runs.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

PKG = Path(sys.argv[1]).resolve()
INPUTS = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
OUT = Path(sys.argv[3])
sys.path.insert(0, str(PKG))
OPENED: set[str] = set()
COMPILED: set[str] = set()


def _audit(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], str) and args[0].startswith(str(PKG)):
        OPENED.add(os.path.relpath(args[0], PKG))
    elif event == "compile" and isinstance(args[1], str) and args[1].startswith(str(PKG)):
        COMPILED.add(os.path.relpath(args[1], PKG))  # a module imported from its source: no usable bytecode


sys.addaudithook(_audit)
RESULTS: dict[str, str] = {}
STEPS: list[tuple[str, str, Any]] = []
#: Which steps to run (their keys; all by default): a function's own package runs only its own paths.
WANTED = set(INPUTS.get("steps") or [])


def step(key: str, name: str):  # noqa: ANN201 - registers a step; they run in order at the end
    def register(fn: Any) -> Any:
        STEPS.append((key, name, fn))
        return fn
    return register


def run_steps() -> None:
    for key, name, fn in STEPS:
        if WANTED and key not in WANTED:
            continue
        try:
            detail = fn()
            RESULTS[name] = "ok" + (f": {detail}" if detail else "")
        except BaseException as exc:  # noqa: BLE001 - every failure is the answer
            RESULTS[name] = f"FAILED: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"


def _imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """(module, names, inside a function) for every absolute import of `path` outside `if TYPE_CHECKING:`."""
    found: list[tuple[str, list[str], bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, [], lazy) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and not child.level:
                found.append((child.module or "", [alias.name for alias in child.names], lazy))
            visit(child, lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _gateway_file(module: str) -> Path | None:
    base = PKG.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def _reachable(handlers: list[str] | None) -> list[str]:
    """The chalicelib modules `handlers` (app.py function names; None = all of chalicelib) can load, counting
    imports inside functions: app.py's top-level imports, the handlers' own, and everything those import."""
    if handlers is None:
        return sorted(".".join(p.relative_to(PKG).with_suffix("").parts).removesuffix(".__init__")
                      for p in (PKG / "chalicelib").rglob("*.py"))
    tree = ast.parse((PKG / "app.py").read_text(encoding="utf-8"))
    roots = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) or n.name in handlers]
    missing = set(handlers) - {n.name for n in roots if isinstance(n, ast.FunctionDef)}
    assert not missing, f"no such handlers in app.py: {missing}"
    todo = []
    for node in roots:
        for sub in ast.walk(node):
            if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("chalicelib"):
                todo += [sub.module, *(f"{sub.module}.{a.name}" for a in sub.names)]
            elif isinstance(sub, ast.Import):
                todo += [a.name for a in sub.names if a.name.startswith("chalicelib")]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        path = _gateway_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parents' __init__ run first
        for target, names, _ in _imports(path):
            if target.startswith("chalicelib"):
                todo += [target, *(f"{target}.{n}" for n in names)]
    return sorted(seen)


@step("app", "import app")
def _import_app() -> None:
    importlib.import_module("app")


@step("imports", "every chalicelib module the handlers reach and every import inside their functions")
def _every_import() -> str:
    modules = _reachable(INPUTS.get("handlers"))
    count = 0
    for module in modules:
        importlib.import_module(module)
    for module in modules:
        for target, names, lazy in _imports(_gateway_file(module)):
            if not lazy:
                continue
            mod = importlib.import_module(target)
            for name in names:
                if not hasattr(mod, name):
                    importlib.import_module(f"{target}.{name}")
            count += 1
    return f"{len(modules)} modules, {count} imports inside functions"


def _identity() -> tuple[Any, Any]:
    from asn1crypto import x509

    from chalicelib.keys.backends import LocalKeySigner
    from chalicelib.signing.identity import SigningIdentity

    raw = LocalKeySigner.from_pem(Path(INPUTS["key_pem"]).read_bytes())
    cert = x509.Certificate.load(Path(INPUTS["cert_der"]).read_bytes())
    root = x509.Certificate.load(Path(INPUTS["root_der"]).read_bytes())
    return SigningIdentity(INPUTS["organ_id"], INPUTS["org_name"], cert, [root], raw), root


def _sign(level: str) -> str:
    from chalicelib.signing.profile import PadesProfile
    from chalicelib.signing.seal import load_png
    from chalicelib.signing.sign_file import sign_pdf_file
    from chalicelib.signing.verification import summary, verify_pdf

    identity, root = _identity()
    seal = load_png(Path(INPUTS["seal_png"]).read_bytes(), "seals/probe.png")
    profile = PadesProfile() if level == "B-B" else PadesProfile(level=level, tsa_url=INPUTS["tsa_url"])
    signed = Path(INPUTS["workdir"]) / f"signed-{level}.pdf"
    result = sign_pdf_file(INPUTS["pdf"], signed, identity, seal=seal, profile=profile)
    assert result.level == level, result
    # pyHanko updates the document's XMP metadata through lxml when it can import it, and silently skips it
    # when it cannot (PDF/A info dictionary and XMP would then disagree): lxml must load on the signing path.
    assert "lxml.etree" in sys.modules, "pyHanko's XMP writer (lxml) did not load"
    report = verify_pdf(signed, trust_roots=[root])
    word = summary(report)
    assert word == "valid", json.dumps(report, default=str)[:2000]
    assert report["signatures"][-1]["pades_level"] == level, report["signatures"][-1]
    return f"{len(report['signatures'])} signatures {word}"


@step("sign", "PAdES B-B with the seal, local RSA key, verified by the package")
def _sign_b_b() -> str:
    return _sign("B-B")


@step("sign", "PAdES B-LT with the seal (TSA, OCSP over HTTP), verified by the package")
def _sign_b_lt() -> str:
    return _sign("B-LT")


@step("verify", "a signed PDF verified by the package (chalicelib.signing.verification)")
def _verify() -> str:
    from chalicelib.signing.verification import summary, verify_pdf

    _, root = _identity()
    report = verify_pdf(INPUTS["pdf"], trust_roots=[root])
    assert summary(report) == "valid", report
    return f"{len(report['signatures'])} signature"


@step("draft", "draft: page text with positions (pypdf, bounded) read by the NĐ 30 reader (POST /v1/documents/draft)")
def _draft() -> str:
    from chalicelib.domain.document_reader import read_document
    from chalicelib.signing.pdf_text import page_lines

    pages, lines = page_lines(INPUTS["pdf"])
    reading = read_document(lines)
    assert pages == 1 and any("Lambda" in line.text for line in lines), lines
    return f"{len(lines)} lines, {len(reading.warnings)} warnings"


@step("edxml", "edXML written and parsed")
def _edxml() -> str:
    from datetime import date, datetime

    from chalicelib.core.clock import VN_TZ
    from chalicelib.standards.edxml import (
        AttachmentSource,
        Business,
        DocumentHeader,
        Organ,
        SignerInfo,
        document_id,
        parse_package,
        write_new_document_package,
    )

    sender, to = Organ("000.00.12.H62", "Sở TTTT"), Organ("000.00.00.G22", "Văn phòng Chính phủ")
    issued = date(2026, 12, 1)
    header = DocumentHeader(
        document_id=document_id(sender, issued, "7413", "UBND-VX3"), code_number="7413", code_notation="UBND-VX3",
        place="Vĩnh Phúc", promulgation_date=issued, type_name="Công văn", subject="V/v thử gói Lambda",
        signer=SignerInfo("TL. CHỦ TỊCH", "PHÓ CHÁNH VĂN PHÒNG", "Trần Thị Minh Lợi"), to_places=["Như trên"])
    path = Path(INPUTS["workdir"]) / "package.edxml"
    with open(path, "wb") as out:
        write_new_document_package(out, sender=sender, recipients=[to], header=header, business=Business(),
                                   attachments=[AttachmentSource("7413.pdf", "application/pdf", Path(INPUTS["pdf"]))],
                                   trace_timestamp=datetime(2026, 12, 1, 9, 0, tzinfo=VN_TZ), tmp_dir=INPUTS["workdir"])
    with parse_package(path, tmp_dir=INPUTS["workdir"]) as parsed:
        assert len(parsed.attachments) == 1
    return f"{path.stat().st_size} bytes"


class Captured(Exception):
    """Raised by the before-send hook: the request was built and signed, and goes nowhere."""


def _capture(request: Any, **_: Any) -> None:
    raise Captured(request)


def _built(client: Any, call: Any) -> str:
    client.meta.events.register_first("before-send", _capture)
    try:
        call()
    except Captured as got:
        request = got.args[0]
        assert request.headers.get("Authorization", b"").startswith(b"AWS4-HMAC-SHA256"), request.headers
        return request.url
    raise AssertionError("no request was sent")


@step("aws", "boto3: a signed request per service, presigned S3, the Table resource")
def _aws() -> str:
    from chalicelib.adapters import aws
    from chalicelib.adapters.objects import S3Objects

    calls = {
        "s3": lambda c: c.head_object(Bucket="edoc-probe", Key="k"),
        "sqs": lambda c: c.send_message(QueueUrl="https://sqs.ap-southeast-1.amazonaws.com/1/q", MessageBody="x"),
        "dynamodb": lambda c: c.get_item(TableName="t", Key={"pk": {"S": "x"}}),
        "kms": lambda c: c.sign(KeyId="k", Message=b"x", MessageType="RAW",
                                SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256"),
        "secretsmanager": lambda c: c.get_secret_value(SecretId="s"),
        "cognito-idp": lambda c: c.admin_list_groups_for_user(UserPoolId="ap-southeast-1_x", Username="u"),
    }
    urls = []
    for service, call in calls.items():
        client = aws.client(service)
        urls.append(_built(client, lambda client=client, call=call: call(client)))
    objects = S3Objects("edoc-probe")
    post = objects.presigned_post("incoming/a.pdf", content_type="application/pdf", max_bytes=10, expires=60,
                                  metadata={"document-id": "d"})
    assert "x-amz-signature" in post["fields"], post
    assert "X-Amz-Signature" in objects.presigned_get("signed/a.pdf", content_type="application/pdf", expires=60)
    table = aws.table("edoc-local-documents")
    urls.append(_built(table.meta.client, lambda: table.get_item(Key={"pk": "x"})))
    return " ".join(sorted({u.split("/")[2] for u in urls}))


@step("jwt", "RS256 ID token verified with PyJWT (chalicelib.api.jwks)")
def _jwt() -> None:
    import json as _json
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from chalicelib.api.jwks import JwksCache

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = _json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    now = int(time.time())
    token = jwt.encode({"sub": "u", "aud": "c", "iss": "i", "exp": now + 60, "iat": now, "token_use": "id"}, key,
                       algorithm="RS256", headers={"kid": "k1"})
    found = JwksCache(lambda: jwks).key("k1")
    claims = jwt.decode(token, found.key, algorithms=["RS256"], audience="c", issuer="i")
    assert claims["sub"] == "u"


@step("xlsx", "XLSX report written and read back (openpyxl)")
def _xlsx() -> str:
    import io

    import openpyxl

    from chalicelib.admin.report_files import SHEET_TITLE, xlsx_bytes

    data = xlsx_bytes(INPUTS["report"])
    rows = list(openpyxl.load_workbook(io.BytesIO(data))[SHEET_TITLE].iter_rows(values_only=True))
    assert len(rows) == len(INPUTS["report"]["agencies"]) + 2, rows
    return f"{len(data)} bytes"


@step("batch", "an SQS batch through powertools (chalicelib.api.events)")
def _batch() -> None:
    from types import SimpleNamespace

    from chalicelib.api.events import sqs_batch

    record = {"messageId": "m1", "receiptHandle": "r", "body": "hello", "attributes": {
        "ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:ap-southeast-1:1:q", "awsRegion": "ap-southeast-1"}
    seen: list[str] = []
    event = SimpleNamespace(to_dict=lambda: {"Records": [record]}, context=None)
    answer = sqs_batch(event, lambda body, count: seen.append(body))
    assert seen == ["hello"] and answer == {"batchItemFailures": []}, answer


@step("pkcs11", "pkcs11 and pyHanko's PKCS#11 signer")
def _pkcs11() -> str:
    import pkcs11
    import pkcs11.util.ec  # noqa: F401 - the backend's EC helpers
    import pyhanko.sign.pkcs11  # noqa: F401

    module = INPUTS.get("softhsm")
    if module and Path(module).exists():
        pkcs11.lib(module)  # the stripped extension really drives a PKCS#11 module
        return "SoftHSM2 loaded"
    return "imported"


@step("alone", "nothing loaded from outside the package and the standard library")
def _alone() -> str:
    stdlib = (sys.base_prefix, sys.base_exec_prefix)
    outside = sorted(name for name, mod in sys.modules.items()
                     if (f := getattr(mod, "__file__", None)) and not str(f).startswith((str(PKG), *stdlib))
                     and f != __file__)  # the probe itself (also as multiprocessing's __mp_main__)
    assert not outside, outside
    return f"{len(sys.modules)} modules"


@step("alone", "every module of the package loaded from its bytecode (no cold start compiles)")
def _bytecode() -> str:
    assert not COMPILED, sorted(COMPILED)
    return f"{sum(1 for m in sys.modules.values() if str(getattr(m, '__file__', '')).startswith(str(PKG)))} modules"


run_steps()
OUT.write_text(json.dumps({
    "results": RESULTS,
    "modules": {m: os.path.relpath(mod.__file__, PKG) for m, mod in sorted(sys.modules.items())
                if str(getattr(mod, "__file__", "") or "").startswith(str(PKG))},
    "opened": sorted(OPENED),
}, indent=1), encoding="utf-8")
