"""`provision()`: every resource of the embedded stack, in dependency order, and the environment the app gets.

Why one entry point: the stack, the integration tests and the consistency test with infra/ must all get the same
resources and the same app environment; each step is idempotent, so running it against a running moto converges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.core import settings
from devstack import demo_data
from devstack.provision.agencies import provision_agencies
from devstack.provision.clients import FAKE_CREDENTIALS, Clients, pem
from devstack.provision.cognito import admin_totp_secrets, provision_cognito, token_issuer
from devstack.provision.credentials import load_or_create_axis_systems, provision_axis_secret
from devstack.provision.iam import FunctionRole, assume_function_roles, provision_function_roles
from devstack.provision.names import BUCKET_KEY_ALIAS, BUCKET_NAME, STAGE
from devstack.provision.pkcs11 import provision_pkcs11_agencies
from devstack.provision.storage import provision_bucket, provision_queues, provision_tables

__all__ = ["Provisioned", "provision"]


@dataclass(frozen=True)
class Provisioned:
    """What provisioning made, and everything a client or the app needs to find it."""

    endpoint_url: str
    region: str
    bucket: str
    documents_table: str
    agencies_table: str
    queue_urls: dict[str, str]
    user_pool_id: str
    client_id: str
    jwks_url: str
    token_issuer: str
    axis_url: str
    #: organ_id → signing key id (KMS key ARN, or PKCS#11 URI for agencies on SoftHSM), for every served agency.
    signing_keys: dict[str, str]
    #: system_id (= organ_id) → secret on the axis, for the agencies this gateway serves (in Secrets Manager).
    axis_systems_served: dict[str, str]
    #: The same for EXTERNAL agencies: handed to outside clients, never to the gateway.
    axis_systems_external: dict[str, str]
    users: list[dict[str, Any]]
    ca_root_pem: str
    #: Environment variables for the app (settings.py names), moto endpoint and fake credentials included.
    env: dict[str, str] = field(default_factory=dict)
    #: function → its role (made from infra/resources.yaml), when provisioned with `functions`.
    roles: dict[str, FunctionRole] = field(default_factory=dict)
    #: function → AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN of a session of its role.
    function_credentials: dict[str, dict[str, str]] = field(default_factory=dict)


def _app_environment(endpoint_url: str, region: str, *, pool_id: str, client_id: str, jwks_url: str, issuer: str,
                     root_pem: str, hsm_env: dict[str, str], pki: dict[str, str] | None) -> dict[str, str]:
    """The app's environment variables (settings.py names) for this account, as the deployed stage sets them."""
    return {
        "STAGE": STAGE,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
        **FAKE_CREDENTIALS,
        "DOCUMENTS_BUCKET": BUCKET_NAME,
        "DOCUMENTS_TABLE": settings.DOCUMENTS_TABLE,
        "AGENCIES_TABLE": settings.AGENCIES_TABLE,
        "AUDIT_TABLE": settings.AUDIT_TABLE,
        "DISPATCH_QUEUE": settings.DISPATCH_QUEUE,
        "UPLOAD_QUEUE": settings.UPLOAD_QUEUE,
        "AXIS_SECRET_NAME": settings.AXIS_SECRET_NAME,
        "COGNITO_USER_POOL_ID": pool_id,
        "COGNITO_CLIENT_ID": client_id,
        "JWKS_URL": jwks_url,
        "TOKEN_ISSUER": issuer,
        "MAX_UPLOAD_BYTES": str(settings.MAX_UPLOAD_BYTES),
        # The axis package bound (issue 8, main's settings); the value .chalice/config.json gives every stage.
        "AXIS_MAX_PACKAGE_BYTES": str(getattr(settings, "AXIS_MAX_PACKAGE_BYTES", 256 * 1024 * 1024)),
        # Uploaded certificate chains must lead to the demo root (the admin key API checks them against it).
        "TRUST_ROOTS": root_pem,
        "PKCS11_MODULES": "",
        **hsm_env,
        # PAdES level: B-LT with the local PKI's TSA, OCSP and CRL; a short revocation cache so a certificate
        # revoked while the stack runs is refused within seconds.
        "TSA_URL": (pki or {}).get("tsa_url", ""),
        "PADES_LEVEL": "B-LT" if pki else "B-B",
        "REVOCATION_CACHE_SECONDS": "2" if pki else "300",
        # Production's dispatch backoff (tests that inject faults shorten it through the stack's app_env).
        "DISPATCH_BACKOFF_BASE_SECONDS": "20",
        "DISPATCH_BACKOFF_CAP_SECONDS": "600",
        # Recipients one dispatch sends to at once (chalicelib.outbound.dispatch._send_all), as deployed.
        "DISPATCH_PARALLEL_SENDS": "4",
        # Webhooks (issue 14): the FIFO queue, and plain http to loopback receivers (honoured on stage local only,
        # chalicelib.core.settings); production's backoff unless a test's app_env shortens it.
        "WEBHOOKS_QUEUE": settings.WEBHOOKS_QUEUE,
        "WEBHOOK_LOCAL_RECEIVERS": "1",
        "WEBHOOK_SECRETS_KEY": BUCKET_KEY_ALIAS,
        "WEBHOOK_BACKOFF_BASE_SECONDS": "30",
        "WEBHOOK_BACKOFF_CAP_SECONDS": "14400",
        "WEBHOOK_MAX_ATTEMPTS": "15",
        "WEBHOOK_DISABLE_AFTER_FAILURES": "75",
        "WEBHOOK_SECRET_GRACE_SECONDS": "86400",
        "WEBHOOK_TIMEOUT_SECONDS": "10",
        "WEBHOOK_CONFIRM_SECONDS": "120",
        "WEBHOOK_SUBSCRIBERS_CACHE_SECONDS": "10",
        # Signed documents and inbound packages locked (chalicelib.domain.archive), for a day here: the code path
        # of production's ArchiveRetentionDays, on moto's Object Lock.
        "ARCHIVE_RETENTION_DAYS": "1",
        # The directory sync (issue 9): the first served system calls getAgenciesList; every entry is kept (the
        # simulator's directory is a few hundred agencies under the demo provinces).
        "AGENCY_DIRECTORY_SYSTEM": "",
        "AGENCY_SYNC_SCOPE": "",
        # The web page's origin (chalicelib.api.cors): the stack sets it once its web server has a port.
        "WEB_ORIGINS": "",
    }


def provision(endpoint_url: str, region: str, *, axis_url: str, state_dir: Path,
              pkcs11_agencies: Iterable[str] = (), pki: dict[str, str] | None = None,
              credentials: dict[str, str] | None = None, functions: Iterable[str] = (),
              bare: bool = False) -> Provisioned:
    """Create (or converge) every resource of the embedded stack on the moto server at `endpoint_url`.

    `pkcs11_agencies`: served demo agencies that sign through PKCS#11 on a SoftHSM2 token instead of KMS.
    `pki`: the local PKI's URLs (`LocalPki.urls`): certificates name its OCSP responder and CRL, and the app signs
    at PAdES B-LT with its timestamp authority. Without it, B-B.
    `credentials`: the admin's (`iam.admin_credentials`) when moto enforces IAM. `functions`: make one role per
    function from infra/resources.yaml's policies (`iam.provision_function_roles`) and a session of each.
    `bare`: only what the deployed template creates (queues, bucket, tables, the user pool and its client, the
    roles): no agencies, keys, seals, axis secret, trust roots or users. It is the AWS account right after
    `make deploy`, which `edoc admin bootstrap` (issue 13) starts from.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    c = Clients(endpoint_url, region, credentials)
    queue_urls = provision_queues(c)
    provision_bucket(c, region, queue_urls[settings.UPLOAD_QUEUE])
    provision_tables(c)
    systems = load_or_create_axis_systems(state_dir)
    if bare:
        signing_keys, root_pem, hsm_env = {}, _demo_root_pem(state_dir), {}
    else:
        signing_keys, root_pem = provision_agencies(c, state_dir, pki)
        hsm_keys, hsm_env = provision_pkcs11_agencies(c, state_dir, pkcs11_agencies)
        signing_keys.update(hsm_keys)
        provision_axis_secret(c, axis_url, systems["served"])
    pool_id, client_id = provision_cognito(c, users=not bare)
    issuer = token_issuer(c, client_id, pool_id=pool_id if bare else None)
    totp = {} if bare else admin_totp_secrets(c, pool_id, client_id)  # admins need MFA (chalicelib.api.mfa)
    jwks_url = f"{endpoint_url.rstrip('/')}/{pool_id}/.well-known/jwks.json"
    functions = list(functions)
    roles = (provision_function_roles(c, functions, region, bucket=BUCKET_NAME,
                                      admin_arn=c.iam.get_user()["User"]["Arn"]) if functions else {})
    function_credentials = assume_function_roles(c, roles) if roles else {}
    env = _app_environment(endpoint_url, region, pool_id=pool_id, client_id=client_id, jwks_url=jwks_url,
                           issuer=issuer, root_pem="" if bare else root_pem, hsm_env=hsm_env, pki=pki)
    return Provisioned(
        roles=roles, function_credentials=function_credentials,
        endpoint_url=endpoint_url, region=region, bucket=BUCKET_NAME,
        documents_table=settings.DOCUMENTS_TABLE, agencies_table=settings.AGENCIES_TABLE,
        queue_urls=queue_urls, user_pool_id=pool_id, client_id=client_id, jwks_url=jwks_url,
        token_issuer=issuer, axis_url=axis_url, signing_keys=signing_keys,
        axis_systems_served=dict(systems["served"]), axis_systems_external=dict(systems["external"]),
        users=[{**asdict(u), **({'totp_secret': totp[u.username]} if u.username in totp else {})}
               for u in ([] if bare else demo_data.USERS)], ca_root_pem=root_pem, env=env,
    )


def _demo_root_pem(state_dir: Path) -> str:
    """The demo CA's root (the CA that will certify the bootstrapped keys), without provisioning anything."""
    from devstack.pki import DemoCA  # lazy: cryptography is loaded only when provisioning runs

    return pem(DemoCA.load_or_create(Path(state_dir) / "pki").root_cert_pem)
