"""The gateway's Chalice app, loaded and served the way Lambda and API Gateway would, inside a function's process
(`devstack.worker`: one process per function, under its own role).

Why in-process (chalice.local's LocalDevServer) and not a `chalice local` subprocess: (1) the pump must call the
very same `app` object's event handlers, which it discovers from `app.event_sources`, (2) environment variables
are set once, before `app` is imported, exactly as Lambda sets them before loading the module, (3) port 0 works
(the bound port is read back), and (4) one process per function means one lifecycle each, ended by the stack.
Settings come from `.chalice/config.json`'s `local` stage, so the stack runs what `chalice package` would deploy.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
from typing import Any

from devstack.config import REPO_ROOT, STAGE

__all__ = ["ApiServer", "document_state", "function_names", "function_settings", "load_app", "read_config",
           "sqs_function_names"]

#: Credentials that must not reach the app: from here on only moto, with fake credentials, is AWS.
_REAL_CREDENTIAL_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def read_config() -> dict[str, Any]:
    """`.chalice/config.json` as it is on disk."""
    return json.loads((REPO_ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))


def _chalice_config(disk_config: dict[str, Any], function_name: str, **user_params: Any) -> Any:
    from chalice.config import Config  # lazy: chalice is only needed once the stack starts the app

    return Config(chalice_stage=STAGE, function_name=function_name, user_provided_params=user_params,
                  config_from_disk=disk_config,
                  default_params={"project_dir": str(REPO_ROOT), "api_gateway_stage": "api", "autogen_policy": False})


def load_app(disk_config: dict[str, Any], environment: dict[str, str]) -> Any:
    """Set the Lambda environment (config.json's stage variables, then `environment`), then import `app`."""
    stage_env = _chalice_config(disk_config, "api_handler").environment_variables
    for name in _REAL_CREDENTIAL_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update({**stage_env, **environment})
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    # lazy: chalicelib is imported only after the environment above is set, as Lambda loads the module
    from chalicelib.adapters import aws

    aws.reset()  # settings and clients created before the environment was set must not survive
    return importlib.import_module("app").app


def function_names() -> list[str]:
    """The functions `chalice package` makes of the app: `api_handler` (the routes), then one per event handler
    (`app.event_sources`, the list Chalice turns into event source mappings and rules).

    Importing `app` runs no handler and reads no setting (handlers import their use cases inside themselves), so
    the stack's own process may import it to learn the names before any function's environment exists.
    """
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    app = importlib.import_module("app").app
    return ["api_handler", *dict.fromkeys(source.name for source in app.event_sources)]


def sqs_function_names() -> list[str]:
    """The functions fed by an SQS queue (`@app.on_sqs_message`): the ones that may run in several containers.
    A scheduled function runs in one (EventBridge invokes it once per tick), the API in one (one port)."""
    from chalice.app import SQSEventConfig  # lazy: chalice is loaded with the app

    function_names()  # imports `app`
    app = sys.modules["app"].app
    return list(dict.fromkeys(s.name for s in app.event_sources if isinstance(s, SQSEventConfig)))


def function_settings(disk_config: dict[str, Any], function_name: str) -> tuple[int, int]:
    """(memory MB, timeout s) from .chalice/config.json, with Chalice's defaults (128 MB, 60 s)."""
    config = _chalice_config(disk_config, function_name)
    return int(config.lambda_memory_size or 128), int(config.lambda_timeout or 60)


def document_state(document_id: str) -> str | None:
    """A document's state, read with the app's own store (the stack's environment points it at moto)."""
    # lazy: chalicelib is imported only after load_app has set the environment
    from chalicelib.adapters.document_store import DocumentStore

    return (DocumentStore().get(document_id) or {}).get("state")


class ApiServer:
    """The app's HTTP routes on chalice.local's server, on a background thread (`url` has the bound port)."""

    def __init__(self, app: Any, disk_config: dict[str, Any], host: str, port: int, metrics: Any = None) -> None:
        """`metrics`: the process's `devstack.function_metrics.FunctionMetrics`, told about every request."""
        # lazy: chalice is only needed once the stack starts the app
        from chalice.local import LocalDevServer, create_local_server

        config = _chalice_config(disk_config, "api_handler", chalice_app=app)
        create_local_server(app, config, host, port).server.server_close()  # its app class set up, as chalice does
        self._server = LocalDevServer(app, config, host, port, handler_cls=_gateway_responses_handler(metrics))
        self.url = f"http://{host}:{self._server.server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.server.serve_forever, name="api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.server.shutdown()
        self._server.server.server_close()


def _gateway_responses_handler(metrics: Any = None) -> type:
    """chalice.local's request handler with the deployed API's gateway responses (infra/resources.yaml
    `GatewayResponses`, from chalicelib.api.chalice_errors): chalice.local answers an unknown path as API Gateway
    does by default (403 "Missing Authentication Token"); the deployed API answers 404 `route_not_found` in the
    gateway's error shape, and so does the stack. A method no route has (TRACE) is the app's 405, not an HTML page.
    With `metrics`, each request is one invocation; its work is a 2xx answer to a request with a bearer token."""
    # lazy: chalice and the app's modules load only once the stack starts the app (load_app sets the environment)
    from chalice.local import ChaliceRequestHandler, ForbiddenError

    from chalicelib.api.chalice_errors import GATEWAY_ERROR_CODES, gateway_response_template

    class GatewayResponsesHandler(ChaliceRequestHandler):
        _status = 0

        def _measured_handle(self) -> None:
            if metrics is None:
                self._generic_handle()
                return
            with metrics.invocation(1) as invocation:
                self._generic_handle()
                bearer = str(self.headers.get("Authorization") or "").lower().startswith("bearer ")
                if bearer and 200 <= self._status < 300:
                    invocation.did_work(f"{self.command} {self.path.split('?', 1)[0]} {self._status}")

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _measured_handle

        def send_response(self, code: int, message: str | None = None) -> None:
            self._status = code
            super().send_response(code, message)

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, QUERY...) reaches the app too: Chalice answers 405 `method_not_allowed` in
            # the gateway's shape, instead of http.server's HTML 501 page, which API Gateway never sends.
            if name.startswith("do_"):
                return self._measured_handle
            raise AttributeError(name)

        def _send_error_response(self, error: Any) -> None:
            if isinstance(error, ForbiddenError):  # the app has no authorizer: only routing raises this
                status, code = GATEWAY_ERROR_CODES["MISSING_AUTHENTICATION_TOKEN"]
                self._send_http_response(status or 404, {"Content-Type": "application/json; charset=utf-8",
                                                         "Cache-Control": "no-store"},
                                         gateway_response_template(code).encode("utf-8"))
                return
            super()._send_error_response(error)

    return GatewayResponsesHandler
