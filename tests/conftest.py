"""One embedded stack per test session, driven only from outside (HTTP, Cognito, S3, the axis)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.local.client import GatewayClient

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    from chalicelib.local.stack import start_stack

    # A small upload cap so the oversized-upload test stays quick; the production cap is in settings.py.
    handle = start_stack(Path(tmp_path_factory.mktemp("stack")), ports=0,
                         app_env={"MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES)})
    try:
        yield handle.info
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def client(stack) -> GatewayClient:
    return GatewayClient(stack)


@pytest.fixture(scope="session")
def sample_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from chalicelib.local.demo_data import SAMPLES
    from chalicelib.local.sample_pdf import render_text_pdf

    sample = SAMPLES[0]
    return render_text_pdf(sample.metadata["subject"], sample.text(),
                           tmp_path_factory.mktemp("pdf") / "congvan-7413.pdf")
