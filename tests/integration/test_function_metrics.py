"""The function processes' metrics file (devstack.function_metrics; issue 11 "Shared file format"): written by the
event pump's invocations and the API server's requests, with the fields `make bench` and `make bench-load` read.

No stack: a small Chalice app, the pump with a stand-in SQS client (no poller thread), the API on chalice.local.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from chalice import Chalice, Rate

from devstack import chalice_app
from devstack.function_metrics import FunctionMetrics, metrics_path
from devstack.pump import EventPump

FIELDS = {"function", "pid", "instance", "import_app", "first_work", "invocations", "records", "duration_ms",
          "billed_ms", "cpu_ms", "peak_rss_mb"}
FIRST_WORK = {"cpu_ms", "wall_ms", "invocation_cpu_ms", "invocation_wall_ms", "what"}


class _Sqs:
    """What EventPump asks of SQS outside its poll loop."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:  # noqa: N803 - boto3's names
        return {"QueueUrl": f"http://sqs.local/{QueueName}"}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:ap-southeast-1:123456789012:{QueueUrl.rsplit('/', 1)[1]}"}}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        self.deleted += [e["ReceiptHandle"] for e in Entries]
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def _app() -> Chalice:
    app = Chalice(app_name="metrics-test")
    gateway_log = logging.getLogger("edoc-gateway")

    @app.on_sqs_message(queue="uploads", batch_size=10)
    def sign_document(event: Any) -> dict:
        for record in event:
            if record.body == "sign":
                gateway_log.info("document signed")
        return {"batchItemFailures": []}

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def poll_axis(event: Any) -> dict:
        return {}

    @app.route("/v1/thing")
    def thing() -> dict:
        return {"ok": True}

    return app


def _message(n: int, body: str) -> dict[str, Any]:
    return {"MessageId": f"m-{n}", "ReceiptHandle": f"r-{n}", "Body": body, "MD5OfBody": "x",
            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"}}


def _read(directory: Path, function: str) -> dict[str, Any]:
    return json.loads(metrics_path(directory, function).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _gateway_log_at_info():
    logger = logging.getLogger("edoc-gateway")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


def test_a_pumped_function_writes_its_metrics_and_its_first_work_is_the_first_signature(tmp_path):
    metrics = FunctionMetrics(tmp_path, "sign_document", instance=2)
    app = _app()
    metrics.mark_app_loaded()
    pump = EventPump(app, sqs=_Sqs(), region="ap-southeast-1", function_settings=lambda name: (512, 60),
                     functions={"sign_document"}, metrics=metrics)
    source = pump.sqs_sources[0]

    pump.invoke_sqs(source, [_message(1, "s3:TestEvent")])  # an invocation that signs nothing
    after_one = metrics.snapshot()
    assert after_one["first_work"] is None and after_one["invocations"] == 1

    pump.invoke_sqs(source, [_message(2, "sign"), _message(3, "other")])
    metrics.close()
    data = _read(tmp_path, "sign_document")
    assert set(data) == FIELDS
    assert (data["function"], data["pid"], data["instance"]) == ("sign_document", os.getpid(), 2)
    assert data["invocations"] == 2 and data["records"] == 3
    assert set(data["import_app"]) == {"cpu_ms", "wall_ms"}
    first = data["first_work"]
    assert set(first) == FIRST_WORK and first["what"] == "document signed"
    assert first["wall_ms"] >= first["invocation_wall_ms"] >= 0 and first["cpu_ms"] >= first["invocation_cpu_ms"]
    assert first["wall_ms"] >= data["import_app"]["wall_ms"]
    assert data["billed_ms"] >= 2 and data["billed_ms"] >= int(data["duration_ms"])
    assert data["cpu_ms"] > 0 and data["peak_rss_mb"] > 10


def test_a_scheduled_function_works_on_its_first_run(tmp_path):
    metrics = FunctionMetrics(tmp_path, "poll_axis")
    pump = EventPump(_app(), sqs=_Sqs(), region="ap-southeast-1", function_settings=lambda name: (256, 60),
                     functions={"poll_axis"}, metrics=metrics)
    pump.invoke_scheduled(pump.schedules[0])
    metrics.close()
    data = _read(tmp_path, "poll_axis")
    assert data["first_work"]["what"] == "scheduled run" and data["invocations"] == 1 and data["instance"] == 0


def test_the_api_works_on_its_first_2xx_answer_to_a_request_with_a_bearer_token(tmp_path):
    metrics = FunctionMetrics(tmp_path, "api_handler")
    server = chalice_app.ApiServer(_app(), chalice_app.read_config(), "127.0.0.1", 0, metrics=metrics)
    try:
        urllib.request.urlopen(f"{server.url}/v1/thing").read()  # no token: not the API's work
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(urllib.request.Request(f"{server.url}/v1/nothing",
                                                          headers={"Authorization": "Bearer x"}))
        assert metrics.snapshot()["first_work"] is None
        urllib.request.urlopen(urllib.request.Request(f"{server.url}/v1/thing?x=1",
                                                      headers={"Authorization": "Bearer x"})).read()
    finally:
        server.stop()
    metrics.close()
    data = _read(tmp_path, "api_handler")
    assert data["invocations"] == 3 and data["records"] == 3
    assert data["first_work"]["what"] == "GET /v1/thing 200"
