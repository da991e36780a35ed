"""What `make package` ships: the Lambda package holds the gateway and nothing of the embedded stack.

Given a shell with no AWS configuration (no profile, no credentials, no region but the one the Makefile's
`package` target gives), when `chalice package` runs with the target's arguments into a temporary directory,
then it writes sam.yaml and deployment.zip; the zip holds app.py and chalicelib/, no `devstack/` entry, and no
file (template included) carries the demo password.

Why a test and not only the import rule (tests/architecture/test_house.py): the rule shows the gateway never
imports devstack; this shows Chalice's packager, which copies folders, not imports, leaves it out too. It runs the
real packager (about 45 s on the first run, which downloads the dependencies; a few seconds once Chalice has them
cached in .chalice/deployments/).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devstack.demo_data import DEMO_PASSWORD

REPO = Path(__file__).resolve().parents[2]
#: What the Makefile's `package` target gives a shell without a region (override it there freely).
MAKEFILE_REGION = "ap-southeast-1"


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
    return out


def test_package_writes_the_template_and_the_zip(package_dir: Path) -> None:
    assert (package_dir / "sam.yaml").is_file()
    assert (package_dir / "deployment.zip").is_file()


def test_the_zip_holds_the_gateway_and_no_embedded_stack(package_dir: Path) -> None:
    with zipfile.ZipFile(package_dir / "deployment.zip") as zf:
        names = zf.namelist()
    assert "app.py" in names
    assert "chalicelib/__init__.py" in names
    assert any(n.startswith("chalicelib/outbound/") for n in names)
    assert [n for n in names if n.split("/")[0] == "devstack"] == []
    assert [n for n in names if "/devstack/" in f"/{n}"] == []


def test_no_file_in_the_package_carries_the_demo_password(package_dir: Path) -> None:
    password = DEMO_PASSWORD.encode("utf-8")
    assert password not in (package_dir / "sam.yaml").read_bytes()
    carrying = []
    with zipfile.ZipFile(package_dir / "deployment.zip") as zf:
        for info in zf.infolist():
            if not info.is_dir() and password in zf.read(info):
                carrying.append(info.filename)
    assert carrying == []
