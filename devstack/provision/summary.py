"""The provisioned account read back in the normalised shape tests/integration/test_provision_matches_infra.py
compares with infra/resources.yaml.

Why: moto's CloudFormation cannot run the template (docs/traps.md#moto-cloudformation-limits), so the stack is
provisioned with boto3 and this read-back is what keeps the two in step: if either side drifts, the test fails. Names,
not ARNs: ARNs differ between accounts, names and settings must not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.core import settings
from devstack.provision.clients import Clients
from devstack.provision.cognito import find_user_pool
from devstack.provision.names import BUCKET_NAME, QUEUES, SIGNING_ALIAS_PREFIX, TAG_ORGAN_ID, TAG_PURPOSE

__all__ = ["provisioned_resources_summary", "table_keys_summary"]


def table_keys_summary(definition: Mapping[str, Any]) -> dict[str, Any]:
    """`{"keys": {name: [HASH|RANGE, type]}, "gsis": {index: {"keys", "projection"}}}` of a table definition.

    DescribeTable's answer and a template's `AWS::DynamoDB::Table` properties spell keys the same way
    (`KeySchema`, `AttributeDefinitions`, `GlobalSecondaryIndexes`), so both sides of the comparison read them here.
    """
    types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}

    def keys(schema: list[dict[str, str]]) -> dict[str, list[str]]:
        return {k["AttributeName"]: [k["KeyType"], types[k["AttributeName"]]] for k in schema}

    return {
        "keys": keys(definition["KeySchema"]),
        "gsis": {g["IndexName"]: {"keys": keys(g["KeySchema"]), "projection": g["Projection"]["ProjectionType"],
                                  **({"attributes": sorted(g["Projection"]["NonKeyAttributes"])}
                                     if g["Projection"].get("NonKeyAttributes") else {})}
                 for g in definition.get("GlobalSecondaryIndexes", [])},
    }


def _queues(c: Clients) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[str, Any]]:
    """(queue summaries, queue ARN → name, the upload queue's policy)."""
    arn_to_name: dict[str, str] = {}
    queues: dict[str, dict[str, Any]] = {}
    for name in [*QUEUES, *QUEUES.values()]:
        url = c.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        arn_to_name[attrs["QueueArn"]] = name
        queues[name] = attrs
    summary: dict[str, dict[str, Any]] = {}
    for name, attrs in queues.items():
        redrive = json.loads(attrs["RedrivePolicy"]) if attrs.get("RedrivePolicy") else {}
        summary[name] = {
            "visibility_timeout": int(attrs["VisibilityTimeout"]),
            "message_retention": int(attrs["MessageRetentionPeriod"]),
            "sse": attrs.get("SqsManagedSseEnabled") == "true",
            "dead_letter_queue": arn_to_name.get(redrive.get("deadLetterTargetArn", "")),
            "max_receive_count": int(redrive["maxReceiveCount"]) if redrive else None,
        }
    return summary, arn_to_name, json.loads(queues[settings.UPLOAD_QUEUE].get("Policy") or "{}")


def _bucket(c: Clients, bucket: str, arn_to_name: dict[str, str]) -> dict[str, Any]:
    notification = c.s3.get_bucket_notification_configuration(Bucket=bucket)
    notifications = []
    for conf in notification.get("QueueConfigurations", []):
        rules = {r["Name"].lower(): r["Value"] for r in conf.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
        notifications.append({"queue": arn_to_name.get(conf["QueueArn"], conf["QueueArn"]),
                              "events": sorted(conf["Events"]), "prefix": rules.get("prefix", "")})
    encryption = c.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    pab = c.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    return {
        "notifications": sorted(notifications, key=lambda n: (n["queue"], n["prefix"])),
        "versioning": c.s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "sse_algorithm": encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "bucket_key": bool(encryption.get("BucketKeyEnabled")),
        "public_access_block": {k: bool(v) for k, v in pab.items()},
        "object_lock": c.s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"].get(
            "ObjectLockEnabled") == "Enabled",
        "lifecycle": sorted((r["ID"], r.get("Filter", {}).get("Prefix", ""),
                             r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays"))
                            for r in c.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]),
        "cors": _cors(c, bucket),
    }


def _cors(c: Clients, bucket: str) -> list[dict[str, Any]]:
    """The bucket's CORS rules without their origins (the web page's: a port here, a domain on AWS)."""
    try:
        rules = c.s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except c.s3.exceptions.ClientError:
        return []
    return [{"methods": sorted(r.get("AllowedMethods", [])), "headers": sorted(r.get("AllowedHeaders", [])),
             "expose": sorted(r.get("ExposeHeaders", [])), "max_age": r.get("MaxAgeSeconds"),
             "origins": len(r.get("AllowedOrigins", []))} for r in rules]


def _tables(c: Clients) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for name in (settings.DOCUMENTS_TABLE, settings.AGENCIES_TABLE, settings.AUDIT_TABLE):
        desc = c.dynamodb.describe_table(TableName=name)["Table"]
        pitr = c.dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        tables[name] = {
            **table_keys_summary(desc),
            "billing_mode": desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "pitr": pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED",
        }
    return tables


def _signing_keys(c: Clients) -> dict[str, Any]:
    specs, usages, tag_sets = set(), set(), []
    for page in c.kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"].startswith(SIGNING_ALIAS_PREFIX) and entry.get("TargetKeyId"):
                meta = c.kms.describe_key(KeyId=entry["TargetKeyId"])["KeyMetadata"]
                specs.add(meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"))
                usages.add(meta["KeyUsage"])
                tags = c.kms.list_resource_tags(KeyId=entry["TargetKeyId"]).get("Tags", [])
                tag_sets.append({t["TagKey"]: t["TagValue"] for t in tags})
    return {
        "key_specs": sorted(specs),
        "key_usages": sorted(usages),
        "alias_prefix": SIGNING_ALIAS_PREFIX,
        "purpose_tags": sorted({t.get(TAG_PURPOSE, "") for t in tag_sets}),
        "every_key_has_organ_tag": all(TAG_ORGAN_ID in t for t in tag_sets),
        "count": len(tag_sets),
    }


def _cognito(c: Clients) -> dict[str, Any]:
    idp = c.cognito_idp
    pool_id = find_user_pool(c)
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    listed = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_ids = [x["ClientId"] for x in listed]
    clients = [idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=i)["UserPoolClient"] for i in client_ids]
    groups = [g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]]
    return {
        "custom_attributes": sorted(a["Name"] for a in pool.get("SchemaAttributes", [])
                                    if a["Name"].startswith("custom:")),
        "admin_create_user_only": pool.get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly", False),
        "groups": sorted(groups),
        "clients": [{
            "explicit_auth_flows": sorted(cl.get("ExplicitAuthFlows", [])),
            "generate_secret": bool(cl.get("ClientSecret")),
            "write_attributes": sorted(cl.get("WriteAttributes", [])),
        } for cl in clients],
        "mfa": _mfa(idp.get_user_pool_mfa_config(UserPoolId=pool_id)),
    }


def _mfa(config: Mapping[str, Any]) -> dict[str, Any]:
    """The pool's MFA setting as the template spells it (`MfaConfiguration`, `EnabledMfas`)."""
    enabled = [name for name, key in (("SOFTWARE_TOKEN_MFA", "SoftwareTokenMfaConfiguration"),
                                      ("SMS_MFA", "SmsMfaConfiguration")) if (config.get(key) or {}).get("Enabled")]
    return {"configuration": config.get("MfaConfiguration", "OFF"), "enabled": sorted(enabled)}


def provisioned_resources_summary(endpoint_url: str, region: str, *, bucket: str = BUCKET_NAME) -> dict[str, Any]:
    """The settings that must match infra/resources.yaml, read back from the (moto) account."""
    c = Clients(endpoint_url, region)
    queues, arn_to_name, policy = _queues(c)
    principals = sorted(
        s.get("Principal", {}).get("Service", "") for s in policy.get("Statement", []) if s.get("Effect") == "Allow"
    )
    return {
        "queues": queues,
        "upload_queue_policy_principals": principals,
        "bucket": _bucket(c, bucket, arn_to_name),
        "tables": _tables(c),
        "signing_keys": _signing_keys(c),
        "cognito": _cognito(c),
        "axis_secret": c.secretsmanager.describe_secret(SecretId=settings.AXIS_SECRET_NAME)["Name"],
    }
