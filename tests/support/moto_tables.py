"""Offline AWS for in-process moto tests, and DynamoDB tables made from the schema infra/resources.yaml declares.

The tables come from the template itself (read as tests/integration/test_provision_matches_infra.py reads it), the
same one devstack's provisioning is held to by that test, so a key or index change reaches every moto test at once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters import aws
from chalicelib.core import settings
from devstack.config import STAGE

__all__ = ["FOREIGN_AWS_VARIABLES", "REGION", "create_table", "mocked_aws", "table_schema", "use_fake_aws"]

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-southeast-1"
#: Variables that could point boto3 at a real account or another endpoint: never inherited by tests.
FOREIGN_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                         "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
#: The create_table arguments a CloudFormation table's properties carry under the same names.
_CREATE_TABLE_KEYS = ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")


def use_fake_aws(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """No endpoint, profile or session of the developer's shell; moto's fake credentials, REGION, and `variables`."""
    for name in [*FOREIGN_AWS_VARIABLES, *(n for n in os.environ if n.startswith("AWS_ENDPOINT_URL"))]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


@functools.cache
def _template_tables() -> dict[str, dict[str, Any]]:
    """Every AWS::DynamoDB::Table of infra/resources.yaml by its name in the embedded stack's stage, as plain
    dicts."""
    from cfnlint.decode import cfn_yaml  # lazy: cfn-lint costs ~2 s to import, only table-making tests need it

    template = cfn_yaml.load(str(REPO / "infra" / "resources.yaml"))
    tables = {}
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            props = json.loads(json.dumps(resource["Properties"]))  # cfn-lint's nodes, as plain data
            name = props["TableName"]  # `!Sub edoc-${Stage}-...` (chalicelib.core.names): the local stage's name
            if isinstance(name, dict):
                name = name["Fn::Sub"].replace("${Stage}", STAGE)
            tables[name] = {**props, "TableName": name}
    return tables


def table_schema(table_name: str) -> dict[str, Any]:
    """The create_table arguments (keys, attributes, indexes, billing) of the template's table `table_name`."""
    props = _template_tables()[table_name]
    return {k: props[k] for k in _CREATE_TABLE_KEYS if k in props}


def create_table(table_name: str, *, as_name: str | None = None, region: str = REGION) -> None:
    """Create the template's table `table_name` (under `as_name` if given) on the moto in effect."""
    import boto3  # lazy: keeps boto3 off the import of this module, as moto below

    boto3.client("dynamodb", region_name=region).create_table(TableName=as_name or table_name,
                                                              **table_schema(table_name))


@contextlib.contextmanager
def mocked_aws(monkeypatch: pytest.MonkeyPatch, *, documents_table: str | None = None,
               **variables: str) -> Iterator[None]:
    """Offline AWS (`use_fake_aws`) under moto's `mock_aws`, the gateway's cached clients forgotten on both sides;
    with `documents_table`, the documents table made from the template under that name (and DOCUMENTS_TABLE set),
    and the webhooks FIFO queue its writers publish each change's event to first (issue 14, webhook_outbox)."""
    from moto import mock_aws  # lazy: moto costs ~1 s to import, and end-to-end tests never need it

    if documents_table:
        variables["DOCUMENTS_TABLE"] = documents_table
    use_fake_aws(monkeypatch, **variables)
    aws.reset()
    with mock_aws():
        if documents_table:
            import boto3  # lazy: as create_table

            create_table(settings.DOCUMENTS_TABLE, as_name=documents_table)
            boto3.client("sqs", region_name=REGION).create_queue(
                QueueName=settings.WEBHOOKS_QUEUE, Attributes={"FifoQueue": "true"})
        yield
    aws.reset()
