"""Operations in the template (issue 13): every alarm the runbook explains, on the resource it watches and sent to
the alarm topic; log retention per function; tracing switchable; backpressure on each SQS source; one poller of the
axis at a time; API throttling. Read from each stage's package (the `templates` fixture, tests/support/
stage_packages.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import settings
from chalicelib.core.names import DEPLOYED_STAGES

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ("SignDocument", "DispatchDocument", "PollAxis", "SweepDocuments", "SyncAgencies", "APIHandler")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == kind}


def _alarm(template: dict[str, Any], logical: str) -> dict[str, Any]:
    alarm = template["Resources"][logical]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm", logical
    props = alarm["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], f"{logical} tells nobody"
    return props


def _dimension(props: dict[str, Any]) -> Any:
    (dimension,) = props["Dimensions"]
    return dimension["Value"]


@pytest.fixture(params=DEPLOYED_STAGES)
def template(request: pytest.FixtureRequest, templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates[request.param]


def test_the_alarm_topic_is_encrypted_and_mailed_when_an_address_is_given(template: dict[str, Any]) -> None:
    topic = template["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] and "Stage" in json.dumps(topic["TopicName"])
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "AlarmByEmail" and subscription["Properties"]["Protocol"] == "email"
    assert template["Conditions"]["AlarmByEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


@pytest.mark.parametrize(("logical", "queue"), [("UploadDeadLettersAlarm", "UploadEventsDeadLetterQueue"),
                                                ("DispatchDeadLettersAlarm", "DispatchDeadLetterQueue")])
def test_any_dead_letter_alarms(template: dict[str, Any], logical: str, queue: str) -> None:
    props = _alarm(template, logical)
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert _dimension(props) == {"Fn::GetAtt": [queue, "QueueName"]}
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_an_upload_waiting_past_the_sweep_bound_alarms(template: dict[str, Any]) -> None:
    from chalicelib.domain.sweep_rules import UPLOADED_BOUND_SECONDS

    props = _alarm(template, "OldestUploadAlarm")
    assert props["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert _dimension(props) == {"Fn::GetAtt": ["UploadEventsQueue", "QueueName"]}
    assert props["Threshold"] == UPLOADED_BOUND_SECONDS


def test_poll_axis_failing_n_runs_in_a_row_or_not_running_alarms(template: dict[str, Any]) -> None:
    failing = _alarm(template, "PollAxisFailingAlarm")
    assert (failing["MetricName"], _dimension(failing), failing["Period"]) == ("Errors", {"Ref": "PollAxis"}, 60)
    assert failing["EvaluationPeriods"] == failing["DatapointsToAlarm"] == {"Ref": "PollAxisFailedRuns"}
    assert template["Parameters"]["PollAxisFailedRuns"]["Default"] == 15
    stopped = _alarm(template, "PollAxisStoppedAlarm")
    assert (stopped["MetricName"], stopped["TreatMissingData"]) == ("Invocations", "breaching")


def test_kms_throttling_is_counted_from_the_signers_log_and_alarms(template: dict[str, Any]) -> None:
    metric = template["Resources"]["KmsThrottlingMetric"]["Properties"]
    assert metric["LogGroupName"] == {"Ref": "SignDocumentLogGroup"}
    assert "ThrottlingException" in metric["FilterPattern"]
    (transformation,) = metric["MetricTransformations"]
    props = _alarm(template, "KmsThrottlingAlarm")
    assert (props["Namespace"], props["MetricName"]) == (transformation["MetricNamespace"],
                                                         transformation["MetricName"])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_alarms_on_errors_and_throttles_and_keeps_its_logs(template: dict[str, Any],
                                                                       function: str) -> None:
    for kind in ("Errors", "Throttles"):
        props = _alarm(template, f"{function}{kind}Alarm")
        assert (props["Namespace"], props["MetricName"], _dimension(props)) == ("AWS/Lambda", kind,
                                                                              {"Ref": function})
    group = template["Resources"][f"{function}LogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fn = template["Resources"][function]["Properties"]
    assert fn["LoggingConfig"]["LogGroup"] == {"Ref": f"{function}LogGroup"}, "it logs to the group kept here"
    assert fn["Tracing"] == {"Ref": "Tracing"}


def test_tracing_and_log_retention_are_parameters(template: dict[str, Any]) -> None:
    assert template["Parameters"]["Tracing"]["AllowedValues"] == ["Active", "PassThrough"]
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 365
    api = _of_type(template, "AWS::Serverless::Api")["RestAPI"]["Properties"]
    assert api["TracingEnabled"] == {"Fn::If": ["TracingOn", True, False]}


def test_the_api_is_throttled(template: dict[str, Any]) -> None:
    (setting,) = template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiBurstLimit"}


def test_backpressure_on_each_sqs_source_and_one_poller_of_the_axis(template: dict[str, Any]) -> None:
    """maximum_concurrency on each SQS event source, at most the function's reserved concurrency (docs/scale.md);
    poll_axis reserved at 1 (two polls at once would race for the same envelopes)."""
    expected = {"SignDocument": settings.SIGN_MAX_CONCURRENCY, "DispatchDocument": settings.DISPATCH_MAX_CONCURRENCY}
    for function, limit in expected.items():
        props = template["Resources"][function]["Properties"]
        (event,) = props["Events"].values()
        assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == limit
        assert limit <= props["ReservedConcurrentExecutions"]
    assert template["Resources"]["PollAxis"]["Properties"]["ReservedConcurrentExecutions"] == 1


def test_the_dashboard_shows_the_queues_the_errors_and_kms(template: dict[str, Any]) -> None:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "Errors", "Throttles",
                   "KmsThrottling"):
        assert metric in body, metric
    json.loads(re.sub(r"\$\{[^}]+\}", "x", body))  # well-formed once CloudFormation has substituted it


def test_the_archive_locks_signed_and_inbound_versions_and_expires_only_old_uploads(template: dict[str, Any]) -> None:
    """Object Lock on the bucket, each record written with its own retention (chalicelib/domain/archive.py), the
    retention a parameter every function gets, and a lifecycle that never reaches a record under retention."""
    bucket = template["Resources"]["DocumentsBucket"]["Properties"]
    assert bucket["ObjectLockEnabled"] is True and bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "ObjectLockConfiguration" not in bucket, "no bucket default: it would lock the uploads the signer drops"
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-old-upload-versions"]["Prefix"] == "incoming/"
    assert rules["expire-old-upload-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert not any("ExpirationInDays" in r or "ExpirationDate" in r for r in rules.values()), \
        "no current version expires"
    assert template["Parameters"]["ArchiveRetentionDays"]["Default"] == 3650
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ARCHIVE_RETENTION_DAYS"] == {"Ref": "ArchiveRetentionDays"}
    # who may set a retention, and where: the signer on signed/, the poller on inbound/, nobody else
    grants = {}
    for logical, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "s3:PutObjectRetention" in actions:
                grants[logical] = statement["Resource"]["Fn::Sub"]
            assert "s3:BypassGovernanceRetention" not in actions, logical
    assert grants == {"SignDocumentPolicy": "${DocumentsBucket.Arn}/signed/*",
                      "PollAxisPolicy": "${DocumentsBucket.Arn}/inbound/*"}
    # and point-in-time recovery stays on every table
    for logical, resource in _of_type(template, "AWS::DynamoDB::Table").items():
        assert resource["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, \
            logical
