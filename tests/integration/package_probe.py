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
- an SQS batch through powertools (chalicelib.api.events.sqs_batch); pkcs11 and pyHanko's PKCS#11 signer loaded.

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


def _audit(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], str) and args[0].startswith(str(PKG)):
        OPENED.add(os.path.relpath(args[0], PKG))


sys.addaudithook(_audit)
RESULTS: dict[str, str] = {}


def step(name: str):  # noqa: ANN201 - a decorator running the step at once
    def run(fn: Any) -> Any:
        try:
            detail = fn()
            RESULTS[name] = "ok" + (f": {detail}" if detail else "")
        except BaseException as exc:  # noqa: BLE001 - every failure is the answer
            RESULTS[name] = f"FAILED: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
        return fn
    return run


def _lazy_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import placed inside a function of `path`."""
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if lazy and isinstance(child, ast.Import):
                found.extend((alias.name, []) for alias in child.names)
            elif lazy and isinstance(child, ast.ImportFrom) and not child.level:
                found.append((child.module or "", [alias.name for alias in child.names]))
            visit(child, lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


@step("import app")
def _import_app() -> None:
    importlib.import_module("app")


@step("every chalicelib module and every lazy import")
def _every_import() -> str:
    sources = [PKG / "app.py", *sorted((PKG / "chalicelib").rglob("*.py"))]
    count = 0
    for path in sources[1:]:
        dotted = ".".join(path.relative_to(PKG).with_suffix("").parts).removesuffix(".__init__")
        importlib.import_module(dotted)
    for path in sources:
        for module, names in _lazy_imports(path):
            mod = importlib.import_module(module)
            for name in names:
                if not hasattr(mod, name):
                    importlib.import_module(f"{module}.{name}")
            count += 1
    return f"{count} lazy imports"


@step("PAdES B-B with the seal, local RSA key, verified by the package")
def _sign_and_verify() -> str:
    from asn1crypto import x509

    from chalicelib.keys.backends import LocalKeySigner
    from chalicelib.signing.identity import SigningIdentity
    from chalicelib.signing.seal import load_png
    from chalicelib.signing.sign_file import sign_pdf_file
    from chalicelib.signing.verification import summary, verify_pdf

    raw = LocalKeySigner.from_pem(Path(INPUTS["key_pem"]).read_bytes())
    cert = x509.Certificate.load(Path(INPUTS["cert_der"]).read_bytes())
    root = x509.Certificate.load(Path(INPUTS["root_der"]).read_bytes())
    identity = SigningIdentity(INPUTS["organ_id"], INPUTS["org_name"], cert, [root], raw)
    seal = load_png(Path(INPUTS["seal_png"]).read_bytes(), "seals/probe.png")
    signed = Path(INPUTS["workdir"]) / "signed.pdf"
    result = sign_pdf_file(INPUTS["pdf"], signed, identity, seal=seal)
    # pyHanko updates the document's XMP metadata through lxml when it can import it, and silently skips it
    # when it cannot (PDF/A info dictionary and XMP would then disagree): lxml must load on the signing path.
    assert "lxml.etree" in sys.modules, "pyHanko's XMP writer (lxml) did not load"
    report = verify_pdf(signed, trust_roots=[root])
    word = summary(report)
    assert word == "valid", json.dumps(report, default=str)[:2000]
    return f"{getattr(result, 'level', '')} {word}"


@step("edXML written and parsed")
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


@step("boto3: a signed request per service, presigned S3, the Table resource")
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
    table = aws.table("edoc-documents")
    urls.append(_built(table.meta.client, lambda: table.get_item(Key={"pk": "x"})))
    return " ".join(sorted({u.split("/")[2] for u in urls}))


@step("RS256 ID token verified with PyJWT (chalicelib.api.jwks)")
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


@step("XLSX report written and read back (openpyxl)")
def _xlsx() -> str:
    import io

    import openpyxl

    from chalicelib.admin.report_files import SHEET_TITLE, xlsx_bytes

    data = xlsx_bytes(INPUTS["report"])
    rows = list(openpyxl.load_workbook(io.BytesIO(data))[SHEET_TITLE].iter_rows(values_only=True))
    assert len(rows) == len(INPUTS["report"]["agencies"]) + 2, rows
    return f"{len(data)} bytes"


@step("an SQS batch through powertools (chalicelib.api.events)")
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


@step("pkcs11 and pyHanko's PKCS#11 signer")
def _pkcs11() -> str:
    import pkcs11
    import pkcs11.util.ec  # noqa: F401 - the backend's EC helpers
    import pyhanko.sign.pkcs11  # noqa: F401

    module = INPUTS.get("softhsm")
    if module and Path(module).exists():
        pkcs11.lib(module)  # the stripped extension really drives a PKCS#11 module
        return "SoftHSM2 loaded"
    return "imported"


OUT.write_text(json.dumps({
    "results": RESULTS,
    "modules": {m: os.path.relpath(mod.__file__, PKG) for m, mod in sorted(sys.modules.items())
                if str(getattr(mod, "__file__", "") or "").startswith(str(PKG))},
    "opened": sorted(OPENED),
    "sys_path": sys.path,
}, indent=1), encoding="utf-8")
