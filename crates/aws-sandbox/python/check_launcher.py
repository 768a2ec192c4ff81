"""Self-check for moto_launcher.py: starts it on a free 127.0.0.1 port and exercises
every patched behaviour with boto3.  Prints "N passed, M failed"; exits 1 on failure.

Run with the venv that has moto[server]==5.2.5 and boto3:  python check_launcher.py
(KEEP_LAUNCHER_LOG=1 keeps the launchers' stderr logs in the temp directory.)
"""

from __future__ import annotations

import json
import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

LAUNCHER = Path(__file__).resolve().parent / "moto_launcher.py"
ENDPOINTS = Path(__file__).resolve().parents[2] / "local-endpoint" / "endpoints.txt"
HOST = "127.0.0.1"
ACCOUNT = "123456789012"
TEMPORAL_ARN = f"arn:aws:iam::{ACCOUNT}:role/temporal-cloud"
LAMBDAS = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:a,arn:aws:lambda:us-east-1:{ACCOUNT}:function:b"
EXTERNAL_ID = "ext-id-12345"
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."

TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Description: Creates an IAM role that a self-hosted Temporal Service can assume to invoke Lambda functions for Serverless Workers.
Parameters:
  TemporalIamRoleArn:
    Type: String
  AssumeRoleExternalId:
    Type: String
    AllowedPattern: '[a-zA-Z0-9_+=,.@-]*'
    MinLength: 5
    MaxLength: 45
  LambdaFunctionARNs:
    Type: CommaDelimitedList
  RoleName:
    Type: String
    Default: 'Temporal-Serverless-Worker'
Resources:
  TemporalServerlessWorker:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub '${RoleName}-${AWS::StackName}'
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              AWS: [!Ref TemporalIamRoleArn]
            Action: sts:AssumeRole
            Condition:
              StringEquals:
                'sts:ExternalId': [!Ref AssumeRoleExternalId]
      MaxSessionDuration: 3600
  TemporalLambdaInvokePermissions:
    Type: AWS::IAM::Policy
    DependsOn: TemporalServerlessWorker
    Properties:
      PolicyName: 'Temporal-Lambda-Invoke-Permissions'
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Action: [lambda:InvokeFunction, lambda:GetFunction]
            Resource: !Ref LambdaFunctionARNs
      Roles:
        - !Sub '${RoleName}-${AWS::StackName}'
Outputs:
  RoleARN:
    Value: !GetAtt TemporalServerlessWorker.Arn
    Export:
      Name: !Sub '${AWS::StackName}-RoleARN'
  RoleName:
    Value: !Ref RoleName
  LambdaFunctionARNs:
    Value: !Join [', ', !Ref LambdaFunctionARNs]
"""

# Same template, but the policy also targets a role that does not exist: the role is
# created first, then the policy fails, so the rollback has something to delete.
TEMPLATE_POLICY_FAILS = TEMPLATE.replace(
    "      Roles:\n        - !Sub '${RoleName}-${AWS::StackName}'\n",
    "      Roles:\n        - !Sub '${RoleName}-${AWS::StackName}'\n        - 'role-that-does-not-exist'\n",
)
# Same template with the policy's logical id (and PolicyName) renamed: one Add, one Remove.
TEMPLATE_POLICY_RENAMED = TEMPLATE.replace("TemporalLambdaInvokePermissions:", "TemporalLambdaPermissions:").replace(
    "PolicyName: 'Temporal-Lambda-Invoke-Permissions'", "PolicyName: 'Temporal-Lambda-Invoke-Permissions-v2'")


# --------------------------------------------------------------------------- harness


class Launcher:
    """A moto_launcher.py subprocess; stopped by its own pid only."""

    def __init__(self, port: int, parent_pid: int | None = None) -> None:
        self.lambda_dir = Path(tempfile.mkdtemp(prefix="moto-lambda-"))
        args = [sys.executable, str(LAUNCHER), "--host", HOST, "--port", str(port),
                "--lambda-dir", str(self.lambda_dir)]
        if parent_pid is not None:
            args += ["--parent-pid", str(parent_pid)]
        self.log = tempfile.NamedTemporaryFile(prefix="moto-launcher-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.ready_line = self._read_ready_line()
        self.url = f"http://{HOST}:{port}"

    def _read_ready_line(self, timeout: float = 60) -> str:
        lines: list[str] = []
        stdout = self.proc.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not lines or not lines[0]:
            self.stop()
            raise RuntimeError(f"launcher not ready; log:\n{self.log_text()}")
        return lines[0].rstrip("\n")

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            if self.wait(10) is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode

    def cleanup(self) -> None:
        self.stop()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        if not os.environ.get("KEEP_LAUNCHER_LOG"):
            os.unlink(self.log.name)
            shutil.rmtree(self.lambda_dir, ignore_errors=True)

    def invocations(self) -> list[dict[str, Any]]:
        """The records of the launcher's invocation log (JSON lines), oldest first."""
        path = self.lambda_dir / "invocations.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Clients:
    def __init__(self, url: str) -> None:
        config = Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=60)
        kwargs: dict[str, Any] = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                                      aws_secret_access_key="testing", config=config)
        self.cf = boto3.client("cloudformation", **kwargs)
        self.iam = boto3.client("iam", **kwargs)
        self.sts = boto3.client("sts", **kwargs)
        self.lam = boto3.client("lambda", **kwargs)


def params(**overrides: str | None) -> list[dict[str, str]]:
    values: dict[str, str | None] = {"TemporalIamRoleArn": TEMPORAL_ARN, "AssumeRoleExternalId": EXTERNAL_ID,
                                     "LambdaFunctionARNs": LAMBDAS}
    values.update(overrides)
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items() if v is not None]


def expect_error(call: Callable[[], Any], code: str, message: str | None = None, status: int | None = None,
                 contains: str | None = None) -> ClientError:
    try:
        call()
    except ClientError as exc:
        error = exc.response["Error"]
        assert error["Code"] == code, f"code {error['Code']!r} != {code!r} ({error.get('Message')})"
        if message is not None:
            assert error["Message"] == message, f"message {error['Message']!r} != {message!r}"
        if contains is not None:
            assert contains in error["Message"], f"{contains!r} not in {error['Message']!r}"
        if status is not None:
            got = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            assert got == status, f"HTTP {got} != {status}"
        return exc
    raise AssertionError(f"expected {code} error, call succeeded")


def trust_policy(principal: Any, external_id: str | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def stack(c: Clients, name: str) -> dict[str, Any]:
    return c.cf.describe_stacks(StackName=name)["Stacks"][0]


def stack_params(c: Clients, name: str) -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack(c, name)["Parameters"]}


def outputs(c: Clients, name: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack(c, name).get("Outputs", [])}


def events(c: Clients, name: str) -> list[tuple[str, str, str | None]]:
    """(LogicalResourceId, ResourceStatus, ResourceStatusReason), oldest first."""
    found = c.cf.describe_stack_events(StackName=name)["StackEvents"][::-1]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in found]


def index_of(items: list[tuple[str, str, str | None]], logical_id: str, status: str, start: int = 0) -> int:
    for i in range(start, len(items)):
        if items[i][0] == logical_id and items[i][1] == status:
            return i
    raise AssertionError(f"no {logical_id} {status} event after #{start} in {items}")


def create_ok(c: Clients, name: str, body: str = TEMPLATE, **overrides: str | None) -> str:
    stack_id = c.cf.create_stack(StackName=name, TemplateBody=body, Parameters=params(**overrides),
                                 Capabilities=["CAPABILITY_NAMED_IAM"])["StackId"]
    assert stack(c, name)["StackStatus"] == "CREATE_COMPLETE", stack(c, name)["StackStatus"]
    return str(stack_id)


def role_exists(c: Clients, name: str) -> bool:
    try:
        c.iam.get_role(RoleName=name)
        return True
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity", exc
        return False


def change_set(c: Clients, stack_name: str, cs_name: str, kind: str, body: str = TEMPLATE,
               parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    cs_id = c.cf.create_change_set(StackName=stack_name, ChangeSetName=cs_name, TemplateBody=body,
                                   Parameters=parameters if parameters is not None else params(),
                                   ChangeSetType=kind, Capabilities=["CAPABILITY_NAMED_IAM"])["Id"]
    return c.cf.describe_change_set(ChangeSetName=cs_id)


def changes(cs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ch["ResourceChange"]["LogicalResourceId"]: ch["ResourceChange"] for ch in cs["Changes"]}


# --------------------------------------------------------------------------- checks

CHECKS: list[Callable[[Clients, Launcher], None]] = []


def check(fn: Callable[[Clients, Launcher], None]) -> Callable[[Clients, Launcher], None]:
    CHECKS.append(fn)
    return fn


@check
def ready_line_names_the_address(c: Clients, launcher: Launcher) -> None:
    assert launcher.ready_line == f"moto ready on {launcher.url}", launcher.ready_line


@check
def refuses_non_loopback_hosts(c: Clients, launcher: Launcher) -> None:
    for host in ("0.0.0.0", "10.1.2.3", "::", "example.com"):
        done = subprocess.run([sys.executable, str(LAUNCHER), "--host", host, "--port", "0"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (host, done.returncode, done.stderr)
        assert "loopback" in done.stderr, done.stderr


@check
def endpoint_classes_match_the_shared_table(c: Clients, launcher: Launcher) -> None:
    """The launcher's rule is the Rust crate's: both are checked against one table."""
    sys.path.insert(0, str(LAUNCHER.parent))
    from moto_launcher import classify

    rows = [line.rstrip().rsplit(" ", 1) for line in ENDPOINTS.read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert len(rows) > 40, rows
    wrong = [f"{spelling.rstrip()}: expected {cls}, got {classify(spelling.rstrip())}"
             for spelling, cls in rows if classify(spelling.rstrip()) != cls]
    assert not wrong, "\n".join(wrong)


@check
def lambda_runs_without_docker(c: Clients, launcher: Launcher) -> None:
    with urllib.request.urlopen(f"{launcher.url}/moto-api/config", timeout=10) as response:
        config = json.load(response)
    assert config["lambda"] == {"use_docker": False}, config
    role = c.iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("index.py", "def handler(event, context):\n    return event\n")
    c.lam.create_function(FunctionName="worker", Runtime="python3.11", Role=role["Arn"], Handler="index.handler",
                          Code={"ZipFile": archive.getvalue()})
    started = time.monotonic()
    result = c.lam.invoke(FunctionName="worker", Payload=b"{}")
    assert result["StatusCode"] == 200, result
    assert time.monotonic() - started < 10, "invoke took too long: docker?"


def lambda_zip(files: dict[str, str]) -> bytes:
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return archive.getvalue()


def lambda_role(c: Clients) -> str:
    try:
        return str(c.iam.get_role(RoleName="lambda-exec")["Role"]["Arn"])
    except ClientError:
        return str(c.iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"])


def make_function(c: Clients, name: str, handler_source: str, timeout: int = 10,
                  env: dict[str, str] | None = None) -> str:
    """A python3.13 function whose `index.handler` is `handler_source`; returns its ARN."""
    return str(c.lam.create_function(
        FunctionName=name, Runtime="python3.13", Role=lambda_role(c), Handler="index.handler",
        Code={"ZipFile": lambda_zip({"index.py": handler_source})}, Timeout=timeout,
        Environment={"Variables": env or {}})["FunctionArn"])


def invoke_json(c: Clients, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    result = c.lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kwargs)
    return result, json.loads(result["Payload"].read() or b"null")


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of a reaped group is gone for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


CONTEXT_HANDLER = """
import os, atexit
def handler(event, context):
    atexit.register(lambda: open(os.environ["ATEXIT_FILE"], "w").write("teardown ran"))
    return {"event": event, "greeting": os.environ["GREETING"], "request_id": context.aws_request_id,
            "arn": context.invoked_function_arn, "name": context.function_name,
            "memory": context.memory_limit_in_mb, "remaining": context.get_remaining_time_in_millis(),
            "pid": os.getpid(), "file": __file__, "cwd": os.getcwd(), "task_root": os.environ["LAMBDA_TASK_ROOT"]}
"""


@check
def lambda_runs_the_handler_with_its_environment_and_context(c: Clients, launcher: Launcher) -> None:
    atexit_file = launcher.lambda_dir / "atexit-ran"
    arn = make_function(c, "ctx", CONTEXT_HANDLER, timeout=10,
                        env={"GREETING": "hello", "ATEXIT_FILE": str(atexit_file)})
    result, payload = invoke_json(c, "ctx", {"n": 1})
    assert result["StatusCode"] == 200 and "FunctionError" not in result, (result, payload)
    assert payload["event"] == {"n": 1} and payload["greeting"] == "hello", payload
    assert payload["arn"] == arn and payload["name"] == "ctx" and payload["memory"] == 128, payload
    assert 5000 < payload["remaining"] <= 10000, payload
    assert payload["pid"] != launcher.proc.pid, "the handler ran inside the emulator"
    assert payload["cwd"] == payload["task_root"] == str(Path(payload["file"]).parent), payload
    time.sleep(0.3)
    assert not atexit_file.exists(), "the handler process ran interpreter teardown (os._exit expected)"
    # The code is extracted once per code version: a second invocation runs the same files.
    _, again = invoke_json(c, "ctx", {"n": 2})
    assert again["file"] == payload["file"] and again["request_id"] != payload["request_id"], (payload, again)
    # New code, new directory; a published version keeps running its own code.
    c.lam.publish_version(FunctionName="ctx")
    c.lam.update_function_code(FunctionName="ctx", ZipFile=lambda_zip({"index.py": "def handler(e, c):\n    return 'v2'\n"}))
    _, latest = invoke_json(c, "ctx")
    assert latest == "v2", latest
    _, old = invoke_json(c, "ctx", Qualifier="1")
    assert old["file"] == payload["file"] and old["arn"] == f"{arn}:1", old


@check
def lambda_handler_exception_is_a_function_error(c: Clients, launcher: Launcher) -> None:
    make_function(c, "fails", "def handler(event, context):\n    raise ValueError('boom')\n")
    result, payload = invoke_json(c, "fails")
    assert result["StatusCode"] == 200 and result.get("FunctionError") == "Unhandled", result
    assert payload["errorType"] == "ValueError" and payload["errorMessage"] == "boom", payload
    assert any("raise ValueError" in line for line in payload["stackTrace"]), payload
    make_function(c, "no-module", "import not_a_module\ndef handler(event, context):\n    return 1\n")
    result, payload = invoke_json(c, "no-module")
    assert result.get("FunctionError") == "Unhandled", result
    assert payload["errorType"] == "Runtime.ImportModuleError", payload
    assert "No module named 'not_a_module'" in payload["errorMessage"], payload


SLOW_HANDLER = """
import os, subprocess, time
def handler(event, context):
    child = subprocess.Popen(["sleep", "60"])
    with open(os.environ["PIDS"], "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    time.sleep(float(event.get("sleep", 60)))
    return "done"
"""


@check
def lambda_event_invocation_returns_at_once_and_runs_in_the_background(c: Clients, launcher: Launcher) -> None:
    pids = launcher.lambda_dir / "event-pids"
    make_function(c, "background", SLOW_HANDLER, timeout=10, env={"PIDS": str(pids)})
    started = time.monotonic()
    result = c.lam.invoke(FunctionName="background", InvocationType="Event", Payload=b'{"sleep": 1}')
    assert result["StatusCode"] == 202 and time.monotonic() - started < 1, (result, time.monotonic() - started)
    handler_pid, _ = map(int, wait_for("the handler to start", lambda: pids.exists() and pids.read_text()).split())
    wait_for("the handler to finish", lambda: not pid_alive(handler_pid))
    end = wait_for("the end record", lambda: [r for r in launcher.invocations()
                                              if r["function"] == "background" and r["event"] == "end"])
    assert end[0]["status"] == "ok" and end[0]["invocation_type"] == "Event", end


@check
def lambda_is_killed_at_its_timeout_with_its_children(c: Clients, launcher: Launcher) -> None:
    pids = launcher.lambda_dir / "timeout-pids"
    make_function(c, "slow", SLOW_HANDLER, timeout=2, env={"PIDS": str(pids)})
    started = time.monotonic()
    result, payload = invoke_json(c, "slow", {"sleep": 60})
    took = time.monotonic() - started
    assert result.get("FunctionError") == "Unhandled" and 2 <= took < 5, (result, took)
    assert payload["errorType"] == "Sandbox.Timedout", payload
    assert "Task timed out after 2.00 seconds" in payload["errorMessage"], payload
    handler_pid, child_pid = map(int, pids.read_text().split())
    wait_for("the handler and its child to be killed", lambda: not pid_alive(handler_pid) and not pid_alive(child_pid), 5)


SLOW_INIT_HANDLER = """
import time
time.sleep(2.5)  # a module that imports slowly, as temporalio does on a loaded machine
def handler(event, context):
    return {"remaining": context.get_remaining_time_in_millis()}
"""


@check
def lambda_init_does_not_count_against_the_timeout(c: Clients, launcher: Launcher) -> None:
    # As AWS: the function's timeout starts when the init phase (the interpreter's start and the
    # handler module's import, up to 10 s) has ended, so a slow import leaves the handler its time.
    make_function(c, "slow-init", SLOW_INIT_HANDLER, timeout=2)
    result, payload = invoke_json(c, "slow-init")
    assert "FunctionError" not in result, (result, payload)
    assert 1000 < payload["remaining"] <= 2000, payload
    end = [r for r in launcher.invocations() if r["function"] == "slow-init" and r["event"] == "end"][-1]
    assert end["init_duration_ms"] >= 2500 and end["status"] == "ok", end


@check
def lambda_refuses_runtimes_it_cannot_run(c: Clients, launcher: Launcher) -> None:
    for runtime in ("nodejs22.x", "provided.al2023", "java21"):
        expect_error(lambda: c.lam.create_function(
            FunctionName=f"other-{runtime.replace('.', '-')}", Runtime=runtime, Role=lambda_role(c), Handler="index.handler",
            Code={"ZipFile": lambda_zip({"index.js": ""})}), "InvalidParameterValueException",
            contains=f"runtime `{runtime}`: the sandbox's Lambda runs python3.x functions only")
    names = [f["FunctionName"] for f in c.lam.list_functions()["Functions"]]
    assert not any(n.startswith("other-") for n in names), names
    make_function(c, "stays-python", "def handler(e, c):\n    return 1\n")
    expect_error(lambda: c.lam.update_function_configuration(FunctionName="stays-python", Runtime="nodejs22.x"),
                 "InvalidParameterValueException", contains="runtime `nodejs22.x`")
    config = c.lam.get_function_configuration(FunctionName="stays-python")
    assert config["Runtime"] == "python3.13", config


@check
def lambda_logs_each_invocation_with_its_caller(c: Clients, launcher: Launcher) -> None:
    arn = make_function(c, "audited", "def handler(event, context):\n    return 'ok'\n")
    role = c.iam.create_role(RoleName="invoker", AssumeRolePolicyDocument=trust_policy(TEMPORAL_ARN, EXTERNAL_ID))
    creds = c.sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="managed-workers-aws",
                              ExternalId=EXTERNAL_ID)["Credentials"]
    assumed = boto3.client("lambda", endpoint_url=launcher.url, region_name="us-east-1",
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])
    assert assumed.invoke(FunctionName=arn, InvocationType="Event", Payload=b"")["StatusCode"] == 202
    start = wait_for("the start record", lambda: [r for r in launcher.invocations()
                                                  if r["function"] == "audited" and r["event"] == "start"])[0]
    assert start["invocation_type"] == "Event" and start["function_arn"] == arn, start
    assert start["caller"] == {
        "access_key": creds["AccessKeyId"],
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/invoker/managed-workers-aws",
        "role_arn": role["Role"]["Arn"], "session_name": "managed-workers-aws", "external_id": EXTERNAL_ID,
    }, start
    c.lam.invoke(FunctionName="audited", Payload=b"{}")
    plain = [r for r in launcher.invocations() if r["function"] == "audited" and r["event"] == "start"][-1]
    assert plain["caller"]["access_key"] == "testing" and "role_arn" not in plain["caller"], plain
    assert f"assumed-role/invoker/managed-workers-aws (external ID {EXTERNAL_ID})" in launcher.log_text()


@check
def lambda_processes_end_when_the_emulator_stops(c: Clients, launcher: Launcher) -> None:
    for how in (signal.SIGTERM, signal.SIGKILL):
        other = Launcher(free_port())
        try:
            pids = other.lambda_dir / "pids"
            lam = Clients(other.url)
            make_function(lam, "lingers", SLOW_HANDLER, timeout=60, env={"PIDS": str(pids)})
            lam.lam.invoke(FunctionName="lingers", InvocationType="Event", Payload=b"{}")
            handler_pid, child_pid = map(int, wait_for("the handler", lambda: pids.exists() and pids.read_text()).split())
            other.stop(how)
            wait_for(f"the handler to end after {how.name}", lambda: not pid_alive(handler_pid) and not pid_alive(child_pid), 5)
        finally:
            other.cleanup()


@check
def describe_stacks_reports_comma_delimited_list_as_given(c: Clients, launcher: Launcher) -> None:
    create_ok(c, "params")
    values = stack_params(c, "params")
    assert values["LambdaFunctionARNs"] == LAMBDAS, values
    assert values["RoleName"] == "Temporal-Serverless-Worker", values
    assert values["AssumeRoleExternalId"] == EXTERNAL_ID, values
    assert outputs(c, "params")["LambdaFunctionARNs"] == LAMBDAS.replace(",", ", ")


@check
def get_template_returns_body_byte_for_byte(c: Clients, launcher: Launcher) -> None:
    assert c.cf.get_template(StackName="params")["TemplateBody"] == TEMPLATE
    odd = TEMPLATE.replace("\n", "\r\n") + "# trailing comment: ünïcødé ✓  \r\n"
    c.cf.create_stack(StackName="crlf", TemplateBody=odd, Parameters=params())
    assert c.cf.get_template(StackName="crlf")["TemplateBody"] == odd
    cs = change_set(c, "viacs", "create", "CREATE")
    c.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
    assert stack(c, "viacs")["StackStatus"] == "CREATE_COMPLETE"
    assert c.cf.get_template(StackName="viacs")["TemplateBody"] == TEMPLATE
    assert stack_params(c, "viacs")["LambdaFunctionARNs"] == LAMBDAS


@check
def sts_assume_role_enforces_external_id(c: Clients, launcher: Launcher) -> None:
    create_ok(c, "sts")
    role_arn = outputs(c, "sts")["RoleARN"]
    caller = c.sts.get_caller_identity()["Arn"]
    denied = f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    expect_error(lambda: c.sts.assume_role(RoleArn=role_arn, RoleSessionName="none"), "AccessDenied", denied, 403)
    expect_error(lambda: c.sts.assume_role(RoleArn=role_arn, RoleSessionName="wrong", ExternalId="other-id"),
                 "AccessDenied", denied, 403)
    ok = c.sts.assume_role(RoleArn=role_arn, RoleSessionName="right", ExternalId=EXTERNAL_ID)
    assert ok["AssumedRoleUser"]["Arn"].endswith(":assumed-role/Temporal-Serverless-Worker-sts/right"), ok


@check
def sts_access_denied_is_a_plain_sts_error_response(c: Clients, launcher: Launcher) -> None:
    bodies: list[bytes] = []

    def capture(response_dict: dict[str, Any], **_: Any) -> None:
        bodies.append(response_dict["body"])

    c.sts.meta.events.register("before-parse.sts.AssumeRole", capture)
    try:
        expect_error(lambda: c.sts.assume_role(RoleArn=outputs(c, "sts")["RoleARN"], RoleSessionName="raw"),
                     "AccessDenied", status=403)
    finally:
        c.sts.meta.events.unregister("before-parse.sts.AssumeRole", capture)
    body = bodies[-1].decode()
    # <ErrorResponse><Error><Code>: the shape the Rust SDK's awsQuery error parser reads.
    assert body.startswith('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'), body
    assert "<Code>AccessDenied</Code>" in body and "<Errors>" not in body, body


@check
def sts_roles_without_condition_and_missing_roles(c: Clients, launcher: Launcher) -> None:
    role = c.iam.create_role(RoleName="plain", AssumeRolePolicyDocument=trust_policy(TEMPORAL_ARN))["Role"]
    c.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="plain")
    c.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="plain", ExternalId="anything-goes")
    listed = c.iam.create_role(RoleName="listed",
                               AssumeRolePolicyDocument=trust_policy(TEMPORAL_ARN, ["a-1234", "b-1234"]))
    c.sts.assume_role(RoleArn=listed["Role"]["Arn"], RoleSessionName="listed", ExternalId="b-1234")
    missing = f"arn:aws:iam::{ACCOUNT}:role/no-such-role"
    expect_error(lambda: c.sts.assume_role(RoleArn=missing, RoleSessionName="missing"), "AccessDenied", status=403,
                 contains=f"sts:AssumeRole on resource: {missing}")


BAD_PARAMETERS: list[tuple[dict[str, str | None], str]] = [
    ({"AssumeRoleExternalId": "abc"}, "Parameter 'AssumeRoleExternalId' must contain at least 5 characters"),
    ({"AssumeRoleExternalId": "x" * 46}, "Parameter 'AssumeRoleExternalId' must contain at most 45 characters"),
    ({"AssumeRoleExternalId": "bad id!"}, "Parameter 'AssumeRoleExternalId' must match pattern [a-zA-Z0-9_+=,.@-]*"),
    ({"TemporalIamRoleArn": None}, "Parameters: [TemporalIamRoleArn] must have values"),
    ({"Unknown": "value"}, "Parameters: [Unknown] do not exist in the template"),
]


@check
def create_stack_validates_parameters_before_creating(c: Clients, launcher: Launcher) -> None:
    for overrides, message in BAD_PARAMETERS:
        expect_error(lambda: c.cf.create_stack(StackName="bad", TemplateBody=TEMPLATE, Parameters=params(**overrides)),
                     "ValidationError", message, 400)
        expect_error(lambda: stack(c, "bad"), "ValidationError")
        assert not role_exists(c, "Temporal-Serverless-Worker-bad")


@check
def update_stack_validates_parameters(c: Clients, launcher: Launcher) -> None:
    for overrides, message in BAD_PARAMETERS:
        expect_error(lambda: c.cf.update_stack(StackName="sts", TemplateBody=TEMPLATE, Parameters=params(**overrides)),
                     "ValidationError", message, 400)
    assert stack(c, "sts")["StackStatus"] == "CREATE_COMPLETE"


@check
def malformed_templates_are_rejected_without_touching_the_stack(c: Clients, launcher: Launcher) -> None:
    for body in ("{not: [valid", "Description: no resources\n"):
        expect_error(lambda: c.cf.update_stack(StackName="sts", TemplateBody=body, Parameters=params()),
                     "ValidationError", status=400, contains="Template format error")
        expect_error(lambda: change_set(c, "sts", "garbage", "UPDATE", body=body), "ValidationError", status=400,
                     contains="Template format error")
    assert stack(c, "sts")["StackStatus"] == "CREATE_COMPLETE"
    assert role_exists(c, "Temporal-Serverless-Worker-sts")


@check
def create_change_set_validates_parameters(c: Clients, launcher: Launcher) -> None:
    for overrides, message in BAD_PARAMETERS:
        for kind, name in (("CREATE", "badcs"), ("UPDATE", "sts")):
            expect_error(lambda: change_set(c, name, "bad", kind, parameters=params(**overrides)),
                         "ValidationError", message, 400)
    expect_error(lambda: stack(c, "badcs"), "ValidationError")


@check
def create_failure_rolls_back_duplicate_role(c: Clients, launcher: Launcher) -> None:
    c.iam.create_role(RoleName="Temporal-Serverless-Worker-dup", Description="made outside the stack",
                      AssumeRolePolicyDocument=trust_policy(TEMPORAL_ARN))
    stack_id = c.cf.create_stack(StackName="dup", TemplateBody=TEMPLATE, Parameters=params())["StackId"]
    assert stack(c, "dup")["StackStatus"] == "ROLLBACK_COMPLETE", stack(c, "dup")["StackStatus"]
    assert "Outputs" not in stack(c, "dup")
    seen = events(c, "dup")
    assert seen[0][:2] == ("dup", "CREATE_IN_PROGRESS"), seen
    failed = index_of(seen, "TemporalServerlessWorker", "CREATE_FAILED")
    assert seen[failed][2] == "Role with name Temporal-Serverless-Worker-dup already exists.", seen[failed]
    rollback = index_of(seen, "dup", "ROLLBACK_IN_PROGRESS", failed)
    assert seen[rollback][2] == ("The following resource(s) failed to create: [TemporalServerlessWorker]. "
                                 "Rollback requested by user."), seen[rollback]
    assert seen[-1][:2] == ("dup", "ROLLBACK_COMPLETE"), seen
    assert [e for e in seen if e[1] == "CREATE_FAILED"] == [seen[failed]], seen
    outside = c.iam.get_role(RoleName="Temporal-Serverless-Worker-dup")["Role"]
    assert outside.get("Description") == "made outside the stack", outside
    assert c.iam.list_role_policies(RoleName="Temporal-Serverless-Worker-dup")["PolicyNames"] == []
    not_updatable = f"Stack:{stack_id} is in ROLLBACK_COMPLETE state and can not be updated."
    expect_error(lambda: c.cf.update_stack(StackName="dup", TemplateBody=TEMPLATE, Parameters=params()),
                 "ValidationError", not_updatable, 400)
    expect_error(lambda: change_set(c, "dup", "retry", "UPDATE"), "ValidationError", not_updatable, 400)
    c.cf.delete_stack(StackName="dup")
    assert c.cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert role_exists(c, "Temporal-Serverless-Worker-dup")


@check
def create_failure_deletes_what_was_created(c: Clients, launcher: Launcher) -> None:
    c.cf.create_stack(StackName="half", TemplateBody=TEMPLATE_POLICY_FAILS, Parameters=params())
    assert stack(c, "half")["StackStatus"] == "ROLLBACK_COMPLETE", stack(c, "half")["StackStatus"]
    seen = events(c, "half")
    created = index_of(seen, "TemporalServerlessWorker", "CREATE_COMPLETE")
    failed = index_of(seen, "TemporalLambdaInvokePermissions", "CREATE_FAILED", created)
    assert "role-that-does-not-exist" in (seen[failed][2] or ""), seen[failed]
    rollback = index_of(seen, "half", "ROLLBACK_IN_PROGRESS", failed)
    assert "[TemporalLambdaInvokePermissions]" in (seen[rollback][2] or ""), seen[rollback]
    deleted = index_of(seen, "TemporalServerlessWorker", "DELETE_COMPLETE", rollback)
    assert index_of(seen, "half", "ROLLBACK_COMPLETE", deleted) == len(seen) - 1, seen
    assert not role_exists(c, "Temporal-Serverless-Worker-half")
    assert c.cf.describe_stack_resources(StackName="half")["StackResources"] == []
    assert not role_exists(c, "Temporal-Serverless-Worker-half"), "describe re-created the role"
    c.cf.delete_stack(StackName="half")


@check
def a_change_set_name_is_taken_once_unless_the_client_token_repeats(c: Clients, launcher: Launcher) -> None:
    def create(token: str | None) -> dict[str, Any]:
        extra = {"ClientToken": token} if token else {}
        return c.cf.create_change_set(StackName="csname", ChangeSetName="once", TemplateBody=TEMPLATE,
                                      Parameters=params(), ChangeSetType="CREATE",
                                      Capabilities=["CAPABILITY_NAMED_IAM"], **extra)

    first = create("token-1")
    again = create("token-1")
    assert (again["Id"], again["StackId"]) == (first["Id"], first["StackId"]), (first, again)
    expect_error(lambda: create("token-2"), "AlreadyExistsException", "ChangeSet once already exists", 400)
    expect_error(lambda: create(None), "AlreadyExistsException", "ChangeSet once already exists", 400)
    named = [s for s in c.cf.list_stacks()["StackSummaries"] if s["StackName"] == "csname"]
    assert len(named) == 1 and named[0]["StackStatus"] == "REVIEW_IN_PROGRESS", named
    c.cf.delete_change_set(ChangeSetName=first["Id"])
    c.cf.delete_stack(StackName=first["StackId"])


@check
def execute_create_change_set_rolls_back(c: Clients, launcher: Launcher) -> None:
    c.iam.create_role(RoleName="Temporal-Serverless-Worker-csdup", AssumeRolePolicyDocument=trust_policy("*"))
    cs = change_set(c, "csdup", "create", "CREATE")
    assert cs["Status"] == "CREATE_COMPLETE" and cs["ExecutionStatus"] == "AVAILABLE", cs
    c.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
    assert stack(c, "csdup")["StackStatus"] == "ROLLBACK_COMPLETE", stack(c, "csdup")["StackStatus"]
    seen = events(c, "csdup")
    failed = index_of(seen, "TemporalServerlessWorker", "CREATE_FAILED")
    assert seen[failed][2] == "Role with name Temporal-Serverless-Worker-csdup already exists.", seen[failed]
    index_of(seen, "csdup", "ROLLBACK_COMPLETE", failed)
    assert c.cf.describe_change_set(ChangeSetName=cs["ChangeSetId"])["ExecutionStatus"] == "EXECUTE_FAILED"


@check
def update_failure_rolls_back_and_keeps_previous_state(c: Clients, launcher: Launcher) -> None:
    create_ok(c, "upd")
    before_outputs = outputs(c, "upd")
    c.iam.create_role(RoleName="Taken-upd", AssumeRolePolicyDocument=trust_policy("*"))
    c.cf.update_stack(StackName="upd", TemplateBody=TEMPLATE, Parameters=params(RoleName="Taken"))
    assert stack(c, "upd")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", stack(c, "upd")["StackStatus"]
    seen = events(c, "upd")
    start = index_of(seen, "upd", "UPDATE_IN_PROGRESS")
    failed = index_of(seen, "TemporalServerlessWorker", "UPDATE_FAILED", start)
    assert seen[failed][2] == "Role with name Taken-upd already exists.", seen[failed]
    rollback = index_of(seen, "upd", "UPDATE_ROLLBACK_IN_PROGRESS", failed)
    assert seen[rollback][2] == "The following resource(s) failed to update: [TemporalServerlessWorker].", seen
    assert seen[-1][:2] == ("upd", "UPDATE_ROLLBACK_COMPLETE"), seen
    assert stack_params(c, "upd")["RoleName"] == "Temporal-Serverless-Worker"
    assert c.cf.get_template(StackName="upd")["TemplateBody"] == TEMPLATE
    assert outputs(c, "upd") == before_outputs
    assert c.iam.list_role_policies(RoleName="Temporal-Serverless-Worker-upd")["PolicyNames"] == [
        "Temporal-Lambda-Invoke-Permissions"]
    assert c.iam.list_role_policies(RoleName="Taken-upd")["PolicyNames"] == []
    cs = change_set(c, "upd", "taken", "UPDATE", parameters=params(RoleName="Taken"))
    c.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
    assert stack(c, "upd")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert c.cf.describe_change_set(ChangeSetName=cs["ChangeSetId"])["ExecutionStatus"] == "EXECUTE_FAILED"
    assert role_exists(c, "Temporal-Serverless-Worker-upd")


@check
def update_applies_new_external_id_and_renames(c: Clients, launcher: Launcher) -> None:
    role_arn = outputs(c, "upd")["RoleARN"]
    c.cf.update_stack(StackName="upd", TemplateBody=TEMPLATE, Parameters=params(AssumeRoleExternalId="ext-id-67890"))
    assert stack(c, "upd")["StackStatus"] == "UPDATE_COMPLETE", stack(c, "upd")["StackStatus"]
    expect_error(lambda: c.sts.assume_role(RoleArn=role_arn, RoleSessionName="old", ExternalId=EXTERNAL_ID),
                 "AccessDenied", status=403)
    c.sts.assume_role(RoleArn=role_arn, RoleSessionName="new", ExternalId="ext-id-67890")
    cs = change_set(c, "upd", "rename", "UPDATE", parameters=params(AssumeRoleExternalId="ext-id-67890",
                                                                     RoleName="Renamed"))
    found = changes(cs)
    assert found["TemporalServerlessWorker"]["Action"] == "Modify", found
    assert found["TemporalServerlessWorker"]["Replacement"] == "True", found
    assert found["TemporalLambdaInvokePermissions"]["Action"] == "Modify", found
    c.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
    assert stack(c, "upd")["StackStatus"] == "UPDATE_COMPLETE", events(c, "upd")
    assert not role_exists(c, "Temporal-Serverless-Worker-upd")
    new_arn = outputs(c, "upd")["RoleARN"]
    assert new_arn.endswith(":role/Renamed-upd"), new_arn
    assert c.iam.list_role_policies(RoleName="Renamed-upd")["PolicyNames"] == ["Temporal-Lambda-Invoke-Permissions"]
    c.sts.assume_role(RoleArn=new_arn, RoleSessionName="renamed", ExternalId="ext-id-67890")
    c.cf.delete_stack(StackName="upd")
    assert not role_exists(c, "Renamed-upd")
    assert "upd-RoleARN" not in [e["Name"] for e in c.cf.list_exports()["Exports"]]


@check
def iam_rejects_invalid_trust_policy_principals(c: Clients, launcher: Launcher) -> None:
    valid = ["*", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:user/bob",
             f"arn:aws:iam::{ACCOUNT}:role/path/r", f"arn:aws:sts::{ACCOUNT}:assumed-role/r/session"]
    for i, principal in enumerate(valid):
        c.iam.create_role(RoleName=f"principal-ok-{i}", AssumeRolePolicyDocument=trust_policy(principal))
    for principal in ("not-an-arn", f"arn:aws:iam::{ACCOUNT}:group/devs", "arn:aws:iam::12345:role/x"):
        document = trust_policy(principal)
        expect_error(lambda: c.iam.create_role(RoleName="principal-bad", AssumeRolePolicyDocument=document),
                     "MalformedPolicyDocument", f'Invalid principal in policy: "AWS":"{principal}"', 400)
    expect_error(lambda: c.iam.update_assume_role_policy(RoleName="principal-ok-0", PolicyDocument=trust_policy("x")),
                 "MalformedPolicyDocument", 'Invalid principal in policy: "AWS":"x"')
    assert not role_exists(c, "principal-bad")
    c.cf.create_stack(StackName="badprincipal", TemplateBody=TEMPLATE, Parameters=params(TemporalIamRoleArn="bogus"))
    assert stack(c, "badprincipal")["StackStatus"] == "ROLLBACK_COMPLETE"
    seen = events(c, "badprincipal")
    failed = index_of(seen, "TemporalServerlessWorker", "CREATE_FAILED")
    assert seen[failed][2] == 'Invalid principal in policy: "AWS":"bogus"', seen[failed]


@check
def iam_duplicate_role_names_are_case_insensitive(c: Clients, launcher: Launcher) -> None:
    expect_error(lambda: c.iam.create_role(RoleName="PLAIN", AssumeRolePolicyDocument=trust_policy("*")),
                 "EntityAlreadyExists", "Role with name PLAIN already exists.", 409)


@check
def change_set_without_changes_fails(c: Clients, launcher: Launcher) -> None:
    create_ok(c, "same")
    variants = [params(), params(RoleName="Temporal-Serverless-Worker"),
                [{"ParameterKey": k, "UsePreviousValue": True}
                 for k in ("TemporalIamRoleArn", "AssumeRoleExternalId", "LambdaFunctionARNs")]]
    for i, parameters in enumerate(variants):
        cs = change_set(c, "same", f"nothing-{i}", "UPDATE", parameters=parameters)
        assert cs["Status"] == "FAILED" and cs["StatusReason"] == NO_CHANGES, (i, cs["Status"], cs.get("StatusReason"))
        assert cs["ExecutionStatus"] == "UNAVAILABLE", cs
        expect_error(lambda: c.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"]), "InvalidChangeSetStatus")
        expect_error(lambda: c.cf.update_stack(StackName="same", TemplateBody=TEMPLATE, Parameters=parameters),
                     "ValidationError", "No updates are to be performed.", 400)
    assert stack(c, "same")["StackStatus"] == "CREATE_COMPLETE"


@check
def change_sets_list_their_changes(c: Clients, launcher: Launcher) -> None:
    found = changes(change_set(c, "listing", "create", "CREATE"))
    assert {k: (v["Action"], v["ResourceType"]) for k, v in found.items()} == {
        "TemporalServerlessWorker": ("Add", "AWS::IAM::Role"),
        "TemporalLambdaInvokePermissions": ("Add", "AWS::IAM::Policy")}, found
    found = changes(change_set(c, "same", "new-id", "UPDATE", parameters=params(AssumeRoleExternalId="other-id")))
    assert list(found) == ["TemporalServerlessWorker"], found
    assert (found["TemporalServerlessWorker"]["Action"], found["TemporalServerlessWorker"]["Replacement"]) == (
        "Modify", "False"), found
    found = changes(change_set(c, "same", "new-lambdas", "UPDATE", parameters=params(LambdaFunctionARNs="arn:x")))
    assert list(found) == ["TemporalLambdaInvokePermissions"], found
    found = changes(change_set(c, "same", "renamed-policy", "UPDATE", body=TEMPLATE_POLICY_RENAMED))
    assert {k: v["Action"] for k, v in found.items()} == {
        "TemporalLambdaPermissions": "Add", "TemporalLambdaInvokePermissions": "Remove"}, found
    cs = change_set(c, "same", "renamed-policy-2", "UPDATE", body=TEMPLATE_POLICY_RENAMED)
    c.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
    assert stack(c, "same")["StackStatus"] == "UPDATE_COMPLETE", events(c, "same")
    assert c.iam.list_role_policies(RoleName="Temporal-Serverless-Worker-same")["PolicyNames"] == [
        "Temporal-Lambda-Invoke-Permissions-v2"]
    seen = events(c, "same")
    cleanup = index_of(seen, "same", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    assert index_of(seen, "TemporalLambdaPermissions", "CREATE_COMPLETE") < cleanup, seen
    index_of(seen, "TemporalLambdaInvokePermissions", "DELETE_COMPLETE", cleanup)
    resources = c.cf.describe_stack_resources(StackName="same")["StackResources"]
    assert sorted(r["LogicalResourceId"] for r in resources) == [
        "TemporalLambdaPermissions", "TemporalServerlessWorker"], resources


@check
def second_create_change_set_reuses_stack_in_review(c: Clients, launcher: Launcher) -> None:
    first = change_set(c, "review", "first", "CREATE")
    second = change_set(c, "review", "second", "CREATE")
    assert first["StackId"] == second["StackId"], (first["StackId"], second["StackId"])
    assert [s["StackStatus"] for s in c.cf.describe_stacks()["Stacks"] if s["StackName"] == "review"] == [
        "REVIEW_IN_PROGRESS"]
    c.cf.execute_change_set(ChangeSetName=second["ChangeSetId"])
    assert stack(c, "review")["StackStatus"] == "CREATE_COMPLETE"
    expect_error(lambda: change_set(c, "review", "third", "CREATE"), "ValidationError",
                 "Stack [review] already exists and cannot be created again with the changeSet [third].")


# --------------------------------------------------------------------------- StackSets

STACK_SET_SECONDS = 0.5  # SANDBOX_STACK_SET_OPERATION_SECONDS of the checked launcher (see main)
FIXED_NAME_TEMPLATE = TEMPLATE.replace("!Sub '${RoleName}-${AWS::StackName}'", "!Ref RoleName")


def in_account(c: Clients, service: str, account: str) -> Any:
    """A client of `service` that moto answers as `account` (the x-moto-account-id header)."""
    client = boto3.client(service, endpoint_url=c.cf.meta.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", account))
    return client


def org_unit(c: Clients, name: str, members: int) -> tuple[str, str, list[str]]:
    """(root id, a new OU, its new member accounts), in the organization of the checked account."""
    org = boto3.client("organizations", endpoint_url=c.cf.meta.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        org.describe_organization()
    except ClientError:
        org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"]
    accounts = []
    for i in range(members):
        account = org.create_account(Email=f"{name}-{i}@example.com", AccountName=f"{name}-{i}")
        account_id = account["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou)
        accounts.append(account_id)
    return root, ou, accounts


def set_params(role_name: str, external_id: str = EXTERNAL_ID) -> list[dict[str, str]]:
    return params(AssumeRoleExternalId=external_id) + [{"ParameterKey": "RoleName", "ParameterValue": role_name}]


def stack_set_with_instances(c: Clients, name: str, ou: str, role_name: str, retain: bool = False,
                             **prefs: Any) -> str:
    c.cf.create_stack_set(StackSetName=name, TemplateBody=FIXED_NAME_TEMPLATE, Parameters=set_params(role_name),
                          PermissionModel="SERVICE_MANAGED", Capabilities=["CAPABILITY_NAMED_IAM"],
                          AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": retain})
    return str(c.cf.create_stack_instances(StackSetName=name, Regions=["us-east-1"], OperationPreferences=prefs,
                                           DeploymentTargets={"OrganizationalUnitIds": [ou]})["OperationId"])


def operation_done(c: Clients, name: str, operation_id: str) -> dict[str, Any]:
    def finished() -> Any:
        op = c.cf.describe_stack_set_operation(StackSetName=name, OperationId=operation_id)["StackSetOperation"]
        return op if op["Status"] not in ("RUNNING", "QUEUED") else None
    return dict(wait_for(f"operation {operation_id}", finished))


def results(c: Clients, name: str, operation_id: str) -> dict[str, tuple[str, str | None]]:
    found = c.cf.list_stack_set_operation_results(StackSetName=name, OperationId=operation_id)["Summaries"]
    return {r["Account"]: (r["Status"], r.get("StatusReason")) for r in found}


def instances(c: Clients, name: str) -> dict[str, tuple[str, str, str | None]]:
    found = c.cf.list_stack_instances(StackSetName=name)["Summaries"]
    return {i["Account"]: (i["Status"], i["StackInstanceStatus"]["DetailedStatus"], i.get("StatusReason"))
            for i in found}


def trusted_external_id(c: Clients, account: str, role_name: str) -> Any:
    role = in_account(c, "iam", account).get_role(RoleName=role_name)["Role"]
    return _load_external_id(role["AssumeRolePolicyDocument"])


def _load_external_id(document: Any) -> Any:
    statement = document["Statement"][0]
    return statement["Condition"]["StringEquals"]["sts:ExternalId"]


@check
def iam_role_names_follow_iams_rule(c: Clients, launcher: Launcher) -> None:
    policy = trust_policy(TEMPORAL_ARN)
    expect_error(lambda: c.iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument=policy), "ValidationError",
                 contains="Member must have length less than or equal to 64")
    expect_error(lambda: c.iam.create_role(RoleName="bad/name", AssumeRolePolicyDocument=policy), "ValidationError",
                 contains="regular expression pattern")
    c.iam.create_role(RoleName="r" * 64, AssumeRolePolicyDocument=policy)


@check
def stack_set_operations_run_then_deploy_real_stacks_in_each_account(c: Clients, launcher: Launcher) -> None:
    _, ou, accounts = org_unit(c, "running", 2)
    started = time.monotonic()
    op = stack_set_with_instances(c, "running", ou, "Running-Role")
    described = c.cf.describe_stack_set_operation(StackSetName="running", OperationId=op)["StackSetOperation"]
    assert described["Status"] == "RUNNING", described
    # One account at a time (MaxConcurrentCount 1, AWS's default): the second waits for its half.
    assert {v[:2] for v in instances(c, "running").values()} <= {("OUTDATED", "RUNNING"), ("OUTDATED", "PENDING")}, \
        instances(c, "running")
    expect_error(lambda: c.cf.update_stack_set(StackSetName="running", UsePreviousTemplate=True,
                                               Parameters=set_params("Running-Role")),
                 "OperationInProgressException")
    assert operation_done(c, "running", op)["Status"] == "SUCCEEDED"
    assert time.monotonic() - started >= STACK_SET_SECONDS * 0.9
    assert results(c, "running", op) == {a: ("SUCCEEDED", None) for a in accounts}, results(c, "running", op)
    assert instances(c, "running") == {a: ("CURRENT", "SUCCEEDED", None) for a in accounts}
    assert c.cf.describe_stack_set(StackSetName="running")["StackSet"]["AutoDeployment"] == {
        "Enabled": True, "RetainStacksOnAccountRemoval": False}
    for account in accounts:
        assert trusted_external_id(c, account, "Running-Role") == [EXTERNAL_ID]
        instance = c.cf.describe_stack_instance(StackSetName="running", StackInstanceAccount=account,
                                                StackInstanceRegion="us-east-1")["StackInstance"]
        stacks = in_account(c, "cloudformation", account).describe_stacks(StackName=instance["StackId"])["Stacks"]
        assert stacks[0]["StackName"].startswith("StackSet-running-"), stacks[0]["StackName"]
        assert stacks[0]["StackStatus"] == "CREATE_COMPLETE", stacks[0]["StackStatus"]


def role_names(c: Clients, accounts: list[str], role_name: str) -> dict[str, bool]:
    """Whether each of `accounts` holds role `role_name`."""
    found = {}
    for account in accounts:
        iam = in_account(c, "iam", account)
        try:
            iam.get_role(RoleName=role_name)
            found[account] = True
        except iam.exceptions.NoSuchEntityException:
            found[account] = False
    return found


@check
def stack_set_operations_reach_their_accounts_batch_by_batch_and_a_stop_leaves_the_rest(
        c: Clients, launcher: Launcher) -> None:
    # MaxConcurrentCount 1 over 3 accounts: a batch per account, each begun at a third of the
    # operation's time. Not stopped, it reaches all 3.
    _, ou, accounts = org_unit(c, "batched", 3)
    op = stack_set_with_instances(c, "batched", ou, "Batched-Role", MaxConcurrentCount=1)
    assert operation_done(c, "batched", op)["Status"] == "SUCCEEDED"
    assert results(c, "batched", op) == {a: ("SUCCEEDED", None) for a in accounts}, results(c, "batched", op)
    assert role_names(c, accounts, "Batched-Role") == {a: True for a in accounts}
    # Stopped during its first third (6 s operations here: 2 s each), it reaches the first account
    # only: the other two get no role, their instances stay OUTDATED (CANCELLED), and the results
    # name the account it reached.
    seconds = os.environ["SANDBOX_STACK_SET_OPERATION_SECONDS"]
    os.environ["SANDBOX_STACK_SET_OPERATION_SECONDS"] = "6"
    try:
        slow = Launcher(free_port(), parent_pid=os.getpid())
    finally:
        os.environ["SANDBOX_STACK_SET_OPERATION_SECONDS"] = seconds
    try:
        s = Clients(slow.url)
        _, ou, accounts = org_unit(s, "stopped", 3)
        op = stack_set_with_instances(s, "stopped", ou, "Stopped-Role", MaxConcurrentCount=1)
        s.cf.stop_stack_set_operation(StackSetName="stopped", OperationId=op)
        assert operation_done(s, "stopped", op)["Status"] == "STOPPED"
        assert results(s, "stopped", op) == {accounts[0]: ("SUCCEEDED", None)}, results(s, "stopped", op)
        assert instances(s, "stopped") == {accounts[0]: ("CURRENT", "SUCCEEDED", None),
                                           accounts[1]: ("OUTDATED", "CANCELLED", None),
                                           accounts[2]: ("OUTDATED", "CANCELLED", None)}, instances(s, "stopped")
        time.sleep(6)  # past the operation's time: the batches not begun are never applied
        assert role_names(s, accounts, "Stopped-Role") == {accounts[0]: True, accounts[1]: False,
                                                           accounts[2]: False}
    finally:
        slow.stop(signal.SIGTERM)
        slow.cleanup()


@check
def update_stack_set_reaches_every_instance(c: Clients, launcher: Launcher) -> None:
    _, ou, accounts = org_unit(c, "updated", 2)
    operation_done(c, "updated", stack_set_with_instances(c, "updated", ou, "Updated-Role"))
    op = c.cf.update_stack_set(StackSetName="updated", UsePreviousTemplate=True,
                               Parameters=set_params("Updated-Role", "new-external-id"))["OperationId"]
    assert operation_done(c, "updated", op)["Status"] == "SUCCEEDED"
    for account in accounts:
        assert trusted_external_id(c, account, "Updated-Role") == ["new-external-id"], account


@check
def update_stack_set_tags_reach_every_instances_stack(c: Clients, launcher: Launcher) -> None:
    _, ou, accounts = org_unit(c, "tagged", 2)
    c.cf.create_stack_set(StackSetName="tagged", TemplateBody=FIXED_NAME_TEMPLATE, Parameters=set_params("Tagged-Role"),
                          PermissionModel="SERVICE_MANAGED", Capabilities=["CAPABILITY_NAMED_IAM"],
                          AutoDeployment={"Enabled": False}, Tags=[{"Key": "team", "Value": "orders"}])
    operation_done(c, "tagged", c.cf.create_stack_instances(
        StackSetName="tagged", Regions=["us-east-1"], DeploymentTargets={"OrganizationalUnitIds": [ou]})["OperationId"])

    def stack_tags(account: str) -> dict[str, str]:
        instance = c.cf.describe_stack_instance(StackSetName="tagged", StackInstanceAccount=account,
                                                StackInstanceRegion="us-east-1")["StackInstance"]
        stack = in_account(c, "cloudformation", account).describe_stacks(StackName=instance["StackId"])["Stacks"][0]
        return {t["Key"]: t["Value"] for t in stack.get("Tags", [])}

    assert all(stack_tags(a) == {"team": "orders"} for a in accounts), [stack_tags(a) for a in accounts]
    # A change of tags alone: as AWS, UpdateStackSet puts them on each instance's stack.
    op = c.cf.update_stack_set(StackSetName="tagged", UsePreviousTemplate=True, Parameters=set_params("Tagged-Role"),
                               Tags=[{"Key": "team", "Value": "payments"}])["OperationId"]
    assert operation_done(c, "tagged", op)["Status"] == "SUCCEEDED"
    assert c.cf.describe_stack_set(StackSetName="tagged")["StackSet"]["Tags"] == [{"Key": "team", "Value": "payments"}]
    assert all(stack_tags(a) == {"team": "payments"} for a in accounts), [stack_tags(a) for a in accounts]


@check
def failing_instances_report_their_reason_and_failure_tolerance_stops(c: Clients, launcher: Launcher) -> None:
    _, ou, accounts = org_unit(c, "failing", 3)
    in_account(c, "iam", accounts[0]).create_role(RoleName="Taken-Role", AssumeRolePolicyDocument=trust_policy(
        TEMPORAL_ARN))
    op = stack_set_with_instances(c, "failing", ou, "Taken-Role", FailureToleranceCount=1, MaxConcurrentCount=1)
    assert operation_done(c, "failing", op)["Status"] == "SUCCEEDED"  # one failure is tolerated
    got = results(c, "failing", op)
    assert got[accounts[0]][0] == "FAILED" and "Taken-Role already exists" in str(got[accounts[0]][1]), got
    assert got[accounts[1]] == got[accounts[2]] == ("SUCCEEDED", None), got
    assert instances(c, "failing")[accounts[0]][:2] == ("OUTDATED", "FAILED"), instances(c, "failing")
    op = c.cf.update_stack_set(StackSetName="failing", UsePreviousTemplate=True, Parameters=set_params("x" * 65),
                               OperationPreferences={"FailureToleranceCount": 0, "MaxConcurrentCount": 1})
    failed = operation_done(c, "failing", op["OperationId"])
    assert failed["Status"] == "FAILED", failed
    got = results(c, "failing", op["OperationId"])
    statuses = sorted(status for status, _ in got.values())
    assert statuses == ["CANCELLED", "CANCELLED", "FAILED"], got
    reason = next(r for s, r in got.values() if s == "FAILED")
    assert "ResourceLogicalId:TemporalServerlessWorker" in str(reason) and "64" in str(reason), reason
    for account in accounts[1:]:  # rolled back or never touched: the role keeps its name
        assert trusted_external_id(c, account, "Taken-Role") == [EXTERNAL_ID]


@check
def stack_set_drift_detection_finds_a_changed_trust_policy(c: Clients, launcher: Launcher) -> None:
    _, ou, accounts = org_unit(c, "drifting", 2)
    operation_done(c, "drifting", stack_set_with_instances(c, "drifting", ou, "Drifting-Role"))
    in_account(c, "iam", accounts[0]).update_assume_role_policy(RoleName="Drifting-Role",
                                                                PolicyDocument=trust_policy(TEMPORAL_ARN))
    op = c.cf.detect_stack_set_drift(StackSetName="drifting")["OperationId"]
    assert operation_done(c, "drifting", op)["Action"] == "DETECT_DRIFT"
    drift = {i["Account"]: i["DriftStatus"] for i in c.cf.list_stack_instances(StackSetName="drifting")["Summaries"]}
    assert drift == {accounts[0]: "DRIFTED", accounts[1]: "IN_SYNC"}, drift
    details = c.cf.describe_stack_set(StackSetName="drifting")["StackSet"]["StackSetDriftDetectionDetails"]
    assert (details["DriftStatus"], details["DriftedStackInstancesCount"]) == ("DRIFTED", 1), details


@check
def auto_deployment_follows_accounts_into_and_out_of_the_ou(c: Clients, launcher: Launcher) -> None:
    root, ou, accounts = org_unit(c, "joining", 1)
    operation_done(c, "joining", stack_set_with_instances(c, "joining", ou, "Joining-Role"))
    _, _, (newcomer,) = org_unit(c, "newcomers", 1)
    org = boto3.client("organizations", endpoint_url=c.cf.meta.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    newcomers = org.list_parents(ChildId=newcomer)["Parents"][0]["Id"]
    org.move_account(AccountId=newcomer, SourceParentId=newcomers, DestinationParentId=ou)
    assert newcomer in instances(c, "joining"), instances(c, "joining")
    last = c.cf.list_stack_set_operations(StackSetName="joining")["Summaries"][-1]
    operation_done(c, "joining", last["OperationId"])
    assert instances(c, "joining")[newcomer] == ("CURRENT", "SUCCEEDED", None)
    assert trusted_external_id(c, newcomer, "Joining-Role") == [EXTERNAL_ID]
    org.move_account(AccountId=newcomer, SourceParentId=ou, DestinationParentId=root)
    assert set(instances(c, "joining")) == set(accounts), instances(c, "joining")
    expect_error(lambda: in_account(c, "iam", newcomer).get_role(RoleName="Joining-Role"), "NoSuchEntity")


@check
def auto_deployment_retains_stacks_of_a_leaving_account_when_asked(c: Clients, launcher: Launcher) -> None:
    root, ou, (leaving, staying) = org_unit(c, "retaining", 2)
    operation_done(c, "retaining", stack_set_with_instances(c, "retaining", ou, "Retained-Role", retain=True))
    org = boto3.client("organizations", endpoint_url=c.cf.meta.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    org.move_account(AccountId=leaving, SourceParentId=ou, DestinationParentId=root)
    assert set(instances(c, "retaining")) == {staying}, instances(c, "retaining")
    assert trusted_external_id(c, leaving, "Retained-Role") == [EXTERNAL_ID]  # the stack and its role stay
    self_managed = c.cf.create_stack_set(StackSetName="self-managed", TemplateBody=FIXED_NAME_TEMPLATE,
                                         Parameters=set_params("Self-Role"))
    assert self_managed["StackSetId"]
    assert "AutoDeployment" not in c.cf.describe_stack_set(StackSetName="self-managed")["StackSet"]
    expect_error(lambda: c.cf.create_stack_set(StackSetName="self-managed-auto", TemplateBody=FIXED_NAME_TEMPLATE,
                                               Parameters=set_params("Self-Role"),
                                               AutoDeployment={"Enabled": True}),
                 "ValidationError", contains="SERVICE_MANAGED")
    expect_error(lambda: c.cf.describe_stack_set(StackSetName="self-managed-auto"), "StackSetNotFoundException")


STACK_SETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
NOT_MANAGEMENT_ACCOUNT = ("You must be the management account or delegated admin account of an organization "
                          "before operating a SERVICE_MANAGED stack set")
NOT_DELEGATED_ADMIN = "Account used is not a delegated administrator"


def delegated_admin(c: Clients, name: str) -> str:
    """A new member account, outside every OU, registered as delegated administrator for StackSets."""
    _, _, (account,) = org_unit(c, name, 1)
    org = boto3.client("organizations", endpoint_url=c.cf.meta.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    org.register_delegated_administrator(AccountId=account, ServicePrincipal=STACK_SETS_PRINCIPAL)
    return account


@check
def stack_sets_honour_call_as_and_delegated_administrators(c: Clients, launcher: Launcher) -> None:
    root, ou, accounts = org_unit(c, "delegated", 2)
    admin = delegated_admin(c, "stackset-admins")
    cf = in_account(c, "cloudformation", admin)
    create = dict(StackSetName="delegated", TemplateBody=FIXED_NAME_TEMPLATE, Parameters=set_params("Delegated-Role"),
                  PermissionModel="SERVICE_MANAGED", Capabilities=["CAPABILITY_NAMED_IAM"])
    # As itself, a member account may not operate a service-managed StackSet.
    expect_error(lambda: cf.create_stack_set(**create), "ValidationError", message=NOT_MANAGEMENT_ACCOUNT)
    expect_error(lambda: cf.create_stack_set(**create, CallAs="SELF"), "ValidationError",
                 message=NOT_MANAGEMENT_ACCOUNT)
    # A member that is not registered may not call as a delegated administrator.
    stranger = in_account(c, "cloudformation", accounts[0])
    expect_error(lambda: stranger.create_stack_set(**create, CallAs="DELEGATED_ADMIN"), "ValidationError",
                 message=NOT_DELEGATED_ADMIN)
    expect_error(lambda: stranger.describe_stack_set(StackSetName="delegated", CallAs="DELEGATED_ADMIN"),
                 "ValidationError", message=NOT_DELEGATED_ADMIN)
    # The delegated administrator's StackSet lives in its account and reaches the OU's accounts.
    arn = cf.create_stack_set(**create, CallAs="DELEGATED_ADMIN")["StackSetId"]
    described = cf.describe_stack_set(StackSetName="delegated", CallAs="DELEGATED_ADMIN")["StackSet"]
    assert f":{admin}:stackset/delegated:" in described["StackSetARN"], described["StackSetARN"]
    assert arn == described["StackSetId"], (arn, described)
    expect_error(lambda: cf.describe_stack_set(StackSetName="delegated"), "ValidationError",
                 message=NOT_MANAGEMENT_ACCOUNT)
    op = cf.create_stack_instances(StackSetName="delegated", Regions=["us-east-1"], CallAs="DELEGATED_ADMIN",
                                   DeploymentTargets={"OrganizationalUnitIds": [ou]})["OperationId"]

    def finished() -> Any:
        found = cf.describe_stack_set_operation(StackSetName="delegated", OperationId=op,
                                                CallAs="DELEGATED_ADMIN")["StackSetOperation"]
        return found if found["Status"] != "RUNNING" else None

    assert wait_for("the delegated administrator's operation", finished)["Status"] == "SUCCEEDED"
    found = cf.list_stack_instances(StackSetName="delegated", CallAs="DELEGATED_ADMIN")["Summaries"]
    assert sorted(i["Account"] for i in found) == sorted(accounts), found
    for account in accounts:
        assert trusted_external_id(c, account, "Delegated-Role") == [EXTERNAL_ID], account
    expect_error(lambda: c.cf.describe_stack_set(StackSetName="delegated"), "StackSetNotFoundException")
    op = cf.delete_stack_instances(StackSetName="delegated", Regions=["us-east-1"], RetainStacks=False,
                                   DeploymentTargets={"OrganizationalUnitIds": [ou]}, CallAs="DELEGATED_ADMIN")
    op = op["OperationId"]
    wait_for("the deletion", finished)
    cf.delete_stack_set(StackSetName="delegated", CallAs="DELEGATED_ADMIN")
    expect_error(lambda: in_account(c, "iam", accounts[0]).get_role(RoleName="Delegated-Role"), "NoSuchEntity")
    # Organizations' reads: the delegated administrator sees the organization, another member is denied.
    member_org = in_account(c, "organizations", admin)
    listed = member_org.list_accounts_for_parent(ParentId=ou)["Accounts"]
    assert sorted(a["Id"] for a in listed) == sorted(accounts), listed
    assert ou in [o["Id"] for o in member_org.list_children(ParentId=root, ChildType="ORGANIZATIONAL_UNIT")["Children"]]
    others = in_account(c, "organizations", accounts[0])
    for call in (lambda: others.list_children(ParentId=root, ChildType="ORGANIZATIONAL_UNIT"),
                 lambda: others.list_accounts_for_parent(ParentId=ou), lambda: others.list_roots()):
        expect_error(call, "AccessDeniedException", message="You don't have permissions to access this resource.")


@check
def enforced_delegated_admin_calls_need_list_delegated_administrators(c: Clients, launcher: Launcher) -> None:
    """With IAM enforced, CallAs DELEGATED_ADMIN needs the caller to be allowed
    organizations:ListDelegatedAdministrators: AWS checks the registration with the caller's rights.
    An emulator of its own, since enforcement is global."""
    other = Launcher(free_port())
    try:
        admin_clients = Clients(other.url)
        org = boto3.client("organizations", endpoint_url=other.url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        org.create_organization(FeatureSet="ALL")
        account = org.create_account(Email="d@example.com", AccountName="d")["CreateAccountStatus"]["AccountId"]
        org.register_delegated_administrator(AccountId=account, ServicePrincipal=STACK_SETS_PRINCIPAL)
        iam = in_account(admin_clients, "iam", account)
        keys = {}
        for user, actions in (("with", ["cloudformation:DescribeStackSet", "organizations:ListDelegatedAdministrators"]),
                              ("without", ["cloudformation:DescribeStackSet"])):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
        urllib.request.urlopen(urllib.request.Request(
            f"{other.url}/moto-api/reset-auth", data=b"0", method="POST",
            headers={"Content-Type": "text/plain"}), timeout=30)

        def cf(user: str) -> Any:
            return boto3.client("cloudformation", endpoint_url=other.url, region_name="us-east-1",
                                aws_access_key_id=keys[user]["AccessKeyId"],
                                aws_secret_access_key=keys[user]["SecretAccessKey"],
                                config=Config(retries={"max_attempts": 1}))

        expect_error(lambda: cf("with").describe_stack_set(StackSetName="none", CallAs="DELEGATED_ADMIN"),
                     "StackSetNotFoundException")
        expect_error(lambda: cf("without").describe_stack_set(StackSetName="none", CallAs="DELEGATED_ADMIN"),
                     "ValidationError", message=NOT_DELEGATED_ADMIN)
    finally:
        other.stop(signal.SIGTERM)
        other.cleanup()


@check
def port_in_use_fails_fast(c: Clients, launcher: Launcher) -> None:
    port = int(launcher.url.rsplit(":", 1)[1])
    done = subprocess.run([sys.executable, str(LAUNCHER), "--host", HOST, "--port", str(port)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "in use" in done.stderr, (done.returncode, done.stderr)
    assert "moto ready" not in done.stdout, done.stdout


@check
def fails_loudly_when_a_moto_internal_is_missing(c: Clients, launcher: Launcher) -> None:
    code = ("import runpy, sys; import moto.sts.responses as r; del r.TokenResponse.assume_role; "
            f"sys.argv = ['moto_launcher.py', '--port', '0']; runpy.run_path({str(LAUNCHER)!r}, run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)
    assert "TokenResponse.assume_role" in done.stderr and "moto 5.2.5" in done.stderr, done.stderr
    assert "moto ready" not in done.stdout, done.stdout


NETWORK_GUARD_PROBE = """
import socket, sys
sys.path.insert(0, sys.argv[1])
import moto_launcher
moto_launcher.patch_network_guard()
for target in (("192.0.2.1", 80), ("example.com", 443)):
    try:
        socket.create_connection(target, timeout=5)
    except (PermissionError, socket.gaierror) as exc:
        assert "moto_launcher" in str(exc), exc
    else:
        raise SystemExit(f"connected to {target}")
server = socket.create_server(("127.0.0.1", 0))
socket.create_connection(server.getsockname(), timeout=5).close()
print("guarded")
"""


@check
def network_guard_only_allows_loopback(c: Clients, launcher: Launcher) -> None:
    done = subprocess.run([sys.executable, "-B", "-c", NETWORK_GUARD_PROBE, str(LAUNCHER.parent)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "guarded", (done.stdout, done.stderr)


@check
def exits_when_parent_process_is_gone(c: Clients, launcher: Launcher) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    child = Launcher(free_port(), parent_pid=parent.pid)
    try:
        assert child.wait(1.5) is None, "exited while the parent was alive"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        code = child.wait(10)
        assert code == 0, f"launcher exit code {code} after parent died"
    finally:
        if parent.poll() is None:
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait(10)
        child.cleanup()


@check
def exits_cleanly_on_sigint(c: Clients, launcher: Launcher) -> None:
    other = Launcher(free_port())
    try:
        code = other.stop(signal.SIGINT)
        assert code == 0, f"exit code {code} on SIGINT"
    finally:
        other.cleanup()


@check
def enforced_iam_checks_forms_as_sent_and_denies_in_the_query_shape(c: Clients, launcher: Launcher) -> None:
    """With IAM enforced: a form body encoded otherwise than botocore would (`%20` for a space,
    as the Rust SDK sends it) passes the signature check, and so does a GET without a body
    (Lambda's GetFunction); a denied action answers AccessDenied with its code and the action
    in the message, in JSON as AccessDeniedException for Lambda. An emulator of its own, since
    enforcement is global."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    other = Launcher(free_port())
    try:
        admin = Clients(other.url)
        admin.iam.create_user(UserName="reader")
        admin.iam.put_user_policy(UserName="reader", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "cloudformation:DescribeStacks", "Resource": "*"},
                          {"Effect": "Allow", "Action": ["lambda:GetFunction", "lambda:InvokeFunction"],
                           "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:enforced"}]}))
        key = admin.iam.create_access_key(UserName="reader")["AccessKey"]
        function = make_function(admin, "enforced", "def handler(event, context):\n    return 1\n")
        make_function(admin, "unlisted", "def handler(event, context):\n    return 1\n")
        urllib.request.urlopen(urllib.request.Request(
            f"{other.url}/moto-api/reset-auth", data=b"0", method="POST",
            headers={"Content-Type": "text/plain"}), timeout=30)
        body = "Action=DescribeStacks&Version=2010-05-15&StackName=not%20there"
        request = AWSRequest(method="POST", url=other.url + "/", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "cloudformation",
                  "us-east-1").add_auth(request)
        try:
            urllib.request.urlopen(urllib.request.Request(
                other.url + "/", data=body.encode(), method="POST", headers=dict(request.headers)), timeout=30)
            raise AssertionError("DescribeStacks of a missing stack succeeded")
        except urllib.error.HTTPError as exc:
            answer = exc.read().decode()
            assert "does not exist" in answer and "SignatureDoesNotMatch" not in answer, answer
        config = Config(retries={"max_attempts": 1})
        reader = boto3.client("cloudformation", endpoint_url=other.url, region_name="us-east-1",
                              aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"], config=config)
        expect_error(lambda: reader.list_stacks(), "AccessDenied",
                     contains="not authorized to perform: cloudformation:ListStacks", status=403)
        lam = boto3.client("lambda", endpoint_url=other.url, region_name="us-east-1",
                           aws_access_key_id=key["AccessKeyId"],
                           aws_secret_access_key=key["SecretAccessKey"], config=config)
        assert lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"] == function
        assert lam.get_function(FunctionName="enforced")["Configuration"]["FunctionArn"] == function
        assert lam.invoke(FunctionName=function, Payload=b"{}")["StatusCode"] == 200
        for call in (lambda: lam.get_function(FunctionName="unlisted"),
                     lambda: lam.invoke(FunctionName="unlisted", Payload=b"{}")):
            expect_error(call, "AccessDeniedException", contains="not authorized to perform: lambda:", status=403)
        expect_error(lambda: lam.invoke(FunctionName="unlisted"), "AccessDeniedException",
                     contains="not authorized to perform: lambda:InvokeFunction", status=403)
    finally:
        other.stop(signal.SIGTERM)
        other.cleanup()


# --------------------------------------------------------------------------- main


def main() -> int:
    os.environ["SANDBOX_STACK_SET_OPERATION_SECONDS"] = str(STACK_SET_SECONDS)
    launcher = Launcher(free_port(), parent_pid=os.getpid())
    passed = failed = 0
    try:
        clients = Clients(launcher.url)
        for fn in CHECKS:
            try:
                fn(clients, launcher)
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}\n{traceback.format_exc()}", flush=True)
            else:
                passed += 1
                print(f"ok   {fn.__name__}", flush=True)
        code = launcher.stop(signal.SIGTERM)
        if code == 0:
            passed += 1
            print("ok   exits_cleanly_on_sigterm", flush=True)
        else:
            failed += 1
            print(f"FAIL exits_cleanly_on_sigterm: exit code {code}", flush=True)
        if "Traceback" in Path(launcher.log.name).read_text(errors="replace"):
            failed += 1
            print("FAIL launcher_log_has_no_tracebacks (a request hit an internal error)", flush=True)
        else:
            passed += 1
            print("ok   launcher_log_has_no_tracebacks", flush=True)
        if failed:
            print(f"launcher log (tail):\n{launcher.log_text()}", flush=True)
    finally:
        launcher.cleanup()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
