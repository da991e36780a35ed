"""Fixtures for integration tests that invoke the Lambda handlers in this process, against moto and the axis
simulator, exactly as Lambda would (`app.<handler>(event, context)` with a real SQS event).

`handler_env` (module scope) starts moto as a ThreadedMotoServer and the axis simulator on free ports, provisions
them with `devstack.provision` (the embedded stack's own provisioning, so the same resources as infra/),
sets the Lambda environment variables BEFORE `app` is imported, and imports `app`. Afterwards it restores
os.environ and forgets every cached client, settings object, JWKS client, signer and axis secret, so tests that
run later in the session (moto-mocked unit tests in particular) see nothing of it.

`HandlerEnv` and the SQS poller it drives (`LambdaQueue`) live in tests/support/handlers.py.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.handlers import HandlerEnv, forget_caches
from tests.support.moto_tables import FOREIGN_AWS_VARIABLES, REGION


@pytest.fixture(scope="module")
def handler_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandlerEnv]:
    """moto + axis simulator + provisioning + the Lambda environment, then `import app` (in that order)."""
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer

    from devstack import moto_fixes
    from devstack.axis_simulator import AxisSimulator
    from devstack.provision import axis_directory, load_or_create_axis_systems, provision

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Isolated transactions, as on DynamoDB: moto's own restore a whole-table copy when one fails, undoing a
    # concurrent worker's lease claim (two signatures in test_concurrent_duplicate_notifications_sign_once).
    moto_fixes.apply()
    saved_environ = os.environ.copy()
    state_dir = tmp_path_factory.mktemp("handlers")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    simulator = None
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        systems = load_or_create_axis_systems(state_dir)
        simulator = AxisSimulator({**systems["served"], **systems["external"]}, axis_directory()).start()
        prov = provision(endpoint, REGION, axis_url=simulator.url, state_dir=state_dir)

        for name in FOREIGN_AWS_VARIABLES:
            os.environ.pop(name, None)
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
            os.environ.pop(name)
        os.environ.update(prov.env)  # as Lambda sets them: before the module is loaded
        forget_caches()
        app = importlib.import_module("app")

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=REGION)
        env = HandlerEnv(
            app=app, endpoint_url=endpoint, provisioned=prov, simulator=simulator, state_dir=state_dir,
            sqs=session.client("sqs", endpoint_url=endpoint),
            s3=session.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4")),
            queue_urls=dict(prov.queue_urls), bucket=prov.bucket,
        )
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        with contextlib.suppress(Exception):
            forget_caches()
        if simulator is not None:
            simulator.stop()
        moto.stop()


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each deployed stage's package (tests/support/stage_packages.py), once a session."""
    from tests.support.stage_packages import package_stages

    return package_stages(tmp_path_factory.mktemp("project"), tmp_path_factory.mktemp("stage-packages"))


@pytest.fixture(scope="session")
def templates(packages: dict[str, Path]) -> dict[str, dict[str, Any]]:
    from tests.support.stage_packages import stage_template

    return {stage: stage_template.load(path) for stage, path in packages.items()}
