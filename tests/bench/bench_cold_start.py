#!/usr/bin/env python
"""`make bench`, section "cold start to first work, per function" (issue 11, acceptance 2). Prints; never a test.

1. An embedded stack (devstack.stack.start_stack in a temp dir) takes one document as an agency would (login, create,
   presigned upload, wait DISPATCHED), the scheduled functions are run once, and each function process's metrics file
   (devstack.function_metrics) is read: `import app` (worker start → app loaded) and first work (worker start → the end
   of the first invocation that did the function's work; and that invocation's own CPU/wall). On the stack a function
   process also talks to moto over HTTP, under IAM, with a call log: its first invocation pays boto3's import, the
   clients, the KMS key call and the AWS round trips, as a Lambda would, plus what moto's server mode adds.
2. Beside it, the naive path, each in a fresh interpreter (median of 3), CPU/wall from the interpreter's first line:
   - signing: pyHanko's documented path for a first document (imports, SimpleSigner from the key file, a text stamp
     with `GlyphAccumulatorFactory`, `sign_pdf` in memory, SHA-256 of both files), as bench_signing.py's `_naive_ms`;
   - API: import boto3 + PyJWT, fetch the Cognito JWKS, verify the clerk's ID token (RS256, audience), one DynamoDB
     call through a new client (ListTables, for the record read) - what a hand-written handler answering one
     authenticated request would do;
   - dispatch: import boto3 + urllib3, a new S3 client, one GetObject of the signed PDF, zip + base64 in memory,
     one urllib3 POST of it to the stack's API (answer ignored: a stand-in for the axis, which must not get a
     duplicate package).
3. The target line: the signer's first document in a fresh process after `import app`, through
   `chalicelib.signing.pades.sign_pdf_file` with the agency's seal and a local RSA key (the key call excluded, as in
   bench_signing.py), median of 3 fresh processes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ORGAN_ID = "000.00.00.H62"
ORG_NAME = "UBND tỉnh Vĩnh Phúc"
TARGET_MS = 300
SCHEDULED = ("poll_axis", "sweep_documents", "sync_agencies")
_ENV = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "ap-southeast-1"}

_SIGNER_FIRST = """
import sys, time, json
c0, w0 = time.process_time(), time.perf_counter()
sys.path.insert(0, sys.argv[1])
import app  # noqa: F401
c1, w1 = time.process_time(), time.perf_counter()
from pathlib import Path
from asn1crypto import x509
from cryptography.hazmat.primitives import serialization
from chalicelib.keys.backends import LocalKeySigner
from chalicelib.signing.identity import SigningIdentity
wd = Path(sys.argv[2])
raw = LocalKeySigner(serialization.load_der_private_key((wd / "key.der").read_bytes(), None))
identity = SigningIdentity("{organ}", "{name}", x509.Certificate.load((wd / "cert.der").read_bytes()),
                           [x509.Certificate.load((wd / "root.der").read_bytes())], raw)
png = (wd / "seal.png").read_bytes()
c2, w2 = time.process_time(), time.perf_counter()
import pyhanko.pdf_utils.font.opentype, pyhanko.pdf_utils.incremental_writer, pyhanko.sign, pyhanko.stamp  # noqa
from chalicelib.signing import font, sign_file, stamp  # noqa: F401
from chalicelib.signing.pades import sign_pdf_file
from chalicelib.signing.seal import load_png
c3, w3 = time.process_time(), time.perf_counter()
sign_pdf_file(wd / "doc.pdf", wd / "out.pdf", identity, seal=load_png(png, key="seals/x.png"))
c4, w4 = time.process_time(), time.perf_counter()
print(json.dumps({"import_cpu": (c1 - c0) * 1000, "import_wall": (w1 - w0) * 1000,
                  "path_imports_cpu": (c3 - c2) * 1000, "path_imports_wall": (w3 - w2) * 1000,
                  "cpu": (c4 - c3) * 1000, "wall": (w4 - w3) * 1000,
                  "total_cpu": (c4 - c0) * 1000, "total_wall": (w4 - w0) * 1000}))
""".replace("{organ}", ORGAN_ID).replace("{name}", ORG_NAME)

_NAIVE_SIGN = """
import sys, time, json
c0, w0 = time.process_time(), time.perf_counter()
import hashlib, io
from pathlib import Path
from asn1crypto import keys, x509
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
c1, w1 = time.process_time(), time.perf_counter()
wd = Path(sys.argv[1])
signer = signers.SimpleSigner(signing_cert=x509.Certificate.load((wd / "cert.der").read_bytes()),
    signing_key=keys.PrivateKeyInfo.load((wd / "key.der").read_bytes()),
    cert_registry=SimpleCertificateStore.from_certs([x509.Certificate.load((wd / "root.der").read_bytes())]))
style = TextStampStyle(stamp_text="%(org)s\\n%(at)s",
                       text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(sys.argv[2])))
data = (wd / "doc.pdf").read_bytes()
pdf_signer = signers.PdfSigner(signers.PdfSignatureMetadata(field_name="Sig", subfilter=fields.SigSeedSubFilter.PADES),
    signer, stamp_style=style, new_field_spec=fields.SigFieldSpec("Sig", on_page=-1, box=(330, 50, 550, 100)))
out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)),
                          appearance_text_params={"org": sys.argv[3], "at": "2019-09-20T14:30:15+07:00"})
signed = out.getvalue()
hashlib.sha256(data).hexdigest(); hashlib.sha256(signed).hexdigest()
print(json.dumps({"cpu": (time.process_time() - c0) * 1000, "wall": (time.perf_counter() - w0) * 1000,
                  "imports_cpu": (c1 - c0) * 1000, "document_cpu": (time.process_time() - c1) * 1000}))
"""

_NAIVE_API = """
import sys, time, json
c0, w0 = time.process_time(), time.perf_counter()
import urllib.request
import boto3, jwt
a = json.loads(sys.argv[1])
jwks = json.loads(urllib.request.urlopen(a["jwks_url"], timeout=10).read())
header = jwt.get_unverified_header(a["token"])
key = next(jwt.PyJWK(k).key for k in jwks["keys"] if k["kid"] == header["kid"])
claims = jwt.decode(a["token"], key, algorithms=["RS256"], audience=a["client_id"])
ddb = boto3.client("dynamodb", endpoint_url=a["endpoint"], region_name=a["region"],
                   aws_access_key_id=a["key_id"], aws_secret_access_key=a["secret"])
ddb.list_tables(Limit=1)
print(json.dumps({"cpu": (time.process_time() - c0) * 1000, "wall": (time.perf_counter() - w0) * 1000}))
"""

_NAIVE_DISPATCH = """
import sys, time, json
c0, w0 = time.process_time(), time.perf_counter()
import base64, io, zipfile
import boto3, urllib3
a = json.loads(sys.argv[1])
s3 = boto3.client("s3", endpoint_url=a["endpoint"], region_name=a["region"],
                  aws_access_key_id=a["key_id"], aws_secret_access_key=a["secret"])
pdf = s3.get_object(Bucket=a["bucket"], Key=a["key"])["Body"].read()
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("document.pdf", pdf)
body = base64.b64encode(buf.getvalue())
urllib3.PoolManager().request("POST", a["url"], body=body, headers={"Content-Type": "application/octet-stream"})
print(json.dumps({"cpu": (time.process_time() - c0) * 1000, "wall": (time.perf_counter() - w0) * 1000}))
"""


def _child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=_ENV, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"bench child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(code: str, *args: str, runs: int = 3) -> dict[str, float]:
    _child(code, *args)  # .pyc compiled once, as a deployed package has them
    results = [_child(code, *args) for _ in range(runs)]
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def _fixtures(wd: Path) -> None:
    """Key, certificate, root, seal and a one-page công văn, in files the fresh interpreters read."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from chalicelib.keys.backends import LocalKeySigner
    from devstack.pki import DemoCA
    from devstack.sample_pdf import render_text_pdf
    from devstack.seal import make_demo_seal
    from tests.bench.bench_signing import FIXTURE

    ca = DemoCA.load_or_create(wd / "ca")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (wd / "key.der").write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    (wd / "cert.der").write_bytes(ca.issue_org_certificate(LocalKeySigner(key).public_key_der(), ORGAN_ID, ORG_NAME))
    (wd / "root.der").write_bytes(ca.root_cert_der)
    (wd / "seal.png").write_bytes(make_demo_seal(ORG_NAME))
    render_text_pdf("ỦY BAN NHÂN DÂN TỈNH VĨNH PHÚC", FIXTURE.read_text(encoding="utf-8"), wd / "doc.pdf")


def signer_first_document(wd: Path) -> dict[str, float]:
    """The target's measurement: after `import app`, the first signed document with the seal (median of 3)."""
    return _median(_SIGNER_FIRST, str(ROOT), str(wd))


def _push_one_document(handle: Any, wd: Path) -> dict[str, Any]:
    from devstack.client import GatewayClient
    from devstack.demo_data import SAMPLES

    client = GatewayClient(handle.info)
    sample = next(s for s in SAMPLES if s.uploader == ORGAN_ID)
    token = client.login(client.user_for(sample.uploader))
    created = client.create_document(token, sample.metadata)
    client.upload(created["upload"], wd / "doc.pdf")
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=180)
    if doc["state"] != "DISPATCHED":
        raise SystemExit(f"the bench document ended {doc['state']} ({doc.get('reason')})")
    return {"token": token, "document": doc}


def _read_metrics(directory: Path, wanted: set[str], timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """Each function's metrics (the newest file per function), once `wanted` all show their first work."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, dict[str, Any]] = {}
        for path in sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            found[data["function"]] = data
        if all(found.get(f, {}).get("first_work") for f in wanted) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def stack_run(wd: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """(metrics per function, naive rows) from one embedded stack."""
    from devstack.stack import start_stack

    naive: dict[str, dict[str, float]] = {}
    with start_stack(wd / "stack") as handle:
        pushed = _push_one_document(handle, wd)
        handle.run_schedules()
        metrics = _read_metrics(wd / "stack" / "functions" / "metrics",
                                {"api_handler", "sign_document", "dispatch_document", *SCHEDULED})
        info = handle.info
        base = {"endpoint": info["aws_endpoint_url"], "region": info["region"],
                "key_id": info["aws_admin"]["access_key_id"], "secret": info["aws_admin"]["secret_access_key"]}
        pool = info["cognito"]["user_pool_id"]
        naive["api_handler"] = _median(_NAIVE_API, json.dumps({
            **base, "token": pushed["token"], "client_id": info["cognito"]["client_id"],
            "jwks_url": f"{info['aws_endpoint_url']}/{pool}/.well-known/jwks.json"}))
        from chalicelib.domain.object_keys import signed_key

        key = signed_key(ORGAN_ID, pushed["document"]["document_id"])
        naive["dispatch_document"] = _median(_NAIVE_DISPATCH, json.dumps({
            **base, "bucket": _documents_bucket(), "key": key, "url": f"{info['api_url']}/v1/health"}))
    return metrics, naive


def _documents_bucket() -> str:
    from devstack.provision.names import BUCKET_NAME

    return BUCKET_NAME


def _fmt(cell: dict[str, Any] | None, cpu: str, wall: str) -> str:
    return f"{cell[cpu]:7.0f} / {cell[wall]:7.0f}" if cell else f"{'-':>7} / {'-':>7}"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        wd = Path(tmp)
        _fixtures(wd)
        from chalicelib.signing.font import FONT_PATH

        naive_sign = _median(_NAIVE_SIGN, str(wd), str(FONT_PATH), ORG_NAME)
        target = signer_first_document(wd)
        metrics, naive = stack_run(wd)
    naive["sign_document"] = naive_sign

    print("\nCold start to first work, per function (embedded stack, one document; ms CPU / wall; worker start = "
          "before `import app`)")
    head = (f"{'function':18} | {'import app':>17} | {'first work':>17} | {'its invocation':>17} | "
            f"{'naive path':>17} | {'x naive':>7} | what")
    print(head + "\n" + "-" * len(head))
    for name in ["api_handler", "sign_document", "dispatch_document", *SCHEDULED]:
        m = metrics.get(name, {})
        first = m.get("first_work")
        base = naive.get(name)
        ratio = f"{first['cpu_ms'] / base['cpu']:7.2f}" if first and base else f"{'-':>7}"
        print(f"{name:18} | {_fmt(m.get('import_app'), 'cpu_ms', 'wall_ms')} | {_fmt(first, 'cpu_ms', 'wall_ms')} | "
              f"{_fmt(first, 'invocation_cpu_ms', 'invocation_wall_ms')} | {_fmt(base, 'cpu', 'wall')} | {ratio} | "
              f"{(first or {}).get('what', '-')}")
    print("\nnaive: sign = pyHanko's documented first document in a fresh interpreter (imports, SimpleSigner, "
          "GlyphAccumulatorFactory text stamp, no seal); API = import boto3 + PyJWT, JWKS fetch, RS256 verify, one "
          "DynamoDB call; dispatch = import boto3 + urllib3, S3 GetObject, zip + base64 in memory, one urllib3 POST. "
          "x naive = first work CPU / naive CPU. Stack functions also pay moto over HTTP, IAM and the call log.")
    print("\nThe signer's first document in a fresh process (seal + local RSA-2048 key, median of 3; ms CPU)")
    rows = [("import app (every function)", target["import_cpu"], None),
            ("the signing path's imports (pyHanko, fontTools, once per container)", target["path_imports_cpu"],
             naive_sign["imports_cpu"]),
            ("the first document itself (font, subset, seal, signer, sign, write)", target["cpu"],
             naive_sign["document_cpu"]),
            ("total, from the interpreter's first line", target["total_cpu"], naive_sign["cpu"])]
    print(f"{'':70} | {'gateway':>8} | {'naive':>8}\n" + "-" * 92)
    for label, ours, base in rows:
        naive_text = "-" if base is None else f"{base:.0f}"
        print(f"{label:70} | {ours:8.0f} | {naive_text:>8}")
    print(f"\nsigner's first document: {target['cpu']:.0f} ms CPU (target ≤ {TARGET_MS}), after the signing path's "
          f"imports ({target['path_imports_cpu']:.0f} ms, paid once per container); {target['total_cpu']:.0f} ms "
          f"from the first line (naive pyHanko: {naive_sign['cpu']:.0f} ms, of which {naive_sign['document_cpu']:.0f} "
          f"ms its document)")


if __name__ == "__main__":
    main()
