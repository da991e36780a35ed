"""Stages side by side in one account (issue 13, acceptance 1): each stage's package (`make package STAGE=...`, the
`packages` and `templates` fixtures of tests/integration/conftest.py:
Chalice's SAM output for the stage, merged with infra/resources.yaml, its `Stage` default set by
infra/stage_template.py) passes cfn-lint and checkov, every named resource carries its stage and is the name the
functions derive at run time (chalicelib.core.names), and no two stages share a name."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.names import DEPLOYED_STAGES, stage_names
from tests.support.stage_packages import stage_template

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_each_stage_template_passes_cfn_lint(packages: dict[str, Path], stage: str) -> None:
    proc = subprocess.run([str(BIN / "cfn-lint"), "-c", "I", "--", str(packages[stage] / "sam.yaml")],
                          capture_output=True, text=True, timeout=300)  # informational checks included
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("stage", [s for s in DEPLOYED_STAGES if s != "prod"])  # prod: test_infra.py's checkov
def test_each_stage_template_passes_checkov(packages: dict[str, Path], stage: str) -> None:
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: `make test` installs it (.venv-checkov, requirements-checkov.txt)")
    proc = subprocess.run([str(CHECKOV), "-f", str(packages[stage] / "sam.yaml"), "--framework", "cloudformation",
                           "--compact", "--quiet", "--output", "json", "--skip-download"], capture_output=True,
                          text=True, timeout=600)
    summary = json.loads(proc.stdout)["summary"]
    assert proc.returncode == 0 and summary["failed"] == 0 and summary["parsing_errors"] == 0, summary


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_every_name_carries_its_stage_and_is_the_runtime_rule(templates: dict[str, dict[str, Any]],
                                                             stage: str) -> None:
    template = templates[stage]
    assert template["Parameters"]["Stage"]["Default"] == stage, "the package deploys the stage it was built for"
    named = {logical: name for logical, (_, name) in stage_template.named_resources(template).items() if name}
    assert named, "no named resource found"
    assert all(stage in name for name in named.values()), {k: v for k, v in named.items() if stage not in v}
    names = stage_names(stage)
    assert {named[k] for k in ("DocumentsTable", "AgenciesTable", "AuditTable")} == {
        names.documents_table, names.agencies_table, names.audit_table}
    assert {named[k] for k in ("UploadEventsQueue", "UploadEventsDeadLetterQueue", "DispatchQueue",
                               "DispatchDeadLetterQueue")} == {
        names.upload_queue, names.upload_dlq, names.dispatch_queue, names.dispatch_dlq}
    assert named["DocumentsKeyAlias"] == names.documents_key_alias and named["UserPool"] == names.user_pool
    # the functions derive those names from STAGE, which is the parameter
    assert template["Globals"]["Function"]["Environment"]["Variables"]["STAGE"] == {"Ref": "Stage"}


def test_two_stages_share_no_resource_name(templates: dict[str, dict[str, Any]]) -> None:
    names = {stage: {name for _, name in stage_template.named_resources(t).values() if name}
             for stage, t in templates.items()}
    for a, b in itertools.combinations(DEPLOYED_STAGES, 2):
        assert not names[a] & names[b], f"{a} and {b} share {sorted(names[a] & names[b])}"


def test_policies_reach_only_their_own_stages_secrets_and_aliases(templates: dict[str, dict[str, Any]]) -> None:
    """What IAM grants by name (secrets, signing-key aliases) is under the stage's own prefix: a staging function
    cannot read prod's axis credentials or PINs, nor move prod's aliases."""
    template = templates["prod"]
    for logical, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for target in targets:
                text = json.dumps(target)
                if "edoc-gateway/" in text or "alias/edoc-sign/" in text:
                    assert "${Stage}" in text, f"{logical}.{statement.get('Sid')}: {text}"


@pytest.mark.parametrize(("stage", "level", "tsa"), [("dev", "B-B", False), ("staging", "B-LT", True),
                                                     ("prod", "B-LT", True)])
def test_each_stage_signs_at_its_level(templates: dict[str, dict[str, Any]], stage: str, level: str,
                                       tsa: bool) -> None:
    """Production signs at B-LT with a configured TSA (DESIGN.md: B-LT when validation data can be fetched)."""
    for logical, resource in templates[stage]["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables["PADES_LEVEL"] == level and bool(variables["TSA_URL"]) is tsa, logical
