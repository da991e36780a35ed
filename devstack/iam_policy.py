"""A small IAM evaluator: recorded AWS calls (`devstack.call_log`) → the IAM requests AWS would authorise, checked
against a function's statements (from infra/resources.yaml, resolved by `devstack.provision.iam`), resources and
conditions included.

Why: moto checks actions for every service but resources only for S3 and SQS, and no conditions (docs/iam.md). What
moto lets through, this checks: the table or index a DynamoDB call names and the partition key an item call names
(`dynamodb:LeadingKeys`), the key a KMS call uses and its tags (`aws:ResourceTag/...`), a CreateKey's request tags
and key spec, the secret a GetSecretValue reads (ARN with its random suffix), and S3/SQS once more. A call AWS would
refuse under the template is reported with the reason.

Evaluation, as IAM's for identity policies without permission boundaries: an explicit Deny wins; otherwise a
request is allowed when one Allow statement matches its action (`*`/`?` wildcards), its resource (ARN pattern) and
all its conditions (operators StringEquals, StringLike, ArnLike, ArnEquals, Bool, each also with ForAllValues: and
ForAnyValue:; a condition key missing from the request fails the condition, except under ForAllValues:).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.moto_iam import SAME_AS, TRANSACT_ITEM_ACTIONS

__all__ = ["AccountLookup", "Request", "denied_requests", "is_allowed", "requests_for", "statements_of"]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    #: Condition keys → values (lists: multivalued keys such as aws:TagKeys).
    context: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.action} on {self.resource}" + (f" {dict(self.context)}" if self.context else "")


@dataclass
class AccountLookup:
    """What the evaluator must know about the account to build requests (filled by the checker, as the operator)."""

    region: str
    account: str
    #: KMS key id, key ARN or alias name → key ARN.
    key_arn: Callable[[str], str]
    #: key ARN → its tags.
    key_tags: Callable[[str], dict[str, str]]
    #: secret name or ARN → secret ARN.
    secret_arn: Callable[[str], str]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _queue_arn(lookup: AccountLookup, params: Mapping[str, Any]) -> str:
    name = (params.get("QueueUrl") or params.get("QueueName") or "*").rstrip("/").rsplit("/", 1)[-1]
    return f"arn:aws:sqs:{lookup.region}:{lookup.account}:{name}"


def _table_arn(lookup: AccountLookup, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{lookup.region}:{lookup.account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def _s3(call: Mapping[str, Any]) -> list[Request]:
    op, params = call["operation"], call["params"]
    bucket, key = params.get("Bucket", "*"), params.get("Key")
    obj = f"arn:aws:s3:::{bucket}/{key}"
    if op in ("GetObject", "HeadObject"):  # a given version needs s3:GetObjectVersion, as on AWS
        return [Request("s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject", obj)]
    if op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        # a write with an Object Lock retention also needs s3:PutObjectRetention, as on AWS
        retention = [Request("s3:PutObjectRetention", obj)] if params.get("ObjectLockMode") else []
        return [Request("s3:PutObject", obj), *retention]
    if op == "AbortMultipartUpload":
        return [Request("s3:AbortMultipartUpload", obj)]
    if op == "DeleteObject":  # a given version: s3:DeleteObjectVersion (a permanent delete), as on AWS
        return [Request("s3:DeleteObjectVersion" if params.get("VersionId") else "s3:DeleteObject", obj)]
    if op == "CopyObject":
        return [Request("s3:GetObject", f"arn:aws:s3:::{str(params.get('CopySource', '')).lstrip('/')}"),
                Request("s3:PutObject", obj)]
    if op in ("ListObjects", "ListObjectsV2"):
        return [Request("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
    return [Request(f"s3:{op}", obj if key else f"arn:aws:s3:::{bucket}")]


def _dynamodb(call: Mapping[str, Any], lookup: AccountLookup) -> list[Request]:
    op, params = call["operation"], call["params"]
    if op in ("TransactWriteItems", "TransactGetItems"):
        return [Request(TRANSACT_ITEM_ACTIONS[item[0]], _table_arn(lookup, item[1]), _leading(item[2:]))
                for item in params.get("TransactItems", []) if item[0] in TRANSACT_ITEM_ACTIONS]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Request(f"dynamodb:{op}", _table_arn(lookup, table)) for table in params.get("RequestTables", [])]
    if "TableName" not in params:
        return [Request(f"dynamodb:{op}", "*")]
    return [Request(f"dynamodb:{op}", _table_arn(lookup, params["TableName"], params.get("IndexName")),
                    _leading(params.get("LeadingKeys") or []))]


def _leading(keys: list[Any]) -> dict[str, Any]:
    """`dynamodb:LeadingKeys` of an item request: the partition key it names (none recorded: no such key)."""
    named = [str(k) for k in keys if k]
    return {"dynamodb:LeadingKeys": named} if named else {}


def _kms(call: Mapping[str, Any], lookup: AccountLookup) -> list[Request]:
    op, params = call["operation"], call["params"]
    if op == "CreateKey":
        tags = params.get("Tags", {})
        context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
        context["aws:TagKeys"] = sorted(tags)
        context["kms:KeyUsage"] = params.get("KeyUsage", "ENCRYPT_DECRYPT")
        context["kms:KeySpec"] = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
        requests = [Request("kms:CreateKey", "*", context)]
        if tags:  # KMS checks kms:TagResource for CreateKey's Tags, on any key
            tag_context = {k: v for k, v in context.items() if k.startswith("aws:RequestTag/") or k == "aws:TagKeys"}
            requests.append(Request("kms:TagResource", f"arn:aws:kms:{lookup.region}:{lookup.account}:key/*",
                                    tag_context))
        return requests
    if op in ("ListAliases", "ListKeys", "GenerateRandom"):
        return [Request(f"kms:{op}", "*")]

    def key_request(action: str, key_ref: str) -> Request:
        arn = lookup.key_arn(key_ref)
        return Request(action, arn, {f"aws:ResourceTag/{k}": v for k, v in lookup.key_tags(arn).items()})

    if op in ("CreateAlias", "UpdateAlias", "DeleteAlias"):
        alias = f"arn:aws:kms:{lookup.region}:{lookup.account}:{params.get('AliasName', '')}"
        requests = [Request(f"kms:{op}", alias)]
        if params.get("TargetKeyId"):
            requests.append(key_request(f"kms:{op}", params["TargetKeyId"]))
        return requests
    if op == "TagResource":
        request = key_request("kms:TagResource", params.get("KeyId", "*"))
        tags = params.get("Tags", {})
        context = {**request.context, **{f"aws:RequestTag/{k}": v for k, v in tags.items()},
                   "aws:TagKeys": sorted(tags)}
        return [Request(request.action, request.resource, context)]
    return [key_request(f"kms:{op}", params.get("KeyId", "*"))]


def requests_for(call: Mapping[str, Any], lookup: AccountLookup) -> list[Request]:
    """The IAM requests AWS authorises for one recorded call."""
    service, op, params = call["service"], call["operation"], call.get("params", {})
    if service == "s3":
        return _s3(call)
    if service == "sqs":
        action = SAME_AS.get(f"sqs:{op}", f"sqs:{op}")
        if op == "StartMessageMoveTask":
            return [Request(action, str(params.get("SourceArn", "*")))]
        return [Request(action, _queue_arn(lookup, params))]
    if service == "dynamodb":
        return _dynamodb(call, lookup)
    if service == "kms":
        return _kms(call, lookup)
    if service == "secretsmanager":
        return [Request(f"secretsmanager:{op}", lookup.secret_arn(str(params.get("SecretId", "*"))))]
    if service == "sts" and op == "GetCallerIdentity":
        return []  # always allowed
    if service == "cognito-idp" and params.get("UserPoolId"):
        pool = f"arn:aws:cognito-idp:{lookup.region}:{lookup.account}:userpool/{params['UserPoolId']}"
        return [Request(f"cognito-idp:{op}", pool)]
    return [Request(f"{service}:{op}", "*")]


def _matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _operator(name: str) -> Callable[[str, str], bool]:
    base = name.split(":")[-1].removesuffix("IfExists")
    if base in ("StringEquals", "ArnEquals"):
        return lambda expected, actual: actual == expected
    if base in ("StringLike", "ArnLike"):
        return lambda expected, actual: _matches(expected, actual)
    if base == "StringEqualsIgnoreCase":
        return lambda expected, actual: actual.lower() == expected.lower()
    if base == "StringNotEquals":
        return lambda expected, actual: actual != expected
    if base == "Bool":
        return lambda expected, actual: str(actual).lower() == str(expected).lower()
    raise ValueError(f"condition operator {name} is not evaluated here: add it to devstack/iam_policy.py")


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    compare = _operator(operator)
    expected_values = [str(v) for v in _as_list(expected)]
    if key not in context:
        return operator.startswith("ForAllValues:") or operator.endswith("IfExists")
    actual_values = [str(v) for v in _as_list(context[key])]
    if operator.startswith("ForAllValues:"):
        return all(any(compare(e, a) for e in expected_values) for a in actual_values)
    if operator.startswith("StringNot"):
        return all(compare(e, a) for e in expected_values for a in actual_values)
    return any(compare(e, a) for e in expected_values for a in actual_values)


def _statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    actions = _as_list(statement.get("Action", []))
    if not any(_matches(a, request.action, case_sensitive=False) for a in actions):
        return False
    if not any(_matches(str(r), request.resource) for r in _as_list(statement.get("Resource", []))):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, request.context):
                return False
    return True


def is_allowed(statements: Iterable[Mapping[str, Any]], request: Request) -> bool:
    statements = list(statements)
    if any(s.get("Effect") == "Deny" and _statement_matches(s, request) for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and _statement_matches(s, request) for s in statements)


def statements_of(policies: Mapping[str, Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every statement of a function's policies (`{name: policy document}`)."""
    return [s for doc in policies.values() for s in _as_list(doc.get("Statement", []))]


def denied_requests(calls: Iterable[Mapping[str, Any]], policies: Mapping[str, Mapping[str, Any]],
                    lookup: AccountLookup) -> list[str]:
    """Each recorded call that the policies would not allow, described (empty: every call is allowed)."""
    statements = statements_of(policies)
    denied = []
    for call in calls:
        for request in requests_for(call, lookup):
            if not is_allowed(statements, request):
                denied.append(f"{call['service']}.{call['operation']} needs {request.describe()}")
    return sorted(set(denied))
