"""devstack.chaos answers a share of the functions' DynamoDB and S3 calls with AWS's own fault responses.

Run in a child process: the injector patches botocore for the life of the process it is installed in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from devstack.config import REPO_ROOT

_SCRIPT = textwrap.dedent("""
    import json, boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from moto.server import ThreadedMotoServer
    from devstack import chaos

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    kw = dict(endpoint_url=f"http://{host}:{port}", region_name="ap-southeast-1",
              aws_access_key_id="x", aws_secret_access_key="x")
    def ddb(retries):
        return boto3.session.Session().client("dynamodb", config=Config(retries=retries), **kw)
    ddb({"max_attempts": 0}).create_table(
        TableName="t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    chaos.install_from_env({"EDOC_CHAOS_RATE": "0.2", "EDOC_CHAOS_SERVICES": "dynamodb", "EDOC_CHAOS_SEED": "7"})
    patient = ddb({"max_attempts": 8, "mode": "standard"})
    for i in range(60):
        patient.put_item(TableName="t", Item={"k": {"S": str(i)}})
    count = patient.scan(TableName="t")["Count"]
    impatient, codes = ddb({"total_max_attempts": 1, "mode": "standard"}), set()
    for i in range(60):
        try:
            impatient.get_item(TableName="t", Key={"k": {"S": "1"}})
        except ClientError as exc:
            codes.add(exc.response["Error"]["Code"])
    server.stop()
    print(json.dumps({"count": count, "codes": sorted(codes), "stats": chaos.stats()}))
""")


def test_faults_are_aws_answers_that_retries_absorb() -> None:
    out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["count"] == 60  # every write landed: botocore retried each injected fault
    stats = result["stats"]
    injected = sum(v for k, v in stats.items() if not k.endswith(":calls"))
    assert 0.1 < injected / stats["dynamodb:calls"] < 0.3, stats
    # Without retries the gateway sees the faults as AWS sends them, with their own codes.
    assert set(result["codes"]) & {"ProvisionedThroughputExceededException", "InternalFailure",
                                   "ServiceUnavailableException"}, result["codes"]
