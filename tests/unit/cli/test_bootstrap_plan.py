"""The bootstrap file (edoc_cli.bootstrap_plan): what it holds, and each mistake named before anything is changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edoc_cli.bootstrap_plan import load_plan
from edoc_cli.errors import CliError

GOOD = """
trust_roots = ["root.pem"]
[axis]
credentials = "axis.json"
[admin]
username = "admin"
organ_id = "000.00.01.H62"
[registry]
csv = "agencies.csv"
[[served]]
organ_id = "000.00.00.H62"
seal = "seal.png"
stamp = { page = -1 }
clerks = ["vanthu-a", "vanthu-b"]
[keys]
out = "out"
certificates = "certs"
"""


def _files(folder: Path, toml: str = GOOD) -> Path:
    (folder / "root.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    (folder / "axis.json").write_text(json.dumps({"endpoint": "https://axis", "systems": {"000.00.00.H62": "s"}}),
                                      encoding="utf-8")
    (folder / "agencies.csv").write_text("organ_id,name,served,paper_in_parallel,email\n"
                                         "000.00.00.H62,UBND tỉnh Vĩnh Phúc,true,,a@b.vn\n"
                                         "000.00.00.G22,Văn phòng Chính phủ,false,có,\n", encoding="utf-8")
    (folder / "seal.png").write_bytes(b"\x89PNG")
    path = folder / "bootstrap.toml"
    path.write_text(toml, encoding="utf-8")
    return path


def test_a_good_file(tmp_path: Path) -> None:
    plan = load_plan(_files(tmp_path))
    assert plan.axis == {"endpoint": "https://axis", "systems": {"000.00.00.H62": "s"}}
    assert [(a.organ_id, a.served, a.paper_in_parallel, a.contact) for a in plan.agencies] == [
        ("000.00.00.H62", True, False, {"email": "a@b.vn"}), ("000.00.00.G22", False, True, {})]
    assert [(u.username, u.organ_id, u.admin) for u in plan.users] == [
        ("admin", "000.00.01.H62", True), ("vanthu-a", "000.00.00.H62", False), ("vanthu-b", "000.00.00.H62", False)]
    assert plan.served[0].stamp == {"page": -1} and plan.served[0].seal == tmp_path / "seal.png"
    assert plan.out_dir == tmp_path / "out" and plan.certificates_dir == tmp_path / "certs"


@pytest.mark.parametrize(("change", "field"), [
    (('organ_id = "000.00.01.H62"', 'organ_id = "H62"'), "admin.organ_id"),
    (('username = "admin"', 'username = "Admin Root"'), "admin.username"),
    (('seal = "seal.png"', 'seal = "missing.png"'), "served[0].seal"),
    (('credentials = "axis.json"', 'credentials = ""'), "axis.credentials"),
    (('stamp = { page = -1 }', 'stamp = "bottom"'), "served[0].stamp"),
])
def test_each_mistake_is_named(tmp_path: Path, change: tuple[str, str], field: str) -> None:
    with pytest.raises(CliError) as err:
        load_plan(_files(tmp_path, GOOD.replace(*change)))
    assert err.value.code == "invalid_bootstrap_file" and err.value.details.get("field") == field


def test_axis_credentials_must_have_their_shape(tmp_path: Path) -> None:
    path = _files(tmp_path)
    (tmp_path / "axis.json").write_text('{"systems": {}}', encoding="utf-8")
    with pytest.raises(CliError) as err:
        load_plan(path)
    assert err.value.code == "invalid_bootstrap_file" and "endpoint" in err.value.message


def test_a_csv_row_without_a_name(tmp_path: Path) -> None:
    path = _files(tmp_path)
    (tmp_path / "agencies.csv").write_text("organ_id,name\n000.00.00.H62,\n", encoding="utf-8")
    with pytest.raises(CliError) as err:
        load_plan(path)
    assert err.value.details == {"line": 2}
