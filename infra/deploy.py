#!/usr/bin/env python
"""Deploy one stage's package (issue 13): upload its code, create a CloudFormation change set, show it, execute it.

    python infra/deploy.py STAGE --artifacts-bucket BUCKET [--parameter Key=Value ...] [--execute]

What `aws cloudformation package` + `deploy` do, in boto3, so the deploy needs no AWS CLI (the gateway's venv has
boto3): each function's zip (`CodeUri` in build/package/<stage>/sam.yaml, `make package STAGE=...`) is uploaded
to the artefacts bucket under `edoc-gateway/<stage>/<sha256>.zip`, content-addressed (an unchanged zip is not
uploaded again, and an old template never points at new code), `CodeUri` becomes that object; the template itself
goes to the bucket too (it is over CloudFormation's 51,200-byte inline limit). The stack `edoc-gateway-<stage>` gets
a change set (CREATE the first time, UPDATE after) with CAPABILITY_IAM (the functions' roles) and
CAPABILITY_AUTO_EXPAND (SAM's transform); its changes are printed; with `--execute` it is executed and the stack
waited for, otherwise nothing is applied (the change set stays for review in the console).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["STACK_PREFIX", "change_set", "main", "stack_name", "upload_code"]

STACK_PREFIX = "edoc-gateway-"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


def stack_name(stage: str) -> str:
    return f"{STACK_PREFIX}{stage}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def upload_code(s3: Any, package_dir: Path, bucket: str, stage: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(the template with every function's `CodeUri` an S3 object, `{zip file name: key}` of what it points at);
    each zip uploaded unless an object of the same digest is there already."""
    template = yaml.safe_load((package_dir / "sam.yaml").read_text(encoding="utf-8"))
    keys: dict[str, str] = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        uri = resource["Properties"].get("CodeUri")
        if not isinstance(uri, str) or uri.startswith("s3://"):
            continue
        local = (package_dir / uri).resolve()
        if local.name not in keys:
            key = f"edoc-gateway/{stage}/{_sha256(local)}.zip"
            if not _exists(s3, bucket, key):
                s3.upload_file(str(local), bucket, key)
            keys[local.name] = key
        resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": keys[local.name]}
    return template, keys


def change_set(cfn: Any, s3: Any, template: dict[str, Any], bucket: str, stage: str,
               parameters: dict[str, str]) -> tuple[str, str, list[dict[str, Any]]]:
    """Create the stack's change set from `template` (uploaded next to the code) and wait for it; returns its
    name, its kind (CREATE or UPDATE) and its changes (empty when the template and parameters change nothing)."""
    body = yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=120).encode("utf-8")
    key = f"edoc-gateway/{stage}/template-{hashlib.sha256(body).hexdigest()}.yaml"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    region = s3.meta.region_name
    url = f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
    name = stack_name(stage)
    try:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        kind = "CREATE" if status == "REVIEW_IN_PROGRESS" else "UPDATE"
    except cfn.exceptions.ClientError:
        kind = "CREATE"
    change = f"{name}-{hashlib.sha256(body + repr(sorted(parameters.items())).encode()).hexdigest()[:12]}"
    cfn.create_change_set(StackName=name, ChangeSetName=change, ChangeSetType=kind, TemplateURL=url,
                          Capabilities=CAPABILITIES,
                          Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
                          Tags=[{"Key": "edoc-gateway:stage", "Value": stage}])
    try:
        cfn.get_waiter("change_set_create_complete").wait(StackName=name, ChangeSetName=change,
                                                          WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    except Exception:  # no changes: the change set FAILED with a reason saying so
        described = cfn.describe_change_set(StackName=name, ChangeSetName=change)
        if "didn't contain changes" in described.get("StatusReason", "") or \
                "No updates" in described.get("StatusReason", ""):
            return change, kind, []
        raise
    described = cfn.describe_change_set(StackName=name, ChangeSetName=change)
    return change, kind, list(described.get("Changes", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("stage")
    parser.add_argument("--artifacts-bucket", required=True, help="an S3 bucket of yours for the code and template")
    parser.add_argument("--package-dir", type=Path, help="default build/package/<stage>")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="a template parameter (AlarmEmail=..., ArchiveRetentionDays=...)")
    parser.add_argument("--execute", action="store_true", help="execute the change set and wait for the stack")
    args = parser.parse_args(argv)
    import boto3  # lazy: --help works without it

    package_dir = args.package_dir or Path("build/package") / args.stage
    parameters = dict(p.split("=", 1) for p in args.parameter)
    parameters.setdefault("Stage", args.stage)
    s3, cfn = boto3.client("s3"), boto3.client("cloudformation")
    template, keys = upload_code(s3, package_dir, args.artifacts_bucket, args.stage)
    print(f"code: {len(keys)} zips in s3://{args.artifacts_bucket}/edoc-gateway/{args.stage}/")
    name, kind, changes = change_set(cfn, s3, template, args.artifacts_bucket, args.stage, parameters)
    print(f"change set {name} on stack {stack_name(args.stage)}: {len(changes)} changes")
    for change in changes:
        rc = change.get("ResourceChange", {})
        replaced = rc.get("Replacement") in ("True", "Conditional")
        replacement = f"  (replacement: {rc['Replacement']})" if replaced else ""
        print(f"  {rc.get('Action', '?'):<8} {rc.get('LogicalResourceId', '?'):<40} {rc.get('ResourceType', '')}"
              f"{replacement}")
    if not changes or not args.execute:
        print("nothing applied" if not changes else "not executed (add --execute, or make deploy)")
        return 0
    cfn.execute_change_set(StackName=stack_name(args.stage), ChangeSetName=name)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    cfn.get_waiter(waiter).wait(StackName=stack_name(args.stage), WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    print(f"stack {stack_name(args.stage)}: deployed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
