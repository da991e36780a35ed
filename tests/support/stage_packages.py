"""Each deployed stage's template, packaged as `make package STAGE=...` does it (without Lambda wheels: the
template is what the tests read), for tests/integration/test_stage_names.py and test_operations_template.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from chalicelib.core.names import DEPLOYED_STAGES

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "infra"))
import stage_template  # noqa: E402  (infra/ holds scripts, not a package)

__all__ = ["package_stages", "stage_template"]


def package_stages(project: Path, out: Path) -> dict[str, Path]:
    """`{stage: package dir}`: a copy of the project in `project` (an empty requirements.txt keeps Chalice from
    downloading wheels), each stage packaged under `out` in a shell without AWS configuration but the region
    chalice needs, its `Stage` default set (infra/stage_template.py)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "deployments", "deployed")
    shutil.copy(REPO / "app.py", project / "app.py")
    for folder in ("chalicelib", ".chalice", "infra"):
        shutil.copytree(REPO / folder, project / folder, ignore=ignore)
    (project / "requirements.txt").write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_DEFAULT_REGION"] = "ap-southeast-1"
    packages = {}
    for stage in DEPLOYED_STAGES:
        target = out / stage
        proc = subprocess.run([str(BIN / "chalice"), "--project-dir", str(project), "package", "--stage", stage,
                               "--merge-template", str(project / "infra" / "resources.yaml"), str(target)],
                              cwd=project, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"chalice package --stage {stage} failed:\n{proc.stdout}\n{proc.stderr}")
        stage_template.set_stage(target, stage)
        packages[stage] = target
    return packages
