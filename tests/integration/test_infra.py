"""The deployable template: `chalice package --merge-template infra/resources.yaml`, linted and inspected.

Given the project (app.py, .chalice/, infra/), when Chalice packages the prod stage with the merge template,
then cfn-lint accepts the merged SAM template with no ignored rule, every SQS event source reports batch item
failures, the bucket is private, versioned and SSE-KMS, and the functions' permissions are the least-privilege
ones (and cover every function Chalice generates).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REGION = "ap-southeast-1"


def _resolve_name(ref: Any) -> str | None:
    """The logical id an intrinsic (!Ref, !GetAtt X.Arn, !Sub ${X.Arn}) points at."""
    if not isinstance(ref, dict):
        return None
    if "Ref" in ref:
        return ref["Ref"]
    if "Fn::GetAtt" in ref:
        att = ref["Fn::GetAtt"]
        return att[0] if isinstance(att, list) else att.split(".")[0]
    if "Fn::Sub" in ref and isinstance(ref["Fn::Sub"], str):
        match = re.fullmatch(r"\$\{(\w+)(\.\w+)?\}", ref["Fn::Sub"])
        return match.group(1) if match else None
    return None


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The merged template, packaged from a copy of the project.

    A copy with an empty requirements.txt: the template depends only on app.py, .chalice/ and the merge
    template, and an empty requirements file keeps Chalice from downloading Lambda wheels (pyHanko …) here.
    """
    if not (REPO / "app.py").exists():
        pytest.fail("app.py is missing: the template is generated from it")
    project = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "deployments", "deployed")
    shutil.copy(REPO / "app.py", project / "app.py")
    for folder in ("chalicelib", ".chalice", "infra"):
        shutil.copytree(REPO / folder, project / folder, ignore=ignore)
    (project / "requirements.txt").write_text("", encoding="utf-8")
    out = tmp_path_factory.mktemp("package")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_DEFAULT_REGION"] = REGION
    proc = subprocess.run(
        [str(BIN / "chalice"), "--project-dir", str(project), "package", "--stage", "prod",
         "--merge-template", str(project / "infra" / "resources.yaml"), str(out / "pkg")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"chalice package failed:\n{proc.stdout}\n{proc.stderr}"
    # Chalice writes YAML whenever the merge template is YAML (whatever --template-format says).
    template = out / "pkg" / "sam.yaml"
    assert template.exists(), sorted(p.name for p in (out / "pkg").iterdir())
    return template


@pytest.fixture(scope="module")
def template(packaged: Path) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(packaged))


def _of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == type_}


def _statements(template: dict[str, Any], policy: str) -> dict[str, dict[str, Any]]:
    doc = template["Resources"][policy]["Properties"]["PolicyDocument"]
    return {s["Sid"]: s for s in doc["Statement"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cfn_lint_accepts_the_merged_template(packaged: Path) -> None:
    # No rule is ignored: the template is clean, informational checks (-c I) included.
    proc = subprocess.run([str(BIN / "cfn-lint"), "-c", "I", "--", str(packaged)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"cfn-lint found problems:\n{proc.stdout}\n{proc.stderr}"


def test_every_sqs_event_source_reports_batch_item_failures(template: dict[str, Any]) -> None:
    sources = {}
    for name, function in _of_type(template, "AWS::Serverless::Function").items():
        for event_name, event in (function["Properties"].get("Events") or {}).items():
            if event.get("Type") == "SQS":
                sources[f"{name}.{event_name}"] = (name, event["Properties"])
    assert {"SignDocument.SignDocumentSqsEventSource", "DispatchDocument.DispatchDocumentSqsEventSource"} <= set(
        sources)
    queues = _of_type(template, "AWS::SQS::Queue")
    for key, (function, props) in sources.items():
        assert props.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], (
            f"{key}: add FunctionResponseTypes: [ReportBatchItemFailures] in infra/resources.yaml")
        # The mapping must point at a queue this template creates (so it is created after it) …
        assert _resolve_name(props["Queue"]) in queues, f"{key}: Queue must be !Sub ${{<Queue>.Arn}}"
        # … and the function wait for its role's SQS permissions, which Lambda checks when creating it.
        assert f"{function}Policy" in _as_list(template["Resources"][function].get("DependsOn", []))


def test_sqs_event_sources_match_the_queues_the_app_declares(template: dict[str, Any]) -> None:
    from chalicelib.core import settings

    queues = _of_type(template, "AWS::SQS::Queue")
    declared = {
        name: queues[_resolve_name(ev["Properties"]["Queue"])]["Properties"]["QueueName"]
        for name, fn in _of_type(template, "AWS::Serverless::Function").items()
        for ev in (fn["Properties"].get("Events") or {}).values() if ev.get("Type") == "SQS"
    }
    # the same queues the app's decorators name, in every stage (chalicelib.core.names)
    assert declared["SignDocument"] == {"Fn::Sub": settings.UPLOAD_QUEUE.replace("-local-", "-${Stage}-")}
    assert declared["DispatchDocument"] == {"Fn::Sub": settings.DISPATCH_QUEUE.replace("-local-", "-${Stage}-")}


def test_documents_bucket_is_private_versioned_and_encrypted(template: dict[str, Any]) -> None:
    buckets = _of_type(template, "AWS::S3::Bucket")
    assert sorted(buckets) == ["DocumentsBucket", "WebBucket"]  # WebBucket: the web page's static files (issue 10)
    props = buckets["DocumentsBucket"]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert _resolve_name(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == "DocumentsKey"
    assert rule["BucketKeyEnabled"] is True
    assert props["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    deny = _statements(template, "DocumentsBucketPolicy")["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_web_page_is_a_private_bucket_read_by_its_distribution_only(template: dict[str, Any]) -> None:
    """Issue 10: web/ in a bucket nobody reads but the CloudFront distribution (origin access control), which
    serves it over HTTPS with the page's security headers; the documents bucket lets only its origin POST."""
    props = template["Resources"]["WebBucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    statements = _statements(template, "WebBucketPolicy")
    read = statements["CloudFrontReadsThePage"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert "${WebDistribution}" in read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    config = template["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    [origin] = config["Origins"]
    assert _resolve_name(origin["OriginAccessControlId"]) == "WebOriginAccessControl"
    csp = template["Resources"]["WebHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    [cors] = template["Resources"]["DocumentsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["GET", "POST"] and cors["AllowedOrigins"][0]["Fn::If"][0] == "WebOriginGiven"


def test_uploads_notify_the_upload_queue_which_lets_s3_send(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["DocumentsBucket"]
    [conf] = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert conf["Event"] == "s3:ObjectCreated:*"
    assert conf["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": "incoming/"}]}}
    assert _resolve_name(conf["Queue"]) == "UploadEventsQueue"
    assert "UploadEventsQueuePolicy" in _as_list(bucket["DependsOn"])
    policy = template["Resources"]["UploadEventsQueuePolicy"]["Properties"]
    assert [_resolve_name(q) for q in policy["Queues"]] == ["UploadEventsQueue"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    # The bucket's deterministic name, not !GetAtt (which would be a dependency cycle).
    source = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith(bucket["Properties"]["BucketName"]["Fn::Sub"])


def test_tables_have_point_in_time_recovery(template: dict[str, Any]) -> None:
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert {t["Properties"]["TableName"]["Fn::Sub"] for t in tables.values()} == {
        "edoc-${Stage}-documents", "edoc-${Stage}-agencies", "edoc-${Stage}-audit"}
    for table in tables.values():
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["DeletionPolicy"] == "Retain"


def _function_policies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Role logical id → the one managed policy attached to it (test_every_generated_role_has_its_own_policy)."""
    out: dict[str, dict[str, Any]] = {}
    for name, resource in _of_type(template, "AWS::IAM::ManagedPolicy").items():
        for role in resource["Properties"]["Roles"]:
            out.setdefault(_resolve_name(role), {})[name] = resource
    return out


def test_every_generated_role_has_its_own_policy(template: dict[str, Any]) -> None:
    roles = set(_of_type(template, "AWS::IAM::Role"))
    attached = _function_policies(template)
    assert roles == set(attached), (
        f"roles without a policy: {sorted(roles - set(attached))}; unknown: {sorted(set(attached) - roles)} "
        "(give a new function its own <Function>Policy in infra/resources.yaml)")
    for role, policies in attached.items():
        assert list(policies) == [role.removesuffix("Role") + "Policy"], f"{role}: one policy of its own, {policies}"
        assert len(policies[next(iter(policies))]["Properties"]["Roles"]) == 1, f"{role}: a shared policy"


def test_functions_may_sign_only_with_keys_tagged_for_document_signing(template: dict[str, Any]) -> None:
    signers = set()
    for name in _of_type(template, "AWS::IAM::ManagedPolicy"):
        for statement in _statements(template, name).values():
            if "kms:Sign" in _as_list(statement["Action"]):
                signers.add(name)
                assert statement["Condition"] == {  # and only the stage's own (issue 13: stages share an account)
                    "StringEquals": {"aws:ResourceTag/edoc-gateway:purpose": "document-signing",
                                     "aws:ResourceTag/edoc-gateway:stage": {"Ref": "Stage"}}}, name
    # The signer signs documents; the API signs CSRs with the agency's key. Never the poller, never dispatch.
    assert signers == {"SignDocumentPolicy", "ApiHandlerPolicy"}
    create = _statements(template, "ApiHandlerPolicy")["CreateAgencySigningKeys"]
    assert create["Condition"]["StringEquals"]["aws:RequestTag/edoc-gateway:purpose"] == "document-signing"
    assert create["Condition"]["StringEquals"]["kms:KeyUsage"] == "SIGN_VERIFY"
    assert create["Condition"]["StringEquals"]["aws:RequestTag/edoc-gateway:stage"] == {"Ref": "Stage"}


S3_GRANTS = {"DocumentsBucket"} | {f"${{DocumentsBucket.Arn}}/{p}" for p in (
    "incoming/*", "signed/*", "packages/*", "inbound/*", "seals/*", "trust/roots.pem")}


def test_function_permissions_are_least_privilege(template: dict[str, Any]) -> None:
    for name in _of_type(template, "AWS::IAM::ManagedPolicy"):
        by_service: dict[str, list[Any]] = {}
        for sid, statement in _statements(template, name).items():
            assert statement["Effect"] == "Allow"
            for action in _as_list(statement["Action"]):
                assert "*" not in action, f"{name}.{sid}: wildcard action {action}"
                by_service.setdefault(action.split(":")[0], []).extend(_as_list(statement["Resource"]))
            if "*" in _as_list(statement["Resource"]):  # only CreateKey, which names no key yet, and conditioned
                assert _as_list(statement["Action"]) == ["kms:CreateKey"] and statement["Condition"], f"{name}.{sid}"
        s3 = {r["Fn::Sub"] if "Fn::Sub" in r else _resolve_name(r) for r in by_service.get("s3", [])}
        assert s3 <= S3_GRANTS, f"{name}: {sorted(s3 - S3_GRANTS)}"
        assert {_resolve_name(r) for r in by_service.get("sqs", [])} <= {
            "UploadEventsQueue", "UploadEventsDeadLetterQueue", "DispatchQueue", "DispatchDeadLetterQueue",
            "WebhooksQueue", "WebhooksDeadLetterQueue"}, name
        tables = {_resolve_name(r) or r["Fn::Sub"] for r in by_service.get("dynamodb", [])}
        assert tables <= {"DocumentsTable", "AgenciesTable", "AuditTable", "${DocumentsTable.Arn}/index/by_organ",
                          "${DocumentsTable.Arn}/index/by_sweep", "${DocumentsTable.Arn}/index/by_month",
                          "${DocumentsTable.Arn}/index/by_done_month", "${AuditTable.Arn}/index/by_day"}, name
        for secret in by_service.get("secretsmanager", []):
            assert secret["Fn::Sub"].endswith((":secret:edoc-gateway/${Stage}/axis-??????",
                                               ":secret:edoc-gateway/${Stage}/pkcs11/*"))
    # The axis credentials: the functions that talk to the axis, never the signer.
    readers = {name for name in _of_type(template, "AWS::IAM::ManagedPolicy")
               if any(str(r).find("edoc-gateway/${Stage}/axis-") >= 0 for s in _statements(template, name).values()
                      for r in _as_list(s["Resource"]))}
    assert readers == {"DispatchDocumentPolicy", "PollAxisPolicy", "ApiHandlerPolicy", "SyncAgenciesPolicy"}
    # The Chalice-generated inline policy (policy-prod.json) only writes logs.
    inline = json.loads((REPO / ".chalice" / "policy-prod.json").read_text())
    assert {a.split(":")[0] for s in inline["Statement"] for a in _as_list(s["Action"])} == {"logs"}


def test_the_audit_table_is_append_only_for_every_role(template: dict[str, Any]) -> None:
    """Issue 9: entries are never updated or deleted. Only the API touches the audit table, with PutItem and Query,
    and its by_day index (issue 11) with Query only; and the webhooks function, which appends the entry that tells
    an agency its subscription was disabled (issue 14), with the same two actions and no index."""
    grants: dict[str, set[str]] = {}
    index: dict[str, set[str]] = {}
    for name in _of_type(template, "AWS::IAM::ManagedPolicy"):
        for statement in _statements(template, name).values():
            resources = _as_list(statement["Resource"])
            if "AuditTable" in {_resolve_name(r) for r in resources if isinstance(r, dict)}:
                grants.setdefault(name, set()).update(_as_list(statement["Action"]))
            if any("AuditTable" in str(r) and "/index/" in str(r) for r in resources):
                index.setdefault(name, set()).update(_as_list(statement["Action"]))
    assert grants == {"ApiHandlerPolicy": {"dynamodb:PutItem", "dynamodb:Query"},
                      "DeliverWebhooksPolicy": {"dynamodb:PutItem", "dynamodb:Query"}}
    assert index == {"ApiHandlerPolicy": {"dynamodb:Query"}}


def test_every_checkov_suppression_says_why(template: dict[str, Any]) -> None:
    skips = [(name, skip) for name, resource in template["Resources"].items()
             for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])]
    assert skips, "docs/checkov.md lists suppressions: the template must carry them"
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "")) >= 60, f"{name}: {skip['id']} needs a written justification"


def _checkov() -> str | None:
    local = REPO / ".venv-checkov" / "bin" / "checkov"
    return str(local) if local.exists() else shutil.which("checkov")


def test_checkov_finds_no_failed_check(packaged: Path) -> None:
    checkov = _checkov()
    if checkov is None:
        pytest.fail("checkov is not installed: `make test` and `make checkov` install it (.venv-checkov, "
                    "requirements-checkov.txt)")
    proc = subprocess.run([checkov, "-f", str(packaged), "--framework", "cloudformation", "--compact", "--quiet",
                           "--output", "json", "--skip-download"], capture_output=True, text=True, timeout=600)
    report = json.loads(proc.stdout)
    summary = report["summary"]
    print(f"checkov: {summary}")  # noqa: T201 (the report's numbers)
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert proc.returncode == 0 and summary["failed"] == 0 and summary["parsing_errors"] == 0, failed
    assert summary["passed"] > 50 and summary["skipped"] > 0


def test_functions_get_every_setting_they_read(template: dict[str, Any]) -> None:
    source = (REPO / "chalicelib" / "core" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r"env\.get\(\"([A-Z_]+)\"", source))
    # Set by Lambda itself, derived from the pool id and region, or empty on AWS (boto3's default endpoint).
    not_configured = {"AWS_REGION", "AWS_DEFAULT_REGION", "JWKS_URL", "TOKEN_ISSUER", "AWS_ENDPOINT_URL"}
    # The resource names come from STAGE (chalicelib.core.names); the variables override them for tests only.
    not_configured |= {"DOCUMENTS_TABLE", "AGENCIES_TABLE", "AUDIT_TABLE", "DISPATCH_QUEUE", "UPLOAD_QUEUE",
                       "AXIS_SECRET_NAME", "WEBHOOKS_QUEUE", "WEBHOOK_SECRETS_KEY"}
    # Honoured on the embedded stack's stage only (chalicelib.core.settings): never configured on AWS.
    not_configured |= {"WEBHOOK_LOCAL_RECEIVERS"}
    global_env = template["Globals"]["Function"]["Environment"]["Variables"]
    # WEB_ORIGINS: the web page's origin, the parameter or the distribution's domain (issue 10)
    assert global_env["WEB_ORIGINS"]["Fn::If"][0] == "WebOriginGiven"
    assert {_resolve_name(v) for k, v in global_env.items() if k != "WEB_ORIGINS"} == {
        "Stage", "ArchiveRetentionDays", "DocumentsBucket", "UserPool", "UserPoolClient"}
    for name, function in _of_type(template, "AWS::Serverless::Function").items():
        env = set(function["Properties"]["Environment"]["Variables"]) | set(global_env)
        assert read - not_configured <= env, f"{name} lacks {sorted(read - not_configured - env)}"
        assert not env & {"AWS_REGION", "AWS_DEFAULT_REGION"}, f"{name}: Lambda reserves AWS_REGION"


def test_the_directory_sync_touches_the_registry_and_the_axis_secret_only(template: dict[str, Any]) -> None:
    """sync_agencies (issue 9): the axis secret to call getAgenciesList, the agencies table, nothing else."""
    statements = _statements(template, "SyncAgenciesPolicy")
    grants = {(a, str(r)) for s in statements.values() for a in _as_list(s["Action"]) for r in _as_list(s["Resource"])}
    assert {a for a, _ in grants} == {"secretsmanager:GetSecretValue", "dynamodb:Scan", "dynamodb:GetItem",
                                      "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert {r for a, r in grants if a.startswith("dynamodb:")} == {str({"Fn::GetAtt": ["AgenciesTable", "Arn"]})}
    schedule = template["Resources"]["SyncAgencies"]["Properties"]["Events"]
    assert [e["Properties"]["Schedule"] for e in schedule.values()] == ["rate(1 day)"]


def test_function_sizes(template: dict[str, Any]) -> None:
    """Memory from the load run's measured peaks (README "Performance", issue 11): about twice the peak RSS,
    the signer kept at 1,024 MB because memory buys its CPU share (its cold start is CPU)."""
    functions = template["Resources"]
    sizes = {name: (functions[name]["Properties"]["MemorySize"], functions[name]["Properties"]["Timeout"])
             for name in ("SignDocument", "DispatchDocument", "APIHandler", "PollAxis", "SyncAgencies")}
    assert sizes == {"SignDocument": (512, 60), "DispatchDocument": (256, 60), "APIHandler": (256, 30),
                     "PollAxis": (512, 60), "SyncAgencies": (256, 300)}
    # A message must not become visible again while its handler may still run.
    for queue in ("UploadEventsQueue", "DispatchQueue"):
        assert functions[queue]["Properties"]["VisibilityTimeout"] >= 60


def test_sqs_pollers_never_run_more_invocations_than_the_function_may(template: dict[str, Any]) -> None:
    """Backpressure (issue 11): MaximumConcurrency on each SQS event source, at most the function's reserved
    concurrency, so a burst waits in the queue instead of being throttled into the dead-letter queue."""
    functions = _of_type(template, "AWS::Serverless::Function")
    for name in ("SignDocument", "DispatchDocument"):
        props = functions[name]["Properties"]
        (event,) = [ev for ev in props["Events"].values() if ev.get("Type") == "SQS"]
        maximum = event["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency")
        assert isinstance(maximum, int) and maximum >= 2, f"{name}: set maximum_concurrency on its on_sqs_message"
        assert maximum <= props["ReservedConcurrentExecutions"], (
            f"{name}: maximum_concurrency {maximum} over reserved concurrency {props['ReservedConcurrentExecutions']}")
