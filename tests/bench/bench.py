#!/usr/bin/env python
"""`make bench`: the gateway's performance table (docs/contract.md#quality-bars). Never a timed test: it prints.

1. Lambda cold start: the import cost each handler pays on its first invocation, measured in fresh interpreters
   (median of 7): `import app` (every function), plus what the API's first authenticated request, the signing
   handler and the dispatch handler import lazily. Target: importing a handler's module ≤ 300 ms.
2. edXML packaging of a 100 MB signed PDF: wall time and peak RSS (VmHWM) of a fresh process. Target ≤ 120 MB.
3. Signing (tests/bench/bench_signing.py): CPU per document, cost per MB against SHA-256, peak RSS.
4. Cold start to first work, per function (tests/bench/bench_cold_start.py): an embedded stack takes one document and
   each function process's metrics file says what its first work cost, beside a naive path; and the signer's first
   document after `import app` against its target (≤ 300 ms CPU).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

COLD_STARTS = {
    "app.py (every function)": "import app",
    "API first request (+auth, documents, models)": "import app, chalicelib.api.auth, chalicelib.outbound.documents, "
                                                   "chalicelib.domain.metadata, jwt, boto3",
    "sign_document first call (+signing)": "import app, chalicelib.outbound.sign_upload, chalicelib.signing.pades, "
                                          "chalicelib.signing.pdf_checks, boto3",
    "dispatch_document first call (+edXML, axis)": "import app, chalicelib.outbound.dispatch, "
                                                  "chalicelib.standards.edxml, "
                                                  "chalicelib.adapters.axis.client, boto3",
}

_TIMER = "import time; t = time.perf_counter(); {stmt}; print((time.perf_counter() - t) * 1000)"

_PACKAGE_CHILD = """
import sys, time
from datetime import date, datetime
from pathlib import Path
from chalicelib.standards import edxml
from devstack.sample_pdf import make_pdf_of_size
work = Path(sys.argv[1])
pdf = make_pdf_of_size(work / "big.pdf", 100 * 1024 * 1024)
org = edxml.Organ("000.00.00.H62", "UBND tỉnh Vĩnh Phúc")
header = edxml.DocumentHeader(document_id="000.00.00.H62,2019/09/20,7413/UBND-VX3", code_number="7413",
    code_notation="UBND-VX3", place="Vĩnh Phúc", promulgation_date=date(2019, 9, 20), type_name="Công văn",
    subject="Thử hiệu năng", signer=edxml.SignerInfo("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Nguyễn Văn A"),
    due_date=None, priority=0, steering_type=0, to_places=[], page_amount=1, appendixes=[])
t = time.perf_counter()
with open(work / "p.edxml", "wb") as out:
    edxml.write_new_document_package(out, sender=org, recipients=[edxml.Organ("000.00.00.G22", "VPCP")],
        header=header, business=edxml.Business(), trace_timestamp=datetime.now(edxml.VN_TZ),
        attachments=[edxml.AttachmentSource("big.pdf", "application/pdf", str(pdf))])
took = time.perf_counter() - t
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(f"{took:.2f} {hwm / 1024:.0f}")
"""


def _run(code: str, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "0", "AWS_DEFAULT_REGION": "ap-southeast-1"}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip().splitlines()[-1]


def cold_starts() -> list[tuple[str, float]]:
    rows = []
    for label, stmt in COLD_STARTS.items():
        _run(_TIMER.format(stmt=stmt))  # compile .pyc once, as a deployed package has them
        rows.append((label, statistics.median(float(_run(_TIMER.format(stmt=stmt))) for _ in range(7))))
    return rows


def main() -> None:
    print("Lambda cold start (import cost, fresh interpreter, median of 7; target ≤ 300 ms)")
    print(f"{'handler':50} | {'ms':>6}")
    print("-" * 50 + "-+-" + "-" * 6)
    for label, ms in cold_starts():
        print(f"{label:50} | {ms:6.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        took, rss = _run(_PACKAGE_CHILD, tmp).split()
    print("\nedXML packaging of a 100 MB signed PDF (zip + base64, streamed; target peak RSS ≤ 120 MB)")
    print(f"{'seconds':>8} | {'peak RSS MB':>11}\n{took:>8} | {rss:>11}\n")
    print("Signing")
    sys.stdout.flush()
    subprocess.run([sys.executable, str(ROOT / "tests" / "bench" / "bench_signing.py"), *sys.argv[1:]], cwd=ROOT,
                   check=True)
    sys.stdout.flush()
    subprocess.run([sys.executable, str(ROOT / "tests" / "bench" / "bench_cold_start.py")], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
