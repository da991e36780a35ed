"""Fixtures shared by the whole suite: one embedded stack per test session, driven only from outside (HTTP,
Cognito, S3, the axis), and a demo CA per test module. What fixtures build comes from tests/support/."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.client import GatewayClient
from devstack.pki import DemoCA
from tests.support.pki import fresh_ca

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
#: Webhook retries in seconds, not a day (tests/e2e/test_webhooks_e2e.py): attempts 1 s, 2 s, 2 s apart, the 4th
#: failure dead-letters the delivery; a new subscription is seen by every function within 1 s. The production
#: defaults are in chalicelib/core/settings.py.
WEBHOOK_ENV = {"WEBHOOK_BACKOFF_BASE_SECONDS": "1", "WEBHOOK_BACKOFF_CAP_SECONDS": "2", "WEBHOOK_MAX_ATTEMPTS": "4",
               "WEBHOOK_TIMEOUT_SECONDS": "3", "WEBHOOK_SUBSCRIBERS_CACHE_SECONDS": "1"}


@pytest.fixture(scope="session")
def stack_handle(tmp_path_factory: pytest.TempPathFactory):
    """The running stack; `stack_handle.run_schedules()` runs poll_axis now instead of at its next minute."""
    from devstack.stack import start_stack

    # A small upload cap so the oversized-upload test stays quick; the production cap is in settings.py.
    handle = start_stack(Path(tmp_path_factory.mktemp("stack")), ports=0,
                         app_env={"MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES), **WEBHOOK_ENV})
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def stack(stack_handle):
    return stack_handle.info


@pytest.fixture(scope="session")
def client(stack) -> GatewayClient:
    return GatewayClient(stack)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DemoCA:
    """A demo CA of the test module's own (its own directory: what one module revokes, no other sees)."""
    return fresh_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def sample_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from devstack.demo_data import SAMPLES
    from devstack.sample_pdf import render_text_pdf

    sample = SAMPLES[0]
    return render_text_pdf(sample.metadata["subject"], sample.text(),
                           tmp_path_factory.mktemp("pdf") / "congvan-7413.pdf")


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory):
    """A SoftHSM2 token for tests that use PKCS#11 in THIS process (the stacks run their own, in their state dir).

    SoftHSM reads SOFTHSM2_CONF once, when the module is first loaded in a process, so every in-process PKCS#11
    test must share this one token (add keys to it, with labels of their own) instead of making another.
    """
    import os

    from devstack import softhsm

    if not softhsm.available():
        pytest.fail("SoftHSM2 is missing: run .ci/install-system-packages (Debian package softhsm2)")
    token = softhsm.ensure_token(tmp_path_factory.mktemp("softhsm"), "edoc-test")
    os.environ["SOFTHSM2_CONF"] = str(token.conf_path)  # for the rest of the session: the module reads it once
    return token
