"""The two steps of a bootstrap that no admin route can do, done with the operator's AWS credentials: the axis
credentials into Secrets Manager, and the first users into Cognito (issue 13, docs/operations.md#bootstrap).

Why not through the API: the API never writes its own secrets (its role may only read them, docs/iam.md), and
the first administrator must exist before anyone can call an admin route. Everything else goes through the admin
API, checked and audited like any administrator's action.

The operator's credentials are boto3's own chain (AWS_PROFILE, SSO, environment); on the embedded stack they are
stack.json's `aws_admin` (moto enforces IAM). The names follow chalicelib.core.names (stage in every name; a test,
tests/integration/test_edoc_bootstrap_names.py, keeps the two in step, since the command line never imports the
gateway's code).
"""

from __future__ import annotations

import json
import os
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edoc_cli.bootstrap_plan import UserSpec
from edoc_cli.errors import CliError
from edoc_cli.session import totp_code
from edoc_cli.target import Target

__all__ = ["Account", "Report", "axis_secret_name", "ensure_axis_secret", "ensure_user", "read_credentials"]

ADMIN_GROUP = "admins"


def axis_secret_name(stage: str) -> str:
    """chalicelib.core.names.StageNames.axis_secret."""
    return f"edoc-gateway/{stage}/axis"


def stack_name(stage: str) -> str:
    """The CloudFormation stack `make deploy` creates (infra/deploy.py)."""
    return f"edoc-gateway-{stage}"


class Report:
    """What a run did, one row per thing it looked at: `created`, `updated`, `written`, `unchanged`, or `waiting`
    (for someone else: a CA's certificate). A second run of the same file changes nothing (issue 13)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, step: str, item: str, result: str, detail: str = "") -> None:
        self.rows.append({"step": step, "item": item, "result": result, **({"detail": detail} if detail else {})})

    @property
    def changed(self) -> int:
        return sum(1 for row in self.rows if row["result"] not in ("unchanged", "waiting"))


@dataclass
class Account:
    """boto3 clients on the stage's account, as its operator."""

    region: str
    endpoint_url: str | None
    credentials: dict[str, str] | None

    @classmethod
    def for_target(cls, target: Target) -> Account:
        if target.stack is not None:
            admin = target.stack.get("aws_admin") or {}
            return cls(target.region, target.stack["aws_endpoint_url"],
                       {"aws_access_key_id": admin.get("access_key_id", ""),
                        "aws_secret_access_key": admin.get("secret_access_key", "")})
        return cls(target.region, None, None)

    def client(self, service: str) -> Any:
        import boto3  # lazy: only the bootstrap needs the operator's AWS

        return boto3.session.Session().client(service, region_name=self.region, endpoint_url=self.endpoint_url,
                                              **(self.credentials or {}))


def ensure_axis_secret(account: Account, stage: str, value: dict[str, Any], report: Report) -> None:
    """`edoc-gateway/<stage>/axis` holds exactly the axis credentials file: created, updated, or left alone."""
    sm = account.client("secretsmanager")
    name = axis_secret_name(stage)
    wanted = {"endpoint": value["endpoint"], "systems": dict(value["systems"])}
    try:
        current = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=name, SecretString=json.dumps(wanted),
                         Description="Axis endpoint and per-agency system credentials (edoc admin bootstrap)")
        report.add("axis", name, "created", f"{len(wanted['systems'])} hệ thống")
        return
    except ValueError:
        current = None
    if current == wanted:
        report.add("axis", name, "unchanged")
        return
    sm.put_secret_value(SecretId=name, SecretString=json.dumps(wanted))
    report.add("axis", name, "updated", f"{len(wanted['systems'])} hệ thống")


def _password() -> str:
    """16 characters with each class the pool's policy asks for (infra/resources.yaml PasswordPolicy)."""
    classes = (string.ascii_uppercase, string.ascii_lowercase, string.digits, "!#%+-=?@^_")
    chars = [secrets.choice(c) for c in classes] + [secrets.choice("".join(classes)) for _ in range(12)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _credentials_path(out_dir: Path, username: str) -> Path:
    return out_dir / "credentials" / f"{username}.json"


def read_credentials(out_dir: Path, username: str) -> dict[str, Any] | None:
    try:
        return json.loads(_credentials_path(out_dir, username).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_credentials(out_dir: Path, username: str, value: dict[str, Any]) -> None:
    path = _credentials_path(out_dir, username)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(value, fh, ensure_ascii=False, indent=2)


def _set_up_totp(idp: Any, client_id: str, username: str, password: str) -> str:
    """An authenticator for an admin, as a person sets it up: sign in, associate, verify a code, prefer it."""
    access = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": username, "PASSWORD": password},
                               )["AuthenticationResult"]["AccessToken"]
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    for attempt in range(2):  # the 30 s step may turn between computing the code and Cognito checking it
        try:
            idp.verify_software_token(AccessToken=access, UserCode=totp_code(secret),
                                      FriendlyDeviceName="edoc-bootstrap")
            break
        except idp.exceptions.CodeMismatchException:
            if attempt:
                raise
            time.sleep(1)
    return secret


def ensure_user(account: Account, target: Target, spec: UserSpec, out_dir: Path, report: Report) -> None:
    """The user exists with its agency (and `admins` with TOTP for an admin). A new one gets a random password,
    written with its TOTP secret to `out/credentials/<username>.json` (0600); an existing one is left alone (its
    password is its own now), except that its agency and group are converged."""
    idp = account.client("cognito-idp")
    pool = target.user_pool_id
    attributes = [{"Name": "custom:organ_id", "Value": spec.organ_id}]
    if spec.email:
        attributes += [{"Name": "email", "Value": spec.email}, {"Name": "email_verified", "Value": "true"}]
    try:
        existing = idp.admin_get_user(UserPoolId=pool, Username=spec.username)
    except idp.exceptions.UserNotFoundException:
        existing = None
    step = "admin" if spec.admin else "users"
    if existing is None:
        password = _password()
        idp.admin_create_user(UserPoolId=pool, Username=spec.username, UserAttributes=attributes,
                              MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool, Username=spec.username, Password=password, Permanent=True)
        record: dict[str, Any] = {"username": spec.username, "password": password, "organ_id": spec.organ_id}
        if spec.admin:
            idp.admin_add_user_to_group(UserPoolId=pool, Username=spec.username, GroupName=ADMIN_GROUP)
            record["totp_secret"] = _set_up_totp(idp, target.client_id, spec.username, password)
            idp.admin_set_user_mfa_preference(UserPoolId=pool, Username=spec.username,
                                              SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
        _write_credentials(out_dir, spec.username, record)
        report.add(step, spec.username, "created", f"{spec.organ_id}; mật khẩu trong {out_dir}/credentials/")
        return
    have = {a["Name"]: a["Value"] for a in existing.get("UserAttributes", [])}
    changed = have.get("custom:organ_id") != spec.organ_id or (spec.email and have.get("email") != spec.email)
    if changed:
        idp.admin_update_user_attributes(UserPoolId=pool, Username=spec.username, UserAttributes=attributes)
    if spec.admin:
        groups = {g["GroupName"] for g in idp.admin_list_groups_for_user(UserPoolId=pool,
                                                                           Username=spec.username)["Groups"]}
        if ADMIN_GROUP not in groups:
            idp.admin_add_user_to_group(UserPoolId=pool, Username=spec.username, GroupName=ADMIN_GROUP)
            changed = True
    report.add(step, spec.username, "updated" if changed else "unchanged")


def stage_target(stage: str, region: str | None) -> Target:
    """A deployed stage's API and pool, read from its CloudFormation outputs (`make deploy` made the stack)."""
    import boto3  # lazy: only the bootstrap needs the operator's AWS

    session = boto3.session.Session(region_name=region)
    cfn = session.client("cloudformation")
    try:
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in cfn.describe_stacks(StackName=stack_name(stage))["Stacks"][0].get("Outputs", [])}
    except Exception as exc:
        raise CliError("stage_not_deployed", f"Không đọc được stack {stack_name(stage)}: {exc}. Chạy "
                                             f"`make deploy STAGE={stage}` trước.", {"stage": stage}) from exc
    return Target(name=stage, api_url=outputs["EndpointURL"].rstrip("/"),
                  region=session.region_name, user_pool_id=outputs["UserPoolId"],
                  client_id=outputs["UserPoolClientId"])
