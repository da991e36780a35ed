"""Every named AWS resource of one stage (issue 13: stages side by side in one account).

Why one rule in one place: the names are spelled three times, by the deployed template (infra/resources.yaml,
`!Sub edoc-${Stage}-...`), by the functions at run time (chalicelib.core.settings, from the `STAGE` variable) and by
the embedded stack's provisioning (devstack/provision, stage `local`); tests/integration/test_stage_names.py holds
the template to this rule for every stage and checks that two stages share no name. Every name carries the stage,
so `dev`, `staging` and `prod` (and the embedded `local`) never touch each other's tables, queues, secrets, keys
or aliases. What is named per account and region elsewhere: the bucket (`edoc-gateway-<stage>-<account>-<region>-
documents`, in the template and the functions' `DOCUMENTS_BUCKET`), the functions and their log groups
(`edoc-gateway-<stage>-<function>`, Chalice's app name and stage).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEPLOYED_STAGES", "LOCAL_STAGE", "StageNames", "stage_names"]

#: The stages `make package STAGE=...` builds (.chalice/config.json has each), and the embedded stack's.
DEPLOYED_STAGES = ("dev", "staging", "prod")
LOCAL_STAGE = "local"


@dataclass(frozen=True)
class StageNames:
    """The names of one stage's resources."""

    stage: str

    @property
    def documents_table(self) -> str:
        return f"edoc-{self.stage}-documents"

    @property
    def agencies_table(self) -> str:
        return f"edoc-{self.stage}-agencies"

    @property
    def audit_table(self) -> str:
        """The audit trail (issue 9): append-only, a hash chain per agency (chalicelib.domain.audit)."""
        return f"edoc-{self.stage}-audit"

    @property
    def upload_queue(self) -> str:
        return f"edoc-{self.stage}-upload-events"

    @property
    def upload_dlq(self) -> str:
        return f"edoc-{self.stage}-upload-events-dlq"

    @property
    def dispatch_queue(self) -> str:
        return f"edoc-{self.stage}-dispatch"

    @property
    def dispatch_dlq(self) -> str:
        return f"edoc-{self.stage}-dispatch-dlq"

    @property
    def webhooks_queue(self) -> str:
        """Webhook events and deliveries (issue 14): FIFO, so a document's events reach each receiver in order."""
        return f"edoc-{self.stage}-webhooks.fifo"

    @property
    def webhooks_dlq(self) -> str:
        return f"edoc-{self.stage}-webhooks-dlq.fifo"

    @property
    def axis_secret(self) -> str:
        """The axis credentials (endpoint, each served system's secret)."""
        return f"edoc-gateway/{self.stage}/axis"

    @property
    def pin_secret_prefix(self) -> str:
        """Where PKCS#11 PINs live (`<prefix><code>`); the IAM policies grant nothing else."""
        return f"edoc-gateway/{self.stage}/pkcs11/"

    @property
    def signing_alias_prefix(self) -> str:
        """KMS aliases of the agencies' signing keys (`<prefix><code>[/<key_ref>]`)."""
        return f"alias/edoc-sign/{self.stage}/"

    @property
    def documents_key_alias(self) -> str:
        """The documents bucket's KMS key."""
        return f"alias/edoc-gateway/{self.stage}/documents"

    @property
    def user_pool(self) -> str:
        return f"edoc-gateway-{self.stage}"


def stage_names(stage: str) -> StageNames:
    """The names of `stage` (lower-case letters and digits: they go into S3, SQS, DynamoDB and KMS names)."""
    if not stage or not stage.isalnum() or not stage.islower():
        raise ValueError(f"a stage is lower-case letters and digits, not {stage!r}")
    return StageNames(stage)
