"""IAM on the embedded stack: an admin principal for the operator, and one role per function whose policy is the
deployable template's, resolved to the moto resources' ARNs.

Why: least privilege is proven only if each function runs under exactly what infra/resources.yaml grants it. So
the template is read here (`!Ref`, `!GetAtt`, `!Sub` resolved against the provisioned resources by a small resolver),
every IAM policy attached to a function's role (`Roles: [!Ref <Function>Role]`, plus Chalice's inline
`.chalice/policy-prod.json`) becomes that role's policy on moto, and the stack assumes each role and hands its
credentials to that function's process.

What moto evaluates (moto 5.2, `moto/core/authorization.py`, `moto/iam/access_control.py`; see docs/iam.md):
actions for every service; resources only for S3 (bucket and object key) and SQS (queue ARN) — every other service
is authorised against the resource `*`; conditions not at all (StringEquals against values moto never supplies
passes). So the moto copy of a statement keeps its resources for S3 and SQS and says `*` for the other services,
without conditions; the recorded-call check (`devstack.iam_policy`) checks resources and conditions of every call
against the template's own statements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.config import MOTO_ACCOUNT, REPO_ROOT, STAGE
from devstack.provision.clients import Clients, find_alias_target, ignore_codes

__all__ = [
    "ADMIN_USER", "MOTO_ENFORCED_SERVICES", "FunctionRole", "admin_credentials", "assume_function_roles",
    "function_policies", "load_template", "local_resource_names", "moto_statements", "provision_function_roles",
    "resolve", "resolved_function_policies", "role_logical_id",
]

TEMPLATE = REPO_ROOT / "infra" / "resources.yaml"
CHALICE_POLICY = REPO_ROOT / ".chalice" / "policy-prod.json"
ADMIN_USER = "edoc-local-admin"
ROLE_PREFIX = "edoc-gateway-local-"
#: Services whose resources moto checks (S3: bucket/key, SQS: queue ARN); the others it checks by action only.
MOTO_ENFORCED_SERVICES = frozenset({"s3", "sqs"})
#: Lambda's poller uses the role for up to a function's lifetime; the stack uses one session for its own lifetime.
SESSION_SECONDS = 12 * 3600


# -- the template ---------------------------------------------------------------------------------------------
class _CfnLoader:
    """PyYAML with CloudFormation's short forms (!Ref, !GetAtt, !Sub …) as their long forms."""

    @staticmethod
    def load(text: str) -> dict[str, Any]:
        import yaml  # lazy: only provisioning and the least-privilege tests read the template

        class Loader(yaml.SafeLoader):
            pass

        def construct(tag: str):
            def _make(loader: Any, node: Any) -> dict[str, Any]:
                if isinstance(node, yaml.ScalarNode):
                    value: Any = loader.construct_scalar(node)
                    if tag == "GetAtt":
                        value = value.split(".", 1)
                elif isinstance(node, yaml.SequenceNode):
                    value = loader.construct_sequence(node, deep=True)
                else:
                    value = loader.construct_mapping(node, deep=True)
                return {"Ref": value} if tag == "Ref" else {f"Fn::{tag}": value}
            return _make

        for tag in ("Ref", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
                    "FindInMap", "ImportValue", "Base64", "GetAZs", "Condition"):
            Loader.add_constructor(f"!{tag}", construct(tag))
        return yaml.load(text, Loader=Loader)  # noqa: S506 (SafeLoader subclass with CloudFormation tags)


def load_template(path: Path | None = None) -> dict[str, Any]:
    return _CfnLoader.load(Path(path or TEMPLATE).read_text(encoding="utf-8"))


def role_logical_id(function: str) -> str:
    """Chalice's role for a function: `sign_document` → `SignDocumentRole`, `api_handler` → `ApiHandlerRole`."""
    return "".join(part.capitalize() for part in function.split("_")) + "Role"


def resolve(value: Any, names: Mapping[str, Mapping[str, str]], pseudo: Mapping[str, str]) -> Any:
    """`value` with !Ref, !GetAtt and !Sub replaced: `names[logical_id]` maps "Ref" and attributes ("Arn") to
    physical values, `pseudo` maps AWS::Region, AWS::AccountId, AWS::Partition."""
    if isinstance(value, list):
        return [resolve(v, names, pseudo) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return pseudo[value["Ref"]] if value["Ref"] in pseudo else names[value["Ref"]]["Ref"]
    if set(value) == {"Fn::GetAtt"}:
        logical, attribute = value["Fn::GetAtt"]
        return names[logical][attribute]
    if set(value) == {"Fn::Sub"}:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]

        def substitute(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref in variables:
                return str(resolve(variables[ref], names, pseudo))
            if ref in pseudo:
                return pseudo[ref]
            logical, _, attribute = ref.partition(".")
            return names[logical][attribute or "Ref"]

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    return {k: resolve(v, names, pseudo) for k, v in value.items()}


def function_policies(template: Mapping[str, Any], functions: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`{function: {policy_name: policy_document}}` (unresolved): every IAM policy the template attaches to the
    function's role, and Chalice's inline policy file, which `chalice package` gives every generated role."""
    resources = template.get("Resources", {})
    chalice_inline = json.loads(CHALICE_POLICY.read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for function in functions:
        role = role_logical_id(function)
        policies: dict[str, Any] = {"ChaliceInline": chalice_inline}
        for logical, resource in resources.items():
            if resource.get("Type") not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                continue
            roles = resource.get("Properties", {}).get("Roles", [])
            if any(isinstance(r, dict) and r.get("Ref") == role for r in roles):
                policies[logical] = resource["Properties"]["PolicyDocument"]
        out[function] = policies
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def moto_statements(document: Mapping[str, Any]) -> dict[str, Any]:
    """The moto copy of a resolved policy document (see the module docstring): per service, S3 and SQS keep their
    resources, the others get `*`; conditions go (moto would not evaluate them)."""
    statements = []
    for statement in _as_list(document["Statement"]):
        by_service: dict[bool, list[str]] = {}
        for action in _as_list(statement["Action"]):
            by_service.setdefault(action.split(":")[0] in MOTO_ENFORCED_SERVICES, []).append(action)
        for enforced, actions in sorted(by_service.items()):
            sid = re.sub(r"[^A-Za-z0-9]", "", statement.get("Sid", "")) + ("" if enforced else "Any")
            statements.append({"Sid": sid, "Effect": statement["Effect"], "Action": actions,
                               "Resource": statement["Resource"] if enforced else "*"})
    return {"Version": "2012-10-17", "Statement": statements}


# -- the account's names ------------------------------------------------------------------------------------
def local_resource_names(c: Clients | None, template: Mapping[str, Any], region: str, *, bucket: str,
                         account: str = MOTO_ACCOUNT) -> dict[str, dict[str, str]]:
    """`{logical_id: {"Ref": ..., "Arn": ...}}` for the template's resources as the embedded stack made them
    (the bucket under its local name; queues, tables, keys and roles under the template's names). Without `c`
    (no account to ask), KMS keys get a placeholder ARN `key/<LogicalId>`."""
    names: dict[str, dict[str, str]] = {}
    stage_only = pseudo_parameters(region, account)
    for logical, resource in template.get("Resources", {}).items():
        kind, raw = resource.get("Type"), resource.get("Properties", {})
        # Names are `!Sub edoc-${Stage}-...` (chalicelib.core.names): resolved for the embedded stack's stage.
        props = {k: resolve(raw[k], {}, stage_only) if k in ("TableName", "QueueName", "AliasName") else raw[k]
                 for k in raw}
        if kind == "AWS::S3::Bucket":
            names[logical] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
        elif kind == "AWS::DynamoDB::Table":
            table = props["TableName"]
            names[logical] = {"Ref": table, "Arn": f"arn:aws:dynamodb:{region}:{account}:table/{table}"}
        elif kind == "AWS::SQS::Queue":
            queue = props["QueueName"]
            names[logical] = {"Ref": queue, "Arn": f"arn:aws:sqs:{region}:{account}:{queue}", "QueueName": queue}
        elif kind == "AWS::Cognito::UserPool":
            pool_id = _user_pool_id(c) if c is not None else logical
            names[logical] = {"Ref": pool_id, "Arn": f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}"}
        elif kind == "AWS::KMS::Alias":
            target = props.get("TargetKeyId", {}).get("Ref")
            key_id = find_alias_target(c, props["AliasName"]) if c is not None else None
            if target and key_id and c is not None:
                arn = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
                names[target] = {"Ref": key_id, "Arn": arn}
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::KMS::Key" and logical not in names:
            names[logical] = {"Ref": logical, "Arn": f"arn:aws:kms:{region}:{account}:key/{logical}"}
    for function_role in {r.get("Ref") for res in template.get("Resources", {}).values()
                          for r in _as_list(res.get("Properties", {}).get("Roles", [])) if isinstance(r, dict)}:
        if function_role:
            name = ROLE_PREFIX + function_role
            names[function_role] = {"Ref": name, "Arn": f"arn:aws:iam::{account}:role/{name}"}
    return names


def _user_pool_id(c: Clients) -> str:
    from devstack.provision.cognito import find_user_pool

    try:
        return find_user_pool(c) or "unprovisioned"
    except Exception:  # a pool not provisioned yet: its ARN is never matched
        return "unprovisioned"


def pseudo_parameters(region: str, account: str = MOTO_ACCOUNT) -> dict[str, str]:
    # `Stage` is the template's parameter (infra/resources.yaml): the embedded stack is stage `local`.
    return {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws", "AWS::URLSuffix":
            "amazonaws.com", "AWS::StackName": "edoc-gateway-local", "Stage": STAGE}


# -- principals --------------------------------------------------------------------------------------------
def admin_credentials(c: Clients) -> dict[str, str]:
    """An IAM user allowed everything: the operator (provisioning, tests and tools that talk to AWS directly).

    Made before enforcement is switched on (moto answers unsigned IAM calls until then); a new access key each
    start, since moto forgets users when it stops.
    """
    try:
        c.iam.create_user(UserName=ADMIN_USER)
    except Exception as exc:
        if not ignore_codes(exc, ("EntityAlreadyExists",)):
            raise
    c.iam.put_user_policy(UserName=ADMIN_USER, PolicyName="operator", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Operator", "Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = c.iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
            "arn": c.iam.get_user(UserName=ADMIN_USER)["User"]["Arn"]}


def resolved_function_policies(c: Clients | None, functions: Iterable[str], region: str, *, bucket: str,
                               template: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """`{function: {policy_name: policy document}}` with every intrinsic resolved to this account's resources."""
    template = template or load_template()
    names = local_resource_names(c, template, region, bucket=bucket)
    pseudo = pseudo_parameters(region)
    return {function: {name: resolve(doc, names, pseudo) for name, doc in policies.items()}
            for function, policies in function_policies(template, functions).items()}


@dataclass(frozen=True)
class FunctionRole:
    function: str
    role_name: str
    role_arn: str
    #: `{policy_name: resolved policy document}`: the template's statements for this function (for the checker).
    policies: dict[str, Any]


def provision_function_roles(c: Clients, functions: Iterable[str], region: str, *, bucket: str, admin_arn: str,
                             template: Mapping[str, Any] | None = None) -> dict[str, FunctionRole]:
    """One role per function with the template's policies (their moto copies, see `moto_statements`), trusted by
    Lambda and by the stack's admin, which assumes it for the function's process."""
    roles: dict[str, FunctionRole] = {}
    for function, resolved in resolved_function_policies(c, functions, region, bucket=bucket,
                                                         template=template).items():
        role_name = ROLE_PREFIX + role_logical_id(function)
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "lambda.amazonaws.com", "AWS": admin_arn}}]}
        try:
            role_arn = c.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust),
                                         MaxSessionDuration=SESSION_SECONDS)["Role"]["Arn"]
        except Exception as exc:
            if not ignore_codes(exc, ("EntityAlreadyExists",)):
                raise
            role_arn = c.iam.get_role(RoleName=role_name)["Role"]["Arn"]
        for name, doc in resolved.items():
            c.iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(moto_statements(doc)))
        roles[function] = FunctionRole(function, role_name, role_arn, resolved)
    return roles


def assume_function_roles(c: Clients, roles: Mapping[str, FunctionRole]) -> dict[str, dict[str, str]]:
    """`{function: {AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN}}`, one session per function."""
    out = {}
    for function, role in roles.items():
        creds = c.sts.assume_role(RoleArn=role.role_arn, RoleSessionName=f"{function.replace('_', '-')}-local",
                                  DurationSeconds=SESSION_SECONDS)["Credentials"]
        out[function] = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                         "AWS_SESSION_TOKEN": creds["SessionToken"]}
    return out
