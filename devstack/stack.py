"""The embedded stack, orchestrated: moto as AWS (IAM enforced), the local PKI, the axis simulator, provisioning
(resources, and one IAM role per function from infra/resources.yaml), then the functions' processes under their
roles' credentials (the API, and each event handler with its own pump; `sqs_processes` of each SQS handler),
started in that order, stopped in reverse. moto and the simulator with the PKI run in processes of their own
(`moto_server`, `sim_server`): with every part in its own process the stack uses the machine's cores (issue 11).

Everything on 127.0.0.1; the parts live in their own modules (`chalice_app`: the app as Lambda loads it, `worker`
and `workers`: a function's process, `pump`: Lambda's pollers and EventBridge, `provision`: the AWS resources and
roles, `axis_simulator`, `pki_server`). Nothing here is a shortcut the AWS path does not take.

For pytest and `make demo`, `start_stack()` runs the stack in a child process (`python -m devstack run`)
so its environment variables and imported `app` never leak into the caller, and returns a `StackHandle`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from devstack import chalice_app, demo_data
from devstack.config import (
    DEFAULT_HOST,
    DEFAULT_REGION,
    DEFAULT_STATE_DIR,
    PKCS11_AGENCIES_ENV,
    REPO_ROOT,
    STACK_FILE,
    STAGE,
    Ports,
)
from devstack.net import check_port_free, wait_http
from devstack.parts import ServiceProcess
from devstack.provision import Provisioned, axis_directory, load_or_create_axis_systems, provision
from devstack.pump import PumpOptions
from devstack.web_server import WebServer, page_config
from devstack.worker import API_FUNCTION
from devstack.workers import FunctionProcesses, WorkerSpec

__all__ = ["PKCS11_AGENCIES_ENV", "Ports", "Stack", "StackHandle", "start_stack"]

log = logging.getLogger("edoc.local")


class Stack:
    """Everything in this process. `start()` returns once all parts answer and stack.json is written."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, *, host: str = DEFAULT_HOST, ports: Ports = Ports(),
                 region: str = DEFAULT_REGION, retry_after: int | None = None,
                 schedule_seconds: float | None = None, app_env: dict[str, str] | None = None,
                 sqs_concurrency: int = 1, sqs_processes: int = 1, sqs_wait_seconds: int = 1,
                 bare: bool = False) -> None:
        self.state_dir = Path(state_dir)
        #: Only what `make deploy` creates, no demo data: the account `edoc admin bootstrap` starts from.
        self.bare = bare
        self.host, self.ports, self.region = host, ports, region
        self.pump_options = PumpOptions(retry_after=retry_after, schedule_seconds=schedule_seconds,
                                        sqs_concurrency=sqs_concurrency, wait_seconds=sqs_wait_seconds)
        #: Containers (processes) per SQS function, each with `sqs_concurrency` pollers.
        self.sqs_processes = max(1, int(sqs_processes))
        #: Overrides of the app's environment (e.g. a small MAX_UPLOAD_BYTES for tests); applied last.
        self.app_env = dict(app_env or {})
        self.info: dict[str, Any] = {}
        self.provisioned: Provisioned | None = None
        #: The function processes (`devstack.worker`), each under its own role.
        self.functions = FunctionProcesses(self.state_dir / "functions")
        self._stopped = threading.Event()
        #: The service processes, in start order (moto, axis+pki): stop() ends them in reverse, after the functions.
        self._parts: list[ServiceProcess] = []
        self._owns_stack_file = False
        self.web: WebServer | None = None

    @property
    def stack_file(self) -> Path:
        return self.state_dir / STACK_FILE

    def start(self) -> dict[str, Any]:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> dict[str, Any]:
        # Ports first: a second `run` on busy ports must fail before it touches the running stack's files.
        for what, port in (("moto", self.ports.moto), ("api", self.ports.api), ("axis", self.ports.axis),
                           ("web", self.ports.web)):
            check_port_free(self.host, port, what)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.stack_file.unlink(missing_ok=True)  # a stale file must never point clients at a dead stack
        self._owns_stack_file = True

        # The web page first: its origin goes into the bucket's CORS rule and the API's WEB_ORIGINS (issue 10).
        self.web = WebServer(self.host, self.ports.web)
        endpoint, admin = self._start_moto()
        systems = load_or_create_axis_systems(self.state_dir)
        axis_url, pki = self._start_axis_and_pki({**systems["served"], **systems["external"]})
        hsm_agencies = (self.app_env.get(PKCS11_AGENCIES_ENV) or os.environ.get(PKCS11_AGENCIES_ENV) or "").split(",")
        functions = chalice_app.function_names()
        prov = provision(endpoint, self.region, axis_url=axis_url, state_dir=self.state_dir,
                         pkcs11_agencies=[a.strip() for a in hsm_agencies if a.strip()], pki=pki,
                         credentials=admin, functions=functions, bare=self.bare)
        self.provisioned = prov
        self._shorten_visibility(prov, admin)
        self._allow_web(prov, admin)
        api_url = self._start_functions(prov, functions)

        wait_http(prov.jwks_url, expect_status=200, timeout=30, what="moto (Cognito JWKS)")
        wait_http(axis_url, expect_status=None, timeout=30, what="axis simulator")
        wait_http(f"{api_url}/v1/health", expect_status=200, timeout=30, what="API")
        self.web.configure(page_config(api_url, self.region, prov.user_pool_id, prov.client_id, self.web.url), endpoint)

        self.info = {
            "api_url": api_url,
            "web_url": self.web.url,
            "aws_endpoint_url": endpoint,
            "region": self.region,
            # moto authorises every call against the caller's IAM policies (docs/iam.md): each function runs
            # under its own role; tests and tools that act as the operator use `aws_admin`.
            "iam": "enforced",
            "aws_admin": {"access_key_id": admin["access_key_id"], "secret_access_key": admin["secret_access_key"]},
            "functions": {name: {"role_arn": role.role_arn, "pid": self.functions.pids().get(name),
                                 "pids": self.functions.all_pids().get(name, [])}
                          for name, role in prov.roles.items()},
            # The processes that are not functions (the load run reads their CPU and memory in /proc).
            "processes": {"stack": os.getpid(), **{part.name: part.pid for part in self._parts}},
            "aws_calls_dir": str(self.calls_dir),
            "cognito": {"user_pool_id": prov.user_pool_id, "client_id": prov.client_id},
            "users": [{"username": u["username"], "password": u["password"], "organ_id": u["organ_id"],
                       "admin": u["admin"], **({"totp_secret": u["totp_secret"]} if u.get("totp_secret") else {})}
                      for u in prov.users],
            "pki": {**pki, "root_pem": prov.ca_root_pem},
            "axis": {"url": axis_url, "systems": [{"system_id": k, "secret": v}
                                                  for k, v in prov.axis_systems_external.items()]},
        }
        if self.bare:
            # What the axis's operator hands a province joining it: the served agencies' system credentials,
            # which `edoc admin bootstrap` puts into Secrets Manager (docs/operations.md#bootstrap).
            self.info["bare"] = True
            self.info["axis"]["served_systems"] = [{"system_id": k, "secret": v}
                                                   for k, v in prov.axis_systems_served.items()]
        self._write_stack_file()
        return self.info

    def _write_stack_file(self) -> None:
        tmp = self.stack_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.info, indent=2, ensure_ascii=False), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.stack_file)

    @property
    def calls_dir(self) -> Path:
        """Where each function's process records its AWS calls (`devstack.call_log`), one file per function."""
        return self.state_dir / "aws-calls"

    def _start_functions(self, prov: Provisioned, functions: list[str]) -> str:
        """One process per function under its role's session (`devstack.worker`); returns the API's URL."""
        shutil.rmtree(self.calls_dir, ignore_errors=True)  # this run's calls only
        options = {"schedule_seconds": self.pump_options.schedule_seconds,
                   "sqs_concurrency": self.pump_options.sqs_concurrency,
                   "wait_seconds": self.pump_options.wait_seconds}
        sqs = set(chalice_app.sqs_function_names())
        specs = [WorkerSpec(function=name, env={**prov.env, **self.app_env, **prov.function_credentials[name]},
                            region=self.region, host=self.host, api_port=self.ports.api if name == API_FUNCTION else 0,
                            pump_options=options, record_dir=str(self.calls_dir),
                            verbose=log.isEnabledFor(logging.DEBUG), instance=i)
                 for name in functions for i in range(self.sqs_processes if name in sqs else 1)]
        self.functions.start(specs)
        self.functions.wait_ready()
        threading.Thread(target=self._supervise, name="functions-supervisor", daemon=True).start()
        return str(self.functions.info(API_FUNCTION)["url"])

    def _supervise(self) -> None:
        """A function process that died is started again (Lambda's new container); stack.json gets its new pid."""
        while not self._stopped.wait(0.5):
            try:
                self.functions.supervise(on_restart=self._restarted)
            except Exception as exc:  # a restart that failed is tried again at the next round
                log.warning("restarting a function failed: %s", exc)

    def _restarted(self, functions: list[str]) -> None:
        log.warning("function process(es) died and were started again: %s", ", ".join(functions))
        if not self.info or not self._owns_stack_file:
            return
        pids, all_pids = self.functions.pids(), self.functions.all_pids()
        for name in functions:
            self.info["functions"][name]["pid"] = pids.get(name)
            self.info["functions"][name]["pids"] = all_pids.get(name, [])
        self._write_stack_file()

    def _shorten_visibility(self, prov: Provisioned, admin: dict[str, str]) -> None:
        """`retry_after`: a shorter visibility timeout on the queues themselves (set by the operator: the functions'
        roles may not change queues), so that a handler's own ChangeMessageVisibility is honoured as SQS does."""
        if self.pump_options.retry_after is None:
            return
        from devstack.provision.clients import Clients

        sqs = Clients(prov.endpoint_url, self.region, admin).sqs
        for url in prov.queue_urls.values():
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(self.pump_options.retry_after)})

    def _allow_web(self, prov: Provisioned, admin: dict[str, str]) -> None:
        """The web page's origin (issue 10) in the documents bucket's CORS rule and the API's WEB_ORIGINS, as the
        template sets both from its distribution (chalicelib.api.cors)."""
        from devstack.provision.clients import Clients
        from devstack.provision.storage import allow_web_origins

        assert self.web is not None
        allow_web_origins(Clients(prov.endpoint_url, self.region, admin), (self.web.origin,))
        prov.env["WEB_ORIGINS"] = self.web.origin

    def trigger_schedules(self) -> None:
        """Run every scheduled handler now (SIGUSR1 to the processes that own schedules)."""
        self.functions.trigger_schedules()

    def _start_moto(self) -> tuple[str, dict[str, str]]:
        """moto with IAM enforced, in its own process (`devstack.moto_server`: the operator user is made there
        before enforcement is switched on); returns its endpoint and the operator's credentials."""
        moto = ServiceProcess("moto", "devstack.moto_server", self.state_dir / "services",
                              {"host": self.host, "port": self.ports.moto, "region": self.region})
        self._parts.append(moto)
        ready = moto.start()
        return str(ready["endpoint"]), dict(ready["admin"])

    def _start_axis_and_pki(self, systems: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The axis simulator and the local PKI (OCSP responder, CRL, RFC 3161 TSA over the demo CA) in one process
        of their own (`devstack.sim_server`); returns the axis URL and the PKI's URLs.

        The PKI starts before provisioning: the agency certificates issued there name its OCSP and CRL URLs, and
        the app gets its TSA URL, so documents are signed at PAdES B-LT end to end. A free port every start is
        fine: certificates are issued anew at every start, and signed documents carry their validation data.
        """
        sim = ServiceProcess("axis_pki", "devstack.sim_server", self.state_dir / "services",
                             {"host": self.host, "axis_port": self.ports.axis, "systems": systems,
                              "agencies": axis_directory(), "ca_dir": str(self.state_dir / "pki")})
        self._parts.append(sim)
        ready = sim.start()
        return str(ready["axis_url"]), dict(ready["pki"])

    def stop(self) -> None:
        """Stop in reverse order; safe to call twice and after a failed start."""
        self._stopped.set()
        if self._owns_stack_file:
            self.stack_file.unlink(missing_ok=True)
            self._owns_stack_file = False
        self.functions.stop()
        if self.web is not None:
            self.web.stop()
            self.web = None
        while self._parts:
            part = self._parts.pop()
            with contextlib.suppress(Exception):
                part.stop()

    def banner(self) -> str:
        """URLs, users and how to get a token: what a developer needs on screen."""
        info = self.info
        if self.bare:
            return (f"\nedoc-gateway embedded stack is up BARE (stage {STAGE}): no agencies, users or secrets.\n"
                    f"  API {info['api_url']}/v1   AWS (moto) {info['aws_endpoint_url']}\n"
                    f"  stack.json {self.stack_file}\n"
                    "  Next: edoc admin bootstrap --stage local --config <bootstrap.toml> (docs/operations.md)\n")
        user = next(u for u in info["users"] if not u["admin"])
        endpoint, region, client = info["aws_endpoint_url"], info["region"], info["cognito"]["client_id"]
        users = "\n".join(f"    {u['username']:<18} {u['organ_id']}{'  (admin)' if u['admin'] else ''}"
                          for u in info["users"])
        return f"""
edoc-gateway embedded stack is up (stage {STAGE})
  Web page     {info['web_url']}    (văn thư and admin: the demo users below)
  API          {info['api_url']}/v1        (GET {info['api_url']}/v1/health)
  AWS (moto)   {endpoint}    region {region}
  Axis         {info['axis']['url']}    external systems: {', '.join(s['system_id'] for s in info['axis']['systems'])}
  PKI          {info['pki']['url']}    (TSA /tsa, OCSP /ocsp, CRL /crl/root.crl: documents are signed PAdES B-LT)
  stack.json   {self.stack_file}   (users, passwords, axis credentials)

Demo users (password {demo_data.DEMO_PASSWORD}):
{users}

Get an ID token and call the API:
  TOKEN=$(AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url {endpoint} --region {region} \\
      cognito-idp initiate-auth --client-id {client} --auth-flow USER_PASSWORD_AUTH \\
      --auth-parameters USERNAME={user['username']},PASSWORD='{user['password']}' \\
      --query AuthenticationResult.IdToken --output text)
  curl -H "Authorization: Bearer $TOKEN" {info['api_url']}/v1/documents
  (no aws CLI: .venv/bin/python -c "import json; from devstack.client import GatewayClient; \\
      print(GatewayClient(json.load(open('{self.stack_file}'))).login('{user['username']}'))")

Scheduled handlers run at their rate; `kill -USR1 {os.getpid()}` runs them now. Ctrl-C stops everything.
"""


# -- handles for tests and tools ------------------------------------------------------------------------------
class StackHandle:
    """A running stack: `.info` is its stack.json; `.stop()` ends it. Also a context manager."""

    def __init__(self, info: dict[str, Any], state_dir: Path, *, process: subprocess.Popen | None = None,
                 stack: Stack | None = None, log_path: Path | None = None) -> None:
        self.info = info
        self.state_dir = state_dir
        self.log_path = log_path
        self._process = process
        self._stack = stack

    def run_schedules(self) -> None:
        """Run every scheduled handler (e.g. poll_axis) now instead of at its next tick; returns at once."""
        if self._stack is not None:
            self._stack.trigger_schedules()
        elif self._process is not None:
            self._process.send_signal(signal.SIGUSR1)

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.stop()
            self._stack = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None

    def __enter__(self) -> StackHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_stack(tmp_dir: Path, ports: int | Ports = 0, *, region: str = DEFAULT_REGION, in_process: bool = False,
                retry_after: int | None = None, schedule_seconds: float | None = None,
                app_env: dict[str, str] | None = None, timeout: float = 180.0,
                sqs_concurrency: int = 1, sqs_processes: int = 1, sqs_wait_seconds: int = 1,
                bare: bool = False) -> StackHandle:
    """Start a stack whose state (stack.json, CA, axis credentials, log) lives in `tmp_dir`.

    By default in a child process, so the caller's environment and modules stay untouched (a pytest session
    also runs moto-mocked unit tests that must not see AWS_ENDPOINT_URL). `in_process=True` runs it in this
    process (it sets os.environ and imports `app` here). `ports=0` picks free ports. `app_env` overrides the
    app's environment variables (e.g. `{"MAX_UPLOAD_BYTES": "2097152"}`); `retry_after` and
    `schedule_seconds` speed up retries and schedules, `sqs_concurrency` runs that many invocations of each SQS
    handler at once in each of its `sqs_processes` processes, each polling with `sqs_wait_seconds` long polls
    (see `run --help`). `bare`: no demo agencies, users or secrets (`run --bare`).
    """
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    port_set = ports if isinstance(ports, Ports) else Ports.from_base(ports)
    if in_process:
        stack = Stack(tmp_dir, ports=port_set, region=region, retry_after=retry_after,
                      schedule_seconds=schedule_seconds, app_env=app_env, sqs_concurrency=sqs_concurrency,
                      sqs_processes=sqs_processes, sqs_wait_seconds=sqs_wait_seconds, bare=bare)
        return StackHandle(stack.start(), tmp_dir, stack=stack)

    stack_file = tmp_dir / STACK_FILE
    stack_file.unlink(missing_ok=True)
    log_path = tmp_dir / "stack.log"
    cmd = [sys.executable, "-m", "devstack", "run", "--state-dir", str(tmp_dir), "--region", region,
           "--port-moto", str(port_set.moto), "--port-api", str(port_set.api), "--port-axis", str(port_set.axis),
           "--port-web", str(port_set.web)]
    if retry_after is not None:
        cmd += ["--retry-after", str(retry_after)]
    if schedule_seconds is not None:
        cmd += ["--schedule-seconds", str(schedule_seconds)]
    if sqs_concurrency != 1:
        cmd += ["--sqs-concurrency", str(sqs_concurrency)]
    if sqs_processes != 1:
        cmd += ["--sqs-processes", str(sqs_processes)]
    if sqs_wait_seconds != 1:
        cmd += ["--sqs-wait-seconds", str(sqs_wait_seconds)]
    if bare:
        cmd += ["--bare"]
    for name, value in (app_env or {}).items():
        cmd += ["--env", f"{name}={value}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    handle = StackHandle({}, tmp_dir, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while not stack_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            handle.stop()
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
            raise RuntimeError(f"embedded stack did not start (exit {process.returncode}); log {log_path}:\n{tail}")
        time.sleep(0.1)
    handle.info = json.loads(stack_file.read_text(encoding="utf-8"))
    return handle


