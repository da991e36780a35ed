"""The command line spells a few of the gateway's names itself (it never imports the gateway: pyproject's import
contracts): the axis secret and the stack of each stage. Held here to the one rule (chalicelib.core.names,
infra/deploy.py), so a renamed resource fails this test instead of a province's bootstrap."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from chalicelib.core.names import DEPLOYED_STAGES, LOCAL_STAGE, stage_names
from edoc_cli import bootstrap_aws

REPO = Path(__file__).resolve().parents[2]


def _deploy_module():
    spec = importlib.util.spec_from_file_location("infra_deploy", REPO / "infra" / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("stage", [*DEPLOYED_STAGES, LOCAL_STAGE])
def test_the_command_lines_names_are_the_gateways(stage: str) -> None:
    assert bootstrap_aws.axis_secret_name(stage) == stage_names(stage).axis_secret
    assert bootstrap_aws.stack_name(stage) == _deploy_module().stack_name(stage)


def test_the_admin_group_is_the_one_the_api_checks() -> None:
    source = (REPO / "chalicelib" / "api" / "auth.py").read_text(encoding="utf-8")
    assert f'is_admin="{bootstrap_aws.ADMIN_GROUP}" in groups' in source
