#!/usr/bin/env python
"""One stage's deployable template (issue 13): its `Stage` parameter set, and the plan of what it would create.

    python infra/stage_template.py set build/package/staging staging   # Parameters.Stage.Default = staging
    python infra/stage_template.py plan build/package/staging          # every resource, its type and its name

Why a step of its own: `chalice package --stage S` takes S's settings from .chalice/config.json (TSA, PAdES level,
memory) but knows nothing of the template's `Stage` parameter, which names every resource
(chalicelib/core/names.py); the package's default is set to the stage it was built for, so that deploying it
without overrides deploys that stage. `plan` is the dry run `make deploy-plan` prints: what CloudFormation would
be asked to create, with each named resource's name for that stage, resolved here without any AWS call (account
and region as placeholders), so it runs in a shell with no AWS configuration.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["NAME_PROPERTIES", "load", "main", "named_resources", "plan", "set_stage"]

#: The property that names each kind of resource (what two stages must never share).
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName", "AWS::S3::Bucket": "BucketName",
    "AWS::KMS::Alias": "AliasName", "AWS::Cognito::UserPool": "UserPoolName", "AWS::Serverless::Function":
    "FunctionName", "AWS::Logs::LogGroup": "LogGroupName", "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Alarm": "AlarmName", "AWS::CloudWatch::Dashboard": "DashboardName",
}
_PLACEHOLDERS = {"AWS::AccountId": "<account>", "AWS::Region": "<region>", "AWS::Partition": "aws",
                 "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "<stack>"}


def load(package_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((package_dir / "sam.yaml").read_text(encoding="utf-8"))


def set_stage(package_dir: Path, stage: str) -> None:
    """The package's `Stage` default, checked against the parameter's allowed values."""
    path = package_dir / "sam.yaml"
    template = yaml.safe_load(path.read_text(encoding="utf-8"))
    parameter = template["Parameters"]["Stage"]
    if stage not in parameter["AllowedValues"]:
        raise SystemExit(f"stage {stage!r} is not one of {parameter['AllowedValues']}")
    parameter["Default"] = stage
    path.write_text(yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


def _resolved(value: Any, stage: str, template: dict[str, Any]) -> str | None:
    """A name as the stage's deploy would make it (pseudo parameters as placeholders); None when it is not a plain
    string or a `Fn::Sub` of parameters (a name CloudFormation generates, or one built from another resource)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        def substitute(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref == "Stage":
                return stage
            if ref in _PLACEHOLDERS:
                return _PLACEHOLDERS[ref]
            return f"<{ref}>"
        return re.sub(r"\$\{([^}!]+)\}", substitute, value["Fn::Sub"])
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] == "Stage":
        return stage
    return None


def named_resources(template: dict[str, Any], stage: str | None = None) -> dict[str, tuple[str, str | None]]:
    """`{logical id: (type, name or None)}` for every resource, names resolved for `stage` (the default: the
    template's own `Stage` default)."""
    stage = stage or template["Parameters"]["Stage"]["Default"]
    out = {}
    for logical, resource in template.get("Resources", {}).items():
        kind = resource.get("Type", "")
        prop = NAME_PROPERTIES.get(kind)
        raw = (resource.get("Properties") or {}).get(prop) if prop else None
        out[logical] = (kind, _resolved(raw, stage, template) if raw is not None else None)
    return out


def plan(package_dir: Path) -> str:
    template = load(package_dir)
    stage = template["Parameters"]["Stage"]["Default"]
    rows = named_resources(template, stage)
    lines = [f"stage {stage}: {len(rows)} resources, nothing applied (make deploy STAGE={stage} applies them)",
             f"{'logical id':<40} {'type':<42} name"]
    for logical, (kind, name) in sorted(rows.items(), key=lambda r: (r[1][0], r[0])):
        lines.append(f"{logical:<40} {kind:<42} {name or '(named by CloudFormation)'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "set":
        set_stage(Path(args[1]), args[2])
        return 0
    if len(args) == 2 and args[0] == "plan":
        print(plan(Path(args[1])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
