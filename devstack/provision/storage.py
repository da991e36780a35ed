"""Queues, the documents bucket and the tables: what infra/resources.yaml declares, made on moto with boto3.

Why boto3 and not moto's CloudFormation: moto's CloudFormation ignores bucket notifications
(docs/traps.md#moto-cloudformation-limits), and the signing flow starts from S3 → SQS. Settings are converged on every
run, so a changed value reaches a running moto.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.document_store import DONE_INDEX as DONE_GSI
from chalicelib.adapters.document_store import DONE_INDEX_ATTRIBUTES
from chalicelib.adapters.document_store import MONTH_INDEX as MONTH_GSI
from chalicelib.core import settings
from chalicelib.domain.audit import DAY_INDEX as AUDIT_DAY_GSI
from chalicelib.domain.sweep_rules import INDEX as SWEEP_GSI
from devstack.provision.clients import Clients, find_alias_target, ignore_codes, queue_arn
from devstack.provision.names import (
    BUCKET_KEY_ALIAS,
    BUCKET_NAME,
    DLQ_RETENTION_SECONDS,
    DOCUMENTS_GSI,
    MAX_RECEIVE_COUNT,
    MAX_RECEIVE_COUNTS,
    QUEUE_RETENTION_SECONDS,
    QUEUE_VISIBILITY_TIMEOUT,
    QUEUES,
    UPLOAD_NOTIFICATION_EVENTS,
    UPLOAD_NOTIFICATION_PREFIX,
)

__all__ = ["CORS_RULE", "TABLE_SPECS", "allow_web_origins", "provision_bucket", "provision_queues", "provision_tables"]

#: The tables' keys and indexes, as CreateTable takes them (infra/resources.yaml spells the same).
TABLE_SPECS: dict[str, dict[str, Any]] = {
    settings.DOCUMENTS_TABLE: {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            *({"AttributeName": n, "AttributeType": "S"}
              for n in ("pk", "sk", "gsi1pk", "gsi1sk", "sweep_lane", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")),
            {"AttributeName": "sweep_from", "AttributeType": "N"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": DOCUMENTS_GSI,
            "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                          {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }, {
            # sparse, for sweep_documents (chalicelib.domain.sweep_rules)
            "IndexName": SWEEP_GSI,
            "KeySchema": [{"AttributeName": "sweep_lane", "KeyType": "HASH"},
                          {"AttributeName": "sweep_from", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }, {
            # the admin search by creation month (chalicelib.admin.search)
            "IndexName": MONTH_GSI,
            "KeySchema": [{"AttributeName": "gsi2pk", "KeyType": "HASH"},
                          {"AttributeName": "gsi2sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }, {
            # sparse, the month's terminal transitions for the monthly report (chalicelib.admin.reports)
            "IndexName": DONE_GSI,
            "KeySchema": [{"AttributeName": "gsi3pk", "KeyType": "HASH"},
                          {"AttributeName": "gsi3sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(DONE_INDEX_ATTRIBUTES)},
        }],
    },
    settings.AGENCIES_TABLE: {
        "KeySchema": [{"AttributeName": "organ_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "organ_id", "AttributeType": "S"}],
    },
    # append-only, a hash chain per agency (chalicelib.adapters.audit_store): pk CHAIN#<organ_id>,
    # sk DAY#YYYY-MM-DD#SEQ#0000000001; the by_day index for the search and the verify (issue 11)
    settings.AUDIT_TABLE: {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "day_pk", "day_sk")],
        "GlobalSecondaryIndexes": [{
            "IndexName": AUDIT_DAY_GSI,
            "KeySchema": [{"AttributeName": "day_pk", "KeyType": "HASH"},
                          {"AttributeName": "day_sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    },
}


#: The browser's presigned POST (issue 10: the web page uploads straight to S3 with a progress bar, which makes
#: the browser send a preflight) and its GET of a presigned download; the template's CorsConfiguration is the same.
CORS_RULE: dict[str, Any] = {"AllowedMethods": ["GET", "POST"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"],
                             "MaxAgeSeconds": 600}


def provision_queues(c: Clients) -> dict[str, str]:
    """Source queues with their DLQs (redrive after MAX_RECEIVE_COUNT receives), SQS-managed SSE."""
    urls: dict[str, str] = {}
    for source, dlq in QUEUES.items():
        dlq_attrs = {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"}
        # FIFO (the webhooks queue, issue 14) is set at creation only; the rest converges below.
        fifo = {"FifoQueue": "true"} if source.endswith(".fifo") else {}
        urls[dlq] = c.sqs.create_queue(QueueName=dlq, Attributes=fifo)["QueueUrl"]
        c.sqs.set_queue_attributes(QueueUrl=urls[dlq], Attributes=dlq_attrs)
        redrive = {"deadLetterTargetArn": queue_arn(c, urls[dlq]),
                   "maxReceiveCount": MAX_RECEIVE_COUNTS.get(source, MAX_RECEIVE_COUNT)}
        attrs = {
            "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(redrive),
        }
        # create_queue with attributes fails on a re-run if they differ: create bare, then converge.
        if fifo:  # high-throughput FIFO, as infra/resources.yaml
            fifo = {**fifo, "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
        urls[source] = c.sqs.create_queue(QueueName=source, Attributes=fifo)["QueueUrl"]
        c.sqs.set_queue_attributes(QueueUrl=urls[source], Attributes=attrs)
    return urls


def _upload_queue_policy(queue_arn: str, bucket: str, account: str) -> dict[str, Any]:
    """Lets S3 (this bucket, this account) send to the upload queue; the same statement as in infra."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowDocumentsBucketNotifications",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {
                "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                "StringEquals": {"aws:SourceAccount": account},
            },
        }],
    }


def _bucket_key_arn(c: Clients) -> str:
    """The documents bucket's symmetric KMS key (as infra's DocumentsKey), found again by its alias."""
    key_id = find_alias_target(c, BUCKET_KEY_ALIAS)
    if key_id is None:
        key_id = c.kms.create_key(
            Description="edoc-gateway documents bucket (SSE-KMS)", KeySpec="SYMMETRIC_DEFAULT",
            KeyUsage="ENCRYPT_DECRYPT", Tags=[{"TagKey": "edoc-gateway:purpose", "TagValue": "documents-bucket"}],
        )["KeyMetadata"]["KeyId"]
        c.kms.create_alias(AliasName=BUCKET_KEY_ALIAS, TargetKeyId=key_id)
    return c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def provision_bucket(c: Clients, region: str, upload_queue_url: str) -> None:
    """Private, versioned, SSE-KMS (bucket key) bucket with Object Lock and the template's lifecycle; ObjectCreated
    on incoming/ → the upload queue."""
    try:
        # Object Lock on, as the template's (the archive: chalicelib/domain/archive.py); it needs versioning, below.
        create: dict[str, Any] = {"Bucket": BUCKET_NAME, "ObjectLockEnabledForBucket": True}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        c.s3.create_bucket(**create)
    except Exception as exc:
        if not ignore_codes(exc, ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")):
            raise
    c.s3.put_public_access_block(Bucket=BUCKET_NAME, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    })
    c.s3.put_bucket_versioning(Bucket=BUCKET_NAME, VersioningConfiguration={"Status": "Enabled"})
    c.s3.put_bucket_lifecycle_configuration(Bucket=BUCKET_NAME, LifecycleConfiguration={"Rules": [
        {"ID": "abort-incomplete-multipart-uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        {"ID": "expire-old-upload-versions", "Status": "Enabled", "Filter": {"Prefix": "incoming/"},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "expire-old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 90}},
    ]})
    key_arn = _bucket_key_arn(c)
    c.s3.put_bucket_encryption(Bucket=BUCKET_NAME, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True,
    }]})
    upload_arn = queue_arn(c, upload_queue_url)
    account = upload_arn.split(":")[4]
    c.sqs.set_queue_attributes(QueueUrl=upload_queue_url, Attributes={
        "Policy": json.dumps(_upload_queue_policy(upload_arn, BUCKET_NAME, account)),
    })
    c.s3.put_bucket_notification_configuration(Bucket=BUCKET_NAME, NotificationConfiguration={
        "QueueConfigurations": [{
            "Id": "incoming-to-upload-events",
            "QueueArn": upload_arn,
            "Events": list(UPLOAD_NOTIFICATION_EVENTS),
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_NOTIFICATION_PREFIX}]}},
        }],
    })


def allow_web_origins(c: Clients, origins: tuple[str, ...]) -> None:
    """The documents bucket's CORS rule (`CORS_RULE`) for the web page's origins (issue 10; the template's
    `CorsConfiguration`): a step of its own because the page's origin is known only once its server has a port."""
    c.s3.put_bucket_cors(Bucket=BUCKET_NAME, CORSConfiguration={"CORSRules": [
        {**CORS_RULE, "AllowedOrigins": list(origins)}]})


def provision_tables(c: Clients) -> None:
    """`edoc-local-documents` (pk/sk + GSIs by_organ, by_sweep, by_month, by_done_month), `edoc-local-agencies`
    (organ_id) and
    `edoc-local-audit` (pk/sk + GSI by_day), on demand, PITR, SSE."""
    existing = set(c.dynamodb.list_tables().get("TableNames", []))
    for name, spec in TABLE_SPECS.items():
        if name not in existing:
            c.dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                    SSESpecification={"Enabled": True}, **spec)
            c.dynamodb.get_waiter("table_exists").wait(TableName=name)
        else:
            _converge_indexes(c, name, spec)
        c.dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def _converge_indexes(c: Clients, name: str, spec: dict[str, Any]) -> None:
    """A table made by an older provisioning gets the indexes added since (a running moto keeps its tables)."""
    table = c.dynamodb.describe_table(TableName=name)["Table"]
    have = {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])}
    for index in spec.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in have:
            continue
        used = {k["AttributeName"] for k in index["KeySchema"]}
        definitions = [a for a in spec["AttributeDefinitions"] if a["AttributeName"] in used]
        c.dynamodb.update_table(TableName=name, AttributeDefinitions=definitions,
                                GlobalSecondaryIndexUpdates=[{"Create": index}])
