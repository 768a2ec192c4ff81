"""Loopback-only moto server with patches that make moto behave like real AWS.

Usage: python moto_launcher.py --host 127.0.0.1 --port N [--parent-pid PID] [--lambda-dir DIR]
       [--latency-ms MS]

Prints ``moto ready on http://HOST:PORT`` once connections are accepted, exits 0 on
SIGTERM/SIGINT or when --parent-pid disappears, exits 2 for a non-loopback host and
exits 3 when a moto internal the patches rely on is missing (written for moto 5.2.5).

Patches (each one is a ``patch_xxx()`` function applied by ``main()``):
  * network guard     - sockets may only reach loopback, so nothing ever leaves the machine.
  * lambda config     - {"lambda": {"use_docker": false}}: docker-free Lambda backend.
  * lambda runtime    - Invoke runs a python3.x handler from the function's zip in its own process
                        (lambda_bootstrap.py, next to this file) with the function's environment, a
                        Lambda-like context and its timeout, which as on AWS starts after the init
                        phase (interpreter start, handler import; up to 10 s); Event answers 202 at once and runs in
                        the background; other runtimes are refused at CreateFunction.  Each
                        invocation is logged (stderr and DIR/invocations.jsonl) with its caller:
                        access key, and for an assumed role its ARN, session and external ID.
  * sts external id   - AssumeRole honours the trust policy's sts:ExternalId condition (AccessDenied, 403).
  * sts caller        - GetCallerIdentity names an IAM user as AWS does (arn:aws:iam::ACCT:user/NAME).
  * cfn parameters    - DescribeStacks shows CommaDelimitedList values as given ("a,b"), not "['a', 'b']".
  * cfn template body - GetTemplate returns the body byte-for-byte (CR escaped in the XML as AWS does).
  * cfn validation    - AllowedPattern/MinLength/MaxLength/missing/unknown parameters fail before creation.
  * cfn rollback      - a failing resource rolls the stack back with AWS's events, not a half-made stack.
  * cfn role update   - AWS::IAM::Role updates apply the new trust policy and replace on rename.
  * iam principals    - malformed "AWS" trust principal: MalformedPolicyDocument; duplicate role (any case) fails.
  * cfn change sets   - no-op change sets FAIL like AWS; Changes carry Add/Modify/Remove + Replacement.
  * iam role names    - CreateRole (and so AWS::IAM::Role) refuses a name over 64 characters or outside
                        [\w+=,.@-] with IAM's ValidationError; moto accepted any name.
  * cfn stack sets    - StackSet operations as AWS runs them (moto 5.2.5 ran every operation SUCCEEDED at
                        once, never failed an instance, never updated one on UpdateStackSet):
                        - instances are real stacks, StackSet-NAME-UUID, in each target account and region
                          (CreateStackInstances, UpdateStackSet, UpdateStackInstances with
                          ParameterOverrides, which replace the instances' overrides as on AWS: one left
                          out reverts to the StackSet's value, and the StackSet's tags become each stack's),
                          created and updated with the rollback above; a failing
                          stack fails only its instance: OUTDATED / FAILED with AWS's StatusReason
                          "ResourceLogicalId:..., ResourceType:..., ResourceStatusReason:...";
                        - an operation is RUNNING for SANDBOX_STACK_SET_OPERATION_SECONDS (default 1 s),
                          then SUCCEEDED, FAILED or STOPPED; a second operation meanwhile is
                          OperationInProgressException; it reaches its targets batch by batch: with n
                          batches of the maximum concurrency, batch k begins once k/n of that time has
                          passed, and its work is done as it begins (by the first request after, so
                          every request sees it), so resources exist while it is RUNNING, as they may on
                          AWS; CreateStackInstances and UpdateStackSet/Instances make every target's
                          instance OUTDATED at once (PENDING until its batch begins, then RUNNING);
                        - StopStackSetOperation: the batches begun are done, those not begun never are
                          (no stack created, updated or deleted there; their instances OUTDATED /
                          CANCELLED, a deleted one kept), the operation is STOPPED and its results name
                          only the targets it reached;
                        - OperationPreferences: RegionOrder, MaxConcurrentCount/Percentage (of a region's
                          targets, rounded down, at least 1; default 1; STRICT mode caps it at tolerance +
                          1), FailureToleranceCount/Percentage per region: once exceeded the operation
                          FAILS and the targets not yet run are CANCELLED;
                        - ListStackSetOperationResults, ListStackInstances, DescribeStackInstance give
                          per-account/region Status, StatusReason, DetailedStatus, StackId, OU and the
                          last operation; service-managed targets are every active account under the OUs
                          (all levels, as AWS; moto went one level), never the management account, narrowed
                          by Accounts with AccountFilterType INTERSECTION or DIFFERENCE;
                        - AutoDeployment (service-managed only) is stored and shown by DescribeStackSet;
                        - DetectStackSetDrift (moto answered 500) runs as an operation that sets each
                          instance's DriftStatus and the StackSet's StackSetDriftDetectionDetails.
  * stack set call as - every StackSet operation honours CallAs: DELEGATED_ADMIN only from an account
                        registered as delegated administrator for member.org.stacksets.cloudformation.amazonaws.com
                        (which RegisterDelegatedAdministrator now accepts) whose caller may
                        organizations:ListDelegatedAdministrators when IAM is enforced, else "Account used is
                        not a delegated administrator"; SELF (or none) on a SERVICE_MANAGED StackSet only from
                        the management account, else "You must be the management account or delegated admin
                        account ..." (both ValidationError; moto ignored CallAs). A delegated administrator's
                        StackSet lives in its account and reaches the OUs of its organization.
  * org member reads  - ListRoots, ListChildren, ListAccountsForParent and Organizations' other reads from a
                        member account: the organization's answer for a delegated administrator (of any
                        service), AccessDeniedException for any other member (moto answered from the member's
                        own empty organization, or ListRoots to anyone).
  * org auto deploy   - Organizations CreateAccount/MoveAccount/RemoveAccountFromOrganization start the
                        automatic deployment of service-managed StackSets with AutoDeployment Enabled: an
                        account that joins a targeted OU gets instances in the StackSet's regions, one
                        that leaves loses them (stacks kept with RetainStacksOnAccountRemoval); StackSets of delegated
                        administrators too.
  * signed forms      - with IAM enforced (INITIAL_NO_AUTH_ACTION_COUNT, /moto-api/reset-auth), the
                        signature of a form-encoded request is checked against its body as sent,
                        not as botocore re-encodes the parsed form (which spells a space `+`
                        where the Rust SDK sends `%20`, so every such request was refused).
  * signed bodies     - with IAM enforced, the signature is checked against the body as sent, empty
                        for a GET: moto signed a request without a body as if its headers were its
                        form, so every signed GET (Lambda's GetFunction) was SignatureDoesNotMatch.
  * lambda resources  - with IAM enforced, a Lambda call on a function is checked against the
                        function's ARN (with its qualifier), as AWS does; moto checked it against
                        `*`, which no policy scoped to functions (the invocation role's) allows;
                        Invoke is checked as the action IAM names, lambda:InvokeFunction.
  * access denied     - an action IAM denies answers AccessDenied in the Query protocol's error shape
                        (ErrorResponse/Error/Code), as CloudFormation, IAM and STS do, and for a JSON
                        service (Lambda) AccessDeniedException as JSON, as it does, so that SDKs read
                        its code and message (moto's ErrorResponse/Errors/Error hid both).

Limits (what is still not AWS):
  * Resources are created synchronously; stack events are all emitted during the API call.
  * Update rollback re-applies the previous properties in place and deletes what the update
    created.  Resource types whose moto update deletes the old resource itself (anything but
    AWS::IAM::Role, whose replacement is deferred here) cannot get their old resource back.
  * Template errors that moto only notices while creating (bad Fn::GetAtt, ...) are still
    returned synchronously by CreateStack, as AWS does, after undoing partial work; during
    ExecuteChangeSet and UpdateStack they roll the stack back instead.
  * Resource events carry no ResourceProperties; DescribeStackResources keeps moto's statuses.
  * Only the sts:ExternalId condition of a trust policy is evaluated, not principals or
    other condition keys; a trust policy without any Allow for sts:AssumeRole stays permissive.
  * StackSets: drift detection compares only the trust policy (and existence) of each
    AWS::IAM::Role of an instance's stack with its template; AccountFilterType only beside OUs (INTERSECTION,
    DIFFERENCE, UNION), no AccountsUrl, no
    execution-role check in SELF_MANAGED targets; automatic deployments are not queued behind a
    running operation; a fixed time per operation, whatever its number of targets (its batches
    share it), and a stop ends it at once (the batch under way is already done); instance
    statuses never INOPERABLE (DeleteStackInstances does not fail).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import io
import ipaddress
import json
import os
import re
import shutil
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

EXPECTED_MOTO_VERSION = "5.2.5"
EXIT_BAD_HOST = 2
EXIT_BAD_MOTO = 3


class PatchError(RuntimeError):
    """A moto internal that a patch relies on is missing."""


# --------------------------------------------------------------------------- helpers


def _moto_version() -> str:
    import moto

    return str(getattr(moto, "__version__", "unknown"))


def _require(owner: Any, *names: str) -> None:
    """Fail loudly at start-up when moto's internals are not what the patches expect."""
    for name in names:
        if not hasattr(owner, name):
            label = getattr(owner, "__name__", repr(owner))
            raise PatchError(
                f"moto internal {label}.{name} is missing: these patches were written for "
                f"moto {EXPECTED_MOTO_VERSION}, found moto {_moto_version()}"
            )


def _whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a URL parser (WHATWG, like the Rust side's `url` crate) and inet_aton read
    in `host`: `127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`; None when it is not one."""
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not parts or len(parts) > 4:
        return None
    numbers = []
    for part in parts:
        if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
            numbers.append(int(part[2:] or "0", 16))
        elif re.fullmatch(r"0[0-7]+", part):
            numbers.append(int(part, 8))
        elif re.fullmatch(r"[0-9]+", part) and not (len(part) > 1 and part.startswith("0")):
            numbers.append(int(part, 10))
        else:
            return None
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _classify_v4(ip: ipaddress.IPv4Address) -> str:
    if ip.is_loopback:
        return "loopback"
    return "any" if ip.packed[0] == 0 else "remote"


def classify(endpoint: str) -> str:
    """Where connecting to `endpoint` (a URL, or a bare `host[:port]`) goes: "loopback", "any"
    (0.0.0.0/8, ::) or "remote". The same rule as the Rust crate `local-endpoint`; both are
    checked against crates/local-endpoint/endpoints.txt."""
    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        return "remote"
    if not host:
        return "remote"
    host = urllib.parse.unquote(host).lower()
    name = host[:-1] if host.endswith(".") else host
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    if ":" in host:
        try:
            v6 = ipaddress.IPv6Address(host)
        except ValueError:
            return "remote"
        if v6.ipv4_mapped is not None:
            return _classify_v4(v6.ipv4_mapped)
        if v6.is_loopback:
            return "loopback"
        return "any" if v6 == ipaddress.IPv6Address("::") else "remote"
    v4 = _whatwg_ipv4(host)
    return "remote" if v4 is None else _classify_v4(v4)


def _is_loopback(host: str | None) -> bool:
    """Whether `host` (a bare host, as bound or connected to) is loopback by `classify`."""
    if host is None:
        return True
    host = host.split("%")[0].strip("[]")
    return classify(f"[{host}]" if ":" in host else host) == "loopback"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _error_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    return str(message) if message else (str(exc) or type(exc).__name__)


def _as_str(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


# --------------------------------------------------------------------------- environment


def force_environment() -> None:
    """Environment every moto process gets: no metadata service, dummy keys, no proxies."""
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(var, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "*"


def patch_network_guard() -> None:
    """Refuse any connection, datagram or name lookup that is not for loopback."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(str(address[0])):
            raise PermissionError(f"moto_launcher: refusing non-loopback traffic to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        check(self, args[-1])
        return original_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if not _is_loopback(name):
            raise socket.gaierror(socket.EAI_NONAME, f"moto_launcher: refusing to resolve {name!r}")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = getaddrinfo


def patch_lambda_config() -> None:
    """Lambda without docker: moto's awslambda_simple backend."""
    from moto.core import config

    _require(config, "default_user_config")
    _require(importlib.import_module("moto.awslambda_simple.models"), "lambda_simple_backends")
    config.default_user_config["lambda"] = {"use_docker": False}


# --------------------------------------------------------------------------- STS


_STS_ERROR = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error>"
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)


def _load_policy(document: Any) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    for text in (document, urllib.parse.unquote(document or "")):
        try:
            parsed = json.loads(text)
            return parsed if isinstance(parsed, dict) else {}
        except (TypeError, ValueError):
            continue
    return {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covers_assume_role(statement: dict[str, Any]) -> bool:
    actions = _as_list(statement.get("Action", []))
    return any(fnmatchcase("sts:assumerole", str(a).lower()) for a in actions)


def _external_id_allows(statement: dict[str, Any], external_id: str | None) -> bool:
    """True unless the statement has an sts:ExternalId condition that external_id fails."""
    for operator, clauses in (statement.get("Condition") or {}).items():
        for key, expected in (clauses or {}).items():
            if key.lower() != "sts:externalid":
                continue
            values = [str(v) for v in _as_list(expected)]
            if external_id is None:
                return False
            if operator.startswith("StringLike"):
                ok = any(fnmatchcase(external_id, v) for v in values)
            else:
                ok = external_id in values
            if not ok:
                return False
    return True


def trust_policy_allows(document: Any, external_id: str | None) -> bool:
    statements = _as_list(_load_policy(document).get("Statement", []))
    relevant = [s for s in statements if isinstance(s, dict) and s.get("Effect") == "Allow" and _covers_assume_role(s)]
    if not relevant:
        return True  # nothing to evaluate: keep moto's permissive behaviour
    return any(_external_id_allows(s, external_id) for s in relevant)


def patch_sts_external_id() -> None:
    """AssumeRole fails with AccessDenied (403) when the ExternalId condition is not met
    or the role does not exist, as AWS does; moto always allows it."""
    from moto.iam.models import iam_backends
    from moto.sts.responses import TokenResponse
    from moto.utilities.utils import ARN_PARTITION_REGEX

    _require(TokenResponse, "assume_role", "get_access_key", "backend")
    original = TokenResponse.assume_role
    role_arn_re = re.compile(ARN_PARTITION_REGEX + r":iam::([0-9]{12}):role/.+$")

    def find_role(role_arn: str) -> Any:
        match = role_arn_re.match(role_arn or "")
        if not match:
            return None
        try:
            return iam_backends[match.group(2)][match.group(1)].get_role_by_arn(role_arn)
        except Exception:  # NoSuchEntity or unknown partition
            return None

    def assume_role(self: Any) -> Any:
        role_arn = self._get_param("RoleArn")
        role = find_role(role_arn)
        if role is None or not trust_policy_allows(role.assume_role_policy_document, self._get_param("ExternalId")):
            _, caller_arn, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
            message = f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            body = _STS_ERROR.format(message=_xml_escape(message), request_id="0")
            return 403, {"status": 403, "Content-Type": "text/xml"}, body
        return original(self)

    TokenResponse.assume_role = assume_role  # type: ignore[method-assign]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --------------------------------------------------------------------------- IAM


_VALID_AWS_PRINCIPAL = re.compile(
    r"^(\*|\d{12}"
    r"|arn:aws[a-z-]*:iam::\d{12}:(root|user/.+|role/.+)"
    r"|arn:aws[a-z-]*:sts::\d{12}:assumed-role/.+)$"
)


def check_trust_policy_principals(document: Any) -> None:
    """Raise MalformedPolicyDocument for an "AWS" principal AWS would reject."""
    from moto.iam.exceptions import MalformedPolicyDocument

    for statement in _as_list(_load_policy(document).get("Statement", [])):
        if not isinstance(statement, dict):
            continue
        for key in ("Principal", "NotPrincipal"):
            principal = statement.get(key)
            if not isinstance(principal, dict):
                continue
            for value in _as_list(principal.get("AWS", [])):
                if not _VALID_AWS_PRINCIPAL.match(str(value)):
                    raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{value}"')


def patch_sts_caller_identity() -> None:
    """GetCallerIdentity of an IAM user answers arn:PARTITION:iam::ACCT:user/NAME, as AWS does;
    moto's default identity says `sts` instead of `iam`."""
    from moto.sts.models import STSBackend

    _require(STSBackend, "get_caller_identity")
    original = STSBackend.get_caller_identity

    def get_caller_identity(self: Any, *args: Any, **kwargs: Any) -> Any:
        user_id, arn, account = original(self, *args, **kwargs)
        return user_id, re.sub(r"^(arn:[^:]+):sts::(\d{12}):user/", r"\1:iam::\2:user/", arn), account

    STSBackend.get_caller_identity = get_caller_identity


def patch_iam_principals() -> None:
    """create_role / update_assume_role_policy validate trust-policy principals like AWS,
    and a duplicate role name is EntityAlreadyExists whatever its case."""
    from moto.iam.exceptions import EntityAlreadyExists
    from moto.iam.models import IAMBackend

    _require(IAMBackend, "create_role", "update_assume_role_policy", "get_roles")
    original_create = IAMBackend.create_role
    original_update = IAMBackend.update_assume_role_policy

    def create_role(self: Any, role_name: str, assume_role_policy_document: str, *args: Any, **kwargs: Any) -> Any:
        check_trust_policy_principals(assume_role_policy_document)
        # AWS role names are unique case-insensitively; moto only compares them exactly.
        if any(role.name.lower() == str(role_name).lower() for role in self.get_roles()):
            raise EntityAlreadyExists(f"Role with name {role_name} already exists.")
        return original_create(self, role_name, assume_role_policy_document, *args, **kwargs)

    def update_assume_role_policy(self: Any, role_name: str, policy_document: str) -> None:
        check_trust_policy_principals(policy_document)
        original_update(self, role_name, policy_document)

    IAMBackend.create_role = create_role  # type: ignore[method-assign]
    IAMBackend.update_assume_role_policy = update_assume_role_policy  # type: ignore[method-assign]


def patch_cfn_role_update() -> None:
    """AWS::IAM::Role updates: new trust policy in place, replacement on rename.

    moto 5.2.5 only updates the description, so a changed ExternalId never reached IAM.
    On replacement the old role is deleted in the cleanup phase (see _cleanup_update).
    Policies/ManagedPolicyArns/Tags changes are not applied to an existing role."""
    from moto.iam.models import Role, iam_backends
    from moto.utilities.utils import get_partition

    _require(Role, "update_from_cloudformation_json", "create_from_cloudformation_json")

    def update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
               account_id: str, region_name: str) -> Any:
        props = cloudformation_json.get("Properties", {})
        name = props.get("RoleName", original_resource.name)
        if name != original_resource.name or props.get("Path", "/") != original_resource.path:
            new_role = cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
            new_role._launcher_replaces = original_resource
            return new_role
        document = props.get("AssumeRolePolicyDocument", {})
        if not isinstance(document, str):
            document = json.dumps(document)
        iam_backends[account_id][get_partition(region_name)].update_assume_role_policy(original_resource.name, document)
        original_resource.description = props.get("Description", "")
        original_resource.max_session_duration = props.get("MaxSessionDuration", 3600)
        return original_resource

    Role.update_from_cloudformation_json = classmethod(update)  # type: ignore[method-assign, assignment]


# --------------------------------------------------------------------------- CloudFormation: parameters


def _parse_template(template: Any) -> dict[str, Any]:
    from moto.cloudformation.models import Stack

    if isinstance(template, dict):
        return copy.deepcopy(template)
    try:
        parsed = Stack.parse_template(template)
    except Exception:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def effective_parameters(template: dict[str, Any], given: dict[str, Any]) -> dict[str, str]:
    """Parameter values after defaults, as strings (the form a caller submits)."""
    declared = template.get("Parameters") or {}
    values = {k: _as_str(d["Default"]) for k, d in declared.items() if isinstance(d, dict) and "Default" in d}
    values.update({k: _as_str(v) for k, v in (given or {}).items()})
    return values


def _constraint_error(name: str, decl: dict[str, Any], value: str) -> str | None:
    kind = decl.get("Type", "String")
    custom = decl.get("ConstraintDescription")
    fail: str | None = None
    items = value.split(",") if kind == "CommaDelimitedList" else [value]
    if kind == "String" and "MinLength" in decl and len(value) < int(decl["MinLength"]):
        fail = f"Parameter '{name}' must contain at least {int(decl['MinLength'])} characters"
    elif kind == "String" and "MaxLength" in decl and len(value) > int(decl["MaxLength"]):
        fail = f"Parameter '{name}' must contain at most {int(decl['MaxLength'])} characters"
    elif kind in ("String", "CommaDelimitedList") and "AllowedPattern" in decl:
        pattern = str(decl["AllowedPattern"])
        with contextlib.suppress(re.error):
            if not all(re.fullmatch(pattern, item) for item in items):
                fail = f"Parameter '{name}' must match pattern {pattern}"
    if fail is None and "AllowedValues" in decl:
        allowed = [_as_str(v) for v in decl["AllowedValues"]]
        if not all(item in allowed for item in items):
            fail = f"Parameter '{name}' must be one of AllowedValues"
    if fail is None and kind == "Number":
        fail = _number_error(name, decl, value)
    if fail and custom:
        return f"Parameter '{name}' failed to satisfy constraint: {custom}"
    return fail


def _number_error(name: str, decl: dict[str, Any], value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return f"Parameter '{name}' must be a number"
    if "MinValue" in decl and number < float(decl["MinValue"]):
        return f"Parameter '{name}' must be a number not less than {decl['MinValue']}"
    if "MaxValue" in decl and number > float(decl["MaxValue"]):
        return f"Parameter '{name}' must be a number not greater than {decl['MaxValue']}"
    return None


def parse_submitted_template(template: Any) -> dict[str, Any]:
    """A submitted template, or the ValidationError AWS gives before doing anything."""
    from moto.cloudformation.exceptions import ValidationError

    if template is None:
        raise ValidationError(message="Either Template URL or Template Body must be specified.")
    parsed = _parse_template(template)
    if not parsed:
        raise ValidationError(message="Template format error: unsupported structure.")
    if not isinstance(parsed.get("Resources"), dict) or not parsed["Resources"]:
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    return parsed


def validate_parameters(template: Any, given: dict[str, Any]) -> None:
    """AWS's synchronous parameter checks (ValidationError, 400) before anything exists."""
    from moto.cloudformation.exceptions import ValidationError

    declared = parse_submitted_template(template).get("Parameters") or {}
    unknown = [k for k in given if k not in declared]
    if unknown:
        raise ValidationError(message=f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = [k for k, d in declared.items() if k not in given and "Default" not in (d or {})]
    if missing:
        raise ValidationError(message=f"Parameters: [{', '.join(missing)}] must have values")
    for name, value in given.items():
        error = _constraint_error(name, declared[name] or {}, _as_str(value))
        if error:
            raise ValidationError(message=error)


def patch_cfn_parameter_display() -> None:
    """DescribeStacks: CommaDelimitedList as given ("a,b"); NoEcho masks by key, not value."""
    from moto.cloudformation.models import Stack

    _require(Stack, "parameter_list", "stack_parameters", "_create_resource_map")

    def parameter_list(self: Any) -> list[dict[str, Any]]:
        rm = self.resource_map
        given = rm.input_parameters or {}
        return [
            {
                "ParameterKey": key,
                "ParameterValue": "****" if key in rm.no_echo_parameter_keys
                else _as_str(given[key] if key in given else value),
            }
            for key, value in rm.resolved_parameters.items()
        ]

    def stack_parameters(self: Any) -> dict[str, str]:
        # Used for UsePreviousValue: must be the submitted string, not moto's parsed list.
        return effective_parameters(_parse_template(self.template), self.parameters)

    Stack.parameter_list = property(parameter_list)  # type: ignore[method-assign, assignment]
    Stack.stack_parameters = property(stack_parameters)  # type: ignore[method-assign, assignment]


def patch_cfn_template_body() -> None:
    """GetTemplate byte-for-byte: escape CR as &#xD; in CloudFormation's XML, as AWS does;
    moto writes a raw CR, which every XML parser turns into LF."""
    from moto.core import serialize

    _require(serialize, "QuerySerializer", "SERVICE_SPECIFIC_SERIALIZERS", "DoublePassEncoder",
             "DoublePassEncoding")
    encoder = serialize.DoublePassEncoder(
        [serialize.DoublePassEncoding(char="\r", marker="__MOTO_LAUNCHER_CR__", escape_sequence="&#xD;")]
    )

    class CloudFormationQuerySerializer(serialize.QuerySerializer):  # type: ignore[misc, valid-type]
        def _default_serialize(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
            super()._default_serialize(serialized, encoder.mark(value) if isinstance(value, str) else value,
                                       shape, key)

        def _serialize_body(self, body: Any) -> str:
            return str(encoder.escape(super()._serialize_body(body)))

    serialize.SERVICE_SPECIFIC_SERIALIZERS.setdefault("cloudformation", {})["query"] = CloudFormationQuerySerializer


# --------------------------------------------------------------------------- CloudFormation: events


class _Operation:
    """The stack operation running on this thread, so resource hooks can emit events."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.created: list[str] = []
        self.failed: str | None = None
        self.failed_verb = "create"


_local = threading.local()


@contextlib.contextmanager
def _operation(stack: Any) -> Iterator[_Operation]:
    previous = getattr(_local, "op", None)
    _local.op = op = _Operation(stack)
    try:
        yield op
    finally:
        _local.op = previous


def _current(resources_map: Any) -> _Operation | None:
    op = getattr(_local, "op", None)
    return op if op is not None and op.stack.resource_map is resources_map else None


def resource_event(stack: Any, logical_id: str, resource_type: str, status: str,
                   physical_id: str = "", reason: str | None = None) -> None:
    from moto.cloudformation.models import Event

    event = Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id, resource_type=resource_type, resource_status=status,
        resource_status_reason=reason, resource_properties=None,
    )
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)


def _physical_id(resource: Any) -> str:
    return str(getattr(resource, "physical_resource_id", "") or "")


def patch_cfn_resource_events() -> None:
    """Per-resource CREATE_/UPDATE_ events (moto emits none) and remember what failed."""
    from moto.cloudformation import parsing

    _require(parsing, "parse_and_create_resource", "parse_and_update_resource", "ResourceMap")
    original_create = parsing.parse_and_create_resource
    original_update = parsing.parse_and_update_resource

    def run(action: Callable[..., Any], verb: str, logical_id: str, resource_json: dict[str, Any],
            resources_map: Any, **kwargs: Any) -> Any:
        op = _current(resources_map)
        condition = resource_json.get("Condition")
        if op is None or (condition and not resources_map.lazy_condition_map[condition]):
            return action(logical_id, resource_json, resources_map, **kwargs)
        kind, status = str(resource_json.get("Type", "")), verb.upper()
        try:
            resource = action(logical_id, resource_json, resources_map, **kwargs)
        except Exception as exc:
            if op.failed is None:  # only the innermost failing resource reports
                op.failed, op.failed_verb = logical_id, verb
                resource_event(op.stack, logical_id, kind, f"{status}_IN_PROGRESS")
                resource_event(op.stack, logical_id, kind, f"{status}_FAILED", reason=_error_message(exc))
            raise
        if resource is not None:
            resource_event(op.stack, logical_id, kind, f"{status}_IN_PROGRESS")
            resource_event(op.stack, logical_id, kind, f"{status}_IN_PROGRESS", _physical_id(resource),
                           f"Resource {'creation' if verb == 'create' else 'update'} Initiated")
            resource_event(op.stack, logical_id, kind, f"{status}_COMPLETE", _physical_id(resource))
            if verb == "create":
                op.created.append(logical_id)
        return resource

    def create(logical_id: str, resource_json: dict[str, Any], resources_map: Any, **kwargs: Any) -> Any:
        return run(original_create, "create", logical_id, resource_json, resources_map, **kwargs)

    def update(logical_id: str, resource_json: dict[str, Any], resources_map: Any, **kwargs: Any) -> Any:
        return run(original_update, "update", logical_id, resource_json, resources_map, **kwargs)

    parsing.parse_and_create_resource = create
    parsing.parse_and_update_resource = update


# --------------------------------------------------------------------------- CloudFormation: create + rollback


_UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
              "IMPORT_ROLLBACK_COMPLETE"}


def check_updatable(stack: Any) -> None:
    from moto.cloudformation.exceptions import ValidationError

    if stack.status not in _UPDATABLE:
        raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


def _delete_resources(stack: Any, logical_ids: list[str], json_map: dict[str, Any]) -> bool:
    """Delete created resources newest first with DELETE_ events; False if one failed."""
    rm, ok = stack.resource_map, True
    for logical_id in reversed(logical_ids):
        resource = rm._parsed_resources.get(logical_id)
        resource_json = json_map.get(logical_id)
        if resource is None or resource_json is None:
            continue
        kind, physical = str(resource_json.get("Type", "")), _physical_id(resource)
        resource_event(stack, logical_id, kind, "DELETE_IN_PROGRESS", physical)
        try:
            rm._delete_resource(resource, resource_json)
        except Exception as exc:
            resource_event(stack, logical_id, kind, "DELETE_FAILED", physical, _error_message(exc))
            ok = False
            continue
        rm._parsed_resources.pop(logical_id, None)
        resource_event(stack, logical_id, kind, "DELETE_COMPLETE", physical)
    return ok


def _rollback_create(stack: Any, op: _Operation, exc: Exception) -> None:
    """AWS create rollback: ROLLBACK_IN_PROGRESS, delete what exists, ROLLBACK_COMPLETE."""
    rm = stack.resource_map
    if op.failed:
        reason = f"The following resource(s) failed to create: [{op.failed}]. Rollback requested by user."
    else:
        reason = f"{_error_message(exc)} Rollback requested by user."
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    ok = _delete_resources(stack, op.created, rm._resource_json_map)
    # Leave only undeletable resources visible, and no outputs: moto would otherwise
    # lazily re-create resources when DescribeStacks evaluates the outputs.
    rm._resource_json_map = {k: v for k, v in rm._resource_json_map.items() if k in rm._parsed_resources}
    stack.output_map._output_json_map = {}
    stack.status = "ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED"
    stack.stack_status_reason = reason
    stack._add_stack_event(stack.status)


def run_create(backend: Any, stack: Any, synchronous_template_errors: bool) -> None:
    """Create the resources of a stack; on failure roll back instead of raising."""
    from moto.cloudformation.exceptions import CloudFormationError

    stack.status = "CREATE_IN_PROGRESS"
    with _operation(stack) as op:
        try:
            ready = stack.resource_map.create(stack.template_dict)
            stack.description = stack.template_dict.get("Description")
            backend._validate_export_uniqueness(stack)
            for export in stack.exports:
                backend.exports[export.name] = export
        except Exception as exc:
            _rollback_create(stack, op, exc)
            if synchronous_template_errors and isinstance(exc, CloudFormationError):
                backend.stacks.pop(stack.stack_id, None)  # AWS rejects these before creating anything
                raise
            return
    if ready:
        stack.mark_creation_complete()


def patch_cfn_create_stack() -> None:
    """CreateStack: validate parameters first, then create with rollback on failure."""
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.cloudformation.models import CloudFormationBackend, Stack

    _require(CloudFormationBackend, "create_stack", "_validate_export_uniqueness")
    _require(Stack, "mark_creation_complete", "_add_stack_event", "_create_output_map", "parse_template")
    from moto.cloudformation.utils import generate_stack_id

    def create_stack(self: Any, name: str, template: str, parameters: dict[str, Any],
                     notification_arns: list[str] | None = None, tags: dict[str, str] | None = None,
                     role_arn: str | None = None, enable_termination_protection: bool | None = False,
                     timeout_in_mins: int | None = None, stack_policy_body: str | None = None) -> Any:
        validate_parameters(template, parameters)
        if name in [stack.name for stack in self.stacks.values()]:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        stack = Stack(
            stack_id=generate_stack_id(name, self.region_name, self.account_id), name=name,
            template=template, parameters=parameters, account_id=self.account_id,
            region_name=self.region_name, notification_arns=notification_arns, tags=tags,
            role_arn=role_arn, cross_stack_resources=self.exports,
            enable_termination_protection=enable_termination_protection,
            timeout_in_mins=timeout_in_mins, stack_policy_body=stack_policy_body,
        )
        self.stacks[stack.stack_id] = stack
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        run_create(self, stack, synchronous_template_errors=True)
        return stack

    CloudFormationBackend.create_stack = create_stack  # type: ignore[method-assign]


# --------------------------------------------------------------------------- CloudFormation: update + rollback


def template_refs(node: Any) -> set[str]:
    """Names a template fragment refers to: Ref, Fn::GetAtt and ${...} in Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= template_refs(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                found |= template_refs(value[1] if isinstance(value, list) and len(value) > 1 else None)
            found |= template_refs(value)
    return found


def _normalized(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "Properties": body.get("Properties") or {}}


def plan_changes(old: dict[str, Any], new: dict[str, Any], old_params: dict[str, str],
                 new_params: dict[str, str]) -> dict[str, tuple[str, str, str | None]]:
    """logical id -> (Add|Modify|Remove, type, Replacement) from templates and parameters."""
    from moto.cloudformation.parsing import resource_name_property_from_type

    changed = {k for k in set(old_params) | set(new_params) if old_params.get(k) != new_params.get(k)}
    old_res, new_res = old.get("Resources") or {}, new.get("Resources") or {}
    plan: dict[str, tuple[str, str, str | None]] = {}
    for lid, body in new_res.items():
        kind = str(body.get("Type", ""))
        if lid not in old_res:
            plan[lid] = ("Add", kind, None)
        elif _normalized(body) != _normalized(old_res[lid]) or template_refs(body) & changed:
            name_prop = resource_name_property_from_type(kind) or ""
            old_name = (old_res[lid].get("Properties") or {}).get(name_prop)
            new_name = (body.get("Properties") or {}).get(name_prop)
            renamed = bool(name_prop) and (old_name != new_name or bool(template_refs(new_name) & changed))
            plan[lid] = ("Modify", kind, "True" if renamed else "False")
    for lid, body in old_res.items():
        if lid not in new_res:
            plan[lid] = ("Remove", str(body.get("Type", "")), None)
    return plan


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Resources ordered so that DependsOn/Ref/GetAtt/Sub targets come first."""
    order: list[str] = []

    def visit(lid: str, path: tuple[str, ...]) -> None:
        if lid in order or lid in path:
            return
        body = resources[lid] or {}
        deps = set(_as_list(body.get("DependsOn", []))) | template_refs(body)
        for dep in sorted(d for d in deps if d in resources):
            visit(dep, path + (lid,))
        order.append(lid)

    for lid in resources:
        visit(lid, ())
    return order


class _MapSnapshot:
    """Enough of a ResourceMap to put it back after a failed update."""

    FIELDS = ("_template", "_resource_json_map", "input_parameters", "resolved_parameters",
              "_parsed_resources", "lazy_condition_map", "no_echo_parameter_keys")

    def __init__(self, rm: Any) -> None:
        self.values = {f: copy.copy(getattr(rm, f, None)) for f in self.FIELDS}

    def restore(self, rm: Any) -> None:
        for field, value in self.values.items():
            setattr(rm, field, value)


def _switch_map(rm: Any, template: dict[str, Any], params: dict[str, Any]) -> None:
    """Point the resource map at the new template/parameters (what moto's update does)."""
    rm._template = template
    rm.input_parameters = params
    rm.resolved_parameters = {}
    rm._parsed_resources = dict(rm._parsed_resources)
    rm.load_mapping()
    rm.load_parameters()
    rm.load_conditions()
    rm._resource_json_map = template.get("Resources") or {}


def _update_resources(stack: Any, plan: dict[str, tuple[str, str, str | None]],
                      modified: list[tuple[str, Any, Any]]) -> None:
    from moto.cloudformation import parsing

    rm = stack.resource_map
    for lid in dependency_order(rm._resource_json_map):
        action = plan.get(lid, ("",))[0]
        if action == "Add":
            _ = rm[lid]  # created (with events) by the patched parse_and_create_resource
        elif action == "Modify":
            old = rm._parsed_resources.get(lid)
            new = parsing.parse_and_update_resource(
                lid, copy.deepcopy(rm._resource_json_map[lid]), rm,
                account_id=stack.account_id, region_name=stack.region_name,
            )
            if new is not None:
                rm._parsed_resources[lid] = new
            modified.append((lid, old, new if new is not None else old))


def _new_outputs(backend: Any, stack: Any, template: dict[str, Any]) -> Any:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.parsing import OutputMap

    outputs = OutputMap(stack.resource_map, template, stack.stack_id)
    for key in outputs:
        _ = outputs[key]
    mine = _own_exports(backend, stack)
    for export in outputs.exports:
        if export.name in backend.exports and export.name not in mine:
            raise ValidationError(stack.stack_id, message="Export names must be unique across a given region")
    return outputs


def _own_exports(backend: Any, stack: Any) -> set[str]:
    return {name for name, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id}


def _cleanup_update(stack: Any, plan: dict[str, Any], old_json: dict[str, Any],
                    modified: list[tuple[str, Any, Any]]) -> None:
    """Cleanup phase: delete removed resources and the old half of replacements."""
    rm = stack.resource_map
    stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    for lid, old, new in modified:
        if new is not old and getattr(new, "_launcher_replaces", None) is old:
            kind = str(old_json[lid].get("Type", ""))
            resource_event(stack, lid, kind, "DELETE_IN_PROGRESS", _physical_id(old))
            try:
                rm._delete_resource(old, old_json[lid])
                resource_event(stack, lid, kind, "DELETE_COMPLETE", _physical_id(old))
            except Exception as exc:
                resource_event(stack, lid, kind, "DELETE_FAILED", _physical_id(old), _error_message(exc))
    removed = [lid for lid in dependency_order(old_json) if plan.get(lid, ("",))[0] == "Remove"]
    _delete_resources(stack, removed, old_json)


def _rollback_update(stack: Any, op: _Operation, snapshot: _MapSnapshot,
                     modified: list[tuple[str, Any, Any]]) -> None:
    """UPDATE_ROLLBACK: previous properties back in place, then delete what the update made."""
    rm = stack.resource_map
    current, new_json = dict(rm._parsed_resources), rm._resource_json_map
    failed, verb = op.failed, op.failed_verb
    reason = f"The following resource(s) failed to {verb}: [{failed}]." if failed else None
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    snapshot.restore(rm)
    op.failed = None
    made: dict[str, Any] = {}
    for lid, old, new in modified:
        if new is not old and getattr(new, "_launcher_replaces", None) is not old:
            rm._parsed_resources[lid] = new  # moto already destroyed the old one: keep the new
        elif new is not old:
            made[lid] = new
    in_place = [lid for lid, old, new in modified if new is old] + ([failed] if verb == "update" else [])
    ok = _reapply_previous(stack, [lid for lid in in_place if lid])
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    made.update({lid: current[lid] for lid in op.created if lid in current})
    saved, rm._parsed_resources = rm._parsed_resources, dict(made)
    ok = _delete_resources(stack, list(made), new_json) and ok
    rm._parsed_resources = saved
    stack.status = "UPDATE_ROLLBACK_COMPLETE" if ok else "UPDATE_ROLLBACK_FAILED"
    stack._add_stack_event(stack.status)


def _reapply_previous(stack: Any, logical_ids: list[str]) -> bool:
    """Update resources back to the (restored) previous template's properties."""
    from moto.cloudformation import parsing

    rm, ok = stack.resource_map, True
    for lid in reversed(logical_ids):
        if lid in rm._resource_json_map and lid in rm._parsed_resources:
            try:
                parsing.parse_and_update_resource(lid, copy.deepcopy(rm._resource_json_map[lid]), rm,
                                                  account_id=stack.account_id, region_name=stack.region_name)
            except Exception:
                ok = False  # reported as UPDATE_FAILED by the event hook
    return ok


def run_update(backend: Any, stack: Any, template: str, params: dict[str, Any]) -> bool:
    """Update a stack in dependency order; roll back on failure. True on success."""
    new_dict = _parse_template(template)
    old_dict = _parse_template(stack.template)
    plan = plan_changes(old_dict, new_dict, effective_parameters(old_dict, stack.parameters),
                        effective_parameters(new_dict, params))
    rm = stack.resource_map
    snapshot, old_json = _MapSnapshot(rm), dict(rm._resource_json_map)
    stack.status = "UPDATE_IN_PROGRESS"
    stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    modified: list[tuple[str, Any, Any]] = []
    with _operation(stack) as op:
        try:
            _switch_map(rm, new_dict, params)
            _update_resources(stack, plan, modified)
            outputs = _new_outputs(backend, stack, new_dict)
        except Exception:
            _rollback_update(stack, op, snapshot, modified)
            return False
        for name in _own_exports(backend, stack):
            backend.exports.pop(name)
        stack.template, stack.template_dict, stack.parameters = template, new_dict, params
        stack.output_map = outputs
        stack.description = new_dict.get("Description")
        for export in stack.exports:
            backend.exports[export.name] = export
        _cleanup_update(stack, plan, old_json, modified)
    stack.status = "UPDATE_COMPLETE"
    stack._add_stack_event("UPDATE_COMPLETE")
    return True


def _incoming_parameters(stack: Any, incoming: list[dict[str, Any]]) -> dict[str, str]:
    """UpdateStack's Parameters list -> values, resolving UsePreviousValue."""
    from moto.cloudformation.exceptions import ValidationError

    previous = stack.stack_parameters
    values: dict[str, str] = {}
    for param in incoming or []:
        key = param["ParameterKey"]
        if param.get("UsePreviousValue"):
            if key not in previous:
                raise ValidationError(message=f"Invalid input for parameter key {key}. Cannot specify "
                                      "usePreviousValue as true for a parameter key not in the previous template")
            values[key] = previous[key]
        elif "ParameterValue" in param:
            values[key] = param["ParameterValue"]
    return values


def has_no_changes(stack: Any, template: Any, params: dict[str, Any]) -> bool:
    old, new = _parse_template(stack.template), _parse_template(template)
    return old == new and effective_parameters(old, stack.parameters) == effective_parameters(new, params)


def patch_cfn_update_stack() -> None:
    """UpdateStack: state check, parameter validation, "No updates", update with rollback."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    _require(CloudFormationBackend, "update_stack", "get_stack")
    _require(CloudFormationResponse, "_validate_different_update")

    def update_stack(self: Any, name: str, template: str, role_arn: str | None,
                     parameters: list[dict[str, Any]], tags: dict[str, str] | None) -> Any:
        stack = self.get_stack(name)
        check_updatable(stack)
        params = _incoming_parameters(stack, parameters)
        validate_parameters(template, params)
        if has_no_changes(stack, template, params) and (tags is None or tags == stack.tags):
            raise ValidationError(stack.name, message="No updates are to be performed.")
        stack.role_arn = role_arn
        if tags is not None:
            stack.tags = tags
        run_update(self, stack, template, params)
        return stack

    def no_response_level_check(self: Any, *args: Any, **kwargs: Any) -> None:
        """The backend decides "No updates" with effective parameters (see has_no_changes)."""

    CloudFormationBackend.update_stack = update_stack  # type: ignore[method-assign]
    CloudFormationResponse._validate_different_update = no_response_level_check  # type: ignore[method-assign]


# --------------------------------------------------------------------------- CloudFormation: change sets


def patch_cfn_change_sets() -> None:
    """CreateChangeSet validates and detects no-op updates; ExecuteChangeSet rolls back."""
    from moto.cloudformation.exceptions import CloudFormationError
    from moto.cloudformation.models import Change, ChangeSet, CloudFormationBackend

    _require(CloudFormationBackend, "create_change_set", "execute_change_set", "describe_change_set")
    _require(ChangeSet, "diff")

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatus"

    original_create = CloudFormationBackend.create_change_set

    def diff(self: Any) -> list[Any]:
        stack = self.stack
        is_update = self.change_set_type == "UPDATE"
        old = _parse_template(stack.template) if is_update else {}
        plan = plan_changes(old, self.template_dict or {},
                            effective_parameters(old, stack.parameters) if is_update else {},
                            effective_parameters(self.template_dict or {}, self.parameters))
        changes = []
        for lid, (action, kind, replacement) in plan.items():
            change = Change(action=action, logical_resource_id=lid, resource_type=kind)
            change.replacement = replacement
            if action != "Add":
                change.physical_resource_id = _physical_id(stack.resource_map._parsed_resources.get(lid))
            changes.append(change)
        return changes

    def create_change_set(self: Any, stack_name: str, change_set_name: str, template: str,
                          parameters: dict[str, str], description: str, change_set_type: str,
                          *args: Any, **kwargs: Any) -> tuple[str, str]:
        reviewing = _change_set_target(self, stack_name, change_set_name, change_set_type)
        validate_parameters(template, parameters)
        change_set_id, stack_id = original_create(self, stack_name, change_set_name, template, parameters,
                                                  description, change_set_type, *args, **kwargs)
        change_set = self.change_sets[change_set_id]
        if reviewing is not None:
            # Another CREATE change set for a stack still in review: AWS reuses that stack.
            del self.stacks[stack_id]
            change_set.stack, change_set.stack_id = reviewing, reviewing.stack_id
            stack_id = reviewing.stack_id
        stack = self.stacks[stack_id]
        if change_set_type == "UPDATE":
            unchanged = (has_no_changes(stack, template, parameters)
                         and same_tags_and_role(stack, kwargs.get("tags"), kwargs.get("role_arn")))
            if unchanged:
                change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
                change_set.status_reason = ("The submitted information didn't contain changes. Submit different "
                                            "information to create a change set.")
            elif change_set.status == "FAILED":
                # moto compares only the template and the parameters as given.
                change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
                change_set.status_reason = None
        return change_set_id, stack_id

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(f"ChangeSet [{change_set.change_set_id}] cannot be executed in its "
                                         f"current status of [{change_set.status}]")
        stack = self.stacks[change_set.stack_id]
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        if change_set.change_set_type == "CREATE":
            ok = _execute_create(self, stack, change_set)
        else:
            # As AWS: the change set's tags become the stack's, its service role the stack's.
            if change_set.tags is not None:
                stack.tags = change_set.tags
            if change_set.role_arn:
                stack.role_arn = change_set.role_arn
            ok = run_update(self, stack, change_set.template, change_set.parameters)
        change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"

    ChangeSet.diff = diff  # type: ignore[method-assign]
    CloudFormationBackend.create_change_set = create_change_set  # type: ignore[method-assign]
    patch_cfn_change_set_names()
    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]


def patch_cfn_change_set_names() -> None:
    """As AWS: a change set name is taken once per stack. CreateChangeSet of a name the stack
    already has fails with AlreadyExistsException, unless it repeats the ClientToken of the
    request that made it (an idempotent retry), which answers with that change set again. moto
    makes another change set (and, for CREATE, another stack of the name)."""
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    _require(CloudFormationResponse, "create_change_set")
    original = CloudFormationResponse.create_change_set

    def create_change_set(self: Any) -> Any:
        backend = self.cloudformation_backend
        stack_name = self._get_param("StackName")
        name = self._get_param("ChangeSetName")
        token = self._get_param("ClientToken")
        for cs in list(backend.change_sets.values()):
            stack = cs.stack
            same_stack = stack_name in (stack.name, stack.stack_id) and stack.status != "DELETE_COMPLETE"
            if cs.change_set_name == name and same_stack:
                if token and getattr(cs, "client_token", None) == token:
                    return ActionResult({"Id": cs.change_set_id, "StackId": cs.stack_id})
                raise AlreadyExistsException(f"ChangeSet {name} already exists")
        result = original(self)
        for cs in backend.change_sets.values():
            if cs.change_set_name == name and stack_name in (cs.stack.name, cs.stack_id):
                cs.client_token = token
        return result

    CloudFormationResponse.create_change_set = create_change_set  # type: ignore[method-assign]


def same_tags_and_role(stack: Any, tags: dict[str, str] | None, role_arn: str | None) -> bool:
    """Whether an UPDATE change set leaves the stack's tags and service role as they are: a tag or
    role change alone is a change in AWS (the tags reach every resource)."""
    return (tags is None or tags == (stack.tags or {})) and (not role_arn or role_arn == stack.role_arn)


def _change_set_target(backend: Any, stack_name: str, change_set_name: str, change_set_type: str) -> Any:
    """Check the stack a change set is for; returns a stack in review to reuse (CREATE)."""
    from moto.cloudformation.exceptions import ValidationError

    if change_set_type == "UPDATE":
        check_updatable(backend.get_stack(stack_name))
        return None
    same_name = [s for s in backend.stacks.values() if s.name == stack_name]
    if any(s.status != "REVIEW_IN_PROGRESS" for s in same_name):
        raise ValidationError(message=f"Stack [{stack_name}] already exists and cannot be created "
                              f"again with the changeSet [{change_set_name}].")
    return same_name[0] if same_name else None


def _execute_create(backend: Any, stack: Any, change_set: Any) -> bool:
    """ExecuteChangeSet of a CREATE change set: same path (and rollback) as CreateStack."""
    stack.template, stack.parameters = change_set.template, change_set.parameters
    stack._parse_template()
    stack.cross_stack_resources = backend.exports
    stack.resource_map = stack._create_resource_map()
    stack.output_map = stack._create_output_map()
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    run_create(backend, stack, synchronous_template_errors=False)
    return not stack.status.startswith("ROLLBACK")


# --------------------------------------------------------------------------- CloudFormation: StackSets


STACK_SET_SECONDS_ENV = "SANDBOX_STACK_SET_OPERATION_SECONDS"
STACK_SET_SECONDS_DEFAULT = 1.0
_STACK_SETS = threading.RLock()  # one StackSet request (or Organizations change) at a time
_CANCELLED = "Cancelled since failure tolerance has exceeded"


def stack_set_seconds() -> float:
    """How long a StackSet operation stays RUNNING (SANDBOX_STACK_SET_OPERATION_SECONDS, default 1)."""
    text = os.environ.get(STACK_SET_SECONDS_ENV, "")
    try:
        return max(0.0, float(text)) if text else STACK_SET_SECONDS_DEFAULT
    except ValueError:
        print(f"moto_launcher: {STACK_SET_SECONDS_ENV}={text!r} is not a number of seconds; using "
              f"{STACK_SET_SECONDS_DEFAULT}", file=sys.stderr, flush=True)
        return STACK_SET_SECONDS_DEFAULT


class _SetOperation:
    """One StackSet operation: RUNNING for its fixed time, over which its work is applied batch by
    batch (`begin`, `advance`); its outcome shows once it has run."""

    def __init__(self, action: str, operation_id: str | None, preferences: dict[str, Any],
                 batches: list[_Batch], apply: Callable[[_Batch], None]) -> None:
        import uuid

        from moto.core.utils import utcnow

        self.id = operation_id or str(uuid.uuid4())
        self.action = action
        self.preferences = preferences
        self.created = utcnow()
        self.seconds = stack_set_seconds()
        self.started = time.monotonic()
        self.done_at = self.started + self.seconds
        self.final = "SUCCEEDED"
        self.stopped = False
        self.results: list[dict[str, Any]] = []  # Account, Region, Status, StatusReason, ...
        # The batches not begun yet, in order, and what applies one; batch k of n begins once
        # k/n of the operation's time has passed.
        self.batches, self.total, self.begun, self.apply = list(batches), len(batches), 0, apply

    def begin(self) -> None:
        """Start the work: the first batch at once, the others as their slice of time begins."""
        self.advance()
        if self.batches:
            _UNDER_WAY.append(self)

    def advance(self) -> None:
        """Apply every batch whose slice of the operation's time has begun (all, once it has run)."""
        while self.batches and not self.stopped and (
                time.monotonic() >= self.started + self.seconds * self.begun / self.total):
            batch = self.batches.pop(0)
            self.begun += 1
            self.apply(batch)

    def stop(self) -> list[_Batch]:
        """StopStackSetOperation: the batches not begun are never applied; returns them."""
        self.advance()
        self.stopped = True
        left, self.batches = self.batches, []
        return left

    def running(self) -> bool:
        return not self.stopped and time.monotonic() < self.done_at

    def status(self) -> str:
        return "STOPPED" if self.stopped else "RUNNING" if self.running() else self.final

    def summary(self, stack_set: Any) -> dict[str, Any]:
        from datetime import timedelta

        out: dict[str, Any] = {"OperationId": self.id, "StackSetId": stack_set.id, "Action": self.action,
                               "Status": self.status(), "CreationTimestamp": self.created,
                               "OperationPreferences": self.preferences,
                               "AdministrationRoleARN": stack_set.administration_role_arn,
                               "ExecutionRoleName": stack_set.execution_role_name}
        if not self.running():
            out["EndTimestamp"] = self.created + timedelta(seconds=self.seconds)
        if self.status() == "FAILED":
            out["StatusReason"] = "The Operation failed: the number of failed stack instances exceeded the failure tolerance"
        return out

    def result_summaries(self) -> list[dict[str, Any]]:
        if not self.running():
            return [dict(r) for r in self.results]
        return [{**{k: v for k, v in r.items() if k != "StatusReason"}, "Status": "RUNNING"} for r in self.results]


# One batch of an operation: its region, that region's failure tolerance, its (account, region, OU)
# targets (at most the operation's concurrency).
_Batch = tuple[str, int, list[tuple[str, str, str | None]]]
# The operations with batches not begun yet, advanced before each request (advance_stack_set_operations).
_UNDER_WAY: list[_SetOperation] = []


def advance_stack_set_operations() -> None:
    """Apply the batches of every StackSet operation whose time has come: the work of an
    operation reaches its accounts batch by batch, applied by the first request after each
    batch begins (so that nothing runs between requests, and every request sees it)."""
    with _STACK_SETS:
        for op in list(_UNDER_WAY):
            op.advance()
            if not op.batches:
                _UNDER_WAY.remove(op)


class _SetInstance:
    """A stack instance: the stack in its account and region, its overrides and last outcome."""

    def __init__(self, account: str, region: str, ou: str | None) -> None:
        self.account, self.region, self.ou = account, region, ou
        self.stack: Any = None
        self.overrides: dict[str, str] = {}
        self.status, self.detailed, self.reason = "OUTDATED", "PENDING", None
        self.operation: _SetOperation | None = None
        self.drift: str = "NOT_CHECKED"
        self.drift_checked: Any = None

    def summary(self, stack_set: Any, with_overrides: bool = False) -> dict[str, Any]:
        status, detailed, reason = self.status, self.detailed, self.reason
        if self.operation is not None and self.operation.running():
            # Its batch not begun yet: PENDING; begun (its work is done, its outcome not shown yet): RUNNING.
            status, detailed, reason = (("OUTDATED", "PENDING", None) if detailed == "PENDING"
                                        else ("OUTDATED", "RUNNING", "User initiated operation"))
        out: dict[str, Any] = {"StackSetId": stack_set.id, "Region": self.region, "Account": self.account,
                               "Status": status, "StackInstanceStatus": {"DetailedStatus": detailed},
                               "DriftStatus": self.drift}
        if self.drift_checked is not None:
            out["LastDriftCheckTimestamp"] = self.drift_checked
        if self.stack is not None:
            out["StackId"] = self.stack.stack_id
        if reason:
            out["StatusReason"] = reason
        if self.ou:
            out["OrganizationalUnitId"] = self.ou
        if self.operation is not None:
            out["LastOperationId"] = self.operation.id
        if with_overrides:
            out["ParameterOverrides"] = [{"ParameterKey": k, "ParameterValue": v} for k, v in self.overrides.items()]
        return out


class _SetState:
    """What the launcher keeps per StackSet (moto's own instances and operations stay unused)."""

    def __init__(self) -> None:
        self.ous: list[str] = []
        self.regions: list[str] = []
        self.auto: dict[str, bool] = {"Enabled": False, "RetainStacksOnAccountRemoval": False}
        self.instances: dict[tuple[str, str], _SetInstance] = {}
        self.operations: list[_SetOperation] = []

    def busy(self) -> _SetOperation | None:
        return next((op for op in self.operations if op.running()), None)

    def operation(self, operation_id: str) -> _SetOperation:
        from moto.cloudformation.exceptions import CloudFormationError

        class OperationNotFound(CloudFormationError):
            code = "OperationNotFoundException"

        for op in self.operations:
            if op.id == operation_id:
                return op
        raise OperationNotFound(f"Operation {operation_id} not found")


def _state(stack_set: Any) -> _SetState:
    state = getattr(stack_set, "_launcher_state", None)
    if state is None:
        state = stack_set._launcher_state = _SetState()
    return state


def _check_idle(stack_set: Any) -> None:
    from moto.cloudformation.exceptions import CloudFormationError

    class OperationInProgress(CloudFormationError):
        code = "OperationInProgressException"

    busy = _state(stack_set).busy()
    if busy is not None:
        raise OperationInProgress(f"Another Operation on StackSet {stack_set.arn} is in progress: {busy.id}")


def _org(account_id: str, region: str) -> Any:
    """The Organizations backend that holds the organization `account_id` is in: its own for the
    management account (or an account in none), the management account's for a member."""
    from moto.utilities.utils import get_partition

    return management_backend(account_id, get_partition(region))


def management_backend(account_id: str, partition: str) -> Any:
    """The Organizations backend of the management account of `account_id`'s organization
    (moto keeps an organization only there); `account_id`'s own when it is in none."""
    from moto.organizations.models import organizations_backends

    owner = organizations_backends.master_accounts.get(account_id)
    if owner is not None:
        return organizations_backends[owner[0]][owner[1]]
    return organizations_backends[account_id][partition]


def _ou_accounts(org: Any, ous: list[str]) -> list[tuple[str, str]]:
    """(account, targeted OU) for the active accounts under `ous` and all their descendants, without
    the management account (never a target of a service-managed StackSet)."""
    owner: dict[str, str] = {ou: ou for ou in ous}
    grew = True
    while grew:
        grew = False
        for unit in org.ou:
            if unit.id not in owner and unit.parent_id in owner:
                owner[unit.id] = owner[unit.parent_id]
                grew = True
    master = org.org.master_account_id if org.org is not None else None
    return [(acct.id, owner[acct.parent_id]) for acct in org.accounts
            if acct.parent_id in owner and acct.id != master and getattr(acct, "status", "ACTIVE") == "ACTIVE"]


def _failure_reason(stack: Any) -> str:
    for event in reversed(stack.events):
        status = str(event.resource_status)
        if status.endswith("_FAILED") and event.resource_status_reason and event.logical_resource_id != stack.name:
            return (f"ResourceLogicalId:{event.logical_resource_id}, ResourceType:{event.resource_type}, "
                    f"ResourceStatusReason:{event.resource_status_reason}.")
    return str(getattr(stack, "stack_status_reason", None) or f"Stack {stack.name} is in {stack.status} state")


def _deploy_instance(stack_set: Any, inst: _SetInstance) -> str | None:
    """Create or update the instance's stack from the StackSet's template and parameters (with the
    instance's overrides), with the launcher's rollback; the failure reason, or None."""
    import uuid

    from moto.cloudformation.models import Stack, cloudformation_backends
    from moto.cloudformation.utils import generate_stack_id

    cfn = cloudformation_backends[inst.account][inst.region]
    params = {**{k: _as_str(v) for k, v in (stack_set.parameters or {}).items()}, **inst.overrides}
    try:
        validate_parameters(stack_set.template, params)
        stack = inst.stack
        if stack is not None and stack.status in _UPDATABLE:
            # As AWS: the StackSet's tags become the stack's (a change of tags alone updates it).
            tags = dict(stack_set.tags or {})
            if has_no_changes(stack, stack_set.template, params):
                stack.tags = tags
                return None
            if not run_update(cfn, stack, stack_set.template, params):
                return _failure_reason(stack)
            stack.tags = tags
            return None
        if stack is not None:  # never created: AWS deletes it and creates it again
            cfn.stacks.pop(stack.stack_id, None)
        name = f"StackSet-{stack_set.name}-{uuid.uuid4()}"
        stack = Stack(stack_id=generate_stack_id(name, inst.region, inst.account), name=name,
                      template=stack_set.template, parameters=params, account_id=inst.account,
                      region_name=inst.region, tags=stack_set.tags, cross_stack_resources=cfn.exports)
        cfn.stacks[stack.stack_id] = stack
        inst.stack = stack
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        run_create(cfn, stack, synchronous_template_errors=False)
        return None if stack.status == "CREATE_COMPLETE" else _failure_reason(stack)
    except Exception as exc:  # whatever AWS would report as this instance's failure
        return _error_message(exc)


def _remove_instance(state: _SetState, inst: _SetInstance, retain: bool) -> str | None:
    from moto.cloudformation.models import cloudformation_backends

    try:
        if inst.stack is not None and not retain:
            cloudformation_backends[inst.account][inst.region].delete_stack(inst.stack.stack_id)
    except Exception as exc:
        return _error_message(exc)
    state.instances.pop((inst.account, inst.region), None)
    return None


def instance_drift(inst: _SetInstance) -> str:
    """DRIFTED when a role of the instance's stack is gone from its account or its trust policy is
    not the template's; IN_SYNC otherwise (only AWS::IAM::Role trust policies are compared)."""
    from moto.cloudformation.parsing import clean_json
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    stack = inst.stack
    if stack is None or stack.status not in _UPDATABLE:
        return "NOT_CHECKED"
    rm = stack.resource_map
    iam = iam_backends[inst.account][get_partition(inst.region)]
    for lid, body in (rm._resource_json_map or {}).items():
        resource = rm._parsed_resources.get(lid)
        if (body or {}).get("Type") != "AWS::IAM::Role" or resource is None:
            continue
        try:
            live = iam.get_role(resource.name)
        except Exception:
            return "DRIFTED"
        expected = clean_json(copy.deepcopy((body.get("Properties") or {}).get("AssumeRolePolicyDocument")), rm)
        if _load_policy(json.dumps(expected) if not isinstance(expected, str) else expected) != _load_policy(
                live.assume_role_policy_document):
            return "DRIFTED"
    return "IN_SYNC"


def _limit(preferences: dict[str, Any], kind: str, total: int, default: int) -> int:
    if f"{kind}Count" in preferences:
        return int(preferences[f"{kind}Count"])
    if f"{kind}Percentage" in preferences:
        value = int(preferences[f"{kind}Percentage"]) * total // 100
        return max(1, value) if kind == "MaxConcurrent" else value
    return default


def run_set_operation(stack_set: Any, action: str, targets: list[tuple[str, str, str | None]],
                      preferences: dict[str, Any], operation_id: str | None = None,
                      overrides: dict[str, str] | None = None, retain: bool = False,
                      replace_overrides: bool = False,
                      after: Callable[[_SetOperation], None] | None = None) -> _SetOperation:
    """Start CREATE/UPDATE/DELETE/DETECT_DRIFT on (account, region, OU) targets region by region
    (RegionOrder first), in batches of the maximum concurrency, each batch applied as its slice of
    the operation's time begins (`_SetOperation.advance`), then `after`; once a region's failures
    exceed the failure tolerance, the rest of the operation is cancelled and it FAILS. A CREATE or
    UPDATE makes each target's instance OUTDATED (PENDING) with its overrides at once, as AWS
    does; a stop leaves those not begun OUTDATED (CANCELLED)."""
    from moto.core.utils import utcnow

    state = _state(stack_set)
    order = [r for r in preferences.get("RegionOrder") or [] if any(t[1] == r for t in targets)]
    order += [r for r in dict.fromkeys(t[1] for t in targets) if r not in order]
    batches: list[_Batch] = []
    for region in order:
        here = [t for t in targets if t[1] == region]
        tolerance = _limit(preferences, "FailureTolerance", len(here), 0)
        concurrency = _limit(preferences, "MaxConcurrent", len(here), 1)
        if preferences.get("ConcurrencyMode", "STRICT_FAILURE_TOLERANCE") == "STRICT_FAILURE_TOLERANCE":
            concurrency = max(1, min(concurrency, tolerance + 1))
        batches += [(region, tolerance, here[start:start + concurrency]) for start in range(0, len(here), concurrency)]
    failed: dict[str, int] = {}

    def result_of(account: str, region: str, ou: str | None) -> dict[str, Any]:
        result: dict[str, Any] = {"Account": account, "Region": region,
                                  "AccountGateResult": {"Status": "SKIPPED", "StatusReason": "AccountGate "
                                                        "function not found in the target account"}}
        if ou:
            result["OrganizationalUnitId"] = ou
        return result

    def cancel(batch: _Batch) -> None:
        for account, region, ou in batch[2]:
            inst = state.instances.get((account, region))
            if inst is not None:
                inst.status, inst.detailed, inst.reason, inst.operation = "OUTDATED", "CANCELLED", _CANCELLED, op
            op.results.append({**result_of(account, region, ou), "Status": "CANCELLED", "StatusReason": _CANCELLED})

    def apply(batch: _Batch) -> None:
        region, tolerance, members = batch
        for account, _, ou in members:
            result = result_of(account, region, ou)
            inst = state.instances.get((account, region))
            if action == "DELETE":
                reason = _remove_instance(state, inst, retain) if inst is not None else None
            elif action == "DETECT_DRIFT":
                reason = None
                if inst is not None:
                    inst.drift, inst.drift_checked = instance_drift(inst), utcnow()
            elif inst is None:  # made when the operation started, taken out since by an automatic deployment
                continue
            else:
                reason = _deploy_instance(stack_set, inst)
                inst.status, inst.detailed, inst.reason = (
                    ("CURRENT", "SUCCEEDED", None) if reason is None else ("OUTDATED", "FAILED", reason))
            result.update(Status="SUCCEEDED" if reason is None else "FAILED")
            if reason is not None:
                result["StatusReason"] = reason
                failed[region] = failed.get(region, 0) + 1
            op.results.append(result)
        if failed.get(region, 0) > tolerance:
            op.final = "FAILED"
            for rest in op.batches:
                cancel(rest)
            op.batches.clear()
        if after is not None:
            after(op)

    op = _SetOperation(action, operation_id, preferences, batches, apply)
    state.operations.append(op)
    if action in ("CREATE", "UPDATE"):
        for account, region, ou in targets:
            inst = state.instances.get((account, region))
            if inst is None:
                inst = state.instances[(account, region)] = _SetInstance(account, region, ou)
            if replace_overrides:  # UpdateStackInstances: a parameter left out reverts
                inst.overrides = {}
            inst.overrides.update(overrides or {})
            inst.operation = op
            inst.status, inst.detailed, inst.reason = "OUTDATED", "PENDING", None
    op.begin()
    if not batches and after is not None:
        after(op)
    return op


def _targets(stack_set: Any, account_id: str, region: str, regions: list[str], accounts: list[str],
             deployment: dict[str, Any], existing_only: bool) -> list[tuple[str, str, str | None]]:
    """The (account, region, OU) pairs a request names; SERVICE_MANAGED needs OUs, SELF_MANAGED accounts."""
    from moto.cloudformation.exceptions import ValidationError

    ous = list(deployment.get("OrganizationalUnitIds") or [])
    accounts = list(accounts) + list(deployment.get("Accounts") or [])
    if stack_set.permission_model == "SERVICE_MANAGED":
        if not ous:
            raise ValidationError(message="StackSets with SERVICE_MANAGED permission model can only have "
                                  "OrganizationalUnit as target")
        for ou in ous:
            if not re.fullmatch(r"(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})", ou):
                raise ValidationError(message=f"1 validation error detected: Value '[{ou}]' at "
                                      "'deploymentTargets.organizationalUnitIds' failed to satisfy constraint: "
                                      "Member must satisfy regular expression pattern: "
                                      "^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$")
        members = _ou_accounts(_org(account_id, region), ous)
        # AccountFilterType narrows (INTERSECTION), excludes (DIFFERENCE) or adds (UNION) the
        # accounts named beside the OUs; none named: the OUs alone.
        named = set(accounts)
        kind = deployment.get("AccountFilterType") or "NONE"
        if named and kind == "INTERSECTION":
            members = [m for m in members if m[0] in named]
        elif named and kind == "DIFFERENCE":
            members = [m for m in members if m[0] not in named]
        elif named and kind == "UNION":
            members += [(a, None) for a in accounts if a not in {m[0] for m in members}]  # type: ignore[misc]
    else:
        if ous:
            raise ValidationError(message="StackSets with SELF_MANAGED permission model can only have accounts "
                                  "as target")
        members = [(a, None) for a in accounts]  # type: ignore[misc]
    state = _state(stack_set)
    pairs = [(a, r, ou) for r in regions for a, ou in members]
    if existing_only:
        pairs = [p for p in pairs if (p[0], p[1]) in state.instances]
    return pairs


def _preferences(response: Any) -> dict[str, Any]:
    return dict(response._get_params().get("OperationPreferences") or {})


def _overrides(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {p["ParameterKey"]: _as_str(p.get("ParameterValue", "")) for p in items or []}


def _auto_deployment(response: Any, stack_set: Any, given: dict[str, Any] | None) -> None:
    from moto.cloudformation.exceptions import ValidationError

    if not given:
        return
    if stack_set.permission_model != "SERVICE_MANAGED":
        raise ValidationError(message="AutoDeployment is only supported for StackSets with the SERVICE_MANAGED "
                              "permission model")
    state = _state(stack_set)
    state.auto = {"Enabled": bool(given.get("Enabled", False)),
                  "RetainStacksOnAccountRemoval": bool(given.get("RetainStacksOnAccountRemoval", False))}
    stack_set.auto_deployment = dict(state.auto)


def follow_account(org: Any, account_id: str) -> None:
    """AutoDeployment: an account that joined a targeted OU gets the StackSet's instances (in every
    region it targets); one that left loses them (its stacks kept with RetainStacksOnAccountRemoval)."""
    from moto.cloudformation.models import cloudformation_backends

    with _STACK_SETS:
        # The management account's StackSets and those of its delegated administrators.
        owners = [org.account_id] + [admin.account.id for admin in org.admins
                                     if STACK_SETS_PRINCIPAL in admin.services]
        backends = [cloudformation_backends[o] for o in owners if o in cloudformation_backends]
        for region, cfn in [item for backend in backends for item in list(dict.items(backend))]:
            for stack_set in list(cfn.stacksets.values()):
                state = getattr(stack_set, "_launcher_state", None)
                if (state is None or not state.auto["Enabled"] or stack_set.status != "ACTIVE"
                        or stack_set.permission_model != "SERVICE_MANAGED"):
                    continue
                covered = dict(_ou_accounts(org, state.ous))
                have = [(a, r, i.ou) for (a, r), i in state.instances.items() if a == account_id]
                if account_id in covered:
                    missing = [(account_id, r, covered[account_id]) for r in state.regions
                               if (account_id, r) not in state.instances]
                    if missing:
                        run_set_operation(stack_set, "CREATE", missing, {})
                elif have:
                    run_set_operation(stack_set, "DELETE", have, {},
                                      retain=state.auto["RetainStacksOnAccountRemoval"])


def patch_organizations_auto_deployment() -> None:
    """Organizations' CreateAccount, MoveAccount and RemoveAccountFromOrganization start the
    automatic deployments of service-managed StackSets (see follow_account); moto has none."""
    from moto.organizations.models import OrganizationsBackend

    _require(OrganizationsBackend, "create_account", "move_account", "remove_account_from_organization")
    original_create = OrganizationsBackend.create_account
    original_move = OrganizationsBackend.move_account
    original_remove = OrganizationsBackend.remove_account_from_organization

    def create_account(self: Any, **kwargs: Any) -> Any:
        status = original_create(self, **kwargs)
        follow_account(self, self.accounts[-1].id)
        return status

    def move_account(self: Any, **kwargs: Any) -> None:
        original_move(self, **kwargs)
        follow_account(self, kwargs["AccountId"])

    def remove_account_from_organization(self: Any, **kwargs: Any) -> None:
        account_id = kwargs["AccountId"]
        original_remove(self, **kwargs)
        follow_account(self, account_id)

    OrganizationsBackend.create_account = create_account  # type: ignore[method-assign]
    OrganizationsBackend.move_account = move_account  # type: ignore[method-assign]
    OrganizationsBackend.remove_account_from_organization = remove_account_from_organization  # type: ignore[method-assign]


def patch_cfn_stack_sets() -> None:
    """StackSet operations as AWS runs them (see run_set_operation): instances are real stacks
    (StackSet-NAME-UUID) in each target account that create, update and fail with rollback;
    UpdateStackSet reaches them; operations stay RUNNING for SANDBOX_STACK_SET_OPERATION_SECONDS,
    reach their targets batch by batch over that time, stop between two batches, and refuse a
    second one meanwhile; results and instances carry per-target status and reason;
    AutoDeployment is stored, shown and followed (patch_organizations_auto_deployment)."""
    from moto.cloudformation.exceptions import StackInstanceNotFound, StackSetNotEmpty, ValidationError
    from moto.cloudformation.models import CloudFormationBackend, StackSet
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult, EmptyResult

    names = ("create_stack_set", "create_stack_instances", "update_stack_set", "update_stack_instances",
             "delete_stack_instances", "delete_stack_set", "describe_stack_set", "describe_stack_instance",
             "list_stack_instances", "list_stack_set_operations", "describe_stack_set_operation",
             "list_stack_set_operation_results", "stop_stack_set_operation", "_get_params", "_get_param")
    _require(CloudFormationResponse, *names)
    _require(CloudFormationBackend, "describe_stack_set", "_resolve_update_parameters")
    _require(StackSet, "template_body")  # name, template, parameters, permission_model: set in __init__
    original_create_set = CloudFormationResponse.create_stack_set
    original_delete_set = CloudFormationResponse.delete_stack_set

    def stack_set_of(self: Any) -> Any:
        return self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))

    def create_stack_set(self: Any) -> Any:
        with _STACK_SETS:
            parse_submitted_template(self._get_param("TemplateBody"))
            if self._get_param("AutoDeployment") and self._get_param("PermissionModel") != "SERVICE_MANAGED":
                raise ValidationError(message="AutoDeployment is only supported for StackSets with the "
                                      "SERVICE_MANAGED permission model")
            result = original_create_set(self)
            stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
            if stack_set.permission_model == "SERVICE_MANAGED":
                stack_set.auto_deployment = dict(_state(stack_set).auto)
            _auto_deployment(self, stack_set, self._get_param("AutoDeployment"))
            return result

    def create_stack_instances(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            _check_idle(stack_set)
            regions = list(self._get_param("Regions", []))
            deployment = self._get_params().get("DeploymentTargets") or {}
            targets = _targets(stack_set, self.current_account, self.region, regions,
                               self._get_param("Accounts", []), deployment, existing_only=False)
            state = _state(stack_set)
            state.ous += [ou for ou in deployment.get("OrganizationalUnitIds") or [] if ou not in state.ous]
            state.regions += [r for r in regions if r not in state.regions]
            op = run_set_operation(stack_set, "CREATE", targets, _preferences(self), self._get_param("OperationId"),
                                   _overrides(self._get_param("ParameterOverrides")))
            return ActionResult({"OperationId": op.id})

    def update_stack_set(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            _check_idle(stack_set)
            body = self._get_param("TemplateBody")
            if body is None and not self._get_param("UsePreviousTemplate"):
                raise ValidationError(message="Either Template URL or Template Body must be specified.")
            template = stack_set.template if body is None else body
            parse_submitted_template(template)
            incoming = self._get_param("Parameters", [])
            stack_set.parameters = self.cloudformation_backend._resolve_update_parameters(stack_set, incoming)
            stack_set.template = template
            if self._get_param("Description") is not None:
                stack_set.description = self._get_param("Description")
            if self._get_param("Tags") is not None:
                stack_set.tags = {t["Key"]: t["Value"] for t in self._get_param("Tags")}
            _auto_deployment(self, stack_set, self._get_param("AutoDeployment"))
            state = _state(stack_set)
            regions = self._get_param("Regions") or state.regions
            deployment = self._get_params().get("DeploymentTargets") or {}
            if deployment or self._get_param("Accounts"):
                targets = _targets(stack_set, self.current_account, self.region, regions,
                                   self._get_param("Accounts", []), deployment, existing_only=True)
            else:
                targets = [(a, r, i.ou) for (a, r), i in state.instances.items() if r in regions]
            op = run_set_operation(stack_set, "UPDATE", targets, _preferences(self), self._get_param("OperationId"))
            return ActionResult({"OperationId": op.id})

    def update_stack_instances(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            _check_idle(stack_set)
            targets = _targets(stack_set, self.current_account, self.region, self._get_param("Regions", []),
                               self._get_param("Accounts", []), self._get_params().get("DeploymentTargets") or {},
                               existing_only=True)
            # ParameterOverrides given (an empty list too) is the instances' whole set of overrides,
            # as on AWS: one left out goes back to the StackSet's value; absent, they stay.
            given = any(k == "ParameterOverrides" or k.startswith("ParameterOverrides.") for k in self.querystring)
            op = run_set_operation(stack_set, "UPDATE", targets, _preferences(self), self._get_param("OperationId"),
                                   _overrides(self._get_param("ParameterOverrides")), replace_overrides=given)
            return ActionResult({"OperationId": op.id})

    def delete_stack_instances(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            _check_idle(stack_set)
            regions = list(self._get_param("Regions", []))
            deployment = self._get_params().get("DeploymentTargets") or {}
            targets = _targets(stack_set, self.current_account, self.region, regions,
                               self._get_param("Accounts", []), deployment, existing_only=True)
            state = _state(stack_set)
            removed = set(deployment.get("OrganizationalUnitIds") or [])

            def forget(_op: _SetOperation) -> None:  # the regions and OUs no instance is left in
                state.regions = [r for r in state.regions if any(k[1] == r for k in state.instances)]
                state.ous = [ou for ou in state.ous
                             if ou not in removed or any(i.ou == ou for i in state.instances.values())]

            op = run_set_operation(stack_set, "DELETE", targets, _preferences(self), self._get_param("OperationId"),
                                   retain=bool(self._get_param("RetainStacks")), after=forget)
            return ActionResult({"OperationId": op.id})

    def delete_stack_set(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            _check_idle(stack_set)
            if _state(stack_set).instances:
                raise StackSetNotEmpty()
            return original_delete_set(self)

    def describe_stack_instance(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            key = (self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion"))
            inst = _state(stack_set).instances.get(key)
            if inst is None:
                raise StackInstanceNotFound()
            return ActionResult({"StackInstance": inst.summary(stack_set, with_overrides=True)})

    def list_stack_instances(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            account, region = self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion")
            found = [i.summary(stack_set) for (a, r), i in _state(stack_set).instances.items()
                     if account in (None, a) and region in (None, r)]
            return ActionResult({"Summaries": found})

    def list_stack_set_operations(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            return ActionResult({"Summaries": [op.summary(stack_set) for op in _state(stack_set).operations]})

    def describe_stack_set_operation(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            op = _state(stack_set).operation(self._get_param("OperationId"))
            return ActionResult({"StackSetOperation": op.summary(stack_set)})

    def list_stack_set_operation_results(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            op = _state(stack_set).operation(self._get_param("OperationId"))
            return ActionResult({"Summaries": op.result_summaries()})

    def detect_stack_set_drift(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            _check_idle(stack_set)
            state = _state(stack_set)
            targets = [(a, r, i.ou) for (a, r), i in state.instances.items()]

            def details(op: _SetOperation) -> None:  # the StackSet's drift, as checked so far
                checked = [i for i in state.instances.values() if i.drift in ("DRIFTED", "IN_SYNC")]
                drifted = sum(1 for i in checked if i.drift == "DRIFTED")
                stack_set.stack_set_drift_detection_details = {
                    "DriftStatus": "DRIFTED" if drifted else "IN_SYNC", "DriftDetectionStatus": "COMPLETED",
                    "LastDriftCheckTimestamp": op.created, "TotalStackInstancesCount": len(state.instances),
                    "DriftedStackInstancesCount": drifted, "InSyncStackInstancesCount": len(checked) - drifted,
                    "InProgressStackInstancesCount": 0,
                    "FailedStackInstancesCount": len(state.instances) - len(checked)}

            op = run_set_operation(stack_set, "DETECT_DRIFT", targets, _preferences(self),
                                   self._get_param("OperationId"), after=details)
            return ActionResult({"OperationId": op.id})

    def stop_stack_set_operation(self: Any) -> Any:
        with _STACK_SETS:
            stack_set = stack_set_of(self)
            state = _state(stack_set)
            op = state.operation(self._get_param("OperationId"))
            if op.running():
                # The batches not begun are never applied: their instances stay as they were, those
                # this operation made OUTDATED are CANCELLED; its results name only what it reached.
                for _, _, members in op.stop():
                    for account, region, _ in members:
                        inst = state.instances.get((account, region))
                        if inst is not None and inst.operation is op:
                            inst.detailed, inst.reason = "CANCELLED", None
            return EmptyResult()

    for name, fn in [("create_stack_set", create_stack_set), ("create_stack_instances", create_stack_instances),
                     ("update_stack_set", update_stack_set), ("update_stack_instances", update_stack_instances),
                     ("delete_stack_instances", delete_stack_instances), ("delete_stack_set", delete_stack_set),
                     ("describe_stack_instance", describe_stack_instance),
                     ("list_stack_instances", list_stack_instances),
                     ("list_stack_set_operations", list_stack_set_operations),
                     ("describe_stack_set_operation", describe_stack_set_operation),
                     ("list_stack_set_operation_results", list_stack_set_operation_results),
                     ("detect_stack_set_drift", detect_stack_set_drift),
                     ("stop_stack_set_operation", stop_stack_set_operation)]:
        setattr(CloudFormationResponse, name, fn)


# The service principal an account is registered for to administer service-managed StackSets.
STACK_SETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
NOT_MANAGEMENT_ACCOUNT = ("You must be the management account or delegated admin account of an organization "
                          "before operating a SERVICE_MANAGED stack set")
NOT_DELEGATED_ADMIN = "Account used is not a delegated administrator"
ORGANIZATIONS_DENIED = "You don't have permissions to access this resource."
# The StackSet operations that take CallAs (StopStackSetOperation too: the tool sends it on Ctrl-C).
CALL_AS_OPERATIONS = ("create_stack_set", "update_stack_set", "delete_stack_set", "describe_stack_set",
                      "create_stack_instances", "update_stack_instances", "delete_stack_instances",
                      "list_stack_instances", "describe_stack_instance", "describe_stack_set_operation",
                      "list_stack_set_operations", "list_stack_set_operation_results", "detect_stack_set_drift",
                      "stop_stack_set_operation")
# Organizations' reads that only the management account and delegated administrators may make.
ORGANIZATIONS_READS = ("list_roots", "list_children", "list_accounts_for_parent",
                       "list_organizational_units_for_parent", "describe_organizational_unit", "list_parents",
                       "list_accounts", "describe_account", "list_delegated_administrators")


def delegated_services(account_id: str, partition: str) -> set[str]:
    """The service principals `account_id` is a registered delegated administrator for."""
    org = management_backend(account_id, partition)
    return {service for admin in org.admins if admin.account.id == account_id for service in admin.services}


def _iam_enforced() -> bool:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def caller_may(response: Any, action: str) -> bool:
    """Whether the signer of `response`'s request is allowed `action` on `*` (always, while IAM
    is not enforced), as AWS checks the rights a call needs beyond its own action."""
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.access_control import IAMRequest

    if not _iam_enforced():
        return True
    request = IAMRequest(account_id=response.current_account, method=response.method, path=response.raw_path,
                         data=response.data, body=response.raw_body, headers=response.headers,
                         action=response._get_action())
    request._action = action
    try:
        request.check_action_permitted("*")
    except AccessDeniedError:
        return False
    return True


def check_call_as(response: Any, service_managed: Callable[[], bool]) -> None:
    """CallAs as AWS honours it: DELEGATED_ADMIN only from an account registered as delegated
    administrator for StackSets whose caller may organizations:ListDelegatedAdministrators (AWS
    checks the registration with the caller's rights); SELF (the default) on a service-managed
    StackSet only from the organization's management account. Each refusal is AWS's
    ValidationError."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.utilities.utils import get_partition

    account, partition = response.current_account, get_partition(response.region)
    if response._get_param("CallAs") == "DELEGATED_ADMIN":
        if (STACK_SETS_PRINCIPAL not in delegated_services(account, partition)
                or not caller_may(response, "organizations:ListDelegatedAdministrators")):
            raise ValidationError(message=NOT_DELEGATED_ADMIN)
    elif service_managed():
        org = management_backend(account, partition)
        if org.org is None or org.account_id != account:
            raise ValidationError(message=NOT_MANAGEMENT_ACCOUNT)


def patch_cfn_stack_set_call_as() -> None:
    """Every StackSet operation honours CallAs (check_call_as, made for DELEGATED_ADMIN before
    the StackSet is looked up; moto ignored CallAs). A delegated administrator's StackSet lives in
    its own account and targets the OUs of its organization (`_org`)."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.organizations.models import FakeDelegatedAdministrator

    _require(CloudFormationResponse, *CALL_AS_OPERATIONS)
    _require(FakeDelegatedAdministrator, "SUPPORTED_SERVICES")
    if STACK_SETS_PRINCIPAL not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(STACK_SETS_PRINCIPAL)

    def guarded(name: str, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def method(self: Any) -> Any:
            with _STACK_SETS:
                if name == "create_stack_set":
                    check_call_as(self, lambda: self._get_param("PermissionModel") == "SERVICE_MANAGED")
                else:
                    check_call_as(self, lambda: self.cloudformation_backend.describe_stack_set(
                        self._get_param("StackSetName")).permission_model == "SERVICE_MANAGED")
                return original(self)
        return method

    for name in CALL_AS_OPERATIONS:
        setattr(CloudFormationResponse, name, guarded(name, getattr(CloudFormationResponse, name)))


def patch_organizations_member_reads() -> None:
    """Organizations' reads of the organization (ListRoots, ListChildren, ListAccountsForParent,
    ...) from a member account: answered from the organization for a delegated administrator (of
    any service), AccessDeniedException for any other member, as AWS does; moto answered ListRoots
    to every member and the others from the member's own, empty, organization."""
    from moto.core.exceptions import JsonRESTError
    from moto.organizations.models import OrganizationsBackend, organizations_backends

    _require(OrganizationsBackend, *ORGANIZATIONS_READS)

    class AccessDeniedException(JsonRESTError):
        def __init__(self) -> None:
            super().__init__("AccessDeniedException", ORGANIZATIONS_DENIED)

    def as_member(original: Callable[..., Any]) -> Callable[..., Any]:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.org is not None or self.account_id not in organizations_backends.master_accounts:
                return original(self, *args, **kwargs)
            if not delegated_services(self.account_id, self.partition):
                raise AccessDeniedException()
            return original(management_backend(self.account_id, self.partition), *args, **kwargs)
        return method

    for name in ORGANIZATIONS_READS:
        setattr(OrganizationsBackend, name, as_member(getattr(OrganizationsBackend, name)))


_IAM_ROLE_NAME = re.compile(r"[\w+=,.@-]+")


def patch_iam_role_names() -> None:
    """CreateRole checks the name as IAM does: 1 to 64 characters of [\\w+=,.@-] (ValidationError);
    moto accepts any name, so a StackSet's too-long role name never failed."""
    from moto.iam.exceptions import ValidationError
    from moto.iam.models import IAMBackend

    _require(IAMBackend, "create_role")
    original = IAMBackend.create_role

    def create_role(self: Any, role_name: str, *args: Any, **kwargs: Any) -> Any:
        name = str(role_name)
        if len(name) > 64:
            raise ValidationError(f"1 validation error detected: Value '{name}' at 'roleName' failed to satisfy "
                                  "constraint: Member must have length less than or equal to 64")
        if not _IAM_ROLE_NAME.fullmatch(name):
            raise ValidationError(f"1 validation error detected: Value '{name}' at 'roleName' failed to satisfy "
                                  "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")
        return original(self, role_name, *args, **kwargs)

    IAMBackend.create_role = create_role  # type: ignore[method-assign]


# --------------------------------------------------------------------------- Lambda: runs the code


_RUNTIMES = "python3.x functions only (run with this sandbox's Python {python}), from a zip"


def check_runtime(runtime: Any, package_type: Any = "Zip") -> None:
    """CreateFunction/UpdateFunctionConfiguration: refuse what the sandbox cannot run, at once,
    rather than a function that fails at every invocation."""
    from moto.awslambda.exceptions import InvalidParameterValueException

    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if package_type == "Image":
        raise InvalidParameterValueException(f"PackageType `Image`: the sandbox's Lambda runs {_RUNTIMES.format(python=python)}")
    if runtime is not None and not re.fullmatch(r"python3\.[0-9]+", str(runtime)):
        raise InvalidParameterValueException(
            f"runtime `{runtime}`: the sandbox's Lambda runs {_RUNTIMES.format(python=python)}")


class Caller:
    """Who signed a request: the access key and, for an sts:AssumeRole session, the role, the
    session name and the external ID given at AssumeRole (moto keeps assumed-role keys)."""

    @staticmethod
    def of(response: Any) -> dict[str, Any]:
        from moto.sts.models import sts_backends

        # The key as signed (moto's own parser only knows 20-character keys, not `testing`).
        signed = re.search(r"Credential=([^/,\s]+)/", response.headers.get("Authorization") or "")
        key = signed.group(1) if signed else response.get_access_key()
        caller: dict[str, Any] = {"access_key": key}
        for by_partition in list(sts_backends.values()):
            for backend in list(by_partition.values()):
                role = backend.get_assumed_role_from_access_key(key)
                if role is not None:
                    caller.update(arn=role.arn, role_arn=role.role_arn, session_name=role.session_name,
                                  external_id=role.external_id)
                    return caller
        account = response.current_account
        _, caller["arn"], _ = sts_backends[account]["aws"].get_caller_identity(key, response.region)
        return caller

    @staticmethod
    def describe(caller: dict[str, Any]) -> str:
        if "role_arn" in caller:
            return f"{caller['arn']} (external ID {caller['external_id']})"
        return f"{caller['arn']} (access key {caller['access_key']})"


# AWS Lambda's limit on the init phase of an on-demand function, which its timeout excludes
# (lambda_bootstrap.INIT_LIMIT_S).
INIT_LIMIT_S = 10.0


class Invocation:
    """One run of a handler in its own process group. `ready` is the pipe on which the process
    ends its init phase with the invocation's deadline (lambda_bootstrap.start_clock)."""

    def __init__(self, record: dict[str, Any], directory: Path, process: subprocess.Popen[bytes],
                 timeout: float, started: float, ready: int) -> None:
        self.record, self.directory, self.process = record, directory, process
        self.timeout, self.started, self.ready = timeout, started, ready

    def deadline(self) -> tuple[float, float | None]:
        """When the function's time is up, and when its clock started (None: the process ended
        during init). Waits for the end of init, at most until the latest possible deadline."""
        latest = self.started + INIT_LIMIT_S + self.timeout
        line = b""
        try:
            while not line.endswith(b"\n"):
                readable, _, _ = select.select([self.ready], [], [], max(0.0, latest - time.time()))
                chunk = os.read(self.ready, 64) if readable else b""
                if not chunk:
                    break
                line += chunk
        finally:
            os.close(self.ready)
        try:
            deadline = float(line) / 1000
        except ValueError:
            return latest, None
        return min(deadline, latest), deadline - self.timeout


class LambdaRuntime:
    """Runs Python functions for the docker-free Lambda backend: each invocation is a process
    (lambda_bootstrap.py, the venv's interpreter) in the function's extracted code, with its
    environment variables, killed with its whole process group at the function's timeout (counted,
    as on AWS, from the end of its init phase; see lambda_bootstrap.py) or when the emulator stops. Every invocation is logged twice (start, end) as a JSON line in
    LAMBDA_DIR/invocations.jsonl and on stderr, with the identity that made it."""

    def __init__(self, root: Path, endpoint: str) -> None:
        self.root, self.endpoint = root, endpoint
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen[bytes]] = set()
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root / "invocations", ignore_errors=True)  # this emulator run's only
        self.log = root / "invocations.jsonl"
        self.log.write_text("")

    def code_dir(self, fn: Any) -> Path:
        """The function's code, extracted once per code version (its SHA-256)."""
        target = self.root / "code" / fn.code_digest
        with self.lock:
            if not target.exists():
                staging = target.with_name(f".{target.name}.{os.getpid()}")
                shutil.rmtree(staging, ignore_errors=True)
                with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                    archive.extractall(staging)
                os.replace(staging, target)
        return target

    def environment(self, fn: Any, code: Path) -> dict[str, str]:
        """What Lambda gives a function: its variables, the reserved ones, dummy credentials and
        the emulator as its AWS endpoint (nothing of the emulator's own environment)."""
        env = {k: os.environ[k] for k in ("PATH", "LANG", "TZ") if k in os.environ}
        env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
        env.update({
            "LAMBDA_TASK_ROOT": str(code), "_HANDLER": str(fn.handler), "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region, "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": self.endpoint, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
        })
        return env

    def write(self, record: dict[str, Any]) -> None:
        with self.lock, self.log.open("a") as out:
            out.write(json.dumps(record) + "\n")

    def start(self, fn: Any, invoked_arn: str, event: Any, caller: dict[str, Any], kind: str) -> Invocation:
        import uuid

        request_id = str(uuid.uuid4())
        code = self.code_dir(fn)
        directory = self.root / "invocations" / request_id
        directory.mkdir(parents=True)
        started = time.time()
        timeout = float(fn.timeout)
        record = {"event": "start", "time": started, "request_id": request_id, "function": fn.function_name,
                  "function_arn": invoked_arn, "version": str(fn.version), "invocation_type": kind,
                  "caller": caller, "output": str(directory / "output.log")}
        self.write(record)
        print(f"lambda: START {request_id} {invoked_arn} ({kind}) by {Caller.describe(caller)}",
              file=sys.stderr, flush=True)
        ready, ready_w = os.pipe()
        try:
            (directory / "invocation.json").write_text(json.dumps({
                "request_id": request_id, "invoked_function_arn": invoked_arn, "function_name": fn.function_name,
                "function_version": str(fn.version), "memory_limit_in_mb": fn.memory_size, "handler": fn.handler,
                "started_ms": started * 1000, "timeout_s": timeout, "ready_fd": ready_w, "event": event,
                "code_dir": str(code), "parent_pid": os.getpid(),
                "launcher_dir": str(Path(__file__).resolve().parent),
            }))
            with (directory / "output.log").open("wb") as output:
                process = subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve().parent / "lambda_bootstrap.py"), str(directory)],
                    cwd=code, env=self.environment(fn, code), stdin=subprocess.DEVNULL, stdout=output,
                    stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(ready_w,))
        except BaseException:
            os.close(ready)
            raise
        finally:
            os.close(ready_w)
        with self.lock:
            self.running.add(process)
        return Invocation(record, directory, process, timeout, started, ready)

    def finish(self, inv: Invocation) -> dict[str, Any]:
        """Waits for the handler until its deadline; returns {"result": ...} or {"error": ...}."""
        deadline, clock = inv.deadline()
        try:
            code = inv.process.wait(max(0.0, deadline - time.time()))
            timed_out = False
        except subprocess.TimeoutExpired:
            code, timed_out = None, True
        self._kill(inv.process)
        outcome = self._outcome(inv, code, timed_out)
        ended = time.time()
        took_ms = int((ended - inv.started) * 1000)
        init_ms = int(((clock or ended) - inv.started) * 1000)
        error = outcome.get("error")
        self.write({**inv.record, "event": "end", "time": ended, "duration_ms": took_ms,
                    "init_duration_ms": init_ms, "status": "error" if error else "ok", "error": error,
                    "output_tail": _tail(inv.directory / "output.log")})
        summary = f"{error['errorType']}: {error['errorMessage']}" if error else "ok"
        print(f"lambda: END {inv.record['request_id']} {summary} in {took_ms} ms (output: "
              f"{inv.record['output']})", file=sys.stderr, flush=True)
        return outcome

    @staticmethod
    def _outcome(inv: Invocation, code: int | None, timed_out: bool) -> dict[str, Any]:
        result = inv.directory / "result.json"
        if result.exists():
            return dict(json.loads(result.read_text()))
        request_id = inv.record["request_id"]
        if timed_out:
            message = f"RequestId: {request_id} Error: Task timed out after {inv.timeout:.2f} seconds"
            return {"error": {"errorType": "Sandbox.Timedout", "errorMessage": message}}
        status = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
        return {"error": {"errorType": "Runtime.ExitError", "errorMessage": message}}

    def _kill(self, process: subprocess.Popen[bytes]) -> None:
        """The handler's whole process group: whatever it started ends with it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        with self.lock:
            self.running.discard(process)

    def stop_all(self) -> None:
        with self.lock:
            running = list(self.running)
        for process in running:
            self._kill(process)


def _tail(path: Path, lines: int = 20) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


_RUNTIME: LambdaRuntime | None = None
_REQUEST = threading.local()


def _invoked_arn(fn: Any, name: str, qualifier: str | None) -> str:
    if name.startswith("arn:"):
        return name if qualifier is None or name.count(":") > 6 else f"{name}:{qualifier}"
    base = f"arn:{fn.partition}:lambda:{fn.region}:{fn.account_id}:function:{fn.function_name}"
    return base if qualifier is None else f"{base}:{qualifier}"


def _event(body: Any) -> Any:
    from moto.awslambda.exceptions import LambdaClientError

    text = body.decode() if isinstance(body, bytes) else (body or "")
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        raise LambdaClientError("InvalidRequestContentException", "Could not parse request body into json") from None


def patch_lambda_runtime() -> None:
    """Invoke runs the function's handler (see LambdaRuntime); Event returns 202 at once and runs
    in the background; a runtime the sandbox cannot run is refused when the function is created."""
    from moto.awslambda.responses import LambdaResponse
    from moto.awslambda_simple.models import LambdaSimpleBackend

    _require(LambdaResponse, "invoke", "get_access_key")
    _require(LambdaSimpleBackend, "invoke", "create_function", "update_function_configuration", "get_function")
    original_response_invoke = LambdaResponse.invoke
    original_create = LambdaSimpleBackend.create_function
    original_update = LambdaSimpleBackend.update_function_configuration

    def response_invoke(self: Any) -> Any:
        _REQUEST.caller = Caller.of(self)
        # moto reads `qualifier`; the API's query parameter is `Qualifier`.
        _REQUEST.qualifier = self.querystring.get("Qualifier", [None])[0]
        return original_response_invoke(self)

    def invoke(self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
               response_headers: Any) -> bytes:
        qualifier = qualifier or getattr(_REQUEST, "qualifier", None)
        fn = self.get_function(function_name, qualifier)
        kind = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        response_headers["x-amz-executed-version"] = str(fn.version)
        if kind == "DryRun":
            return b""
        assert _RUNTIME is not None, "patch_lambda_runtime needs configure_lambda_runtime first"
        caller = getattr(_REQUEST, "caller", None) or {"access_key": None, "arn": None}
        inv = _RUNTIME.start(fn, _invoked_arn(fn, function_name, qualifier), _event(body), caller, kind)
        if kind == "Event":
            threading.Thread(target=_RUNTIME.finish, args=(inv,), name="lambda-event", daemon=True).start()
            return b""
        outcome = _RUNTIME.finish(inv)
        if "error" in outcome:
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(outcome["error"]).encode()
        else:
            payload = json.dumps(outcome["result"]).encode()
        response_headers["Content-Length"] = str(len(payload))
        return payload

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        check_runtime(spec.get("Runtime"), spec.get("PackageType", "Zip"))
        return original_create(self, spec)

    def update_function_configuration(self: Any, function_name: str, qualifier: str, body: dict[str, Any]) -> Any:
        check_runtime(body.get("Runtime"))
        return original_update(self, function_name, qualifier, body)

    LambdaResponse.invoke = response_invoke  # type: ignore[method-assign]
    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    LambdaSimpleBackend.create_function = create_function  # type: ignore[method-assign]
    LambdaSimpleBackend.update_function_configuration = update_function_configuration  # type: ignore[method-assign]


def patch_signed_forms() -> None:
    """moto (5.2.5) keeps no raw body of a form-encoded request (werkzeug parses the form
    without caching it), so its signature check re-encodes the parsed form with botocore's
    rules; a client that encodes otherwise (the Rust SDK: `%20` for a space) fails with
    SignatureDoesNotMatch. When IAM is enforced, the body is cached first and kept as
    `raw_body`, which the check signs; `body` stays as moto had it. Nothing changes while IAM
    is not enforced (the default)."""
    from moto import settings
    from moto.core.responses import BaseResponse

    _require(BaseResponse, "setup_class")
    original = BaseResponse.setup_class

    def setup_class(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        raw = b""
        if (settings.INITIAL_NO_AUTH_ACTION_COUNT != float("inf")
                and request.mimetype == "application/x-www-form-urlencoded"):
            raw = request.get_data(cache=True, parse_form_data=False)
        result = original(self, request, *args, **kwargs)
        if raw:
            self.raw_body = raw
            self.body = ""
        return result

    BaseResponse.setup_class = setup_class  # type: ignore[method-assign]


def patch_signed_bodies() -> None:
    """moto's signature check (only made when IAM is enforced) signs `body or data`: for a
    request without a body that is the parsed query string or, without one, the request's
    headers (`BaseResponse.setup_class` fills the query string with them), so every signed GET
    without a query string (Lambda's GetFunction) was SignatureDoesNotMatch. It signs the body
    as sent; a form's is kept by `patch_signed_forms`."""
    from botocore.awsrequest import AWSRequest
    from moto.iam.access_control import IAMRequestBase

    _require(IAMRequestBase, "_create_aws_request", "_get_string_between", "_create_headers_for_aws_request")

    def _create_aws_request(self: Any) -> Any:
        signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        headers = self._create_headers_for_aws_request(signed_headers, self._headers)
        body = self._body if self._body is not None else b""
        request = AWSRequest(method=self._method, url=self._path, data=body, headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
        return request

    IAMRequestBase._create_aws_request = _create_aws_request  # type: ignore[method-assign]


_FUNCTION_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/functions/([^/]+)")


def patch_lambda_resources() -> None:
    """The resource an enforced IAM policy is checked against for a Lambda call on a function
    (`/2015-03-31/functions/NAME...`): the function's ARN, with its qualifier
    (`function:NAME:QUALIFIER`) when the call names one, as AWS does; `*` otherwise. Invoke
    is authorized as `lambda:InvokeFunction`, the action IAM policies name (moto checked
    `lambda:Invoke`, which no policy grants)."""
    from urllib.parse import unquote

    from moto.awslambda.responses import LambdaResponse
    from moto.utilities.utils import get_partition

    def _determine_resource(self: Any) -> str:
        match = _FUNCTION_PATH.match(self.path)
        if not match:
            return "*"
        name = unquote(match.group(1))
        if not name.startswith("arn:"):
            name = f"arn:{get_partition(self.region)}:lambda:{self.region}:{self.current_account}:function:{name}"
        qualifier = (self.querystring.get("Qualifier") or [None])[0]
        if qualifier and name.count(":") == 6:
            name = f"{name}:{qualifier}"
        return name

    LambdaResponse._determine_resource = _determine_resource  # type: ignore[attr-defined]

    from moto.iam.access_control import IAMRequestBase

    _require(IAMRequestBase, "__init__")
    original_init = IAMRequestBase.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self._action in ("lambda:Invoke", "lambda:InvokeWithResponseStream"):
            self._action = "lambda:InvokeFunction"

    IAMRequestBase.__init__ = __init__  # type: ignore[method-assign]


def _json_protocol(service: str) -> bool:
    """Whether `service` (a signing name) answers errors in JSON (`json`, `rest-json`)."""
    import botocore.session

    try:
        return botocore.session.get_session().get_service_model(service).protocol in ("json", "rest-json")
    except Exception:  # an unknown service: the Query shape
        return False


def patch_access_denied_shape() -> None:
    """AccessDenied of an enforced IAM policy in the shape the Query protocols answer errors in
    (`<ErrorResponse><Error>...`), not moto's `<ErrorResponse><Errors><Error>...`, which no
    SDK reads a code from."""
    from xml.sax.saxutils import escape

    from moto.core.exceptions import AccessDeniedError

    _require(AccessDeniedError, "__init__")
    original = AccessDeniedError.__init__

    def __init__(self: Any, user_arn: str, action: str) -> None:
        original(self, user_arn, action)
        self.description = (
            '<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>AccessDenied</Code><Message>{escape(self.message)}</Message></Error>"
            "</ErrorResponse>"
        )

    AccessDeniedError.__init__ = __init__  # type: ignore[method-assign]

    from moto.core.exceptions import JsonRESTError
    from moto.iam.access_control import IAMRequest

    _require(IAMRequest, "_raise_access_denied")
    original_raise = IAMRequest._raise_access_denied

    class AccessDeniedException(JsonRESTError):
        code = 403

    def _raise_access_denied(self: Any) -> None:
        if _json_protocol(self._service):
            message = f"User: {self._access_key.arn} is not authorized to perform: {self._action}"
            raise AccessDeniedException("AccessDeniedException", message)
        original_raise(self)

    IAMRequest._raise_access_denied = _raise_access_denied  # type: ignore[method-assign]


# --------------------------------------------------------------------------- server


PATCHES: list[Callable[[], None]] = [
    patch_network_guard,
    patch_lambda_config,
    patch_lambda_runtime,
    patch_sts_external_id,
    patch_sts_caller_identity,
    patch_iam_principals,
    patch_cfn_role_update,
    patch_cfn_parameter_display,
    patch_cfn_template_body,
    patch_cfn_resource_events,
    patch_cfn_create_stack,
    patch_cfn_update_stack,
    patch_cfn_change_sets,
    patch_iam_role_names,
    patch_cfn_stack_sets,
    patch_cfn_stack_set_call_as,
    patch_organizations_auto_deployment,
    patch_organizations_member_reads,
    patch_signed_forms,
    patch_signed_bodies,
    patch_lambda_resources,
    patch_access_denied_shape,
]


def apply_patches() -> None:
    version = _moto_version()
    if version != EXPECTED_MOTO_VERSION:
        print(f"moto_launcher: warning: written for moto {EXPECTED_MOTO_VERSION}, found {version}",
              file=sys.stderr, flush=True)
    for patch in PATCHES:
        try:
            patch()
        except PatchError:
            raise
        except (ImportError, AttributeError) as exc:
            raise PatchError(f"{patch.__name__}: {exc} (patches written for moto {EXPECTED_MOTO_VERSION}, "
                             f"found moto {version})") from exc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def with_latency(app: Any, latency_ms: int) -> Any:
    """A WSGI wrapper that answers every request `latency_ms` later, as a model of the network
    and API latency of real AWS (for benchmarks; moto itself answers in about a millisecond)."""
    if latency_ms <= 0:
        return app
    import time

    def delayed(environ: Any, start_response: Any) -> Any:
        time.sleep(latency_ms / 1000)  # sleeps without the GIL: concurrent requests overlap
        return app(environ, start_response)

    return delayed


# The services whose backends many deploys at once change together: CloudFormation creates IAM
# roles in the IAM backend while IAM requests read it. moto's backends hold no lock, and under
# werkzeug's threads two deploys at once failed a role with "dictionary changed size during
# iteration" (2 of 120 stacks with 120 at once; 1 of 200 with 8 at once at 100 ms latency). AWS
# serialises nothing a client can see: requests of these services take one lock here.
SERIALISED_SERVICES = ("cloudformation", "iam", "sts", "organizations")


def serialised(app: Any) -> Any:
    """A WSGI wrapper that runs the requests of [`SERIALISED_SERVICES`] one at a time (the
    service is the credential scope's of the signed request); Lambda invocations, which may run
    a handler for long, are not held. Each of them first applies the StackSet work whose time
    has come (advance_stack_set_operations), under the same lock, so that it sees that work."""
    lock = threading.Lock()

    def service(environ: Any) -> str:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0] if "Credential=" in auth else ""
        parts = scope.split("/")
        return parts[3] if len(parts) > 3 else ""

    def wrapped(environ: Any, start_response: Any) -> Any:
        if service(environ) not in SERIALISED_SERVICES:
            return app(environ, start_response)
        with lock:
            advance_stack_set_operations()
            # moto builds the whole response in the call; list() keeps it so for any iterable.
            return list(app(environ, start_response))

    return wrapped


def serve(host: str, port: int, parent_pid: int | None, latency_ms: int = 0, lambda_dir: str | None = None) -> int:
    global _RUNTIME
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    # Handlers first: a signal that arrives as soon as the ready line is out must stop cleanly.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # On a bind error werkzeug prints the reason ("Port N is in use ...") and exits with 1.
    server = make_server(host, port, with_latency(serialised(DomainDispatcherApplication(create_backend_app)), latency_ms), threaded=True,
                         request_handler=MotoRequestHandler)
    bound_port = server.socket.getsockname()[1]
    _RUNTIME = LambdaRuntime(Path(lambda_dir or tempfile.mkdtemp(prefix="moto-lambda-")),
                             f"http://{_url_host(host)}:{bound_port}")
    thread = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    thread.start()
    with socket.create_connection((host, bound_port), timeout=5):
        pass  # accepting connections
    print(f"moto ready on http://{_url_host(host)}:{bound_port}", flush=True)

    while not stop.wait(0.5):
        if parent_pid is not None and not _pid_alive(parent_pid):
            break
    server.shutdown()
    _RUNTIME.stop_all()  # no handler process outlives the emulator
    thread.join(timeout=5)
    server.server_close()
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, required=True, help="port to bind (0: any free port)")
    parser.add_argument("--parent-pid", type=int, help="exit when this process no longer exists")
    parser.add_argument("--lambda-dir", help="where Lambda code is extracted and invocations are logged "
                        "(invocations.jsonl); a new temporary directory by default")
    parser.add_argument("--latency-ms", type=int, default=0, help="answer every request this much later (a model of AWS latency, for benchmarks)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not _is_loopback(args.host):
        print(f"moto_launcher: refusing to bind {args.host!r}: only loopback (127.0.0.0/8, ::1, localhost) "
              "is allowed", file=sys.stderr, flush=True)
        return EXIT_BAD_HOST
    force_environment()
    try:
        apply_patches()
    except PatchError as exc:
        print(f"moto_launcher: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_MOTO
    return serve(args.host, args.port, args.parent_pid, args.latency_ms, args.lambda_dir)


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)  # the server is closed; skip tearing down moto's module graph (~2 s)
