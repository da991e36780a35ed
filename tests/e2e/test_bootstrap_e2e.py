"""`edoc admin bootstrap` (issue 13) on an embedded stack started bare (`devstack run --bare`: the AWS resources of
the template and nothing else: no agencies, users, keys, seals, trust roots or axis secret), as a provincial IT
centre runs it on the morning after `make deploy`:

1. the first run writes the axis secret, makes the admin and a văn thư, the trust root, the registry from a CSV,
   the seal, and a key whose CSR it writes out; the key waits for the CA;
2. the CA (the demo CA here) answers with a certificate; the second run uploads and activates it;
3. the văn thư sends a document, which is signed (PAdES B-LT, pdfsig valid) and reaches DISPATCHED;
4. a third run of the same file changes nothing.
"""

from __future__ import annotations

import csv
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from devstack import demo_data
from devstack.pki import DemoCA
from devstack.seal import make_demo_seal

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
SERVED = "000.00.00.H62"
CLERK = "vanthu-ubnd-vp"


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory):
    from devstack.stack import start_stack

    handle = start_stack(tmp_path_factory.mktemp("bare-stack"), ports=0, bare=True)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def edoc(bare, tmp_path_factory: pytest.TempPathFactory):
    env = {**os.environ, "EDOC_STACK_FILE": str(Path(bare.state_dir) / "stack.json"),
           "EDOC_HOME": str(tmp_path_factory.mktemp("edoc-home")), "COLUMNS": "200"}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edoc_cli", *args], cwd=REPO, env=env, input=stdin,
                              capture_output=True, text=True, timeout=240)

    return run


def _files(folder: Path, info: dict[str, Any]) -> Path:
    """What the province has on day one: the axis operator's credentials, its CA's root, its agencies, a seal."""
    served = {s["system_id"]: s["secret"] for s in info["axis"]["served_systems"]}
    registered = {a.organ_id for a in demo_data.AGENCIES}
    (folder / "axis-credentials.json").write_text(json.dumps(
        {"endpoint": info["axis"]["url"], "systems": {k: v for k, v in served.items() if k in registered}}))
    (folder / "root-ca.pem").write_text(info["pki"]["root_pem"], encoding="utf-8")
    with (folder / "agencies.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["organ_id", "name", "served", "paper_in_parallel", "email", "address"])
        for a in demo_data.AGENCIES:
            out.writerow([a.organ_id, a.name, str(a.served).lower(), str(a.paper).lower(), a.email, a.address])
    (folder / "seals").mkdir()
    (folder / "seals" / f"{SERVED}.png").write_bytes(make_demo_seal("ỦY BAN NHÂN DÂN TỈNH VĨNH PHÚC"))
    config = folder / "bootstrap.toml"
    config.write_text(f"""
trust_roots = ["root-ca.pem"]
[axis]
credentials = "axis-credentials.json"
[admin]
username = "quantri"
organ_id = "000.00.01.H62"
email = "cntt@vinhphuc.gov.vn"
[registry]
csv = "agencies.csv"
[[served]]
organ_id = "{SERVED}"
seal = "seals/{SERVED}.png"
stamp = {{ page = -1 }}
clerks = ["{CLERK}"]
[keys]
out = "out"
certificates = "certs"
""", encoding="utf-8")
    return config


def _bootstrap(edoc, config: Path) -> dict[str, Any]:
    result = edoc("--json", "admin", "bootstrap", "--stage", "local", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _results(answer: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(row["step"], row["item"]): row["result"] for row in answer["steps"]}


def _certify(ca: DemoCA, info: dict[str, Any], csr_dir: Path, certs: Path) -> None:
    """The CA's part: a certificate for each CSR, its chain after it (what the bootstrap's folder expects)."""
    certs.mkdir(exist_ok=True)
    for path in csr_dir.glob("*.csr"):
        csr = x509.load_pem_x509_csr(path.read_bytes())
        assert csr.is_signature_valid  # signed by the KMS key itself
        organ_id = path.name[:13]
        public = csr.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        issued = ca.issue_org_certificate(public, organ_id, "UBND tỉnh Vĩnh Phúc", ocsp_url=info["pki"]["ocsp_url"],
                                          crl_url=info["pki"]["crl_url"])
        (certs / f"{organ_id}.pem").write_text(ssl.DER_cert_to_PEM_cert(issued) + ca.root_cert_pem)


def test_from_nothing_to_a_dispatched_document_and_a_second_run_changes_nothing(
        bare, edoc, tmp_path: Path, sample_pdf: Path) -> None:
    info = bare.info
    assert info["bare"] and info["users"] == []
    config = _files(tmp_path, info)

    first = _results(_bootstrap(edoc, config))
    assert first[("axis", "edoc-gateway/local/axis")] == "created"
    assert first[("admin", "quantri")] == first[("users", CLERK)] == "created"
    assert first[("trust_roots", "root-ca.pem")] == "created"
    assert all(first[("registry", a.organ_id)] == "created" for a in demo_data.AGENCIES)
    assert first[("seal", SERVED)] == "created" and first[("csr", SERVED)] == "written"
    assert first[("keys", SERVED)] == "waiting"  # for the CA
    credentials = tmp_path / "out" / "credentials"
    assert {p.name for p in credentials.iterdir()} == {"quantri.json", f"{CLERK}.json"}
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in credentials.iterdir())

    _certify(DemoCA.load_or_create(Path(bare.state_dir) / "pki"), info, tmp_path / "out" / "csr",
             tmp_path / "certs")
    second = _bootstrap(edoc, config)
    assert {k: v for k, v in _results(second).items() if v != "unchanged"} == {
        ("certificate", SERVED): "created", ("keys", SERVED): "updated"}

    password = json.loads((credentials / f"{CLERK}.json").read_text())["password"]
    assert edoc("login", CLERK, "--password-stdin", stdin=password + "\n").returncode == 0
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({**demo_data.SAMPLES[0].metadata, "recipients": ["000.00.00.G22"]}))
    sent = edoc("--json", "send", str(sample_pdf), "--meta", str(meta), "--wait")
    assert sent.returncode == 0, sent.stderr
    record = json.loads(sent.stdout.splitlines()[-1])
    assert record["state"] == "DISPATCHED" and [d["organ_id"] for d in record["deliveries"]] == ["000.00.00.G22"]
    signed = tmp_path / "signed.pdf"
    assert edoc("download", record["document_id"], "-o", str(signed)).returncode == 0
    assert "Signature is Valid" in subprocess.run(["pdfsig", str(signed)], capture_output=True, text=True).stdout

    third = _bootstrap(edoc, config)
    assert third["changed"] == 0 and set(_results(third).values()) == {"unchanged"}
