"""Provisioning of the embedded stack's AWS resources on moto, with boto3.

Why boto3 and not moto's CloudFormation: moto's CloudFormation makes symmetric KMS keys only and ignores bucket
notifications (NOTES.md). So this module creates the same resources as `infra/resources.yaml`, with the same
names and settings, and `provisioned_resources_summary()` reads them back in a normalised shape that
tests/integration/test_provision_matches_infra.py compares with the template: if either side drifts, it fails.

Every step is idempotent (look up first, create when missing, then converge settings), so provisioning a running
moto twice gives the same resources. Demo credentials (axis system secrets) persist in `state_dir`, so an outside
client that saved them keeps working across restarts.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.core import settings
from devstack import demo_data

#: moto accepts any credentials; fixed fake ones keep boto3 from looking for real ones (or IMDS).
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

STAGE = "local"
BUCKET_NAME = "edoc-gateway-local-documents"
BUCKET_KEY_ALIAS = "alias/edoc-gateway/documents"
BUCKET_PREFIXES = ("incoming/", "signed/", "packages/", "inbound/")
#: S3 → SQS: uploads (and only uploads) start the signing flow.
UPLOAD_NOTIFICATION_PREFIX = "incoming/"
UPLOAD_NOTIFICATION_EVENTS = ("s3:ObjectCreated:*",)

QUEUE_VISIBILITY_TIMEOUT = 120
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
MAX_RECEIVE_COUNT = 5
#: Source queue → its dead-letter queue.
QUEUES: dict[str, str] = {
    settings.UPLOAD_QUEUE: settings.UPLOAD_DLQ,
    settings.DISPATCH_QUEUE: settings.DISPATCH_DLQ,
}

DOCUMENTS_GSI = "by_organ"

SIGNING_KEY_SPEC = "RSA_2048"
SIGNING_KEY_USAGE = "SIGN_VERIFY"
SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
SIGNING_ALIAS_PREFIX = "alias/edoc-sign/"
TAG_ORGAN_ID = "edoc-gateway:organ_id"
TAG_PURPOSE = "edoc-gateway:purpose"
PURPOSE_DOCUMENT_SIGNING = "document-signing"

USER_POOL_NAME = "edoc-gateway-local"
USER_POOL_CLIENT_NAME = "edoc-gateway-web"
ADMIN_GROUP = "admins"
ORGAN_ID_ATTRIBUTE = "organ_id"
#: USER_PASSWORD_AUTH is the documented login for demo clients; SRP for real front ends; refresh for sessions.
EXPLICIT_AUTH_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
#: What a user may change about themselves. Never `custom:organ_id`: a clerk must not move to another agency.
CLIENT_WRITE_ATTRIBUTES = ("email",)

AXIS_SYSTEMS_FILE = "axis-systems.json"


def signing_key_alias(organ_id: str) -> str:
    """`alias/edoc-sign/000-00-00-H62`: KMS alias names allow no dots, so the code's dots become dashes."""
    return SIGNING_ALIAS_PREFIX + organ_id.replace(".", "-")


@dataclass(frozen=True)
class Provisioned:
    """What provisioning made, and everything a client or the app needs to find it."""

    endpoint_url: str
    region: str
    bucket: str
    documents_table: str
    agencies_table: str
    queue_urls: dict[str, str]
    user_pool_id: str
    client_id: str
    jwks_url: str
    token_issuer: str
    axis_url: str
    #: organ_id → signing key id (KMS key ARN, or PKCS#11 URI for agencies on SoftHSM), for every served agency.
    signing_keys: dict[str, str]
    #: system_id (= organ_id) → secret on the axis, for the agencies this gateway serves (in Secrets Manager).
    axis_systems_served: dict[str, str]
    #: The same for EXTERNAL agencies: handed to outside clients, never to the gateway.
    axis_systems_external: dict[str, str]
    users: list[dict[str, Any]]
    ca_root_pem: str
    #: Environment variables for the app (settings.py names), moto endpoint and fake credentials included.
    env: dict[str, str] = field(default_factory=dict)


def _session_kwargs(endpoint_url: str, region: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint_url,
        "region_name": region,
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


class _Clients:
    """boto3 clients bound to the moto endpoint with fake credentials, created on first use."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        import boto3

        self._session = boto3.session.Session()
        self._kwargs = _session_kwargs(endpoint_url, region)
        self._cache: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        name = service.replace("_", "-")
        if name not in self._cache:
            from botocore.config import Config

            config = Config(signature_version="s3v4") if name == "s3" else None
            self._cache[name] = self._session.client(name, config=config, **self._kwargs)
        return self._cache[name]


# -- axis credentials -----------------------------------------------------------------------------------------


def load_or_create_axis_systems(state_dir: Path) -> dict[str, dict[str, str]]:
    """`{"served": {organ_id: secret}, "external": {...}}`, one random secret per demo agency, kept in state_dir.

    Called by the stack before it starts the axis simulator (which needs the secrets at construction) and by
    `provision` (which stores the served ones in Secrets Manager), so both see the same values.
    """
    path = Path(state_dir) / AXIS_SYSTEMS_FILE
    stored: dict[str, dict[str, str]] = {"served": {}, "external": {}}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    changed = not path.exists()
    for agency in demo_data.AGENCIES:
        group = "served" if agency.served else "external"
        other = "external" if agency.served else "served"
        stored.setdefault(group, {})
        if stored.get(other, {}).pop(agency.organ_id, None) is not None:
            changed = True
        if agency.organ_id not in stored[group]:
            stored[group][agency.organ_id] = secrets.token_urlsafe(32)
            changed = True
    for organ_id in demo_data.UNREGISTERED_SYSTEMS:  # credentials held, registry entry missing (on purpose)
        if organ_id not in stored.setdefault("served", {}):
            stored["served"][organ_id] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return stored


def axis_directory() -> list[dict[str, Any]]:
    """Every demo agency as the axis directory lists it (for the simulator)."""
    return [
        {"organ_id": a.organ_id, "name": a.name, "email": a.email, "address": a.address, "served": a.served}
        for a in demo_data.AGENCIES
    ]


# -- the steps ------------------------------------------------------------------------------------------------


def _ignore_codes(exc: Exception, codes: Iterable[str]) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in set(codes)


def _queue_arn(c: _Clients, url: str) -> str:
    return c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _provision_queues(c: _Clients) -> dict[str, str]:
    """Source queues with their DLQs (redrive after MAX_RECEIVE_COUNT receives), SQS-managed SSE."""
    urls: dict[str, str] = {}
    for source, dlq in QUEUES.items():
        dlq_attrs = {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"}
        urls[dlq] = c.sqs.create_queue(QueueName=dlq)["QueueUrl"]
        c.sqs.set_queue_attributes(QueueUrl=urls[dlq], Attributes=dlq_attrs)
        redrive = {"deadLetterTargetArn": _queue_arn(c, urls[dlq]), "maxReceiveCount": MAX_RECEIVE_COUNT}
        attrs = {
            "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(redrive),
        }
        # create_queue with attributes fails on a re-run if they differ: create bare, then converge.
        urls[source] = c.sqs.create_queue(QueueName=source)["QueueUrl"]
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


def _provision_bucket(c: _Clients, region: str, upload_queue_url: str) -> None:
    """Private, versioned, SSE-KMS (bucket key) bucket; ObjectCreated on incoming/ → the upload queue."""
    try:
        create: dict[str, Any] = {"Bucket": BUCKET_NAME}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        c.s3.create_bucket(**create)
    except Exception as exc:
        if not _ignore_codes(exc, ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")):
            raise
    c.s3.put_public_access_block(Bucket=BUCKET_NAME, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    })
    c.s3.put_bucket_versioning(Bucket=BUCKET_NAME, VersioningConfiguration={"Status": "Enabled"})
    key_arn = _bucket_key_arn(c)
    c.s3.put_bucket_encryption(Bucket=BUCKET_NAME, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True,
    }]})
    queue_arn = _queue_arn(c, upload_queue_url)
    account = queue_arn.split(":")[4]
    c.sqs.set_queue_attributes(QueueUrl=upload_queue_url, Attributes={
        "Policy": json.dumps(_upload_queue_policy(queue_arn, BUCKET_NAME, account)),
    })
    c.s3.put_bucket_notification_configuration(Bucket=BUCKET_NAME, NotificationConfiguration={
        "QueueConfigurations": [{
            "Id": "incoming-to-upload-events",
            "QueueArn": queue_arn,
            "Events": list(UPLOAD_NOTIFICATION_EVENTS),
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_NOTIFICATION_PREFIX}]}},
        }],
    })


def _find_alias_target(c: _Clients, alias: str) -> str | None:
    for page in c.kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"] == alias and entry.get("TargetKeyId"):
                return entry["TargetKeyId"]
    return None


def _bucket_key_arn(c: _Clients) -> str:
    """The documents bucket's symmetric KMS key (as infra's DocumentsKey), found again by its alias."""
    key_id = _find_alias_target(c, BUCKET_KEY_ALIAS)
    if key_id is None:
        key_id = c.kms.create_key(
            Description="edoc-gateway documents bucket (SSE-KMS)", KeySpec="SYMMETRIC_DEFAULT",
            KeyUsage="ENCRYPT_DECRYPT", Tags=[{"TagKey": "edoc-gateway:purpose", "TagValue": "documents-bucket"}],
        )["KeyMetadata"]["KeyId"]
        c.kms.create_alias(AliasName=BUCKET_KEY_ALIAS, TargetKeyId=key_id)
    return c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def _provision_tables(c: _Clients) -> None:
    """`edoc-documents` (pk/sk + GSI by_organ) and `edoc-agencies` (organ_id), on demand, PITR, SSE."""
    specs: dict[str, dict[str, Any]] = {
        settings.DOCUMENTS_TABLE: {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"}
                                     for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
            "GlobalSecondaryIndexes": [{
                "IndexName": DOCUMENTS_GSI,
                "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                              {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        },
        settings.AGENCIES_TABLE: {
            "KeySchema": [{"AttributeName": "organ_id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "organ_id", "AttributeType": "S"}],
        },
    }
    existing = set(c.dynamodb.list_tables().get("TableNames", []))
    for name, spec in specs.items():
        if name not in existing:
            c.dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                    SSESpecification={"Enabled": True}, **spec)
            c.dynamodb.get_waiter("table_exists").wait(TableName=name)
        c.dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def _provision_signing_key(c: _Clients, agency: demo_data.DemoAgency) -> str:
    """The agency's RSA signing key, found by alias on a re-run; returns its ARN."""
    alias = signing_key_alias(agency.organ_id)
    key_id = _find_alias_target(c, alias)
    if key_id is None:
        key_id = c.kms.create_key(
            Description=f"edoc-gateway document signing key of {agency.organ_id}",
            KeySpec=SIGNING_KEY_SPEC, KeyUsage=SIGNING_KEY_USAGE,
            Tags=[{"TagKey": TAG_ORGAN_ID, "TagValue": agency.organ_id},
                  {"TagKey": TAG_PURPOSE, "TagValue": PURPOSE_DOCUMENT_SIGNING}],
        )["KeyMetadata"]["KeyId"]
        c.kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def _pem(value: str | bytes) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


def _provision_agencies(c: _Clients, state_dir: Path,
                        pki: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """One registry item per demo agency; served ones get a KMS key, a certificate from the demo CA (naming the
    local PKI's OCSP responder and CRL when `pki` gives their URLs, for PAdES B-LT) and a seal (`_provision_seal`)."""
    from devstack.pki import DemoCA  # written in parallel; imported when provisioning runs

    pki = pki or {}
    ca = DemoCA.load_or_create(Path(state_dir) / "pki")
    root_pem = _pem(ca.root_cert_pem)
    keys: dict[str, str] = {}
    for agency in demo_data.AGENCIES:
        item: dict[str, Any] = {
            "organ_id": agency.organ_id, "name": agency.name, "active": True, "served": agency.served,
            "paper": agency.paper, "email": agency.email, "address": agency.address,
        }
        if agency.served:
            key_arn = _provision_signing_key(c, agency)
            keys[agency.organ_id] = key_arn
            public_der = c.kms.get_public_key(KeyId=key_arn)["PublicKey"]
            cert_der = ca.issue_org_certificate(public_der, agency.organ_id, agency.name,
                                                ocsp_url=pki.get("ocsp_url"), crl_url=pki.get("crl_url"))
            item["signing_key"] = {
                "backend": "kms", "key_id": key_arn, "signing_algorithm": SIGNING_ALGORITHM,
                "certificate_pem": ssl.DER_cert_to_PEM_cert(cert_der), "chain_pem": root_pem,
            }
            item.update(_provision_seal(c, state_dir, agency))
        c.dynamodb.put_item(TableName=settings.AGENCIES_TABLE, Item=_to_ddb(item))
    return keys, root_pem


SEALS_PREFIX = "seals/"


def _provision_seal(c: _Clients, state_dir: Path, agency: demo_data.DemoAgency) -> dict[str, str]:
    """A generated round seal for the agency in S3 (`seals/<organ_id>.png`), as an admin would register the
    agency's real one; returns the registry item's `seal_key` and `seal_etag`. The PNG is drawn once per state dir
    (Pillow, dev only) and reused on later starts."""
    cached = Path(state_dir) / "seals" / f"{agency.organ_id}.png"
    if not cached.exists():
        from devstack.seal import make_demo_seal

        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(make_demo_seal(agency.name))
    key = f"{SEALS_PREFIX}{agency.organ_id}.png"
    resp = c.s3.put_object(Bucket=BUCKET_NAME, Key=key, Body=cached.read_bytes(), ContentType="image/png")
    return {"seal_key": key, "seal_etag": resp["ETag"]}


#: The embedded stack's SoftHSM2 token (under the state dir) for agencies put on the PKCS#11 backend.
SOFTHSM_DIR = "softhsm"
SOFTHSM_TOKEN_LABEL = "edoc-demo"
PKCS11_PIN_SECRET_PREFIX = "edoc-gateway/pkcs11/"  # noqa: S105 (a secret's name prefix)


def pkcs11_key_label(organ_id: str) -> str:
    return "edoc-sign-" + organ_id.replace(".", "-")


def _provision_pkcs11_agencies(c: _Clients, state_dir: Path,
                               organ_ids: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Move these served agencies to PKCS#11: a key pair generated on a SoftHSM2 token under the state dir, its PIN
    in Secrets Manager (`edoc-gateway/pkcs11/<code>`), a demo CA certificate for it, and the registry item's
    `signing_key` pointing at it by PKCS#11 URI. Returns (organ_id → key URI, the app's environment for the token).

    Runs after `_provision_agencies`, and issues the certificate with the same OCSP/CRL pointers as the KMS one it
    replaces. The agency's KMS key is left in place (unused), so the KMS side stays what infra/ describes.
    """
    from cryptography import x509 as cx509

    from chalicelib.keys.pkcs11 import PIN_SOURCE_PREFIX, Pkcs11Uri
    from devstack import softhsm
    from devstack.pki import DemoCA

    wanted = [a for a in demo_data.SERVED if a.organ_id in set(organ_ids)]
    unknown = set(organ_ids) - {a.organ_id for a in wanted}
    if unknown:
        raise ValueError(f"not served demo agencies, cannot put on PKCS#11: {sorted(unknown)}")
    if not wanted:
        return {}, {}
    token = softhsm.ensure_token(Path(state_dir) / SOFTHSM_DIR, SOFTHSM_TOKEN_LABEL)
    ca = DemoCA.load_or_create(Path(state_dir) / "pki")
    table = settings.AGENCIES_TABLE
    uris: dict[str, str] = {}
    for agency in wanted:
        label = pkcs11_key_label(agency.organ_id)
        spki = softhsm.generate_keypair(token, label, label.encode("ascii")[-16:])
        secret_name = PKCS11_PIN_SECRET_PREFIX + agency.organ_id.replace(".", "-")
        try:
            c.secretsmanager.create_secret(Name=secret_name, SecretString=token.pin,
                                           Description=f"PKCS#11 user PIN of the token holding {label}")
        except Exception as exc:
            if not _ignore_codes(exc, ("ResourceExistsException",)):
                raise
            c.secretsmanager.put_secret_value(SecretId=secret_name, SecretString=token.pin)
        uri = str(Pkcs11Uri(token=token.label, object=label, module_path=token.module,
                            pin_source=PIN_SOURCE_PREFIX + secret_name))
        item = c.dynamodb.get_item(TableName=table, Key={"organ_id": {"S": agency.organ_id}})["Item"]
        pointers: dict[str, str] = {}
        old_pem = item.get("signing_key", {}).get("M", {}).get("certificate_pem", {}).get("S")
        if old_pem:  # keep whatever revocation pointers the KMS certificate was given
            old = cx509.load_pem_x509_certificate(old_pem.encode("ascii"))
            for ext in old.extensions:
                if isinstance(ext.value, cx509.AuthorityInformationAccess):
                    pointers["ocsp_url"] = next((d.access_location.value for d in ext.value), None)
                elif isinstance(ext.value, cx509.CRLDistributionPoints):
                    pointers["crl_url"] = next((n.value for p in ext.value for n in p.full_name or []), None)
        cert_der = ca.issue_org_certificate(spki, agency.organ_id, agency.name,
                                            **{k: v for k, v in pointers.items() if v})
        chain_pem = item.get("signing_key", {}).get("M", {}).get("chain_pem", {}).get("S") or _pem(ca.root_cert_pem)
        signing_key = {"backend": "pkcs11", "key_id": uri, "signing_algorithm": SIGNING_ALGORITHM,
                       "certificate_pem": ssl.DER_cert_to_PEM_cert(cert_der), "chain_pem": chain_pem}
        c.dynamodb.update_item(TableName=table, Key={"organ_id": {"S": agency.organ_id}},
                               UpdateExpression="SET signing_key = :k",
                               ExpressionAttributeValues=_to_ddb({":k": signing_key}))
        uris[agency.organ_id] = uri
    return uris, {"PKCS11_MODULES": token.module, **token.env}


def _to_ddb(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items()}


def _provision_axis_secret(c: _Clients, axis_url: str, served: dict[str, str]) -> None:
    """`edoc-gateway/axis`: the endpoint and the served agencies' system secrets, as production holds them."""
    value = json.dumps({"endpoint": axis_url, "systems": served})
    try:
        c.secretsmanager.create_secret(Name=settings.AXIS_SECRET_NAME, SecretString=value,
                                       Description="Axis endpoint and per-agency system credentials")
    except Exception as exc:
        if not _ignore_codes(exc, ("ResourceExistsException",)):
            raise
        c.secretsmanager.put_secret_value(SecretId=settings.AXIS_SECRET_NAME, SecretString=value)


def _find_user_pool(c: _Clients) -> str | None:
    for page in c.cognito_idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == USER_POOL_NAME:
                return pool["Id"]
    return None


def _provision_cognito(c: _Clients) -> tuple[str, str]:
    """The user pool (custom:organ_id), its public app client and the `admins` group; returns (pool, client)."""
    idp = c.cognito_idp
    pool_id = _find_user_pool(c)
    if pool_id is None:
        pool_id = idp.create_user_pool(
            PoolName=USER_POOL_NAME,
            Schema=[{"Name": ORGAN_ID_ATTRIBUTE, "AttributeDataType": "String", "Mutable": True,
                     "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}}],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                         "RequireNumbers": True, "RequireSymbols": True}},
            UsernameConfiguration={"CaseSensitive": False},
        )["UserPool"]["Id"]
    client_id = None
    for entry in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]:
        if entry["ClientName"] == USER_POOL_CLIENT_NAME:
            client_id = entry["ClientId"]
    if client_id is None:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName=USER_POOL_CLIENT_NAME, GenerateSecret=False,
            ExplicitAuthFlows=list(EXPLICIT_AUTH_FLOWS), WriteAttributes=list(CLIENT_WRITE_ATTRIBUTES),
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
    try:
        idp.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP, Description="Gateway administrators")
    except Exception as exc:
        if not _ignore_codes(exc, ("GroupExistsException",)):
            raise
    for user in demo_data.USERS:
        attributes = [{"Name": f"custom:{ORGAN_ID_ATTRIBUTE}", "Value": user.organ_id},
                      {"Name": "email", "Value": f"{user.username}@demo.edoc.invalid"},
                      {"Name": "email_verified", "Value": "true"}]
        try:
            idp.admin_create_user(UserPoolId=pool_id, Username=user.username, UserAttributes=attributes,
                                  MessageAction="SUPPRESS")
        except Exception as exc:
            if not _ignore_codes(exc, ("UsernameExistsException",)):
                raise
            idp.admin_update_user_attributes(UserPoolId=pool_id, Username=user.username, UserAttributes=attributes)
        idp.admin_set_user_password(UserPoolId=pool_id, Username=user.username, Password=user.password,
                                    Permanent=True)
        if user.admin:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user.username, GroupName=ADMIN_GROUP)
    return pool_id, client_id


def _token_issuer(c: _Clients, client_id: str) -> str:
    """The `iss` moto actually writes into its tokens, read from a real login rather than guessed."""
    user = demo_data.USERS[0]
    result = c.cognito_idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.username, "PASSWORD": user.password},
    )["AuthenticationResult"]
    payload = result["IdToken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims["iss"]


def provision(endpoint_url: str, region: str, *, axis_url: str, state_dir: Path,
              pkcs11_agencies: Iterable[str] = (), pki: dict[str, str] | None = None) -> Provisioned:
    """Create (or converge) every resource of the embedded stack on the moto server at `endpoint_url`.

    `pkcs11_agencies`: served demo agencies that sign through PKCS#11 on a SoftHSM2 token instead of KMS.
    `pki`: the local PKI's URLs (`LocalPki.urls`): certificates name its OCSP responder and CRL, and the app signs
    at PAdES B-LT with its timestamp authority. Without it, B-B.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    c = _Clients(endpoint_url, region)
    queue_urls = _provision_queues(c)
    _provision_bucket(c, region, queue_urls[settings.UPLOAD_QUEUE])
    _provision_tables(c)
    signing_keys, root_pem = _provision_agencies(c, state_dir, pki)
    hsm_keys, hsm_env = _provision_pkcs11_agencies(c, state_dir, pkcs11_agencies)
    signing_keys.update(hsm_keys)
    systems = load_or_create_axis_systems(state_dir)
    _provision_axis_secret(c, axis_url, systems["served"])
    pool_id, client_id = _provision_cognito(c)
    issuer = _token_issuer(c, client_id)
    jwks_url = f"{endpoint_url.rstrip('/')}/{pool_id}/.well-known/jwks.json"
    env = {
        "STAGE": STAGE,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
        **FAKE_CREDENTIALS,
        "DOCUMENTS_BUCKET": BUCKET_NAME,
        "DOCUMENTS_TABLE": settings.DOCUMENTS_TABLE,
        "AGENCIES_TABLE": settings.AGENCIES_TABLE,
        "DISPATCH_QUEUE": settings.DISPATCH_QUEUE,
        "UPLOAD_QUEUE": settings.UPLOAD_QUEUE,
        "AXIS_SECRET_NAME": settings.AXIS_SECRET_NAME,
        "COGNITO_USER_POOL_ID": pool_id,
        "COGNITO_CLIENT_ID": client_id,
        "JWKS_URL": jwks_url,
        "TOKEN_ISSUER": issuer,
        "MAX_UPLOAD_BYTES": str(settings.MAX_UPLOAD_BYTES),
        # Uploaded certificate chains must lead to the demo root (the admin key API checks them against it).
        "TRUST_ROOTS": root_pem,
        "PKCS11_MODULES": "",
        **hsm_env,
        # PAdES level: B-LT with the local PKI's TSA, OCSP and CRL; a short revocation cache so a certificate
        # revoked while the stack runs is refused within seconds.
        "TSA_URL": (pki or {}).get("tsa_url", ""),
        "PADES_LEVEL": "B-LT" if pki else "B-B",
        "REVOCATION_CACHE_SECONDS": "2" if pki else "300",
        # Production's dispatch backoff (tests that inject faults shorten it through the stack's app_env).
        "DISPATCH_BACKOFF_BASE_SECONDS": "20",
        "DISPATCH_BACKOFF_CAP_SECONDS": "600",
    }
    return Provisioned(
        endpoint_url=endpoint_url, region=region, bucket=BUCKET_NAME,
        documents_table=settings.DOCUMENTS_TABLE, agencies_table=settings.AGENCIES_TABLE,
        queue_urls=queue_urls, user_pool_id=pool_id, client_id=client_id, jwks_url=jwks_url,
        token_issuer=issuer, axis_url=axis_url, signing_keys=signing_keys,
        axis_systems_served=dict(systems["served"]), axis_systems_external=dict(systems["external"]),
        users=[asdict(u) for u in demo_data.USERS], ca_root_pem=root_pem, env=env,
    )


# -- read back: the shape the consistency test compares with infra/resources.yaml ------------------------------


def provisioned_resources_summary(endpoint_url: str, region: str, *, bucket: str = BUCKET_NAME) -> dict[str, Any]:
    """The settings that must match infra/resources.yaml, read back from the (moto) account.

    Names, not ARNs: ARNs differ between accounts, names and settings must not.
    """
    c = _Clients(endpoint_url, region)
    arn_to_name: dict[str, str] = {}
    queues: dict[str, dict[str, Any]] = {}
    for name in [*QUEUES, *QUEUES.values()]:
        url = c.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        arn_to_name[attrs["QueueArn"]] = name
        queues[name] = attrs
    queue_summary: dict[str, dict[str, Any]] = {}
    for name, attrs in queues.items():
        redrive = json.loads(attrs["RedrivePolicy"]) if attrs.get("RedrivePolicy") else {}
        queue_summary[name] = {
            "visibility_timeout": int(attrs["VisibilityTimeout"]),
            "message_retention": int(attrs["MessageRetentionPeriod"]),
            "sse": attrs.get("SqsManagedSseEnabled") == "true",
            "dead_letter_queue": arn_to_name.get(redrive.get("deadLetterTargetArn", "")),
            "max_receive_count": int(redrive["maxReceiveCount"]) if redrive else None,
        }
    policy = json.loads(queues[settings.UPLOAD_QUEUE].get("Policy") or "{}")
    principals = sorted(
        s.get("Principal", {}).get("Service", "") for s in policy.get("Statement", []) if s.get("Effect") == "Allow"
    )

    notification = c.s3.get_bucket_notification_configuration(Bucket=bucket)
    notifications = []
    for conf in notification.get("QueueConfigurations", []):
        rules = {r["Name"].lower(): r["Value"] for r in conf.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
        notifications.append({"queue": arn_to_name.get(conf["QueueArn"], conf["QueueArn"]),
                              "events": sorted(conf["Events"]), "prefix": rules.get("prefix", "")})
    encryption = c.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    pab = c.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]

    tables: dict[str, dict[str, Any]] = {}
    for name in (settings.DOCUMENTS_TABLE, settings.AGENCIES_TABLE):
        desc = c.dynamodb.describe_table(TableName=name)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
        pitr = c.dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        tables[name] = {
            "keys": {k["AttributeName"]: [k["KeyType"], types[k["AttributeName"]]] for k in desc["KeySchema"]},
            "gsis": {
                g["IndexName"]: {
                    "keys": {k["AttributeName"]: [k["KeyType"], types[k["AttributeName"]]] for k in g["KeySchema"]},
                    "projection": g["Projection"]["ProjectionType"],
                }
                for g in desc.get("GlobalSecondaryIndexes", [])
            },
            "billing_mode": desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "pitr": pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED",
        }

    specs, usages, tag_sets = set(), set(), []
    for page in c.kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"].startswith(SIGNING_ALIAS_PREFIX) and entry.get("TargetKeyId"):
                meta = c.kms.describe_key(KeyId=entry["TargetKeyId"])["KeyMetadata"]
                specs.add(meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"))
                usages.add(meta["KeyUsage"])
                tags = c.kms.list_resource_tags(KeyId=entry["TargetKeyId"]).get("Tags", [])
                tag_sets.append({t["TagKey"]: t["TagValue"] for t in tags})

    pool_id = None
    for page in c.cognito_idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        pool_id = next((p["Id"] for p in page["UserPools"] if p["Name"] == USER_POOL_NAME), pool_id)
    pool = c.cognito_idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    client_ids = [x["ClientId"] for x in
                  c.cognito_idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]]
    clients = [c.cognito_idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=i)["UserPoolClient"]
               for i in client_ids]
    groups = [g["GroupName"] for g in c.cognito_idp.list_groups(UserPoolId=pool_id)["Groups"]]

    return {
        "queues": queue_summary,
        "upload_queue_policy_principals": principals,
        "bucket": {
            "notifications": sorted(notifications, key=lambda n: (n["queue"], n["prefix"])),
            "versioning": c.s3.get_bucket_versioning(Bucket=bucket).get("Status"),
            "sse_algorithm": encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "bucket_key": bool(encryption.get("BucketKeyEnabled")),
            "public_access_block": {k: bool(v) for k, v in pab.items()},
        },
        "tables": tables,
        "signing_keys": {
            "key_specs": sorted(specs),
            "key_usages": sorted(usages),
            "alias_prefix": SIGNING_ALIAS_PREFIX,
            "purpose_tags": sorted({t.get(TAG_PURPOSE, "") for t in tag_sets}),
            "every_key_has_organ_tag": all(TAG_ORGAN_ID in t for t in tag_sets),
            "count": len(tag_sets),
        },
        "cognito": {
            "custom_attributes": sorted(a["Name"] for a in pool.get("SchemaAttributes", [])
                                        if a["Name"].startswith("custom:")),
            "admin_create_user_only": pool.get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly", False),
            "groups": sorted(groups),
            "clients": [{
                "explicit_auth_flows": sorted(cl.get("ExplicitAuthFlows", [])),
                "generate_secret": bool(cl.get("ClientSecret")),
                "write_attributes": sorted(cl.get("WriteAttributes", [])),
            } for cl in clients],
        },
        "axis_secret": c.secretsmanager.describe_secret(SecretId=settings.AXIS_SECRET_NAME)["Name"],
    }
