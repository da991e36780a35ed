"""`edoc admin bootstrap --stage S --config bootstrap.toml`: from a deployed (empty) stage to a gateway that
signs and sends (issue 13, docs/operations.md#bootstrap). Idempotent: it converges the stage to the file, so a
second run of the same file changes nothing and says so (every row `unchanged`).

Order, each step reading before it writes:
1. the axis credentials into Secrets Manager and the first admin (and any văn thư accounts) into Cognito, with the
   operator's AWS credentials (edoc_cli.bootstrap_aws: no admin route may do either);
2. then as that admin, through the admin API (audited like any admin's action): trust roots, the agency registry
   from the CSV (and the axis directory with `sync = true`), each served agency's seal and stamp box, and its
   signing key: created in KMS by the gateway, its CSR written to `out/csr/` for the CA; when the CA's certificate
   is in the certificates folder, uploaded (chain checked against the trust roots) and activated.
A served agency signs once its key is ACTIVE; until then the report says what it waits for.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path
from typing import Any

import click

from edoc_cli.bootstrap_aws import Account, Report, ensure_axis_secret, ensure_user, read_credentials, stage_target
from edoc_cli.bootstrap_plan import AgencyRow, BootstrapPlan, Served, load_plan
from edoc_cli.errors import CliError
from edoc_cli.gateway import Gateway
from edoc_cli.main import Context, pass_ctx
from edoc_cli.session import Session
from edoc_cli.target import Target, resolve_target

__all__ = ["bootstrap"]

_PEM_END = "-----END CERTIFICATE-----"


def _fingerprint(pem: str) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.strip())).hexdigest()


def _certificates(text: str) -> list[str]:
    return [part.strip() + "\n" + _PEM_END + "\n" for part in text.split(_PEM_END) if "BEGIN CERTIFICATE" in part]


def _trust_roots(api: Gateway, plan: BootstrapPlan, report: Report) -> None:
    listed = api.call("GET", "/v1/admin/trust-roots")["items"]
    have = {r.get("fingerprint", "").lower().replace(":", "") for r in listed}
    for path in plan.trust_roots:
        for pem in _certificates(path.read_text(encoding="utf-8")):
            if _fingerprint(pem) in have:
                report.add("trust_roots", path.name, "unchanged")
                continue
            api.call("POST", "/v1/admin/trust-roots", json={"pem": pem})
            have.add(_fingerprint(pem))
            report.add("trust_roots", path.name, "created")


def _agency(api: Gateway, organ_id: str) -> dict[str, Any] | None:
    try:
        return api.call("GET", f"/v1/admin/agencies/{organ_id}")
    except CliError as exc:
        if exc.status == 404:
            return None
        raise


def _registry(api: Gateway, plan: BootstrapPlan, report: Report) -> None:
    for row in plan.agencies:
        _converge_agency(api, row, report)
    if plan.sync:
        answer = api.call("POST", "/v1/admin/agencies/sync", json={})
        moved = {k: len(answer.get(k) or []) for k in ("added", "renamed", "withdrawn")}
        report.add("registry", "sync", "updated" if any(moved.values()) else "unchanged",
                   ", ".join(f"{k} {v}" for k, v in moved.items()))


def _converge_agency(api: Gateway, row: AgencyRow, report: Report) -> None:
    wanted: dict[str, Any] = {"name": row.name, "served": row.served, "paper_in_parallel": row.paper_in_parallel}
    if row.short_name:
        wanted["short_name"] = row.short_name
    if row.contact:
        wanted["contact"] = row.contact
    current = _agency(api, row.organ_id)
    if current is None:
        api.call("POST", "/v1/admin/agencies", json={"organ_id": row.organ_id, **wanted})
        report.add("registry", row.organ_id, "created", row.name)
        return
    diff: dict[str, Any] = {}
    for name, value in wanted.items():
        if name == "contact":
            have = current.get("contact") or {}
            if any(have.get(f, "") != x for f, x in value.items()):
                diff[name] = {**have, **value}
        elif current.get(name) != value:
            diff[name] = value
    if not current.get("active", True):
        diff["active"] = True
    if diff:
        api.call("PATCH", f"/v1/admin/agencies/{row.organ_id}", json=diff)
    report.add("registry", row.organ_id, "updated" if diff else "unchanged", ", ".join(diff))


def _seal_and_stamp(api: Gateway, served: Served, report: Report) -> None:
    agency = _agency(api, served.organ_id)
    if agency is None:
        raise CliError("agency_not_registered", f"{served.organ_id} chưa có trong danh bạ: thêm vào tệp CSV.",
                       {"organ_id": served.organ_id})
    if not agency.get("served"):
        api.call("PATCH", f"/v1/admin/agencies/{served.organ_id}", json={"served": True})
        report.add("registry", served.organ_id, "updated", "served")
    if served.stamp is not None and agency.get("stamp") != served.stamp:
        api.call("PATCH", f"/v1/admin/agencies/{served.organ_id}", json={"stamp": served.stamp})
        report.add("stamp", served.organ_id, "updated")
    elif served.stamp is not None:
        report.add("stamp", served.organ_id, "unchanged")
    if served.seal is None:
        return
    content = served.seal.read_bytes()
    etag = ((agency.get("seal") or {}).get("etag") or "").strip('"')
    if etag == hashlib.md5(content, usedforsecurity=False).hexdigest():  # S3's ETag of a single-part object
        report.add("seal", served.organ_id, "unchanged")
        return
    form = api.call("POST", f"/v1/admin/agencies/{served.organ_id}/seal", json={})
    api.upload(form, served.seal, content_type="image/png")
    api.call("PUT", f"/v1/admin/agencies/{served.organ_id}/seal", json={"key": form["key"]})
    report.add("seal", served.organ_id, "updated" if etag else "created", served.seal.name)


def _key(api: Gateway, plan: BootstrapPlan, organ_id: str, report: Report) -> None:
    keys = api.call("GET", "/v1/admin/keys", params={"organ_id": organ_id}).get("items", [])
    if any(k["state"] == "ACTIVE" for k in keys):
        report.add("keys", organ_id, "unchanged", "ACTIVE")
        return
    key = next((k for k in keys if k["state"] in ("CREATED", "CERTIFIED")), None)
    if key is None:
        key = api.call("POST", "/v1/admin/keys", json={"organ_id": organ_id, "backend": "kms"})
        report.add("keys", organ_id, "created", key["key_ref"])
    ref = key["key_ref"]
    if key["state"] == "CREATED":
        csr_path = plan.out_dir / "csr" / f"{organ_id}-{ref}.csr"
        if not csr_path.exists():
            csr = api.call("POST", f"/v1/admin/keys/{organ_id}/{ref}/csr", json={})
            csr_path.parent.mkdir(parents=True, exist_ok=True)
            csr_path.write_text(csr["csr_pem"], encoding="utf-8")
            report.add("csr", organ_id, "written", str(csr_path))
        cert = plan.certificates_dir / f"{organ_id}.pem" if plan.certificates_dir else None
        if cert is None or not cert.is_file():
            report.add("keys", organ_id, "waiting", f"chờ chứng thư của CA cho {csr_path.name}")
            return
        parts = _certificates(cert.read_text(encoding="utf-8"))
        chain = "".join(parts[1:])
        shared = plan.certificates_dir / "chain.pem" if plan.certificates_dir else None
        if not chain and shared and shared.is_file():
            chain = shared.read_text(encoding="utf-8")
        api.call("PUT", f"/v1/admin/keys/{organ_id}/{ref}/certificate",
                 json={"certificate_pem": parts[0], **({"chain_pem": chain} if chain else {})})
        report.add("certificate", organ_id, "created", cert.name)
    api.call("POST", f"/v1/admin/keys/{organ_id}/{ref}/activate")
    report.add("keys", organ_id, "updated", f"{ref} ACTIVE")


def _admin_gateway(target: Target, plan: BootstrapPlan, ctx: Context) -> Gateway:
    """The admin API as the bootstrap's admin: its credentials from the first run's out/credentials/, or the
    session of an `edoc login` as that admin."""
    session = Session(target)
    creds = read_credentials(plan.out_dir, plan.admin.username)
    if creds is not None:
        session.login(plan.admin.username, creds["password"], totp_secret=creds.get("totp_secret"))
    elif session.username != plan.admin.username:
        raise CliError("not_logged_in", f"Không có mật khẩu của {plan.admin.username} trong {plan.out_dir}/"
                                        f"credentials: chạy `edoc login {plan.admin.username}` trước.")
    return Gateway(target.api_url, session.id_token)


def run_bootstrap(ctx: Context, stage: str, plan: BootstrapPlan) -> Report:
    target = ctx.target if stage == "local" else (
        resolve_target(ctx.profile) if ctx.profile else stage_target(stage, None))
    if stage == "local" and target.stack is None:
        raise CliError("no_gateway", "--stage local cần cổng cục bộ (.local/stack.json).")
    report = Report()
    account = Account.for_target(target)
    if plan.axis is not None:
        ensure_axis_secret(account, stage, plan.axis, report)
    for user in plan.users:
        ensure_user(account, target, user, plan.out_dir, report)
    api = _admin_gateway(target, plan, ctx)
    _trust_roots(api, plan, report)
    _registry(api, plan, report)
    for served in plan.served:
        _seal_and_stamp(api, served, report)
        _key(api, plan, served.organ_id, report)
    return report


@click.command()
@click.option("--stage", required=True, help="local (cổng cục bộ), dev, staging hoặc prod.")
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Tệp bootstrap (TOML).")
@pass_ctx
def bootstrap(ctx: Context, stage: str, config_path: Path) -> None:
    """Khởi tạo một môi trường: bí mật Trục, quản trị viên đầu tiên, danh bạ, con dấu, khoá ký số (lặp lại an toàn)."""
    report = run_bootstrap(ctx, stage, load_plan(config_path))
    if ctx.json_mode:
        ctx.out.emit({"stage": stage, "changed": report.changed, "steps": report.rows})
        return
    ctx.out.show(ctx.out.table(f"Bootstrap {stage}: {report.changed} thay đổi", ["Bước", "Đối tượng", "Kết quả",
                                                                               "Ghi chú"],
                               [(r["step"], r["item"], r["result"], r.get("detail", "")) for r in report.rows]))
