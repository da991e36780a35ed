"""Least privilege, proven on the embedded stack: each function runs under its own role, moto enforces IAM, and
every AWS call each function made is checked against that function's policy in infra/resources.yaml.

Given the stack (`"iam": "enforced"`: one process per function, each with a session of its own role made from the
template), when a document of an agency with a seal is uploaded, signed and dispatched, a document from Văn phòng
Chính phủ arrives over the axis and is opened from the inbox, and an administrator lists keys and dead letters,
then (1) no call was refused (moto checks actions everywhere, resources for S3 and SQS), (2) every recorded call of
every function is allowed by its own statements with resources and conditions, as IAM would evaluate them (what
moto cannot: DynamoDB tables and indexes, KMS key tags, secret ARNs), and (3) removing the seals grant from the
signing role makes that check fail. The calls of every other test of the session so far are checked too. And a
function's role, used directly, is refused what it must never do (moto enforcing it).
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.standards.edxml import Business, Organ
from devstack.call_log import read_calls
from devstack.client import operator_client
from devstack.demo_data import SAMPLES
from devstack.iam_policy import AccountLookup, denied_requests
from devstack.provision.iam import load_template, resolved_function_policies
from devstack.provision.names import BUCKET_NAME
from tests.e2e.helpers import eventually
from tests.support.axis import send_as
from tests.support.documents import fresh_metadata
from tests.support.organs import G22, H62
from tests.support.packages import vpcp_header, vpcp_package

SAMPLE = SAMPLES[0]
assert SAMPLE.uploader == H62  # UBND tỉnh Vĩnh Phúc: a served agency with a seal (seals/000.00.00.H62.png)


class _Operator:
    """The account, asked as the operator, for what the evaluator must know (key ARNs and tags, secret ARNs)."""

    def __init__(self, stack: dict[str, Any]) -> None:
        self.kms = operator_client(stack, "kms")
        self.secrets = operator_client(stack, "secretsmanager")
        self.sts = operator_client(stack, "sts")

    def lookup(self, region: str) -> AccountLookup:
        account = self.sts.get_caller_identity()["Account"]
        return AccountLookup(
            region, account,
            key_arn=lambda ref: self.kms.describe_key(KeyId=ref)["KeyMetadata"]["Arn"],
            key_tags=lambda arn: {t["TagKey"]: t["TagValue"] for t in self.kms.list_resource_tags(KeyId=arn)["Tags"]},
            secret_arn=lambda name: self.secrets.describe_secret(SecretId=name)["ARN"])


def _policies(stack: dict[str, Any], template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    from devstack.provision.clients import Clients

    clients = Clients(stack["aws_endpoint_url"], stack["region"], stack["aws_admin"])
    return resolved_function_policies(clients, stack["functions"], stack["region"], bucket=BUCKET_NAME,
                                      template=template)


@pytest.fixture(scope="module")
def recorded(client, stack, stack_handle, sample_pdf, tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    """Drive every function once, from outside, then read what each recorded."""
    assert stack["iam"] == "enforced"
    folder = tmp_path_factory.mktemp("least-privilege")
    clerk = client.login(client.user_for(H62))
    # sign_document and dispatch_document: a document of an agency with a seal, to its recipients
    created = client.create_document(clerk, fresh_metadata("LP"))
    client.upload(created["upload"], sample_pdf)
    done = client.wait_for(clerk, created["document_id"], {"DISPATCHED", "FAILED"}, timeout=120)
    assert done["state"] == "DISPATCHED", f"{done['state']} {done.get('reason')}: a grant is missing?"
    client.call("GET", f"/v1/documents/{created['document_id']}/signed", clerk)
    # poll_axis: Văn phòng Chính phủ sends a document to UBND tỉnh Vĩnh Phúc
    notation = f"VPCP-LP{uuid.uuid4().hex[:6].upper()}"
    header = vpcp_header("124", notation, "V/v kiểm tra quyền tối thiểu", content="Kiểm tra.")
    data = vpcp_package(folder / "vpcp.edxml", Organ(G22, "Văn phòng Chính phủ"), [Organ(H62, "UBND tỉnh Vĩnh Phúc")],
                        header, Business(), sample_pdf)
    send_as(client.axis_system(G22), data, [H62], folder)

    def filed() -> dict[str, Any]:
        items = [i for i in client.call("GET", "/v1/inbox", clerk, params={"limit": "200"})["items"]
                 if i["notation"] == notation]
        assert len(items) == 1
        return items[0]

    item = eventually(stack_handle, filed, what="the inbound document filed")
    client.call("GET", f"/v1/inbox/{item['inbox_id']}", clerk)
    # api_handler's admin routes
    admin = client.login(client.user_for("000.00.01.H62", admin=True))
    client.call("GET", "/v1/admin/keys", admin, params={"organ_id": H62})
    for queue in ("upload", "dispatch"):
        client.call("GET", "/v1/admin/dead-letters", admin, params={"queue": queue})
    client.call("GET", "/v1/admin/inbound-issues", admin)
    return read_calls(Path(stack["aws_calls_dir"]))


def test_every_function_ran_under_its_own_role(stack, recorded) -> None:
    assert set(stack["functions"]) <= set(recorded), "a function recorded no AWS call"
    roles = {f["role_arn"] for f in stack["functions"].values()}
    assert len(roles) == len(stack["functions"])
    refused = [f"{fn}: {c['service']}.{c['operation']} {c['params']}" for fn, calls in recorded.items()
               for c in calls if c.get("error") in ("AccessDenied", "AccessDeniedException")
               or c.get("error") == "403" or c.get("status") == 403]
    assert not refused, "moto refused calls the template should allow:\n" + "\n".join(refused)


def test_every_recorded_call_is_allowed_by_its_functions_policy(stack, recorded) -> None:
    lookup = _Operator(stack).lookup(stack["region"])
    policies = _policies(stack)
    problems = {fn: denied_requests(calls, policies[fn], lookup) for fn, calls in recorded.items()
                if fn in policies}
    for fn, calls in recorded.items():
        print(f"{fn}: {len(calls)} distinct calls")  # noqa: T201 (what the check covered)
    assert not any(problems.values()), "\n".join(f"{fn}: {p}" for fn, ps in problems.items() for p in ps)


def test_removing_the_seals_grant_from_the_signing_role_fails_the_check(stack, recorded) -> None:
    seal_reads = [c for c in recorded["sign_document"]
                  if c["service"] == "s3" and c["params"].get("Key", "").startswith("seals/")]
    assert seal_reads, "the signing flow read no seal: the check below would prove nothing"
    template = copy.deepcopy(load_template())
    statements = template["Resources"]["SignDocumentPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        statement["Resource"] = [r for r in resources if "seals/" not in str(r)] or ["arn:aws:s3:::nothing"]
    denied = denied_requests(recorded["sign_document"], _policies(stack, template)["sign_document"],
                             _Operator(stack).lookup(stack["region"]))
    assert any("seals/" in d for d in denied), denied


def _as_role(stack: dict[str, Any], function: str, service: str) -> Any:
    import boto3

    creds = operator_client(stack, "sts").assume_role(RoleArn=stack["functions"][function]["role_arn"],
                                                      RoleSessionName=f"probe-{function.replace('_', '-')}")
    session = boto3.session.Session(aws_access_key_id=creds["Credentials"]["AccessKeyId"],
                                    aws_secret_access_key=creds["Credentials"]["SecretAccessKey"],
                                    aws_session_token=creds["Credentials"]["SessionToken"])
    return session.client(service, endpoint_url=stack["aws_endpoint_url"], region_name=stack["region"])


def _refused(call: Any) -> bool:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403")
    return False


def test_moto_refuses_a_role_what_its_function_must_never_do(stack) -> None:
    poller = _as_role(stack, "poll_axis", "s3")
    for key in (f"incoming/{H62}/x.pdf", f"signed/{H62}/x.pdf"):
        assert _refused(lambda key=key: poller.put_object(Bucket=BUCKET_NAME, Key=key, Body=b"x")), key
    assert _refused(lambda: _as_role(stack, "poll_axis", "sqs").send_message(
        QueueUrl=operator_client(stack, "sqs").get_queue_url(QueueName="edoc-local-upload-events")["QueueUrl"],
        MessageBody="{}"))
    signer = _as_role(stack, "sign_document", "s3")
    assert _refused(lambda: signer.get_object(Bucket=BUCKET_NAME, Key=f"packages/{H62}/x.edxml"))
    for function in ("poll_axis", "dispatch_document"):
        keys = _as_role(stack, function, "kms")
        assert _refused(lambda keys=keys: keys.sign(KeyId=f"alias/edoc-sign/{H62.replace('.', '-')}",
                                                    Message=b"x" * 32, SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256"))
    for function in stack["functions"]:
        tables = _as_role(stack, function, "dynamodb")
        assert _refused(lambda tables=tables: tables.delete_table(TableName="edoc-local-documents")), function
