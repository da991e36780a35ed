"""`make deploy`'s last step (infra/web_publish.py, issue 10): web/ and the page's config.json, made from the
stack's outputs, in the stage's web bucket with their content types, then the distribution invalidated."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.moto_tables import REGION, mocked_aws

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))
import web_publish  # noqa: E402  (infra/ holds scripts, not a package)

OUTPUTS = {"WebBucketName": "edoc-gateway-staging-123456789012-ap-southeast-1-web", "WebDistributionId": "E123",
           "EndpointURL": "https://abc.execute-api.ap-southeast-1.amazonaws.com/api/", "UserPoolId": "pool",
           "UserPoolClientId": "client", "WebUrl": "https://d1.cloudfront.net/"}


class Stacks:
    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        assert StackName == "edoc-gateway-staging"
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()]}]}


class Distributions:
    def __init__(self) -> None:
        self.invalidated: list[tuple[str, list[str]]] = []

    def create_invalidation(self, DistributionId: str, InvalidationBatch: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.invalidated.append((DistributionId, InvalidationBatch["Paths"]["Items"]))
        return {"Invalidation": {"Id": "I1"}}


def test_the_page_and_its_configuration_are_published_and_the_cache_invalidated(monkeypatch: pytest.MonkeyPatch):
    import boto3

    with mocked_aws(monkeypatch):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=OUTPUTS["WebBucketName"], CreateBucketConfiguration={"LocationConstraint": REGION})
        cloudfront = Distributions()
        done = web_publish.publish("staging", s3=s3, cfn=Stacks(), cloudfront=cloudfront)
        index = s3.get_object(Bucket=OUTPUTS["WebBucketName"], Key="index.html")
        script = s3.get_object(Bucket=OUTPUTS["WebBucketName"], Key="js/app.js")
        config = json.loads(s3.get_object(Bucket=OUTPUTS["WebBucketName"], Key="config.json")["Body"].read())
    assert index["ContentType"].startswith("text/html") and script["ContentType"].startswith("text/javascript")
    assert config == {"api_url": "https://abc.execute-api.ap-southeast-1.amazonaws.com/api", "region": REGION,
                      "stage": "staging", "cognito": {"endpoint": f"https://cognito-idp.{REGION}.amazonaws.com/",
                                                      "region": REGION, "user_pool_id": "pool", "client_id": "client"}}
    assert cloudfront.invalidated == [("E123", ["/*"])]
    assert done["files"] == len([p for p in (REPO / "web").rglob("*") if p.is_file()]) + 1
