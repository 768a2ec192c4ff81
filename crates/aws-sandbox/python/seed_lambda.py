"""Creates Lambda functions in the sandbox's AWS emulator, so that a Temporal server's
GetFunction finds them and its Invoke runs them, as it would with the real ones.

Usage: python seed_lambda.py < SPEC.json, where SPEC is
  {"endpoint": URL, "functions": [{"arn": ARN, "worker": null | WORKER}, ...]}
  WORKER = {"files": {NAME: TEXT}, "handler": "module.function", "timeout": SECONDS,
            "env": {NAME: VALUE}}

A function without a worker gets a stub handler and is left alone when it exists. A function
with a worker is created, or updated when its code or configuration differ, from a zip of the
files that is the same bytes for the same files (sorted, fixed times and modes), and a version
is published (Lambda publishes nothing when nothing changed). A qualified ARN gets published
versions up to its number, or an alias of that name pointing at the newest version.
The caller (aws-sandbox) has checked that the endpoint is a loopback address.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import zipfile
from typing import Any

import boto3

EXEC_ROLE = "temporal-sandbox-lambda-exec"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
RUNTIME = "python3.13"
STUB = {"lambda_function.py": "def handler(event, context):\n    return {'sandbox': True}\n"}


def package(files: dict[str, str]) -> bytes:
    """A zip whose bytes depend only on the files' names and contents."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name])
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def exec_role(endpoint: str) -> str:
    """The functions' execution role. Created first and looked up when it exists: two seeders
    at once (tests run in parallel) would both miss a lookup and the second create would fail."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    try:
        return str(iam.create_role(RoleName=EXEC_ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=EXEC_ROLE)["Role"]["Arn"])


def current(lam: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(lam.get_function_configuration(FunctionName=name))
    except lam.exceptions.ResourceNotFoundException:
        return None


def deploy_worker(lam: Any, name: str, role: str, worker: dict[str, Any]) -> str:
    """Creates or updates the function from `worker`; says which."""
    code = package(worker["files"])
    config = {"Handler": worker["handler"], "Timeout": int(worker["timeout"]), "Runtime": RUNTIME,
              "Environment": {"Variables": dict(worker["env"])}}
    found = current(lam, name)
    if found is None:
        lam.create_function(FunctionName=name, Role=role, Code={"ZipFile": code}, **config)
        return "created"
    changed = False
    if found.get("CodeSha256") != sha256(code):
        lam.update_function_code(FunctionName=name, ZipFile=code)
        changed = True
    have = {"Handler": found.get("Handler"), "Timeout": found.get("Timeout"), "Runtime": found.get("Runtime"),
            "Environment": {"Variables": found.get("Environment", {}).get("Variables", {})}}
    if have != config:
        lam.update_function_configuration(FunctionName=name, **config)
        changed = True
    return "updated" if changed else "unchanged"


def qualify(lam: Any, name: str, qualifier: str, moving: bool) -> None:
    """Versions up to a numeric qualifier, or an alias (moved to the newest version when the
    function runs the sample worker)."""
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"] if v["Version"] != "$LATEST"]
    if qualifier.isdigit():
        while len(versions) < int(qualifier):
            versions.append(lam.publish_version(FunctionName=name)["Version"])
        return
    newest = versions[-1] if versions else lam.publish_version(FunctionName=name)["Version"]
    try:
        alias = lam.get_alias(FunctionName=name, Name=qualifier)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_alias(FunctionName=name, Name=qualifier, FunctionVersion=newest)
        return
    if moving and alias["FunctionVersion"] != newest:
        lam.update_alias(FunctionName=name, Name=qualifier, FunctionVersion=newest)


def seed(endpoint: str, role: str, arn: str, worker: dict[str, Any] | None) -> str:
    parts = arn.split(":")
    region, name = parts[3], parts[6]
    qualifier = parts[7] if len(parts) > 7 else None
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name=region)
    if worker is not None:
        state = deploy_worker(lam, name, role, worker)
        version = lam.publish_version(FunctionName=name)["Version"]
        what = f"{state} {arn} (sample worker, published version {version})"
    elif current(lam, name) is None:
        lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=role, Handler="lambda_function.handler",
                            Code={"ZipFile": package(STUB)})
        what = f"created {arn}"
    else:
        what = f"exists  {arn}"
    if qualifier and qualifier not in ("$LATEST", "*"):
        qualify(lam, name, qualifier, moving=worker is not None)
    return what


def main() -> int:
    spec = json.load(sys.stdin)
    endpoint = spec["endpoint"]
    role = exec_role(endpoint)
    for function in spec["functions"]:
        print(seed(endpoint, role, function["arn"], function.get("worker")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
