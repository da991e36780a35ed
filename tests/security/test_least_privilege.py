"""Least privilege in the deployable template (infra/resources.yaml), checked with the IAM evaluator.

Given the template's policies, resolved to an account's ARNs (devstack.provision.iam) and evaluated as IAM would
(devstack.iam_policy, conditions included), when each function asks for what it must never do, then it is refused:
the poller cannot sign or write incoming/ or signed/, the signer cannot read the axis secret, dispatch cannot sign,
nobody deletes tables, buckets, queues or keys; and each function may do what its use cases need. Every function the
app declares has exactly one policy of its own. The evaluator itself is pinned here (wildcards, conditions, Deny).
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack import iam_policy
from devstack.iam_policy import Request, is_allowed, statements_of
from devstack.provision.iam import function_policies, load_template, resolved_function_policies, role_logical_id

REGION, ACCOUNT, BUCKET = "ap-southeast-1", "123456789012", "edoc-gateway-local-documents"
FUNCTIONS = ("api_handler", "sign_document", "dispatch_document", "poll_axis")
OBJ = f"arn:aws:s3:::{BUCKET}"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SIGNING_TAGS = {"aws:ResourceTag/edoc-gateway:purpose": "document-signing",
                "aws:ResourceTag/edoc-gateway:stage": "local"}
AXIS_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:edoc-gateway/local/axis-AbC123"
PIN_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:edoc-gateway/local/pkcs11/000.00.00.H62-XyZ987"
DOCUMENTS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/edoc-local-documents"
AGENCIES = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/edoc-local-agencies"
AUDIT = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/edoc-local-audit"


def queue(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


@pytest.fixture(scope="module")
def statements() -> dict[str, list[Any]]:
    policies = resolved_function_policies(None, FUNCTIONS, REGION, bucket=BUCKET)
    return {function: statements_of(p) for function, p in policies.items()}


def allowed(statements: dict[str, list[Any]], function: str, action: str, resource: str, **context: Any) -> bool:
    return is_allowed(statements[function], Request(action, resource, context))


def test_every_function_of_the_app_has_one_policy_of_its_own() -> None:
    from devstack.chalice_app import function_names

    template = load_template()
    functions = function_names()
    assert set(FUNCTIONS) <= set(functions)
    for function, policies in function_policies(template, functions).items():
        own = [name for name in policies if name != "ChaliceInline"]
        assert len(own) == 1, f"{function}: give {role_logical_id(function)} exactly one policy (has {own})"
    attached: dict[str, list[str]] = {}
    for name, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            for role in resource["Properties"]["Roles"]:
                attached.setdefault(name, []).append(role["Ref"])
    assert all(len(roles) == 1 for roles in attached.values()), f"a policy shared by roles: {attached}"


def test_the_poller_cannot_sign_nor_write_uploads_or_signed_documents(statements: dict[str, list[Any]]) -> None:
    assert not allowed(statements, "poll_axis", "kms:Sign", KEY, **SIGNING_TAGS)
    for prefix in ("incoming", "signed", "packages", "seals"):
        assert not allowed(statements, "poll_axis", "s3:PutObject", f"{OBJ}/{prefix}/000.00.00.H62/x.pdf"), prefix
    assert allowed(statements, "poll_axis", "s3:PutObject", f"{OBJ}/inbound/000.00.00.H62/x.pdf")
    assert allowed(statements, "poll_axis", "secretsmanager:GetSecretValue", AXIS_SECRET)


def test_the_signer_cannot_read_the_axis_secret(statements: dict[str, list[Any]]) -> None:
    assert not allowed(statements, "sign_document", "secretsmanager:GetSecretValue", AXIS_SECRET)
    assert allowed(statements, "sign_document", "secretsmanager:GetSecretValue", PIN_SECRET)
    assert allowed(statements, "sign_document", "kms:Sign", KEY, **SIGNING_TAGS)
    # … only with keys tagged for document signing (the documents bucket key, say, is not)
    assert not allowed(statements, "sign_document", "kms:Sign", KEY, **{"aws:ResourceTag/edoc-gateway:purpose":
                                                                         "documents-bucket"})
    assert not allowed(statements, "sign_document", "kms:Sign", KEY)
    for key in ("seals/000.00.00.H62.png", "trust/roots.pem", "incoming/000.00.00.H62/d.pdf"):
        assert allowed(statements, "sign_document", "s3:GetObject", f"{OBJ}/{key}"), key
    assert not allowed(statements, "sign_document", "s3:PutObject", f"{OBJ}/incoming/000.00.00.H62/d.pdf")
    assert allowed(statements, "sign_document", "s3:GetObjectVersion", f"{OBJ}/incoming/000.00.00.H62/d.pdf")
    assert not allowed(statements, "sign_document", "s3:GetObjectVersion", f"{OBJ}/signed/000.00.00.H62/d.pdf")


def test_dispatch_cannot_sign(statements: dict[str, list[Any]]) -> None:
    assert not allowed(statements, "dispatch_document", "kms:Sign", KEY, **SIGNING_TAGS)
    assert not allowed(statements, "dispatch_document", "s3:PutObject", f"{OBJ}/signed/000.00.00.H62/d.pdf")
    assert allowed(statements, "dispatch_document", "s3:GetObject", f"{OBJ}/signed/000.00.00.H62/d.pdf")
    assert allowed(statements, "dispatch_document", "s3:PutObject", f"{OBJ}/packages/000.00.00.H62/d.edxml")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_nobody_deletes_tables_buckets_queues_or_keys(statements: dict[str, list[Any]], function: str) -> None:
    for action, resource in (("dynamodb:DeleteTable", DOCUMENTS), ("dynamodb:DeleteTable", AGENCIES),
                             ("s3:DeleteBucket", OBJ), ("sqs:DeleteQueue", queue("edoc-local-dispatch")),
                             ("sqs:PurgeQueue", queue("edoc-local-upload-events")),
                             ("kms:ScheduleKeyDeletion", KEY), ("kms:DisableKey", KEY),
                             ("dynamodb:UpdateTable", DOCUMENTS), ("s3:PutBucketPolicy", OBJ),
                             ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/x")):
        assert not allowed(statements, function, action, resource, **SIGNING_TAGS), f"{function}: {action}"
    for statement in statements[function]:
        for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
            assert "*" not in action, f"{function}: wildcard action {action}"
            assert "Delete" not in action or action in ("sqs:DeleteMessage", "dynamodb:DeleteItem") or (
                function == "sign_document" and action == "s3:DeleteObjectVersion"), action


def test_only_the_signer_deletes_objects_and_only_the_uploads_it_signed(statements: dict[str, list[Any]]) -> None:
    """Issue 11: the signer drops the upload versions it signed (each is the start of its signed file); nothing
    else of the bucket, and no other function, can delete an object."""
    upload = f"{OBJ}/incoming/000.00.00.H62/d.pdf"
    assert allowed(statements, "sign_document", "s3:DeleteObjectVersion", upload)
    for key in ("signed/000.00.00.H62/d.pdf", "inbound/000.00.00.H62/x.edxml", "seals/000.00.00.H62.png",
                "trust/roots.pem"):
        assert not allowed(statements, "sign_document", "s3:DeleteObjectVersion", f"{OBJ}/{key}"), key
    for function in FUNCTIONS:
        assert not allowed(statements, function, "s3:DeleteObject", upload), function
        if function != "sign_document":
            assert not allowed(statements, function, "s3:DeleteObjectVersion", upload), function


def test_only_the_api_creates_keys_and_only_tagged_signing_keys(statements: dict[str, list[Any]]) -> None:
    request = {"aws:RequestTag/edoc-gateway:purpose": "document-signing",
               "aws:RequestTag/edoc-gateway:organ_id": "000.00.00.H62", "aws:RequestTag/edoc-gateway:stage": "local",
               "aws:TagKeys": ["edoc-gateway:organ_id", "edoc-gateway:purpose", "edoc-gateway:stage"],
               "kms:KeyUsage": "SIGN_VERIFY", "kms:KeySpec": "RSA_2048"}
    assert allowed(statements, "api_handler", "kms:CreateKey", "*", **request)
    assert not allowed(statements, "api_handler", "kms:CreateKey", "*", **{**request, "kms:KeyUsage":
                                                                           "ENCRYPT_DECRYPT"})
    assert not allowed(statements, "api_handler", "kms:CreateKey", "*",
                       **{**request, "aws:TagKeys": ["edoc-gateway:purpose", "owner"]})
    for function in ("sign_document", "dispatch_document", "poll_axis"):
        assert not allowed(statements, function, "kms:CreateKey", "*", **request), function


def test_the_audit_trail_is_append_only_and_its_day_index_read_only(statements: dict[str, list[Any]]) -> None:
    """Issues 9 and 11: the API appends (PutItem) and reads chains (Query) on the table and Queries the by_day index;
    nobody updates or deletes an entry, nor writes through the index; no other function touches either."""
    index = f"{AUDIT}/index/by_day"
    assert allowed(statements, "api_handler", "dynamodb:PutItem", AUDIT)
    assert allowed(statements, "api_handler", "dynamodb:Query", AUDIT)
    assert allowed(statements, "api_handler", "dynamodb:Query", index)
    assert not allowed(statements, "api_handler", "dynamodb:PutItem", index)
    for function in FUNCTIONS:
        for action in ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                       "dynamodb:TransactWriteItems"):
            assert not allowed(statements, function, action, AUDIT), f"{function}: {action}"
        if function != "api_handler":
            for action in ("dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"):
                assert not allowed(statements, function, action, AUDIT), f"{function}: {action}"
                assert not allowed(statements, function, action, index), f"{function}: {action}"


def test_only_the_api_reads_users_and_only_their_mfa_settings(statements: dict[str, list[Any]]) -> None:
    pool = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/UserPool"  # the placeholder pool of the resolver
    assert allowed(statements, "api_handler", "cognito-idp:AdminGetUser", pool)
    for action in ("cognito-idp:AdminUpdateUserAttributes", "cognito-idp:AdminAddUserToGroup",
                   "cognito-idp:AdminSetUserPassword", "cognito-idp:AdminCreateUser"):
        assert not allowed(statements, "api_handler", action, pool), action
    for function in ("sign_document", "dispatch_document", "poll_axis"):
        assert not allowed(statements, function, "cognito-idp:AdminGetUser", pool), function


def test_the_evaluator_follows_iam() -> None:
    allow = {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": f"{OBJ}/signed/*"}
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"{OBJ}/signed/secret/*"}
    suffix = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
              "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:edoc-gateway/local/axis-??????"}
    assert is_allowed([allow], Request("s3:getobject", f"{OBJ}/signed/a/b.pdf"))  # actions: case-insensitive
    assert not is_allowed([allow], Request("s3:PutObject", f"{OBJ}/signed/a/b.pdf"))
    assert not is_allowed([allow, deny], Request("s3:GetObject", f"{OBJ}/signed/secret/b.pdf"))
    assert is_allowed([suffix], Request("secretsmanager:GetSecretValue", AXIS_SECRET))
    assert not is_allowed([suffix], Request("secretsmanager:GetSecretValue", AXIS_SECRET + "x"))
    with pytest.raises(ValueError, match="NumericLessThan"):
        is_allowed([{**allow, "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}}],
                   Request("s3:GetObject", f"{OBJ}/signed/a"))


def test_recorded_calls_become_the_requests_aws_authorises() -> None:
    lookup = iam_policy.AccountLookup(REGION, ACCOUNT, key_arn=lambda ref: KEY,
                                      key_tags=lambda arn: {"edoc-gateway:purpose": "document-signing",
                                                            "edoc-gateway:stage": "local"},
                                      secret_arn=lambda name: AXIS_SECRET)
    transact = {"service": "dynamodb", "operation": "TransactWriteItems",
                "params": {"TransactItems": [["Update", "edoc-local-documents"],
                                             ["ConditionCheck", "edoc-local-agencies"]]}}
    assert [(r.action, r.resource) for r in iam_policy.requests_for(transact, lookup)] == [
        ("dynamodb:UpdateItem", DOCUMENTS), ("dynamodb:ConditionCheckItem", AGENCIES)]
    query = {"service": "dynamodb", "operation": "Query", "params": {"TableName": "edoc-local-documents",
                                                                     "IndexName": "by_organ"}}
    assert iam_policy.requests_for(query, lookup)[0].resource == f"{DOCUMENTS}/index/by_organ"
    sign = {"service": "kms", "operation": "Sign", "params": {"KeyId": "alias/edoc-sign/local/000-00-00-H62"}}
    assert iam_policy.requests_for(sign, lookup) == [Request("kms:Sign", KEY, SIGNING_TAGS)]
    batch = {"service": "sqs", "operation": "DeleteMessageBatch",
             "params": {"QueueUrl": f"http://127.0.0.1:1/{ACCOUNT}/edoc-local-dispatch"}}
    assert iam_policy.requests_for(batch, lookup) == [Request("sqs:DeleteMessage", queue("edoc-local-dispatch"))]
    head = {"service": "s3", "operation": "HeadObject", "params": {"Bucket": BUCKET, "Key": "seals/x.png"}}
    assert iam_policy.requests_for(head, lookup) == [Request("s3:GetObject", f"{OBJ}/seals/x.png")]
    version = {"service": "s3", "operation": "GetObject", "params": {"Bucket": BUCKET, "Key": "incoming/a.pdf",
                                                                     "VersionId": "3HL4kqtJlcpXroDTDmJ"}}
    assert iam_policy.requests_for(version, lookup) == [Request("s3:GetObjectVersion", f"{OBJ}/incoming/a.pdf")]


def test_a_function_signs_only_with_its_own_stages_keys(statements: dict[str, list[Any]]) -> None:
    """Stages share an account (issue 13): a key tagged for another stage is refused to every function."""
    other = {**SIGNING_TAGS, "aws:ResourceTag/edoc-gateway:stage": "prod"}
    for function in ("sign_document", "api_handler"):
        assert allowed(statements, function, "kms:Sign", KEY, **SIGNING_TAGS), function
        assert not allowed(statements, function, "kms:Sign", KEY, **other), function


def test_the_signer_puts_items_only_into_the_registers(statements: dict[str, list[Any]]) -> None:
    # Numbering at issuance (issue 12): the register's entry and marker, nothing else; a record is only updated.
    lookup = iam_policy.AccountLookup(REGION, ACCOUNT, key_arn=lambda ref: KEY, key_tags=lambda arn: {},
                                      secret_arn=lambda name: AXIS_SECRET)

    def transact(pk: str) -> dict[str, Any]:
        return {"service": "dynamodb", "operation": "TransactWriteItems",
                "params": {"TransactItems": [["Update", "edoc-local-documents", "REG#000.00.00.H62#outgoing#2026"],
                                             ["Put", "edoc-local-documents", pk]]}}

    issue = iam_policy.requests_for(transact("REG#000.00.00.H62#outgoing#2026"), lookup)
    assert issue[1] == Request("dynamodb:PutItem", DOCUMENTS,
                               {"dynamodb:LeadingKeys": ["REG#000.00.00.H62#outgoing#2026"]})
    assert all(is_allowed(statements["sign_document"], r) for r in issue)
    [_, forged] = iam_policy.requests_for(transact("DOC#4bda407e-8868-4c3f-944a-f8c5946c2527"), lookup)
    assert not is_allowed(statements["sign_document"], forged)
    put = {"service": "dynamodb", "operation": "PutItem",
           "params": {"TableName": "edoc-local-documents", "LeadingKeys": ["AUDIT#2026-12-04"]}}
    assert iam_policy.denied_requests([put], {"p": {"Statement": statements["sign_document"]}}, lookup)


def test_the_call_log_records_the_partition_key_an_item_call_names() -> None:
    from devstack.call_log import summarise_params

    assert summarise_params({"TableName": "t", "Item": {"pk": "REG#x", "body": "never logged"}}) == {
        "TableName": "t", "LeadingKeys": ["REG#x"]}
    assert summarise_params({"TableName": "t", "Key": {"pk": {"S": "DOC#1"}, "sk": {"S": "META"}}}) == {
        "TableName": "t", "LeadingKeys": ["DOC#1"]}
    assert summarise_params({"TransactItems": [{"Put": {"TableName": "t", "Item": {"pk": "REG#y"}}}]}) == {
        "TransactItems": [["Put", "t", "REG#y"]]}
