#!/usr/bin/env python3
"""`plan --all` and `deploy --all` over many single-stack environments, on moto answering every
request 100 ms late (the project's latency model, the launcher's `--latency-ms`).

    cargo build -p tsw && python3 benches/many.py [--envs 200] [--jobs N] [--latency-ms 100]
                                                  [--rows N] [--tool BINARY]

`--rows 1` runs only the first row (`plan --all` of new stacks), e.g. to compare two builds
(`--tool`) in turn on a machine whose load changes.

Without --jobs each command runs at its default (`plan`: 16 at once, `deploy`: 8).

Uses the sandbox's emulator (`target/xtask/sandbox/venv`, made by `tsw sandbox up` or the
integration tests), or installs its pinned packages into `target/bench/moto-venv` (as
`benches/run.py` does), so it runs from a fresh clone. Prints one Markdown table (BENCHMARKS.md, section "Many
environments"): wall time, requests to the emulator (one account: all of them), peak memory of
the tool (`/usr/bin/time -v`, maximum resident set size). Nothing leaves 127.0.0.1; dummy keys.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (benches/run.py: the emulator's Python, shared)

ROOT = Path(__file__).resolve().parent.parent
REQUEST_LINE = re.compile(rb'"(?:\x1b\[[0-9;]*m)*[A-Z]+ \S* HTTP/\d(?:\.\d)?(?:\x1b\[[0-9;]*m)*" \d{3}')
ACCOUNT = "123456789012"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def safe_env(endpoint: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               NO_COLOR="1", TSW_NO_UPDATE_CHECK="1")
    return env


def start_moto(work: Path, latency_ms: int) -> tuple[subprocess.Popen, str, Path]:
    python = run.moto_python(safe_env("http://127.0.0.1:9"))
    launcher = ROOT / "crates/aws-sandbox/python/moto_launcher.py"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    out, err = work / "moto.out", work / "moto.err"
    cmd = [str(python), str(launcher), "--host", "127.0.0.1", "--port", str(port),
           "--parent-pid", str(os.getpid())]
    if latency_ms:
        cmd += ["--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(cmd, stdout=open(out, "wb"), stderr=open(err, "wb"),
                            stdin=subprocess.DEVNULL, env=safe_env(endpoint),
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while b"moto ready" not in out.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"moto did not start:\n{err.read_text()[-2000:]}")
        time.sleep(0.1)
    return proc, endpoint, err


def requests(log: Path) -> int:
    time.sleep(0.3)  # a request's log line may trail its reply
    return len(REQUEST_LINE.findall(log.read_bytes()))


def timed(tool: Path, root: Path, args: list[str], endpoint: str) -> tuple[float, int, int, str]:
    """Wall seconds, exit code, peak RSS in KiB, and the last lines of stderr."""
    cmd = ["/usr/bin/time", "-v", str(tool), "--root", str(root), *args]
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, env=safe_env(endpoint), timeout=1800)
    wall = time.monotonic() - start
    err = p.stderr.decode("utf-8", "replace")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    errors = [l for l in err.splitlines() if l.startswith(("error", "not started")) or "CREATE_FAILED" in l]
    return wall, p.returncode, rss, "\n".join(errors[:5] + err.splitlines()[-3:])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=None,
                    help="environments at once (default: each command's own)")
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--tool", type=Path, default=ROOT / "target/debug/tsw",
                    help="the binary to measure (e.g. a copy of an older build, to compare)")
    ap.add_argument("--rows", type=int, default=None,
                    help="run only the first N rows (1: the plan of new stacks)")
    a = ap.parse_args()
    tool = a.tool
    work = Path(tempfile.mkdtemp(prefix="tsw-bench-many-"))
    proc = None
    try:
        proc, endpoint, log = start_moto(work, a.latency_ms)
        root = work / "repo"
        shutil.copytree(ROOT / "templates", root / "templates")
        (root / "environments").mkdir()
        for i in range(a.envs):
            (root / "environments" / f"team-{i:03}.toml").write_text(f"""[aws]
region = "us-east-1"
endpoint_url = "{endpoint}"

[temporal]
server_role_arn = "arn:aws:iam::{ACCOUNT}:user/moto"

[role]
stack_name = "bench-many-{i:03}"
external_id = "team-{i:03}-external-id"
lambda_function_arns = ["arn:aws:lambda:us-east-1:{ACCOUNT}:function:team-{i:03}"]

[deploy]
confirm = false
wave = {i % 2}
""")
        jobs = ["--jobs", str(a.jobs)] if a.jobs else []
        rows = []
        for label, args in [
            ("plan --all (all new)", ["plan", "--all", *jobs]),
            ("deploy --all --yes (create)", ["deploy", "--all", "--yes", *jobs]),
            ("plan --all (no changes)", ["plan", "--all", *jobs]),
            ("deploy --all --yes (no-op)", ["deploy", "--all", "--yes", *jobs]),
            ("plan --all --output markdown (no changes)",
             ["plan", "--all", "--output", "markdown", *jobs]),
        ][:a.rows]:
            before = requests(log)
            load = os.getloadavg()[0]
            wall, rc, rss, err = timed(tool, root, args, endpoint)
            n = requests(log) - before
            if rc != 0:
                sys.exit(f"{label}: exit {rc}\n{err}")
            rows.append((label, wall, n, rss, load))
            print(f"{label}: {wall:.2f} s, {n} requests, {rss / 1024:.1f} MiB, load {load:.1f}",
                  file=sys.stderr)
        at_once = f"`--jobs {a.jobs}`" if a.jobs else "each command's default `--jobs`"
        print(f"{a.envs} environments, one account, {at_once}, half in wave 0 and half in"
              f" wave 1, moto answering every request {a.latency_ms} ms late; load average"
              f" {os.getloadavg()[0]:.1f} at the end:\n")
        print("| command | wall time | requests (one account) | per environment | peak memory (tool)"
              " | load average (1 min) at its start |")
        print("|---|---|---|---|---|---|")
        for label, wall, n, rss, load in rows:
            print(f"| `{label}` | {wall:.2f} s | {n} | {n / a.envs:.2f} | {rss / 1024:.1f} MiB"
                  f" | {load:.1f} |")
        return 0
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
