"""The embedded stack's provisioning (boto3 on moto) and infra/resources.yaml describe the same resources.

Given a moto server provisioned by devstack.provision, when its resources are read back and
infra/resources.yaml is read, then queues, redrive, visibility timeouts, tables, the S3 → SQS notification,
Cognito and the signing keys agree. Any drift on either side fails here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.document_store import DONE_INDEX_ATTRIBUTES
from chalicelib.core import settings
from devstack import demo_data
from devstack.config import STAGE
from devstack.provision import (
    Provisioned,
    provision,
    provisioned_resources_summary,
    table_keys_summary,
)
from devstack.provision.clients import Clients
from devstack.provision.storage import allow_web_origins

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-southeast-1"
#: CloudFormation's defaults for properties a template may leave out.
SQS_DEFAULTS = {"VisibilityTimeout": 30, "MessageRetentionPeriod": 345600}
COGNITO_STANDARD_ATTRIBUTES = {"email", "name", "phone_number", "given_name", "family_name", "preferred_username"}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def provisioned(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Provisioned:
    provisioned = provision(moto_endpoint, REGION, axis_url="http://127.0.0.1:9",
                            state_dir=tmp_path_factory.mktemp("state"))
    # the stack's own step once its web page has a port (devstack.stack.Stack._allow_web)
    allow_web_origins(Clients(moto_endpoint, REGION), ("http://127.0.0.1:8080",))
    return provisioned


@pytest.fixture(scope="module")
def local(provisioned: Provisioned, moto_endpoint: str) -> dict[str, Any]:
    return provisioned_resources_summary(moto_endpoint, REGION)


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return infra_summary(in_stage(cfn_yaml.load(str(REPO / "infra" / "resources.yaml")), STAGE))


def in_stage(value: Any, stage: str) -> Any:
    """The template (plain data) with its `Stage` parameter substituted: a `!Sub` left with nothing else to
    substitute becomes its string, so that the embedded stack's names (stage `local`) compare with it."""
    if isinstance(value, list):
        return [in_stage(v, stage) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"].replace("${Stage}", stage)
        return text if "${" not in text else {"Fn::Sub": text}
    if set(value) == {"Ref"} and value["Ref"] == "Stage":
        return stage
    return {k: in_stage(v, stage) for k, v in value.items()}


# -- the template, read into provisioned_resources_summary()'s shape -----------------------------------------


def _target(ref: Any) -> str:
    """The logical id of a `!GetAtt X.Arn` / `!Ref X` / `!Sub ${X.Arn}`."""
    if "Fn::GetAtt" in ref:
        att = ref["Fn::GetAtt"]
        return att[0] if isinstance(att, list) else att.split(".")[0]
    if "Ref" in ref:
        return ref["Ref"]
    return re.fullmatch(r"\$\{(\w+)(\.\w+)?\}", ref["Fn::Sub"]).group(1)


def _statements(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for res in resources.values():
        if res.get("Type") == "AWS::IAM::ManagedPolicy":
            for statement in res["Properties"]["PolicyDocument"]["Statement"]:
                found[statement["Sid"]] = statement
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def infra_summary(template: dict[str, Any]) -> dict[str, Any]:
    resources = template["Resources"]

    def of_type(type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in resources.items() if v.get("Type") == type_}

    queue_names = {k: v["Properties"]["QueueName"] for k, v in of_type("AWS::SQS::Queue").items()}
    queues = {}
    for logical, queue in of_type("AWS::SQS::Queue").items():
        props = queue["Properties"]
        redrive = props.get("RedrivePolicy") or {}
        queues[queue_names[logical]] = {
            "visibility_timeout": int(props.get("VisibilityTimeout", SQS_DEFAULTS["VisibilityTimeout"])),
            "message_retention": int(props.get("MessageRetentionPeriod", SQS_DEFAULTS["MessageRetentionPeriod"])),
            "sse": bool(props.get("SqsManagedSseEnabled", False)),
            "dead_letter_queue": queue_names[_target(redrive["deadLetterTargetArn"])] if redrive else None,
            "max_receive_count": int(redrive["maxReceiveCount"]) if redrive else None,
        }
    [queue_policy] = of_type("AWS::SQS::QueuePolicy").values()
    assert [queue_names[_target(q)] for q in queue_policy["Properties"]["Queues"]] == [settings.UPLOAD_QUEUE]
    principals = sorted(s["Principal"]["Service"] for s in queue_policy["Properties"]["PolicyDocument"]["Statement"]
                        if s["Effect"] == "Allow")

    bucket = resources["DocumentsBucket"]  # the other bucket is the web page's static files (WebBucket)
    bprops = bucket["Properties"]
    notifications = []
    for conf in bprops["NotificationConfiguration"]["QueueConfigurations"]:
        rules = {r["Name"].lower(): r["Value"] for r in conf.get("Filter", {}).get("S3Key", {}).get("Rules", [])}
        notifications.append({"queue": queue_names[_target(conf["Queue"])], "events": [conf["Event"]],
                              "prefix": rules.get("prefix", "")})
    encryption = bprops["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]

    tables = {}
    for table in of_type("AWS::DynamoDB::Table").values():
        props = table["Properties"]
        tables[props["TableName"]] = {
            **table_keys_summary(props),  # the template spells keys as DescribeTable does
            "billing_mode": props.get("BillingMode", "PROVISIONED"),
            "pitr": bool(props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")),
        }

    statements = _statements(resources)
    create = statements["CreateAgencySigningKeys"]["Condition"]
    sign = statements["SignWithAgencySigningKeys"]["Condition"]["StringEquals"]
    alias_resources = [r["Fn::Sub"] for r in _list(statements["AliasAgencySigningKeys"]["Resource"])]
    [alias_pattern] = [r.split(":alias/", 1)[1] for r in alias_resources]

    [pool] = of_type("AWS::Cognito::UserPool").values()
    pool_props = pool["Properties"]
    custom = sorted(a["Name"] if a["Name"] in COGNITO_STANDARD_ATTRIBUTES else f"custom:{a['Name']}"
                    for a in pool_props.get("Schema", []))
    secret_arn = statements["ReadAxisCredentials"]["Resource"]["Fn::Sub"]
    return {
        "queues": queues,
        "upload_queue_policy_principals": principals,
        "bucket": {
            "notifications": sorted(notifications, key=lambda n: (n["queue"], n["prefix"])),
            "versioning": bprops["VersioningConfiguration"]["Status"],
            "sse_algorithm": encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "bucket_key": bool(encryption.get("BucketKeyEnabled")),
            "public_access_block": dict(bprops["PublicAccessBlockConfiguration"]),
            "object_lock": bool(bprops.get("ObjectLockEnabled")),
            "lifecycle": sorted((r["Id"], r.get("Prefix", ""), r.get("NoncurrentVersionExpiration", {}).get(
                "NoncurrentDays")) for r in bprops["LifecycleConfiguration"]["Rules"]),
            "cors": [{"methods": sorted(r["AllowedMethods"]), "headers": sorted(r.get("AllowedHeaders", [])),
                      "expose": sorted(r.get("ExposedHeaders", [])), "max_age": r.get("MaxAge"),
                      "origins": len(r["AllowedOrigins"])}
                     for r in bprops.get("CorsConfiguration", {}).get("CorsRules", [])],
        },
        "tables": tables,
        "signing_keys": {
            "key_specs": sorted(_list(create["StringEquals"]["kms:KeySpec"])),
            "key_usages": sorted(_list(create["StringEquals"]["kms:KeyUsage"])),
            "alias_prefix": "alias/" + alias_pattern.rstrip("*"),
            "purpose_tags": [sign["aws:ResourceTag/edoc-gateway:purpose"]],
            "allowed_tag_keys": sorted(create["ForAllValues:StringEquals"]["aws:TagKeys"]),
        },
        "cognito": {
            "custom_attributes": [a for a in custom if a.startswith("custom:")],
            "admin_create_user_only": bool(pool_props.get("AdminCreateUserConfig", {}).get(
                "AllowAdminCreateUserOnly", False)),
            "groups": sorted(g["Properties"]["GroupName"] for g in of_type("AWS::Cognito::UserPoolGroup").values()),
            "clients": [{
                "explicit_auth_flows": sorted(c["Properties"].get("ExplicitAuthFlows", [])),
                "generate_secret": bool(c["Properties"].get("GenerateSecret", False)),
                "write_attributes": sorted(c["Properties"].get("WriteAttributes", [])),
            } for c in of_type("AWS::Cognito::UserPoolClient").values()],
            "mfa": {"configuration": pool_props.get("MfaConfiguration", "OFF"),
                    "enabled": sorted(pool_props.get("EnabledMfas", []))},
        },
        "axis_secret": re.search(r":secret:(.+)-\?{6}$", secret_arn).group(1),
    }


# -- the comparisons -------------------------------------------------------------------------------------------


def test_queue_names_come_from_settings(infra: dict[str, Any], local: dict[str, Any]) -> None:
    expected = {settings.UPLOAD_QUEUE, settings.UPLOAD_DLQ, settings.DISPATCH_QUEUE, settings.DISPATCH_DLQ,
                settings.WEBHOOKS_QUEUE, settings.WEBHOOKS_DLQ}
    assert set(infra["queues"]) == expected
    assert set(local["queues"]) == expected


def test_queues_redrive_and_timeouts_match(infra: dict[str, Any], local: dict[str, Any]) -> None:
    assert local["queues"] == infra["queues"]
    assert infra["queues"][settings.UPLOAD_QUEUE]["dead_letter_queue"] == settings.UPLOAD_DLQ
    assert infra["queues"][settings.DISPATCH_QUEUE]["dead_letter_queue"] == settings.DISPATCH_DLQ
    assert infra["queues"][settings.UPLOAD_DLQ]["message_retention"] == 14 * 24 * 3600


def test_upload_notification_matches(infra: dict[str, Any], local: dict[str, Any]) -> None:
    assert local["bucket"]["notifications"] == infra["bucket"]["notifications"] == [
        {"queue": settings.UPLOAD_QUEUE, "events": ["s3:ObjectCreated:*"], "prefix": "incoming/"}]
    assert local["upload_queue_policy_principals"] == infra["upload_queue_policy_principals"]


def test_bucket_settings_match(infra: dict[str, Any], local: dict[str, Any]) -> None:
    assert local["bucket"] == infra["bucket"]
    assert infra["bucket"]["cors"] and infra["bucket"]["cors"][0]["methods"] == ["GET", "POST"]  # the web page
    assert all(infra["bucket"]["public_access_block"].values())


def test_tables_match(infra: dict[str, Any], local: dict[str, Any]) -> None:
    assert set(infra["tables"]) == {settings.DOCUMENTS_TABLE, settings.AGENCIES_TABLE, settings.AUDIT_TABLE}
    assert infra["tables"][settings.AUDIT_TABLE]["keys"] == {"pk": ["HASH", "S"], "sk": ["RANGE", "S"]}
    assert infra["tables"][settings.AUDIT_TABLE]["pitr"]
    # issue 11: a chain per agency, a day read across chains on the by_day index
    assert infra["tables"][settings.AUDIT_TABLE]["gsis"] == {
        "by_day": {"keys": {"day_pk": ["HASH", "S"], "day_sk": ["RANGE", "S"]}, "projection": "ALL"}}
    # Both sides are read by table_keys_summary: pin what it must read from the template, so a broken reader
    # cannot make the comparison pass by saying nothing on either side.
    documents = infra["tables"][settings.DOCUMENTS_TABLE]
    assert documents["keys"] == {"pk": ["HASH", "S"], "sk": ["RANGE", "S"]}
    # by_organ and by_month keys only, by_done_month what the report reads (issue 11: later writes of a record
    # write nothing to them)
    assert documents["gsis"] == {"by_organ": {"keys": {"gsi1pk": ["HASH", "S"], "gsi1sk": ["RANGE", "S"]},
                                              "projection": "KEYS_ONLY"},
                                 "by_sweep": {"keys": {"sweep_lane": ["HASH", "S"], "sweep_from": ["RANGE", "N"]},
                                              "projection": "KEYS_ONLY"},
                                 # the admin search and the monthly report (issue 9)
                                 "by_month": {"keys": {"gsi2pk": ["HASH", "S"], "gsi2sk": ["RANGE", "S"]},
                                              "projection": "KEYS_ONLY"},
                                 "by_done_month": {"keys": {"gsi3pk": ["HASH", "S"], "gsi3sk": ["RANGE", "S"]},
                                                   "projection": "INCLUDE",
                                                   "attributes": sorted(DONE_INDEX_ATTRIBUTES)}}
    assert local["tables"] == infra["tables"]


def test_signing_keys_are_what_the_prod_policy_lets_admins_create(infra: dict[str, Any],
                                                                  local: dict[str, Any]) -> None:
    keys, allowed = local["signing_keys"], infra["signing_keys"]
    assert keys["count"] == len(demo_data.SERVED)
    assert keys["key_specs"] == allowed["key_specs"] == ["RSA_2048"]
    assert keys["key_usages"] == allowed["key_usages"] == ["SIGN_VERIFY"]
    assert keys["purpose_tags"] == allowed["purpose_tags"]
    assert keys["alias_prefix"] == allowed["alias_prefix"]
    assert keys["every_key_has_organ_tag"] and "edoc-gateway:organ_id" in allowed["allowed_tag_keys"]


def test_cognito_matches(infra: dict[str, Any], local: dict[str, Any]) -> None:
    assert local["cognito"] == infra["cognito"]
    [client] = infra["cognito"]["clients"]
    assert "ALLOW_USER_PASSWORD_AUTH" in client["explicit_auth_flows"]
    assert "custom:organ_id" not in client["write_attributes"]
    # Admins need MFA (chalicelib.api.mfa): the pool must offer authenticator apps, on AWS and on the stack alike.
    assert infra["cognito"]["mfa"] == {"configuration": "OPTIONAL", "enabled": ["SOFTWARE_TOKEN_MFA"]}


def test_axis_secret_name_matches(infra: dict[str, Any], local: dict[str, Any]) -> None:
    assert local["axis_secret"] == infra["axis_secret"] == settings.AXIS_SECRET_NAME


def test_app_environment_covers_every_setting(provisioned: Provisioned) -> None:
    source = (REPO / "chalicelib" / "core" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r"env\.get\(\"([A-Z_]+)\"", source))
    assert read <= set(provisioned.env), sorted(read - set(provisioned.env))
    assert provisioned.env["JWKS_URL"].startswith(provisioned.endpoint_url)
    assert provisioned.env["TOKEN_ISSUER"].endswith("/" + provisioned.user_pool_id)


def test_agency_registry_items(provisioned: Provisioned, moto_endpoint: str) -> None:
    import boto3

    table = boto3.resource("dynamodb", endpoint_url=moto_endpoint, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing").Table(settings.AGENCIES_TABLE)
    items = {i["organ_id"]: i for i in table.scan()["Items"]}
    assert set(items) == {a.organ_id for a in demo_data.AGENCIES}
    for agency in demo_data.AGENCIES:
        item = items[agency.organ_id]
        assert item["served"] is agency.served and item["active"] is True
        if agency.served:
            key = item["signing_key"]
            assert key["key_id"] == provisioned.signing_keys[agency.organ_id]
            assert key["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
            assert key["chain_pem"] == provisioned.ca_root_pem
        else:
            assert "signing_key" not in item


def test_provisioning_twice_converges(provisioned: Provisioned, moto_endpoint: str, tmp_path: Path) -> None:
    again = provision(moto_endpoint, REGION, axis_url="http://127.0.0.1:9", state_dir=tmp_path)
    assert (again.user_pool_id, again.client_id, again.signing_keys) == (
        provisioned.user_pool_id, provisioned.client_id, provisioned.signing_keys)
    assert provisioned_resources_summary(moto_endpoint, REGION)["signing_keys"]["count"] == len(demo_data.SERVED)
