"""`edoc`, the gateway's command line: for an agency's own document system that scripts its uploads, and for the
province's administrators (issue 10). A client of the public API only: Cognito sign-in, the HTTP routes of
docs/contract.md, the presigned POST straight to S3. It never imports `chalicelib` or `devstack` (pyproject's
import contracts), so what it does any other client can do.

Modules: `target` (which gateway: a profile, or the embedded stack's `.local/stack.json`), `session` (sign-in,
the token cache, refresh, TOTP), `gateway` (HTTP calls, uploads with progress, downloads), `output` (tables or
`--json`), `main` (the command group and exit codes); the commands: `documents`, `batch` (`send-dir`'s run),
`inbox`, `admin`, `webhooks`; `manifest` (metadata for `send-dir`); `bootstrap`, `bootstrap_plan`,
`bootstrap_aws` (`edoc admin bootstrap`, issue 13).
"""
