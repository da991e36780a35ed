#!/usr/bin/env python
"""Publish the web page (issue 10) to a deployed stage: web/ and its config.json into the stage's web bucket, then
an invalidation of the CloudFront distribution, so browsers get the new files.

    python infra/web_publish.py STAGE [--web-dir web]

Run by `make deploy` after the stack is deployed (docs/operations.md#web-page). `config.json` is the page's runtime
configuration, the same keys the embedded stack serves at `/config.json` (devstack/web_server.py): the API's URL
(the stack's `EndpointURL`, the `/api` stage), the region, and the Cognito user pool and app client, with Cognito's
own endpoint (`https://cognito-idp.<region>.amazonaws.com/`, which answers browsers' CORS itself). The files are
uploaded with their content types and `Cache-Control: no-cache` (revalidated at each load: a deploy is seen at
once; CloudFront still answers from its cache until the invalidation is done).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "page_config", "publish"]

REPO = Path(__file__).resolve().parents[1]
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".json": "application/json; charset=utf-8", ".svg": "image/svg+xml"}


def page_config(outputs: dict[str, str], region: str, stage: str) -> dict[str, Any]:
    """config.json from the stack's outputs."""
    return {"api_url": outputs["EndpointURL"].rstrip("/"), "region": region, "stage": stage,
            "cognito": {"endpoint": f"https://cognito-idp.{region}.amazonaws.com/", "region": region,
                        "user_pool_id": outputs["UserPoolId"], "client_id": outputs["UserPoolClientId"]}}


def stack_outputs(cfn: Any, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def publish(stage: str, *, s3: Any, cfn: Any, cloudfront: Any, web_dir: Path = REPO / "web") -> dict[str, Any]:
    """Upload `web_dir` and config.json to the stage's web bucket and invalidate its distribution; returns
    `{"bucket", "files", "url", "invalidation"}`."""
    outputs = stack_outputs(cfn, f"edoc-gateway-{stage}")
    bucket = outputs["WebBucketName"]
    files = sorted(p for p in web_dir.rglob("*") if p.is_file())
    for path in files:
        key = path.relative_to(web_dir).as_posix()
        content_type = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type,
                      CacheControl="no-cache")
    config = page_config(outputs, s3.meta.region_name, stage)
    s3.put_object(Bucket=bucket, Key="config.json", Body=json.dumps(config, ensure_ascii=False).encode("utf-8"),
                  ContentType=TYPES[".json"], CacheControl="no-store")
    invalidation = cloudfront.create_invalidation(DistributionId=outputs["WebDistributionId"], InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"edoc-{stage}-{time.time_ns()}"})
    return {"bucket": bucket, "files": len(files) + 1, "url": outputs.get("WebUrl", ""),
            "invalidation": invalidation["Invalidation"]["Id"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("stage")
    parser.add_argument("--web-dir", type=Path, default=REPO / "web")
    args = parser.parse_args(argv)
    import boto3  # lazy: --help works without it

    done = publish(args.stage, s3=boto3.client("s3"), cfn=boto3.client("cloudformation"),
                   cloudfront=boto3.client("cloudfront"), web_dir=args.web_dir)
    print(f"web page: {done['files']} files in s3://{done['bucket']}/, invalidation {done['invalidation']}: "
          f"{done['url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
