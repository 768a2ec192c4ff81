#!/usr/bin/env python3
"""One StackSet over the N member accounts of one OU (default 50), beside the same StackSet over
one account, on moto answering every request 100 ms late (the project's latency model, the
launcher's `--latency-ms`).

    cargo build -p tsw && python3 benches/stackset.py [--accounts 50] [--latency-ms 100] [--no-write]

For each step (plan before anything exists, deploy to create, plan with no changes, deploy with
no changes, deploy of a new external ID to every instance, status with drift detection,
destroy): wall time with N accounts and with one, their ratio, requests to the emulator (all of
them, and per account) and peak memory of the tool (`/usr/bin/time -v`, maximum resident set
size). Writes its section of BENCHMARKS.md ("A StackSet over N accounts"; `benches/run.py` keeps
it) unless `--no-write`, and prints it.

Uses the sandbox's emulator (`target/xtask/sandbox/venv`), or installs its pinned packages into
`target/bench/moto-venv` (as `benches/run.py` and `benches/many.py` do), so it runs from a fresh
clone. Each run has its own emulator: an organization, an OU and its N member accounts are made
with boto3 (the emulator's own virtualenv) before anything is timed. The emulator keeps each
StackSet operation RUNNING for a fixed second (SANDBOX_STACK_SET_OPERATION_SECONDS), whatever
its number of targets: CloudFormation's own time per instance is not modelled, so the times are
the tool's own overhead and its requests. Nothing leaves 127.0.0.1; dummy keys.
"""

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
import many  # noqa: E402  (the emulator, request counting, timing)
import run  # noqa: E402  (the emulator's Python)

HEADING = "## A StackSet over many accounts"
ADMIN = "123456789012"
# Only the accounts an OU holds count: moto's organization has the management account too.
ORG_SCRIPT = """
import boto3, sys
org = boto3.client('organizations', endpoint_url=sys.argv[1], region_name='us-east-1')
org.create_organization(FeatureSet='ALL')
root = org.list_roots()['Roots'][0]['Id']
ou = org.create_organizational_unit(ParentId=root, Name='workers')['OrganizationalUnit']['Id']
for i in range(int(sys.argv[2])):
    a = org.create_account(Email=f'team{i}@example.com', AccountName=f'team{i}')
    a = a['CreateAccountStatus']['AccountId']
    org.move_account(AccountId=a, SourceParentId=root, DestinationParentId=ou)
print(ou)
"""
STEPS = [
    ("plan (nothing deployed)", ["plan", "fleet"]),
    ("deploy (create)", ["deploy", "fleet", "--yes"]),
    ("plan (no changes)", ["plan", "fleet"]),
    ("deploy (no changes)", ["deploy", "fleet", "--yes"]),
    ("deploy (new external ID: every instance updated)", ["deploy", "fleet", "--yes"]),
    ("status (drift detection on every instance)", ["status", "fleet"]),
    ("destroy", ["destroy", "fleet", "--yes"]),
]
UPDATE_STEP = 4  # the descriptor's external ID changes before this step
# `status` exits 0 (in sync) or 2 (undeployed/drifted); nothing else is a measurement.
OK_CODES = {"status": {0, 2}}


def descriptor(endpoint: str, ou: str, external_id: str) -> str:
    return f'''[aws]
region = "us-east-1"
account_id = "{ADMIN}"
endpoint_url = "{endpoint}"

[temporal]
server_role_arn = "arn:aws:iam::{ADMIN}:user/moto"

[role]
name = "Temporal-Serverless-Worker"
naming = "fixed"
external_id = "{external_id}"
lambda_function_arns = ["arn:aws:lambda:us-east-1:{ADMIN}:function:worker:*"]

[stack_set]
name = "temporal-invocation-role"
permission_model = "service-managed"
organizational_units = ["{ou}"]
regions = ["us-east-1"]
max_concurrent_percentage = 100
failure_tolerance_count = 0
concurrency_mode = "soft-failure-tolerance"

[deploy]
confirm = false
'''


def measure(tool: Path, accounts: int, latency_ms: int) -> tuple[list[dict], int]:
    """Every step's wall time, exit code, requests and peak RSS, and the role ARNs recorded."""
    work = Path(tempfile.mkdtemp(prefix="tsw-bench-stackset-"))
    proc = None
    try:
        proc, endpoint, log = many.start_moto(work, latency_ms)
        python = run.moto_python(many.safe_env(endpoint))
        made = subprocess.run([str(python), "-c", ORG_SCRIPT, endpoint, str(accounts)],
                              capture_output=True, env=many.safe_env(endpoint), timeout=600)
        if made.returncode:
            sys.exit(f"making the organization failed:\n{made.stderr.decode()[-2000:]}")
        ou = made.stdout.decode().strip().splitlines()[-1]
        repo = work / "repo"
        (repo / "environments").mkdir(parents=True)
        shutil.copytree(ROOT / "templates", repo / "templates")
        path = repo / "environments" / "fleet.toml"
        path.write_text(descriptor(endpoint, ou, "ext-id-12345"))
        rows, recorded = [], 0
        for n, (label, args) in enumerate(STEPS):
            if n == UPDATE_STEP:
                path.write_text(path.read_text().replace("ext-id-12345", "ext-id-67890"))
            before = many.requests(log)
            load = os.getloadavg()[0]
            wall, code, rss, tail = many.timed(tool, repo, args, endpoint)
            if code not in OK_CODES.get(args[0], {0}):
                sys.exit(f"{accounts} account(s), {label}: exit {code}\n{tail}")
            rows.append(dict(label=label, wall=wall, code=code, rss=rss, load=load,
                             requests=many.requests(log) - before))
            print(f"{accounts} account(s), {label}: {wall:.2f} s, exit {code}, "
                  f"{rows[-1]['requests']} requests, {rss / 1024:.1f} MiB, load {load:.1f}",
                  file=sys.stderr)
            if label == "deploy (create)":
                recorded = len(re.findall(r":role/Temporal-Serverless-Worker", path.read_text()))
        return rows, recorded
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def binary(tool: Path) -> str:
    """How the section names the binary it measured."""
    if tool.resolve() == (ROOT / "target/debug/tsw").resolve():
        return "`target/debug/tsw` (dev profile)"
    return f"`{tool}` (`--tool`)"


def section(n: int, latency_ms: int, many_rows: list[dict], one_rows: list[dict],
            recorded: int, started: str, load: tuple[float, float], tool: Path) -> str:
    commit = run.capture(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT) or "unknown"
    # BENCHMARKS.md itself does not count: this script rewrites it.
    dirty = [line for line in run.capture(["git", "status", "--porcelain",
                                           "--untracked-files=no"], cwd=ROOT).splitlines()
             if not line.endswith("BENCHMARKS.md")]
    L = [HEADING, ""]
    L.append(f"Measured by `cargo build -p tsw && python3 benches/stackset.py --accounts {n}` "
             f"on {started}, commit {commit}{' (with uncommitted changes)' if dirty else ''}, "
             f"{binary(tool)}, on moto 5.2.5 started by the sandbox's launcher "
             f"with `--latency-ms {latency_ms}` (every request answered {latency_ms} ms late). "
             f"One service-managed StackSet (docs/stacksets.md) over an OU of {n} member "
             "accounts, `max_concurrent_percentage = 100`, `failure_tolerance_count = 0`, "
             "`concurrency_mode = \"soft-failure-tolerance\"`, one region; beside it the same "
             "over an OU of one account, each on a fresh emulator. Requests are the lines moto "
             "logged (the organization's set-up not counted); peak memory is the tool's "
             "maximum resident set size. The emulator keeps every StackSet operation RUNNING "
             "for one second whatever its number of instances, so these are the tool's own "
             "overhead, not CloudFormation's time per account. Load average (1 min) "
             f"{load[0]:.1f} at the start, {load[1]:.1f} at the end (2 shared cores; the last "
             "column is at each row's start).")
    L.append("")
    L.append(f"| step | {n} accounts | one account | ratio | requests ({n} / one) | "
             "per account | peak memory | load |")
    L.append("|---|---|---|---|---|---|---|---|")
    for m, o in zip(many_rows, one_rows):
        L.append(f"| `{m['label']}` | {m['wall']:.2f} s | {o['wall']:.2f} s | "
                 f"{m['wall'] / o['wall']:.2f}× | {m['requests']} / {o['requests']} | "
                 f"{m['requests'] / n:.2f} | {m['rss'] / 1024:.1f} MiB | {m['load']:.1f} |")
    L.append("")
    L.append(f"The create recorded {recorded} role ARN(s) in `[outputs.role_arns]` (one per "
             "account of the OU). A plan reads the StackSet, its instances, the OU's accounts "
             "and each kept instance's overrides, changing nothing; a deploy with no changes "
             "reads each instance (`DescribeStackInstance`); `status` runs drift detection on "
             "every instance, an operation that changes no resource.")
    L.append("")
    L.append("CloudFormation's limits on StackSets (AWS CloudFormation User Guide, \"Understand "
             "CloudFormation quotas\", and the API reference): a StackSet operation works on at "
             "most `MaxConcurrentCount` (or `MaxConcurrentPercentage`, rounded down) accounts "
             "at once per Region (`max_concurrent_*`), at most one more than the failure "
             "tolerance with the default `STRICT_FAILURE_TOLERANCE`; at most 50 OUs per "
             "`CreateStackInstances`; one operation at a time per StackSet "
             "(`OperationInProgressException`); and, per administrator account, a quota of "
             "StackSets, of stack instances per StackSet and of stack instances under "
             "operation at once in a Region (100, 2,000 and 3,500 in the guide's table as of "
             "2023; raised since, see Service Quotas). The tool's own requests to the "
             "administrator account are a few per operation and one `DescribeStackInstance` "
             "per instance, eight at once; the API rate limits of docs/many-environments.md "
             "apply to those.")
    L.append("")
    return "\n".join(L) + "\n"


def write_section(text: str, path: Path) -> None:
    """`path` with its StackSet section replaced by `text` (or `text` put before
    `## How to rerun`)."""
    old = path.read_text() if path.exists() else "# Benchmarks\n\n"
    parts = run.sections_of(old)
    parts = [(h, t) for h, t in parts if not h.startswith(HEADING)]
    at = next((i for i, (h, _) in enumerate(parts) if h.startswith("## How to rerun")),
              len(parts))
    parts.insert(at, (HEADING, text if text.endswith("\n\n") else text + "\n"))
    out = "".join(t if t.endswith("\n\n") or i == len(parts) - 1 else t + "\n"
                  for i, (_, t) in enumerate(parts))
    path.write_text(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=50)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--tool", type=Path, default=ROOT / "target/debug/tsw",
                    help="the binary to measure")
    ap.add_argument("--no-write", action="store_true", help="print the section only")
    ap.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    a = ap.parse_args()
    if not a.tool.exists():
        sys.exit(f"{a.tool} does not exist: run `cargo build -p tsw` first")
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_start = os.getloadavg()[0]
    many_rows, recorded = measure(a.tool, a.accounts, a.latency_ms)
    one_rows, _ = measure(a.tool, 1, a.latency_ms)
    text = section(a.accounts, a.latency_ms, many_rows, one_rows, recorded, started,
                   (load_start, os.getloadavg()[0]), a.tool)
    print(text)
    if not a.no_write:
        write_section(text, a.output)
        print(f"wrote its section of {a.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
