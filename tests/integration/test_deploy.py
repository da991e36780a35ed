"""`make deploy` (infra/deploy.py, issue 13) on moto: the code uploaded content-addressed and the template pointed at
it, then a change set created, described, executed and waited for through CloudFormation's real API (moto's; it
does not run SAM's transform, so the change set here is of a plain template, as a stage's would be once expanded).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from tests.support.moto_tables import REGION, mocked_aws

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))
import deploy  # noqa: E402  (infra/ holds scripts, not a package)

BUCKET = "edoc-artifacts-test"


def _package(tmp_path: Path) -> Path:
    (tmp_path / "a.zip").write_bytes(b"PK code of a")
    (tmp_path / "b.zip").write_bytes(b"PK code of b")
    template = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {
        "One": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./a.zip", "Handler": "app.x"}},
        "Two": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./b.zip", "Handler": "app.y"}},
        "Three": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./a.zip", "Handler": "app.z"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}}}
    (tmp_path / "sam.yaml").write_text(yaml.safe_dump(template), encoding="utf-8")
    return tmp_path


def test_the_code_is_uploaded_once_by_digest_and_the_template_points_at_it(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    package = _package(tmp_path)
    with mocked_aws(monkeypatch):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        template, keys = deploy.upload_code(s3, package, BUCKET, "staging")
        uris = {k: r["Properties"]["CodeUri"] for k, r in template["Resources"].items() if "CodeUri" in
                r.get("Properties", {})}
        assert uris["One"] == uris["Three"] != uris["Two"], "one object per distinct zip"
        assert all(u["Bucket"] == BUCKET and u["Key"].startswith("edoc-gateway/staging/") for u in uris.values())
        assert s3.get_object(Bucket=BUCKET, Key=keys["a.zip"])["Body"].read() == b"PK code of a"
        before = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
        uploads: list[str] = []
        real = s3.upload_file
        monkeypatch.setattr(s3, "upload_file", lambda *a, **k: uploads.append(a[2]) or real(*a, **k))
        deploy.upload_code(s3, package, BUCKET, "staging")
        assert uploads == [], "an unchanged zip is not uploaded again"
        assert {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]} == before


def test_a_change_set_is_created_shown_and_executed(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    template = {"Parameters": {"Stage": {"Type": "String"}},
                "Resources": {"Queue": {"Type": "AWS::SQS::Queue",
                                        "Properties": {"QueueName": {"Fn::Sub": "edoc-${Stage}-probe"}}}}}
    with mocked_aws(monkeypatch):
        s3 = boto3.client("s3", region_name=REGION)
        cfn = boto3.client("cloudformation", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        name, kind, changes = deploy.change_set(cfn, s3, template, BUCKET, "dev", {"Stage": "dev"})
        assert kind == "CREATE" and [c["ResourceChange"]["LogicalResourceId"] for c in changes] == ["Queue"]
        assert cfn.describe_stacks(StackName="edoc-gateway-dev")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
        cfn.execute_change_set(StackName="edoc-gateway-dev", ChangeSetName=name)
        cfn.get_waiter("stack_create_complete").wait(StackName="edoc-gateway-dev", WaiterConfig={"Delay": 1})
        queues = boto3.client("sqs", region_name=REGION).list_queues()["QueueUrls"]
        assert any(q.endswith("/edoc-dev-probe") for q in queues)
        _, again, _ = deploy.change_set(cfn, s3, template, BUCKET, "dev", {"Stage": "dev"})
        assert again == "UPDATE", "the stack exists: the next change set updates it"
