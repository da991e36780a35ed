"""One structured logger for the gateway (powertools: JSON lines with the Lambda context).

Never log document contents, tokens or secrets: ids, states, sizes and reason codes only.
"""

from aws_lambda_powertools import Logger

__all__ = ["logger"]

logger = Logger(service="edoc-gateway")
