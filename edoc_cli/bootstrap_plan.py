"""The bootstrap file: what a province hands its new gateway on day one (issue 13, docs/operations.md#bootstrap).

Why a file and not options: the bootstrap is run again and again (after a CA answers, when an agency joins) and
must do the same thing each time; the file is the province's desired state, kept under its own change control,
and `edoc admin bootstrap` converges the gateway to it. Paths in it are relative to the file. Secrets are not in
it: the axis credentials are a separate file (what the axis's operator sends), created users' passwords and TOTP
secrets are written to `out/credentials/` (mode 0600) for the operator to hand over.

```toml
[axis]
credentials = "axis-credentials.json"   # {"endpoint": "https://…", "systems": {"<organ_id>": "<secret>"}}

[admin]                                 # the first administrator (Cognito group `admins`, TOTP MFA)
username = "admin"
organ_id = "000.00.01.H62"
email = "cntt@vinhphuc.gov.vn"

trust_roots = ["ca/root-ca.pem"]        # the CAs that certify the agencies' keys

[registry]
csv = "agencies.csv"                    # organ_id,name,short_name,served,paper_in_parallel,email,telephone,address
sync = false                            # true: also the axis directory (POST /v1/admin/agencies/sync)

[[served]]                              # each agency the gateway signs and sends for
organ_id = "000.00.00.H62"
seal = "seals/000.00.00.H62.png"        # transparent PNG
stamp = { page = -1 }                   # optional: where the signature box goes (docs/signature-appearance.md)
clerks = ["vanthu-ubnd"]                # optional: its văn thư accounts

[keys]
out = "out"                             # CSRs to out/csr/, credentials to out/credentials/
certificates = "certs"                  # <organ_id>.pem: the CA's certificate (+ chain, or certs/chain.pem)
```
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edoc_cli.errors import CliError

__all__ = ["AgencyRow", "BootstrapPlan", "Served", "UserSpec", "load_plan"]

_ORGAN_ID = re.compile(r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[0-9A-Z]{3}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_TRUE = {"1", "true", "yes", "có", "x"}


@dataclass(frozen=True)
class UserSpec:
    username: str
    organ_id: str
    email: str = ""
    admin: bool = False


@dataclass(frozen=True)
class AgencyRow:
    organ_id: str
    name: str
    short_name: str = ""
    served: bool = False
    paper_in_parallel: bool = False
    contact: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Served:
    organ_id: str
    seal: Path | None
    stamp: dict[str, Any] | None
    clerks: tuple[str, ...] = ()


@dataclass(frozen=True)
class BootstrapPlan:
    axis: dict[str, Any] | None
    admin: UserSpec
    trust_roots: tuple[Path, ...]
    agencies: tuple[AgencyRow, ...]
    sync: bool
    served: tuple[Served, ...]
    out_dir: Path
    certificates_dir: Path | None

    @property
    def users(self) -> list[UserSpec]:
        return [self.admin] + [UserSpec(name, s.organ_id) for s in self.served for name in s.clerks]


def _bad(message: str, **details: Any) -> CliError:
    return CliError("invalid_bootstrap_file", message, details)


def _organ_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ORGAN_ID.match(value):
        raise _bad(f"{where}: mã định danh không hợp lệ: {value!r}", field=where)
    return value


def _username(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _USERNAME.match(value):
        raise _bad(f"{where}: tên đăng nhập chỉ gồm chữ thường, số, '.', '_', '-': {value!r}", field=where)
    return value


def _file(base: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise _bad(f"{where}: cần đường dẫn tệp", field=where)
    path = (base / value).resolve()
    if not path.is_file():
        raise _bad(f"{where}: không có tệp {path}", field=where)
    return path


def _agencies(path: Path) -> tuple[AgencyRow, ...]:
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            cell = {k: (v or "").strip() for k, v in row.items() if k}
            if not cell.get("name"):
                raise _bad(f"{path.name} dòng {line}: thiếu tên cơ quan", line=line)
            contact = {k: cell[k] for k in ("email", "telephone", "address") if cell.get(k)}
            rows.append(AgencyRow(_organ_id(cell.get("organ_id"), f"{path.name}:{line}"), cell["name"],
                                  cell.get("short_name", ""), cell.get("served", "").lower() in _TRUE,
                                  cell.get("paper_in_parallel", "").lower() in _TRUE, contact))
    return tuple(rows)


def load_plan(path: Path) -> BootstrapPlan:
    """Read and check the bootstrap file and the files it names; a mistake is `invalid_bootstrap_file`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _bad(f"Không đọc được {path}: {exc}") from exc
    base = path.resolve().parent
    axis = None
    if "axis" in data:
        creds = _file(base, data["axis"].get("credentials"), "axis.credentials")
        try:
            axis = json.loads(creds.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise _bad(f"{creds.name} không phải JSON: {exc}") from exc
        if not isinstance(axis, dict) or not axis.get("endpoint") or not isinstance(axis.get("systems"), dict):
            raise _bad(f"{creds.name}: cần {{\"endpoint\": …, \"systems\": {{mã định danh: khoá bí mật}}}}")
        for organ_id in axis["systems"]:
            _organ_id(organ_id, f"{creds.name}: systems")
    admin = data.get("admin") or {}
    admin_spec = UserSpec(_username(admin.get("username"), "admin.username"),
                          _organ_id(admin.get("organ_id"), "admin.organ_id"), str(admin.get("email", "")), True)
    registry = data.get("registry") or {}
    agencies = _agencies(_file(base, registry["csv"], "registry.csv")) if registry.get("csv") else ()
    served = []
    for i, entry in enumerate(data.get("served") or []):
        where = f"served[{i}]"
        stamp = entry.get("stamp")
        if stamp is not None and not isinstance(stamp, dict):
            raise _bad(f"{where}.stamp: cần một bảng (page, x, y, width, height)", field=f"{where}.stamp")
        served.append(Served(_organ_id(entry.get("organ_id"), f"{where}.organ_id"),
                             _file(base, entry["seal"], f"{where}.seal") if entry.get("seal") else None, stamp,
                             tuple(_username(c, f"{where}.clerks") for c in entry.get("clerks") or [])))
    keys = data.get("keys") or {}
    certs = (base / keys["certificates"]).resolve() if keys.get("certificates") else None
    return BootstrapPlan(axis=axis, admin=admin_spec,
                         trust_roots=tuple(_file(base, p, "trust_roots") for p in data.get("trust_roots") or []),
                         agencies=agencies, sync=bool(registry.get("sync")), served=tuple(served),
                         out_dir=(base / keys.get("out", "out")).resolve(), certificates_dir=certs)
