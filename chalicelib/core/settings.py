"""Runtime settings read once per container from environment variables.

Why env vars: Chalice stages (.chalice/config.json), the CloudFormation merge template and the embedded
stack all set the same names, so code never branches on where it runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.core.names import LOCAL_STAGE, stage_names

__all__ = ["AGENCIES_TABLE", "AUDIT_TABLE", "AXIS_MAX_PACKAGE_BYTES", "AXIS_SECRET_NAME", "DISPATCH_DLQ",
    "DISPATCH_MAX_CONCURRENCY", "DISPATCH_QUEUE", "DOCUMENTS_TABLE", "DOWNLOAD_URL_TTL_SECONDS",
    "KPI_TARGET_DEFAULTS", "KPI_TARGET_FIRST_YEAR", "KPI_TARGET_STEP_YEAR", "MAX_UPLOAD_BYTES",
    "SIGN_MAX_CONCURRENCY", "Settings", "UPLOAD_DLQ", "UPLOAD_QUEUE", "UPLOAD_URL_TTL_SECONDS",
    "WEBHOOKS_DLQ", "WEBHOOKS_MAX_CONCURRENCY", "WEBHOOKS_QUEUE", "get_settings"]

#: The embedded stack's resource names (stage `local`; chalicelib.core.names has the rule every stage follows), for
#: app.py's decorators and the stack's provisioning. A deployed function takes its stage's from `STAGE`.
_LOCAL = stage_names(LOCAL_STAGE)
UPLOAD_QUEUE = _LOCAL.upload_queue
UPLOAD_DLQ = _LOCAL.upload_dlq
DISPATCH_QUEUE = _LOCAL.dispatch_queue
DISPATCH_DLQ = _LOCAL.dispatch_dlq
WEBHOOKS_QUEUE = _LOCAL.webhooks_queue
WEBHOOKS_DLQ = _LOCAL.webhooks_dlq
DOCUMENTS_TABLE = _LOCAL.documents_table
AGENCIES_TABLE = _LOCAL.agencies_table
AUDIT_TABLE = _LOCAL.audit_table
AXIS_SECRET_NAME = _LOCAL.axis_secret

#: How many invocations Lambda's SQS pollers run at once per queue (the event source's MaximumConcurrency, issue 11
#: "scale"). Each is at most its function's reserved concurrency in .chalice/config.json: with more pollers than
#: the function may run, Lambda throttles the extra invocations, their messages come back with a higher receive
#: count, and a burst ends in the dead-letter queue; within it a burst waits in the queue (backpressure). Raise
#: both together (README "Scaling"); the test in tests/integration/test_infra.py keeps them in step.
SIGN_MAX_CONCURRENCY = 10
DISPATCH_MAX_CONCURRENCY = 10
#: Webhook deliveries at once (issue 14): receivers are the agencies' own servers, a few requests at a time each.
WEBHOOKS_MAX_CONCURRENCY = 5

#: Upload limits. The presigned POST enforces them on real S3; the signing handler re-checks the object
#: because moto does not enforce presigned conditions (docs/traps.md#moto-presigned-conditions-not-enforced).
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
UPLOAD_URL_TTL_SECONDS = 900
DOWNLOAD_URL_TTL_SECONDS = 300
#: The largest package `getEdoc` may download (decoded bytes); past it the download stops (`package_too_large`).
#: The edXML reader's own package bound (chalicelib.standards.edxml.limits): a 150 MiB upload as base64 plus headroom,
#: and with the decoded attachments still within a Lambda's default 512 MB of /tmp.
AXIS_MAX_PACKAGE_BYTES = 256 * 1024 * 1024

#: The province's targets for the monthly report (issue 9; the seeds: văn bản đi gửi bằng bản điện tử, không gửi
#: bản giấy — sở/ban/ngành and huyện 80% then 90%, xã 75% then 85%; văn bản ký số above 85%). "Then" is read as a
#: step by year: the first share until the year before KPI_TARGET_STEP_YEAR, the second from it on. Per agency level
#: (chalicelib.standards.identifiers.level): level 1 (UBND tỉnh itself) is held to the sở/huyện targets, level 4
#: (units under a xã-level unit) to the xã ones. Only the defaults: an admin changes them with
#: `PUT /v1/admin/reports/targets` (stored in the documents table, chalicelib.admin.reports).
KPI_TARGET_STEP_YEAR = 2026
KPI_TARGET_FIRST_YEAR = 2020
KPI_TARGET_DEFAULTS: dict[str, dict[str, tuple[tuple[int, float], ...]]] = {
    level: {
        "electronic_only": ((KPI_TARGET_FIRST_YEAR, first), (KPI_TARGET_STEP_YEAR, then)),
        "signed": ((KPI_TARGET_FIRST_YEAR, 0.85),),
    }
    for level, (first, then) in {"1": (0.80, 0.90), "2": (0.80, 0.90), "3": (0.75, 0.85), "4": (0.75, 0.85)}.items()
}


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    documents_bucket: str
    documents_table: str
    agencies_table: str
    audit_table: str
    dispatch_queue: str
    upload_queue: str
    axis_secret_name: str
    #: Where this stage's PKCS#11 PINs and KMS signing-key aliases live (chalicelib.core.names).
    pin_secret_prefix: str
    signing_alias_prefix: str
    cognito_user_pool_id: str
    cognito_client_id: str
    #: Where to fetch the JWKS; on real AWS derived from the pool, on moto it names the moto host
    #: (docs/traps.md#moto-cognito-issuer-and-jwks).
    jwks_url: str
    #: Expected `iss` claim; defaults to the AWS form derived from region and pool id.
    token_issuer: str
    max_upload_bytes: int
    #: Public base URL clients use for presigned URLs (the embedded stack's moto endpoint); empty = boto3 default.
    aws_endpoint_url: str
    #: PEM bundle of the roots an uploaded certificate chain must lead to. Empty (the AWS default: Lambda's 4 KB
    #: of environment is too little for a bundle) = the S3 object `trust/roots.pem` in the documents bucket.
    trust_roots_pem: str = ""
    #: PKCS#11 modules (absolute paths, os.pathsep-separated) the gateway may load; the first is the default.
    #: A key's URI naming any other module is refused: loading a library is running its code.
    pkcs11_modules: tuple[str, ...] = ()
    #: RFC 3161 timestamp authority. Empty = PAdES B-B; set = B-T, and B-LT unless `pades_level` says otherwise.
    tsa_url: str = ""
    #: Highest PAdES baseline level wanted: B-B, B-T or B-LT (default: B-LT when a TSA is configured).
    pades_level: str = ""
    #: How long one OCSP/CRL answer about a certificate is reused before signing again (seconds, capped by the
    #: answer's own nextUpdate). Short: a revocation must stop signing within minutes, not hours.
    revocation_cache_seconds: float = 300.0
    #: Redelivery delay after a failed dispatch attempt n (1-based): min(base * 2^(n-1), cap) seconds, jittered
    #: (chalicelib.outbound.dispatch.backoff_seconds). The defaults spread the queue's 5 receives over about 5 minutes.
    dispatch_backoff_base_seconds: int = 20
    dispatch_backoff_cap_seconds: int = 600
    #: Recipients one dispatch sends to at once (env DISPATCH_PARALLEL_SENDS; 1 = one after the other): a document
    #: to 30 agencies waits for 8 axis round trips, not 30 (chalicelib.outbound.dispatch._send_all).
    dispatch_parallel_sends: int = 4
    #: Days a signed document or an inbound package is locked against deletion (S3 Object Lock, governance mode;
    #: env ARCHIVE_RETENTION_DAYS, the template's ArchiveRetentionDays); 0 = not locked (chalicelib.domain.archive).
    archive_retention_days: int = 0
    #: Cap on one downloaded axis package (bytes, env AXIS_MAX_PACKAGE_BYTES); see the constant.
    axis_max_package_bytes: int = AXIS_MAX_PACKAGE_BYTES
    #: Webhooks (issue 14, chalicelib.webhooks): their FIFO queue, the KMS key their signing secrets are encrypted
    #: with (the stage's documents key, by alias), and the delivery rules. `webhook_local_receivers` lets a
    #: subscription name plain http on loopback: only on the embedded stack (env WEBHOOK_LOCAL_RECEIVERS=1 AND
    #: stage `local`; chalicelib.domain.webhook_urls).
    webhooks_queue: str = ""
    webhook_secrets_key: str = ""
    webhook_local_receivers: bool = False
    #: Wait after failed attempt n: min(base * 2^(n-1), cap) s; after `webhook_max_attempts` the delivery is
    #: dead-lettered (the defaults: about a day, chalicelib.domain.webhook_events.backoff_seconds).
    webhook_backoff_base_seconds: int = 30
    webhook_backoff_cap_seconds: int = 14400
    webhook_max_attempts: int = 15
    #: Failed attempts in a row after which a subscription is disabled (0 = never).
    webhook_disable_after_failures: int = 75
    #: How long a rotated-out secret still signs (seconds).
    webhook_secret_grace_seconds: int = 86400
    #: One attempt's connect and read timeouts (seconds).
    webhook_timeout_seconds: float = 10.0
    #: How long an event waits for its write to show before it is dropped as never having happened (seconds).
    webhook_confirm_seconds: int = 120
    #: How long a container trusts its copy of the agencies that subscribe (seconds): no event is published while
    #: none does, so a new subscription gets the events from at most this long after it was made.
    webhook_subscribers_cache_seconds: float = 10.0
    #: The served agency whose axis system calls getAgenciesList for the directory sync (env
    #: AGENCY_DIRECTORY_SYSTEM); empty = the first served system in the axis secret, in code order
    #: (chalicelib.admin.agency_sync). Any registered system may read the national directory.
    agency_directory_system: str = ""
    #: Level-1 codes (e.g. `H62,K62`) whose agencies the sync keeps from the national directory (~100,000 entries;
    #: env AGENCY_SYNC_SCOPE, comma-separated); empty = every entry (the embedded stack's few hundred).
    agency_sync_scope: tuple[str, ...] = ()
    #: Origins of the web page allowed to call the API from a browser (env WEB_ORIGINS, comma-separated, e.g.
    #: `https://d1234.cloudfront.net`; chalicelib.api.cors); empty = no cross-origin caller (issue 10).
    web_origins: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this container; cached because env vars do not change during a Lambda's life."""
    env = os.environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "ap-southeast-1"
    pool = env.get("COGNITO_USER_POOL_ID", "")
    issuer = env.get("TOKEN_ISSUER") or f"https://cognito-idp.{region}.amazonaws.com/{pool}"
    stage = env.get("STAGE", LOCAL_STAGE)
    names = stage_names(stage)
    return Settings(
        stage=stage,
        region=region,
        documents_bucket=env.get("DOCUMENTS_BUCKET", "edoc-gateway-local-documents"),
        documents_table=env.get("DOCUMENTS_TABLE", names.documents_table),
        agencies_table=env.get("AGENCIES_TABLE", names.agencies_table),
        audit_table=env.get("AUDIT_TABLE", names.audit_table),
        dispatch_queue=env.get("DISPATCH_QUEUE", names.dispatch_queue),
        upload_queue=env.get("UPLOAD_QUEUE", names.upload_queue),
        axis_secret_name=env.get("AXIS_SECRET_NAME", names.axis_secret),
        pin_secret_prefix=names.pin_secret_prefix,
        signing_alias_prefix=names.signing_alias_prefix,
        cognito_user_pool_id=pool,
        cognito_client_id=env.get("COGNITO_CLIENT_ID", ""),
        jwks_url=env.get("JWKS_URL") or f"{issuer}/.well-known/jwks.json",
        token_issuer=issuer,
        max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES", str(MAX_UPLOAD_BYTES))),
        aws_endpoint_url=env.get("AWS_ENDPOINT_URL", ""),
        trust_roots_pem=env.get("TRUST_ROOTS", ""),
        pkcs11_modules=tuple(p for p in env.get("PKCS11_MODULES", "").split(os.pathsep) if p),
        tsa_url=env.get("TSA_URL", "").strip(),
        pades_level=env.get("PADES_LEVEL", "").strip().upper(),
        revocation_cache_seconds=float(env.get("REVOCATION_CACHE_SECONDS", "300")),
        dispatch_backoff_base_seconds=int(env.get("DISPATCH_BACKOFF_BASE_SECONDS", "20")),
        dispatch_backoff_cap_seconds=int(env.get("DISPATCH_BACKOFF_CAP_SECONDS", "600")),
        dispatch_parallel_sends=max(1, int(env.get("DISPATCH_PARALLEL_SENDS", "4"))),
        archive_retention_days=int(env.get("ARCHIVE_RETENTION_DAYS", "0")),
        axis_max_package_bytes=int(env.get("AXIS_MAX_PACKAGE_BYTES", str(AXIS_MAX_PACKAGE_BYTES))),
        webhooks_queue=env.get("WEBHOOKS_QUEUE", names.webhooks_queue),
        webhook_secrets_key=env.get("WEBHOOK_SECRETS_KEY", names.documents_key_alias),
        webhook_local_receivers=stage == LOCAL_STAGE and env.get("WEBHOOK_LOCAL_RECEIVERS", "") == "1",
        webhook_backoff_base_seconds=int(env.get("WEBHOOK_BACKOFF_BASE_SECONDS", "30")),
        webhook_backoff_cap_seconds=int(env.get("WEBHOOK_BACKOFF_CAP_SECONDS", "14400")),
        webhook_max_attempts=max(1, int(env.get("WEBHOOK_MAX_ATTEMPTS", "15"))),
        webhook_disable_after_failures=int(env.get("WEBHOOK_DISABLE_AFTER_FAILURES", "75")),
        webhook_secret_grace_seconds=int(env.get("WEBHOOK_SECRET_GRACE_SECONDS", "86400")),
        webhook_timeout_seconds=float(env.get("WEBHOOK_TIMEOUT_SECONDS", "10")),
        webhook_confirm_seconds=int(env.get("WEBHOOK_CONFIRM_SECONDS", "120")),
        webhook_subscribers_cache_seconds=float(env.get("WEBHOOK_SUBSCRIBERS_CACHE_SECONDS", "10")),
        agency_directory_system=env.get("AGENCY_DIRECTORY_SYSTEM", "").strip(),
        agency_sync_scope=tuple(p.strip() for p in env.get("AGENCY_SYNC_SCOPE", "").split(",") if p.strip()),
        web_origins=tuple(p.strip().rstrip("/") for p in env.get("WEB_ORIGINS", "").split(",") if p.strip()),
    )
