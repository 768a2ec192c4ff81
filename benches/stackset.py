#!/usr/bin/env python3
"""deploy, status and destroy of a StackSet over the N member accounts of one OU (default 50),
on moto answering every request 100 ms late (the project's latency model).

    cargo build -p tsw && python3 benches/stackset.py [N]

Needs the sandbox's emulator installed (`target/xtask/sandbox/venv`). Prints, for each step,
wall time, exit code, requests to the emulator and peak memory of the tool (the helpers of
`benches/many.py`). The emulator runs each StackSet operation for a fixed second
(SANDBOX_STACK_SET_OPERATION_SECONDS), whatever its number of targets: the times are the tool's
own overhead, not CloudFormation's. Nothing leaves 127.0.0.1; dummy keys.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
import many  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
work = Path(tempfile.mkdtemp(prefix="h2bench"))
proc, endpoint, log = many.start_moto(work, 100)
try:
    py = ROOT / "target/xtask/sandbox/venv/bin/python"
    script = f"""
import boto3, json
org = boto3.client('organizations', endpoint_url='{endpoint}', region_name='us-east-1')
org.create_organization(FeatureSet='ALL')
root = org.list_roots()['Roots'][0]['Id']
ou = org.create_organizational_unit(ParentId=root, Name='workers')['OrganizationalUnit']['Id']
for i in range({N}):
    a = org.create_account(Email=f't{{i}}@example.com', AccountName=f't{{i}}')['CreateAccountStatus']['AccountId']
    org.move_account(AccountId=a, SourceParentId=root, DestinationParentId=ou)
print(ou)
"""
    ou = subprocess.run([str(py), "-c", script], capture_output=True, env=many.safe_env(endpoint), check=True).stdout.decode().strip().splitlines()[-1]
    repo = work / "repo"
    (repo / "environments").mkdir(parents=True)
    shutil.copytree(ROOT / "templates", repo / "templates")
    (repo / "environments/fleet.toml").write_text(f'''[aws]
region = "us-east-1"
account_id = "123456789012"
endpoint_url = "{endpoint}"

[temporal]
server_role_arn = "arn:aws:iam::123456789012:user/moto"

[role]
name = "Temporal-Serverless-Worker"
naming = "fixed"
external_id = "ext-id-12345"
lambda_function_arns = ["arn:aws:lambda:us-east-1:123456789012:function:worker:*"]

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
''')
    tool = ROOT / "target/debug/tsw"
    for label in [f"deploy (create, {N} instances)", "deploy again (no changes)"]:
        before = many.requests(log)
        wall, code, rss, tail = many.timed(tool, repo, ["deploy", "fleet", "--yes"], endpoint)
        print(f"{label}: {wall:.1f} s, exit {code}, {many.requests(log) - before} requests, peak {rss // 1024} MB")
        if code:
            print(tail)
    text = (repo / "environments/fleet.toml").read_text()
    print("role_arns recorded:", text.count(":role/Temporal-Serverless-Worker"))
    (repo / "environments/fleet.toml").write_text(text.replace("ext-id-12345", "ext-id-67890"))
    before = many.requests(log)
    wall, code, rss, tail = many.timed(tool, repo, ["deploy", "fleet", "--yes"], endpoint)
    print(f"deploy (new external ID, update every instance): {wall:.1f} s, exit {code}, {many.requests(log) - before} requests, peak {rss // 1024} MB")
    before = many.requests(log)
    wall, code, rss, tail = many.timed(tool, repo, ["status", "fleet"], endpoint)
    print(f"status (drift detection on {N}): {wall:.1f} s, exit {code}, {many.requests(log) - before} requests, peak {rss // 1024} MB")
    before = many.requests(log)
    wall, code, rss, tail = many.timed(tool, repo, ["destroy", "fleet", "--yes"], endpoint)
    print(f"destroy: {wall:.1f} s, exit {code}, {many.requests(log) - before} requests, peak {rss // 1024} MB")
finally:
    proc.terminate()
