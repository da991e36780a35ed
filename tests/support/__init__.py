"""The test suite's one shared home for builders and constants (issue 7: "tests follow the areas").

Test modules import from here, never from each other: `organs` (the agencies tests speak of), `moto_tables`
(offline AWS and DynamoDB tables built from infra/resources.yaml, the schema provisioning is checked against),
`pki` (signing identities and a competent person's signature), `documents` (PDFs and registration metadata),
`packages` (edXML packages as other agencies' systems write them), `axis` (the axis as an external agency and
the simulator's control API), `handlers` (the Lambda handlers invoked in this process, with their SQS poller) and
`records` (what those handlers wrote to S3 and DynamoDB, read back).
Fixtures live in the conftest.py files; what they build comes from here.
"""
