"""What `make package` ships: the lean Lambda package holds the gateway, runs every path alone, and nothing more.

Given a shell with no AWS configuration (no profile, no credentials, no region but the one the Makefile's
`package` target gives), when `chalice package` runs with the target's arguments into a temporary directory and
infra/lean_package.py cuts its zip down (the same two steps as `make package`), then:

- it writes sam.yaml and deployment.zip; the zip holds app.py and chalicelib/, no `devstack/` entry, no tests, and
  no file (template included) carries the demo password;
- the zip is at most 60 MB unzipped (issue 11, acceptance 3);
- unzipped, it runs every function's paths in a fresh interpreter that sees only the package and the standard
  library (`python -I -S`, no site-packages: tests/integration/package_probe.py): `import app`, every import of
  every chalicelib module including those inside functions, PAdES B-B and B-LT with the seal (a local RSA key, the
  local TSA and OCSP) verified by the package's own verification, edXML written and parsed, a signed request per
  AWS service and presigned S3 forms, an RS256 token through PyJWT, an XLSX report, an SQS batch through
  powertools, pkcs11 driving SoftHSM2;
- and the probe can fail: the same package with one more exclusion of something a path needs (a service model,
  a compiled dependency, the optional lxml pyHanko falls back from silently) fails the steps that need it.

Why a test and not only the import rule (tests/architecture/test_house.py): the rule shows the gateway never
imports devstack; this shows Chalice's packager, which copies folders, not imports, leaves it out too, and that the
exclusion table removes nothing that runs. It runs the real packager once per module (about 45 s on the first run,
which downloads the dependencies; a few seconds once Chalice has them cached in .chalice/deployments/), and the
probe twice (a few seconds each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from devstack.demo_data import DEMO_PASSWORD
from devstack.pki import DemoCA
from devstack.pki_server import LocalPki
from devstack.sample_pdf import render_text_pdf
from devstack.seal import make_demo_seal
from tests.support.pki import person_sign, rsa_key

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))
import lean_package  # noqa: E402 - infra/ is a folder of tools, not a package

#: What the Makefile's `package` target gives a shell without a region (override it there freely).
MAKEFILE_REGION = "ap-southeast-1"
PROBE = Path(__file__).with_name("package_probe.py")
ORGAN_ID, ORG_NAME = "000.00.12.H62", "Sở Thông tin và Truyền thông Vĩnh Phúc"
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "package"
    nowhere = tmp_path_factory.mktemp("no-aws")
    # A newcomer's shell: no AWS variables, no config or credentials file (HOME stays: pip's cache lives there).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(nowhere / "config"), AWS_SHARED_CREDENTIALS_FILE=str(nowhere / "credentials"),
               AWS_DEFAULT_REGION=MAKEFILE_REGION)
    chalice = Path(sys.executable).with_name("chalice")
    result = subprocess.run(
        [str(chalice), "package", "--stage", "prod", "--merge-template", "infra/resources.yaml", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lean = subprocess.run([sys.executable, "infra/lean_package.py", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    assert lean.returncode == 0, lean.stdout + lean.stderr
    return out


@pytest.fixture(scope="module")
def probe_inputs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """What the probe signs with, made with the venv's tools (the package has none of them): a PDF already signed
    by the competent person, the demo seal, a local RSA key with its certificate (naming the local OCSP
    responder), the demo root, the local TSA, a monthly report."""
    from tests.unit.domain.test_kpi import _report

    work = tmp_path_factory.mktemp("probe-inputs")
    ca = DemoCA.load_or_create(work / "ca")
    with LocalPki(ca) as pki:
        key = rsa_key()
        from chalicelib.keys.backends import LocalKeySigner

        public = LocalKeySigner(key).public_key_der()
        (work / "cert.der").write_bytes(ca.issue_org_certificate(public, ORGAN_ID, ORG_NAME, ocsp_url=pki.ocsp_url))
        (work / "root.der").write_bytes(ca.root_cert_der)
        (work / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        (work / "seal.png").write_bytes(make_demo_seal(ORG_NAME))
        render_text_pdf("ỦY BAN NHÂN DÂN TỈNH VĨNH PHÚC", "Về việc thử gói Lambda.", work / "draft.pdf")
        person_sign(work / "draft.pdf", work / "doc.pdf", ca)
        yield {"key_pem": str(work / "key.pem"), "cert_der": str(work / "cert.der"),
               "root_der": str(work / "root.der"), "organ_id": ORGAN_ID, "org_name": ORG_NAME,
               "seal_png": str(work / "seal.png"), "pdf": str(work / "doc.pdf"), "tsa_url": pki.tsa_url,
               "report": _report(), "softhsm": SOFTHSM}


def unzip(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(into)
    return into


def run_probe(package: Path, inputs: dict[str, Any], workdir: Path, **extra: Any) -> dict[str, str]:
    """The probe's results (step → "ok…" or "FAILED…"), run in a fresh interpreter that sees only `package` and
    the standard library: -I (no environment, no user site), -S (no site-packages), -B (Lambda's /var/task is
    read-only), and an environment with fake credentials and nothing else of this machine's."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "inputs.json").write_text(json.dumps({**inputs, "workdir": str(workdir), **extra}), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": MAKEFILE_REGION, "AWS_ACCESS_KEY_ID": "AKIDPROBE",
           "AWS_SECRET_ACCESS_KEY": "probe", "AWS_CONFIG_FILE": str(workdir / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "none"), "AWS_EC2_METADATA_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-I", "-S", "-B", str(PROBE), str(package), str(workdir / "inputs.json"),
                             str(workdir / "out.json")], env=env, cwd=workdir, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((workdir / "out.json").read_text(encoding="utf-8"))["results"]


#: The probe's steps that are each function's own paths (tests/integration/package_probe.py), for the functions
#: with a zip of their own (infra/lean_package.py FUNCTION_CUTS); the others run deployment.zip, probed whole.
FUNCTION_STEPS = {
    "APIHandler": ["app", "imports", "verify", "draft", "edxml", "aws", "jwt", "xlsx", "pkcs11", "alone"],
    "PollAxis": ["app", "imports", "verify", "edxml", "aws", "batch", "alone"],
    "SyncAgencies": ["app", "imports", "aws", "alone"],
    "DispatchDocument": ["app", "imports", "edxml", "aws", "batch", "alone"],
}


def app_handlers() -> dict[str, list[str]]:
    """SAM logical id → the app.py functions it runs: every route for APIHandler, else the one handler Chalice
    names after the function (sign_document → SignDocument)."""
    import ast

    out: dict[str, list[str]] = {}
    for node in ast.parse((REPO / "app.py").read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        decorators = [ast.unparse(d) for d in node.decorator_list]
        if any(d.startswith(("api(", "app.route(")) for d in decorators):
            out.setdefault("APIHandler", []).append(node.name)
        elif any(d.startswith(("app.on_sqs_message(", "app.schedule(")) for d in decorators):
            out["".join(part.title() for part in node.name.split("_"))] = [node.name]
    return out


def failed(results: dict[str, str]) -> dict[str, str]:
    return {name: answer for name, answer in results.items() if not answer.startswith("ok")}


def test_package_writes_the_template_and_the_zip(package_dir: Path) -> None:
    assert (package_dir / "sam.yaml").is_file()
    assert (package_dir / "deployment.zip").is_file()


def test_the_zip_holds_the_gateway_and_no_embedded_stack_or_tests(package_dir: Path) -> None:
    with zipfile.ZipFile(package_dir / "deployment.zip") as zf:
        names = zf.namelist()
    assert "app.py" in names
    assert "chalicelib/__init__.py" in names
    assert any(n.startswith("chalicelib/outbound/") for n in names)
    assert [n for n in names if n.split("/")[0] in ("devstack", "tests")] == []
    assert [n for n in names if "/devstack/" in f"/{n}" or "/tests/" in f"/{n}"] == []


def test_no_file_in_the_package_carries_the_demo_password(package_dir: Path) -> None:
    password = DEMO_PASSWORD.encode("utf-8")
    assert password not in (package_dir / "sam.yaml").read_bytes()
    carrying = []
    with zipfile.ZipFile(package_dir / "deployment.zip") as zf:
        for info in zf.infolist():
            if not info.is_dir() and password in zf.read(info):
                carrying.append(info.filename)
    assert carrying == []


def test_the_package_is_at_most_60_mb_unzipped(package_dir: Path) -> None:
    for _, _, uri in lean_package.functions(package_dir / "sam.yaml"):
        assert lean_package.unzipped_bytes(package_dir / uri) <= lean_package.LIMIT_BYTES == 60_000_000


def test_every_exclusion_has_a_reason_and_the_docs_show_the_table() -> None:
    assert all(rule.reason.strip() for rule in lean_package.EXCLUSIONS)
    page = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    begin, end = "<!-- exclusions:begin", "<!-- exclusions:end -->"
    shown = page[page.index(begin):page.index(end)].split("\n", 1)[1].strip()
    assert shown == lean_package.exclusion_table(), "run: python infra/lean_package.py --table (docs/deployment.md)"


def test_the_lean_package_runs_every_path_alone(package_dir: Path, probe_inputs: dict[str, Any],
                                               tmp_path: Path) -> None:
    results = run_probe(unzip(package_dir / "deployment.zip", tmp_path / "pkg"), probe_inputs, tmp_path / "run")
    assert failed(results) == {}
    assert len(results) == 14, results  # every step ran


def test_every_function_has_a_package_and_each_cut_names_a_function(package_dir: Path) -> None:
    found = {name: uri for name, _, uri in lean_package.functions(package_dir / "sam.yaml")}
    assert set(found) == set(app_handlers())
    cuts = {cut.function for cut in lean_package.FUNCTION_CUTS}
    assert cuts == set(FUNCTION_STEPS)
    assert {name: uri for name, uri in found.items() if name not in cuts} == {
        "SignDocument": "./deployment.zip", "SweepDocuments": "./deployment.zip",
        "DeliverWebhooks": "./deployment.zip"}  # issue 14: not cut yet (its handlers reach the inbox presenter)
    assert {found[name] for name in cuts} == {f"./{name}.zip" for name in cuts}


@pytest.mark.parametrize("function", sorted(FUNCTION_STEPS))
def test_each_functions_own_package_runs_its_paths_alone(function: str, package_dir: Path,
                                                         probe_inputs: dict[str, Any], tmp_path: Path) -> None:
    """Every chalicelib module the function's handlers reach (counting imports inside functions) imports, with
    every import inside its functions, and the function's own paths run, on its own zip alone."""
    results = run_probe(unzip(package_dir / f"{function}.zip", tmp_path / "pkg"), probe_inputs, tmp_path / "run",
                        handlers=app_handlers()[function], steps=FUNCTION_STEPS[function])
    assert failed(results) == {}
    assert len(results) == len(FUNCTION_STEPS[function]) + 1, results  # "alone" is two steps


def test_a_functions_paths_on_a_package_cut_for_another_fail(package_dir: Path, probe_inputs: dict[str, Any],
                                                            tmp_path: Path) -> None:
    """The per-function check can fail: the API's handlers on DispatchDocument's zip (no pyHanko, no pkcs11, no
    openpyxl, no pypdf) fail the imports and the paths that need them."""
    results = run_probe(unzip(package_dir / "DispatchDocument.zip", tmp_path / "pkg"), probe_inputs,
                        tmp_path / "run", handlers=app_handlers()["APIHandler"], steps=FUNCTION_STEPS["APIHandler"])
    assert {name.split(" ")[0] for name in failed(results)} == {"every", "a", "draft:", "XLSX", "pkcs11"}, \
        failed(results)


def test_an_exclusion_that_removes_what_a_path_needs_fails_the_probe(package_dir: Path, probe_inputs: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    """The probe is not a formality: take out KMS's model, HarfBuzz (the stamp's shaping) and lxml (which pyHanko
    does without, silently) and the steps that need them fail, the others still pass."""
    sabotage = lean_package.Exclusion(("botocore/data/kms/*", "uharfbuzz/*", "lxml/*"), "needed: must fail")
    lean_package.lean_zip(package_dir / "deployment.zip", tmp_path / "short.zip", rules=(sabotage,), strip=False)
    results = run_probe(unzip(tmp_path / "short.zip", tmp_path / "pkg"), probe_inputs, tmp_path / "run")
    broken = failed(results)
    assert {name.split(" ")[0] for name in broken} == {"every", "PAdES", "boto3:"}, broken
    assert "kms" in broken["boto3: a signed request per service, presigned S3, the Table resource"]
    assert results["edXML written and parsed"].startswith("ok")
