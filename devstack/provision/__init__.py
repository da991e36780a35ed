"""Provisioning of the embedded stack's AWS resources on moto, with boto3, one module per kind of resource.

Why boto3 and not moto's CloudFormation: moto's CloudFormation makes symmetric KMS keys only and ignores bucket
notifications (docs/traps.md#moto-cloudformation-limits). So this package creates the same resources as
`infra/resources.yaml`, with the same names and settings (`names`), and `provisioned_resources_summary()` (`summary`)
reads them back in a normalised shape that tests/integration/test_provision_matches_infra.py compares with the template:
if either side drifts, it fails.

Every step is idempotent (look up first, create when missing, then converge settings), so provisioning a running
moto twice gives the same resources. Demo credentials (axis system secrets) persist in `state_dir`, so an outside
client that saved them keeps working across restarts (`credentials`).

The modules: `names` (resource names and settings), `clients` (boto3 on moto, shared look-ups), `storage` (queues,
bucket, tables), `agencies` (registry, KMS signing keys, certificates, seals), `pkcs11` (agencies on SoftHSM2),
`credentials` (axis credentials and their secret), `cognito` (user pool and demo users), `converge` (`provision()`
and the app's environment), `summary` (the read-back).
"""

from devstack.provision.converge import Provisioned, provision
from devstack.provision.credentials import axis_directory, load_or_create_axis_systems
from devstack.provision.names import PKCS11_PIN_SECRET_PREFIX, SOFTHSM_DIR, SOFTHSM_TOKEN_LABEL
from devstack.provision.summary import provisioned_resources_summary, table_keys_summary

__all__ = [
    "PKCS11_PIN_SECRET_PREFIX", "SOFTHSM_DIR", "SOFTHSM_TOKEN_LABEL", "Provisioned", "axis_directory",
    "load_or_create_axis_systems", "provision", "provisioned_resources_summary", "table_keys_summary",
]
