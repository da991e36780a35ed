"""Webhooks (issue 14): agencies' subscriptions, the fan-out of the gateway's events and their signed, retried
delivery to the agencies' own systems (docs/contract.md#webhooks). Above `admin` (it writes audit entries when it
disables a subscription) and below `api`."""
