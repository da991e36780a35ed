"""The bill model (tests/bench/bill.py): each line is a measured quantity times its printed unit price."""

from __future__ import annotations

import pytest

from tests.bench.bill import PRICES, estimate, format_bill


def _measured(documents: int = 100) -> dict:
    return {
        "documents": documents,
        "functions": {"sign_document": {"invocations": documents, "billed_ms": 300 * documents, "memory_mb": 1024},
                      "api_handler": {"invocations": 2 * documents, "billed_ms": 40 * documents, "memory_mb": 512},
                      "poll_axis": {"invocations": 0, "billed_ms": 0, "memory_mb": 512}},
        "aws_calls": {"kms:Sign": documents, "kms:DescribeKey": 1, "s3:PutObject": documents,
                      "s3:GetObject": 2 * documents, "s3:HeadObject": documents, "sqs:SendMessage": documents,
                      "sqs:ReceiveMessage": 3 * documents, "dynamodb:PutItem": 2 * documents,
                      "dynamodb:UpdateItem": documents, "dynamodb:TransactWriteItems": documents,
                      "dynamodb:GetItem": 3 * documents, "dynamodb:Query": documents,
                      "secretsmanager:GetSecretValue": 1},
        "transact_items": 2 * documents,
        "api_requests": 2 * documents, "s3_uploads": documents,
        "stored_bytes": 100 * 1024 * documents,
        "dynamodb_item_bytes": 1500,
    }


def _line(lines, service, what_prefix):
    return next(line for line in lines if line.service == service and line.what.startswith(what_prefix))


def test_lambda_gb_seconds_come_from_billed_ms_and_memory():
    lines = estimate(_measured())
    sign = _line(lines, "Lambda", "sign_document")
    assert sign.quantity == pytest.approx(1000 * 0.3 * 1.0)  # 1,000 docs × 300 ms × 1 GB
    assert sign.cost == pytest.approx(300 * PRICES.lambda_gb_second)
    assert not any(line.what.startswith("poll_axis") for line in lines)  # never invoked: no line
    assert _line(lines, "Lambda", "requests").quantity == pytest.approx(3000)


def test_dynamodb_units_round_items_up_and_double_transactions():
    lines = estimate(_measured())
    writes = _line(lines, "DynamoDB", "write units")
    # 1,500 B items = 2 WRU; (2 Put + 1 Update) per doc plain, 2 transact items per doc at double rate
    assert writes.quantity == pytest.approx(1000 * (3 * 2 + 2 * 2 * 2))
    index = _line(lines, "DynamoDB", "index writes")
    assert index.quantity == pytest.approx(1000 * 1 * 3.5 * 2)  # one transaction per doc, 3.5 indexes, 2 WRU items
    reads = _line(lines, "DynamoDB", "read units")
    assert reads.quantity == pytest.approx(1000 * 4)


def test_metered_write_units_replace_the_model_when_the_run_has_them():
    measured = {**_measured(), "write_units": {"writes": 500, "table_wru": 700, "index_wru": 300,
                                               "transactional_writes": 100}}
    lines = estimate(measured)
    writes = _line(lines, "DynamoDB", "write units (metered")
    assert writes.quantity == pytest.approx(7000) and "5000 writes, 1000 in transactions" in writes.what
    assert _line(lines, "DynamoDB", "index writes (metered").quantity == pytest.approx(3000)
    assert not any("modelled" in line.what for line in lines)


def test_kms_sign_is_priced_as_asymmetric_and_s3_reads_apart_from_writes():
    lines = estimate(_measured())
    assert _line(lines, "KMS", "Sign").cost == pytest.approx(1000 * PRICES.kms_asymmetric_request)
    assert _line(lines, "KMS", "other").quantity == pytest.approx(10)  # 1 per 100 docs → 10 per 1,000
    assert _line(lines, "S3", "PUT").quantity == pytest.approx(2000)  # PutObject + the upload POST
    assert _line(lines, "S3", "GET").quantity == pytest.approx(3000)


def test_the_figure_is_per_thousand_whatever_the_run_size():
    def proportional(documents: int) -> dict:
        measured = _measured(documents)
        for once in ("kms:DescribeKey", "secretsmanager:GetSecretValue"):  # once per container, not per document
            del measured["aws_calls"][once]
        return measured

    small = sum(line.cost for line in estimate(proportional(50)))
    large = sum(line.cost for line in estimate(proportional(2000)))
    assert small == pytest.approx(large)


def test_the_table_prints_every_price_it_assumes_and_the_total():
    text = format_bill(estimate(_measured()), agencies=5)
    assert "total per 1,000 documents" in text
    assert "kms_asymmetric_request" in text and "dynamodb_write_unit" in text
    assert "KMS keys: one per agency (5)" in text


def test_no_documents_is_an_error_not_a_zero_bill():
    with pytest.raises(ValueError):
        estimate({**_measured(), "documents": 0})


def test_recipients_sent_to_side_by_side_wait_for_fewer_axis_round_trips():
    from tests.bench.bill import LATENCY_MS, from_load_run

    load = {"N": 10, "calls": {}, "s3": {"bytes": 0},
            "window_functions": {"dispatch_document": {"invocations": 10, "billed_ms": 0}},
            "processes": {"dispatch_document": {"cpu_ms_per_document": 0}}}
    memory = {"dispatch_document": 256}

    def billed(parallel: int) -> float:
        return from_load_run(load, memory, recipients=4, parallel_sends=parallel)["functions"][
            "dispatch_document"]["billed_ms"]

    assert billed(1) == 10 * 4 * LATENCY_MS["axis"] + 10  # one after the other (+ ~1 ms runtime a call)
    assert billed(4) == 10 * 1 * LATENCY_MS["axis"] + 10
    assert billed(3) == 10 * 2 * LATENCY_MS["axis"] + 10  # 4 recipients, 3 at a time: two rounds
