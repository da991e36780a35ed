"""Faults injected into the functions' own AWS calls, for the chaos run (`make chaos`): throttling and 5xx.

Why at botocore's `before-send` and not in moto: a real AWS fault reaches the gateway as an HTTP answer to one
request, which botocore's retry handler (standard mode, `chalicelib.adapters.aws`) sees and retries, and which the
gateway's own code sees when the retries run out. Answering `before-send` with such a response is exactly that: the
request never reaches moto, the answer is the one AWS documents for the fault, and everything above (retries,
conditional writes, SQS redelivery, leases) runs unchanged. Development and test only; `chalicelib` never imports
`devstack`.

Installed in a function's process by the stack when `EDOC_CHAOS_RATE` is set (e.g. `0.1`: one call in ten fails),
for the services in `EDOC_CHAOS_SERVICES` (default `dynamodb,s3`). Counts go to `stats()`, and, when
`EDOC_CHAOS_STATS_FILE` names a file, to that file after every injected fault (a process the chaos run SIGKILLs
keeps what it counted until then), for the run's report (`devstack.chaos_run`).
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections import Counter
from typing import Any

__all__ = ["FAULTS", "Fault", "install", "install_from_env", "stats"]

RATE_ENV = "EDOC_CHAOS_RATE"
SERVICES_ENV = "EDOC_CHAOS_SERVICES"
SEED_ENV = "EDOC_CHAOS_SEED"
STATS_FILE_ENV = "EDOC_CHAOS_STATS_FILE"


class Fault:
    """One kind of AWS fault: the HTTP status, headers and body a service answers with."""

    def __init__(self, name: str, status: int, body: dict[str, bytes], headers: dict[str, dict[str, str]]) -> None:
        self.name, self.status, self._body, self._headers = name, status, body, headers

    def body(self, service: str) -> bytes:
        return self._body[service]

    def headers(self, service: str) -> dict[str, str]:
        return self._headers[service]


_JSON = {"content-type": "application/x-amz-json-1.0"}
_XML = {"content-type": "application/xml"}

#: The faults AWS documents for these services under load or failure, as the wire carries them.
FAULTS = (
    Fault("throttling", 400, {
        "dynamodb": b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
                    b'"message":"chaos: throughput exceeded"}',
        "s3": b"<Error><Code>SlowDown</Code><Message>chaos: slow down</Message></Error>",
    }, {"dynamodb": _JSON, "s3": _XML}),
    Fault("internal_error", 500, {
        "dynamodb": b'{"__type":"com.amazon.coral.service#InternalFailure","message":"chaos: internal failure"}',
        "s3": b"<Error><Code>InternalError</Code><Message>chaos: internal error</Message></Error>",
    }, {"dynamodb": _JSON, "s3": _XML}),
    Fault("unavailable", 503, {
        "dynamodb": b'{"__type":"com.amazon.coral.service#ServiceUnavailableException","message":"chaos"}',
        "s3": b"<Error><Code>ServiceUnavailable</Code><Message>chaos: unavailable</Message></Error>",
    }, {"dynamodb": _JSON, "s3": _XML}),
)

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_installed = False


def stats() -> dict[str, int]:
    """Calls seen and faults injected so far in this process, by `<service>:<fault>` and `<service>:calls`."""
    with _lock:
        return dict(_counts)


def _fault_response(request: Any, service: str, fault: Fault) -> Any:
    from botocore.awsrequest import AWSResponse  # lazy: only a chaos run has botocore loaded for this

    class _Raw:
        def __init__(self, data: bytes) -> None:
            self._data = data

        def stream(self, **_: Any) -> Any:
            yield self._data

    # S3 answers a 503 SlowDown for throttling; DynamoDB a 400 with its exception type.
    status = 503 if (service == "s3" and fault.name == "throttling") else fault.status
    return AWSResponse(request.url, status, {**fault.headers(service), "x-amzn-requestid": "chaos"},
                       _Raw(fault.body(service)))


def _dump(path: str, counts: dict[str, int]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(counts, out)
    os.replace(tmp, path)


def install(rate: float, services: tuple[str, ...] = ("dynamodb", "s3"), *, seed: int | None = None,
            stats_file: str | None = None) -> None:
    """Fail `rate` of the calls to `services` made through any botocore session created from now on in this process.

    Idempotent. Sessions are patched at creation (`botocore.session.Session.__init__`), which covers
    `boto3.session.Session()`, the way `chalicelib.adapters.aws` builds its clients.
    """
    global _installed
    import botocore.session  # lazy: as above

    with _lock:
        if _installed:
            return
        _installed = True
    rng = random.Random(seed)  # noqa: S311 - a fault schedule, not a secret
    wanted = set(services)
    original_init = botocore.session.Session.__init__

    def before_send(request: Any, **kwargs: Any) -> Any:
        event_name = kwargs.get("event_name", "")
        service = event_name.split(".")[1] if event_name.count(".") >= 1 else ""
        if service not in wanted:
            return None
        with _lock:
            _counts[f"{service}:calls"] += 1
            hit = rng.random() < rate
            fault = rng.choice(FAULTS) if hit else None
            if fault is not None:
                _counts[f"{service}:{fault.name}"] += 1
                if stats_file:
                    _dump(stats_file, dict(_counts))
        return _fault_response(request, service, fault) if fault is not None else None

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.register("before-send", before_send, unique_id="edoc-chaos")

    botocore.session.Session.__init__ = init  # type: ignore[method-assign]


def install_from_env(environ: dict[str, str] | None = None) -> bool:
    """Install when `EDOC_CHAOS_RATE` is set and positive; returns whether it did."""
    env = os.environ if environ is None else environ
    try:
        rate = float(env.get(RATE_ENV) or 0)
    except ValueError:
        return False
    if rate <= 0:
        return False
    services = tuple(s.strip() for s in (env.get(SERVICES_ENV) or "dynamodb,s3").split(",") if s.strip())
    seed = env.get(SEED_ENV)
    install(rate, services, seed=int(seed) if seed and seed.isdigit() else None,
            stats_file=env.get(STATS_FILE_ENV) or None)
    return True
