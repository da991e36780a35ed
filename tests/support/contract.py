"""The two sides of a repository contract test: the in-memory fake the unit tests use, or the DynamoDB adapter on
moto (the `handler_env` fixture: the embedded stack's own table schema, the Lambda environment set)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["SIDES", "one_side"]

#: The fixture params of a contract test's store.
SIDES = ["in_memory", "dynamodb"]


def one_side(request: pytest.FixtureRequest, fake: Callable[[], Any], adapter: Callable[[], Any]) -> Any:
    """The store for this param: `fake()`, or `adapter()` once moto holds the provisioned tables."""
    if request.param == "in_memory":
        return fake()
    request.getfixturevalue("handler_env")
    return adapter()
