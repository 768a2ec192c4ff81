#!/usr/bin/env python3
"""Benchmarks of `tsw` (the binary, and `cargo xtask`, the alias that builds and runs it) against
the local AWS emulator, side by side with the aws CLI.

Usage:
    python3 benches/run.py            # everything, including a cold build in a fresh clone
    python3 benches/run.py --quick    # 3 iterations per measurement, no cold build
    python3 benches/run.py --only merge   # one section (cold, noop, create, many, merge,
                                          # hostile); the other sections of BENCHMARKS.md
                                          # are kept

Writes BENCHMARKS.md at the top of the checkout; a section this run did not measure (the cold
build in quick mode, `benches/many.py`'s section on 200 environments) is kept as it was. Python 3
standard library only.

What it measures (each number is printed next to its target in BENCHMARKS.md):
  1. cold build: three fresh `git clone`s of HEAD, each on free ports, each timed from its
     first command (compiling included; moto's virtualenv installed into the clone's target/):
     `cargo xtask deploy local` alone; the README's whole guide (`sandbox up`, `deploy local
     --register`, `smoke local`); `cargo xtask validate` alone. `cargo xtask sandbox down` in
     each clone at the end.
  2. no-op deploy: the tool's binary (`target/debug/tsw`), the `cargo xtask` wrapper, and
     `aws cloudformation deploy --no-fail-on-empty-changeset`, on the same stack and emulator;
     median times and the number of AWS requests (lines of moto's request log) per run; for
     context, the binary and the CLI again against a second moto started with
     `--latency-ms 100` (every request answered 100 ms late: a model of AWS API latency).
  3. create and update: `deploy` vs `create-stack`/`update-stack` + `wait stack-*-complete`
     (and `aws cloudformation deploy`), plus, through a recording proxy, how long each takes
     to notice that the stack has settled.
  4. many environments: `deploy e1 ... e8 --yes` in one command vs `deploy e1`, and 8
     concurrent `deploy eK` processes, against plain moto (whose CPU, one core under the GIL,
     is the bottleneck) and against the `--latency-ms 100` moto, the measurement that models
     AWS, where parallel deploys overlap their waits.
  5. merging into a large server file: `render` with `temporal.dynamic_config_file` pointing
     at a file of 50k and 400k keys set by hand (adding the block, replacing it, and a no-op),
     with a time limit per run (`--merge-timeout`); no emulator involved.
  6. hostile files: wall time, max RSS (the child's own rusage, from wait4) and output bytes of
     `render --check` with `temporal.dynamic_config_file` naming a 100 MB server file (refused
     unread), a file just under the 4 MiB cap (the worst case accepted) and a 200 KB file of
     nested flow collections (refused by the depth check), and of `validate` on a descriptor
     holding one 3 MiB value; no emulator involved.

Nothing here talks to anything but 127.0.0.1: every process gets dummy credentials,
AWS_EC2_METADATA_DISABLED=true and an endpoint on 127.0.0.1. Everything the script starts is
stopped by its pid, and its temporary directories are removed, also on failure. The exit code is
non-zero only when a measured (or required set-up) command failed, never because of a time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import glob
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "target" / "bench"
AWSCLI_VERSION = "1.46.3"
# The template the benchmark's descriptors deploy from (no `role.naming`, no [outputs]: per
# stack, docs/template.md), so that the aws CLI baseline creates the same stacks and roles.
TEMPLATE = "serverless-worker-role-per-stack.yaml"
REGION = "us-east-1"
# The second moto of sections 2 and 4 answers every request this much later (the launcher's
# --latency-ms): about what one CloudFormation API call takes from outside AWS.
LATENCY_MS = 100
# Section 5: the sizes of the server file (keys set by hand), and what they took before the
# merge was made linear: the text-marker merge of commit d20c091, measured with
# `--only merge --iterations 1` on the machine of BENCHMARKS.md (load average about 2 on its
# 2 cores); None: did not finish within the limit.
# 90k keys (3.8 MB) is about the most a server file under the 4 MiB cap of every file the tool
# reads can hold (MAX_FILE_BYTES, section 6); 400k keys (17 MB) is refused unread since the cap.
MERGE_SIZES = (50_000, 90_000)
MERGE_BEFORE = {"commit": "d20c091", "limit_s": 60,
                "insert": {50_000: 30.18, 400_000: None},
                "replace": {50_000: 24.61, 400_000: None},
                "noop": {50_000: 20.96, 400_000: None}}
# Section 6: the files of issue 18 ("Scale of hostile files") and what they cost before the
# size cap (env_descriptor::MAX_FILE_BYTES) and the depth check (yaml_edit::check_depth). Not
# rerunnable here: the issue's numbers are its reporter's, the hand numbers were taken once by
# another engineer, with their own files (for the 4 MB file: after the cap).
MAX_FILE_BYTES = 4 * 1024 * 1024
HOSTILE_BEFORE = {
    "big": "issue 18: 58.6 s, 6.7 GB of memory (67 times the file); by hand: 143.5 s user + "
           "12.2 s sys, 9.4 GB max RSS",
    "nested": "issue 18: 47 s, then failed on a recursion limit; by hand: 245 s wall",
    "cap": "by hand, after the cap (another 4 MB file): 5.8 s user, 388 MB max RSS",
    "value": "",
}
SECTIONS = ("cold", "noop", "create", "many", "merge", "hostile")
# A no-op `deploy` of one environment: GetCallerIdentity, DescribeStacks, GetTemplate, then the
# role's GetRole, ListRolePolicies and ListAttachedRolePolicies at once, then GetRolePolicy.
TOOL_NOOP_ROUND_TRIPS = 5
# Requests of the role's reads after a deploy that go out beside another (GetRole,
# ListRolePolicies, ListAttachedRolePolicies at once: 2 of the 3 overlap).
TOOL_ROLE_READS_AT_ONCE = 2
SERVER_ROLE = "arn:aws:iam::123456789012:user/moto"
# The tag the tool sets on every stack it deploys (tsw/src/commands/deploy.rs, OWNER_TAG).
OWNER_TAG = "temporal-serverless-workers:environment"
EXTERNAL_ID = "bench-external-id-0001"
LAMBDA_A = "arn:aws:lambda:us-east-1:123456789012:function:bench-worker-a"
LAMBDA_B = "arn:aws:lambda:us-east-1:123456789012:function:bench-worker-b"
# werkzeug's request log line, e.g. `"POST / HTTP/1.1" 200 -`; error lines are coloured.
REQUEST_LINE = re.compile(rb'"(?:\x1b\[[0-9;]*m)*[A-Z]+ \S* HTTP/\d(?:\.\d)?(?:\x1b\[[0-9;]*m)*" \d{3}')


# --------------------------------------------------------------------------- small helpers


class CommandFailed(Exception):
    """A measured or required command exited non-zero (or timed out)."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_s(x: float | None) -> str:
    if x is None or x != x:
        return "n/a"
    if x < 1:
        return f"{x * 1000:.0f} ms"
    return f"{x:.2f} s"


def fmt_req(xs: list[int]) -> str:
    if not xs:
        return "n/a"
    lo, hi = min(xs), max(xs)
    return f"{int(median(xs))}" if lo == hi else f"{median(xs):g} ({lo}-{hi})"


def tail(text: str | bytes, n: int = 25) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.rstrip().splitlines()[-n:])


def capture(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> str:
    """Output of a quick informational command, or '' when it fails."""
    try:
        out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def moto_python(env: dict) -> Path:
    """The Python with the emulator's pinned packages: the sandbox's virtualenv
    (`target/xtask/sandbox/venv`, made by `tsw sandbox up` or the integration tests), or one
    this script builds under target/bench/ (a fresh clone has neither)."""
    candidates = [REPO / "target" / "xtask" / "sandbox" / "venv" / "bin" / "python",
                  BENCH_DIR / "moto-venv" / "bin" / "python"]
    for py in candidates:
        if py.exists() and subprocess.run([str(py), "-c", "import moto.server"], env=env,
                                          capture_output=True).returncode == 0:
            return py
    venv = BENCH_DIR / "moto-venv"
    log(f"installing the emulator's pinned packages into {venv}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    run_checked([sys.executable, "-m", "venv", str(venv)], cwd=REPO, env=env, timeout=300,
                what="python3 -m venv")
    run_checked([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r",
                 str(REPO / "crates" / "aws-sandbox" / "python" / "requirements.txt")],
                cwd=REPO, env=env, timeout=1800, what="pip install (moto)")
    return venv / "bin" / "python"


class Env:
    """The environment of every process the script starts."""

    def __init__(self, workdir: Path):
        empty = workdir / "aws-config-empty"
        empty.write_text("")
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        for k in ("XTASK_ROOT", "CARGO_TARGET_DIR"):
            base.pop(k, None)
        base.update(
            AWS_EC2_METADATA_DISABLED="true",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_CONFIG_FILE=str(empty),
            AWS_SHARED_CREDENTIALS_FILE=str(empty),
            AWS_PAGER="",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
        )
        self.base = base

    def for_endpoint(self, endpoint: str) -> dict:
        assert endpoint.startswith("http://127.0.0.1:"), endpoint
        env = dict(self.base)
        env["AWS_ENDPOINT_URL"] = endpoint
        return env


def kill_all(procs: list[subprocess.Popen]) -> None:
    """Kills the process groups of our own children that still run (each has its own)."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)


def run_checked(cmd: list[str], *, cwd: Path, env: dict, timeout: float, what: str
                ) -> subprocess.CompletedProcess:
    """Runs one command in its own process group; raises CommandFailed on failure."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_all([proc])
        raise CommandFailed(f"{what}: timed out after {timeout:.0f} s: `{' '.join(cmd)}`")
    except BaseException:
        kill_all([proc])
        raise
    if proc.returncode != 0:
        raise CommandFailed(f"{what}: exit {proc.returncode}: `{' '.join(cmd)}`\n"
                            f"{tail(out, 10)}\n{tail(err)}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_timeline(cmd: list[str], *, cwd: Path, env: dict, timeout: float, what: str
                 ) -> tuple[float, list[tuple[float, str]]]:
    """Like run_checked, but keeps each output line (stdout and stderr) with its time."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    lines: list[tuple[float, str]] = []
    try:
        for raw in proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip()
            if text.strip():
                lines.append((time.perf_counter() - t0, text))
        proc.wait()
    except BaseException:
        kill_all([proc])
        raise
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise CommandFailed(f"{what}: exit {proc.returncode} after {elapsed:.0f} s: "
                            f"`{' '.join(cmd)}`\n" + "\n".join(l for _, l in lines[-25:]))
    return elapsed, lines


# --------------------------------------------------------------------------- the emulator


class Moto:
    """One moto server (the checkout's launcher), its request log in a file we can read."""

    def __init__(self, python: Path, launcher: Path, workdir: Path, env: Env,
                 latency_ms: int = 0, name: str = "moto"):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.stderr.log"
        self.out_path = workdir / f"{name}.stdout.log"
        self.python, self.launcher, self.env = python, launcher, env
        self.latency_ms = latency_ms
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [str(self.python), str(self.launcher), "--host", "127.0.0.1",
               "--port", str(self.port), "--parent-pid", str(os.getpid())]
        if self.latency_ms:
            cmd += ["--latency-ms", str(self.latency_ms)]
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=self.env.for_endpoint(self.endpoint),
                                         start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if b"moto ready" in self.out_path.read_bytes():
                log(f"moto (pid {self.proc.pid}) ready on {self.endpoint}"
                    + (f", answering {self.latency_ms} ms late" if self.latency_ms else ""))
                return
            if self.proc.poll() is not None:
                raise CommandFailed(f"moto exited with {self.proc.returncode}:\n"
                                    f"{tail(self.log_path.read_bytes())}")
            time.sleep(0.1)
        raise CommandFailed("moto did not print `moto ready` within 120 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            log(f"moto (pid {self.proc.pid}) stopped")

    def mark(self) -> int:
        """The log's size once it has stopped growing (a request's line may trail its reply)."""
        last, since = -1, time.monotonic()
        deadline = since + 3
        while True:
            size = self.log_path.stat().st_size
            now = time.monotonic()
            if size != last:
                last, since = size, now
            elif now - since >= 0.1 or now > deadline:
                return size
            time.sleep(0.02)

    def cpu_seconds(self) -> float:
        """moto's CPU time so far (user + system), from /proc."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError, AttributeError):
            return float("nan")

    def requests_between(self, start: int, end: int) -> int:
        with open(self.log_path, "rb") as f:
            f.seek(start)
            return len(REQUEST_LINE.findall(f.read(end - start)))


class TraceProxy:
    """A recording HTTP proxy in front of moto: which action, when its reply was sent."""

    def __init__(self, upstream_port: int):
        self.events: list[tuple[float, float, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                t0 = time.perf_counter()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                target = self.headers.get("X-Amz-Target", "")
                if target:
                    action = target.rsplit(".", 1)[-1]
                else:
                    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                    query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                    action = (form.get("Action") or query.get("Action") or [self.path])[0]
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "keep-alive", "transfer-encoding")}
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=300)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                # One write for status, headers and body (with TCP_NODELAY): no Nagle delays.
                head = [f"HTTP/1.1 {resp.status} {resp.reason}"]
                head += [f"{k}: {v}" for k, v in resp.getheaders()
                         if k.lower() not in ("connection", "keep-alive", "transfer-encoding",
                                              "content-length")]
                head.append(f"Content-Length: {len(data)}")
                out = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
                self.wfile.write(out + (data if self.command != "HEAD" else b""))
                self.wfile.flush()
                with proxy.lock:
                    proxy.events.append((t0, time.perf_counter(), action))

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_one

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take(self) -> list[tuple[float, float, str]]:
        with self.lock:
            ev, self.events = self.events, []
        return sorted(ev)


# --------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, args: argparse.Namespace, stack: contextlib.ExitStack):
        self.args = args
        self.quick = args.quick
        self.cleanup = stack
        self.workdir = Path(tempfile.mkdtemp(prefix="tsw-bench-"))
        stack.callback(shutil.rmtree, self.workdir, ignore_errors=True)
        self.env = Env(self.workdir)
        self.rid = uuid.uuid4().hex[:4]
        self.failures: list[str] = []
        self.results: dict = {}
        self.info: dict = {}
        self.moto: Moto | None = None
        self.moto_lat: Moto | None = None  # the latency model, started when first needed
        self.tsw: Path | None = None
        self.aws: Path | None = None
        self.root: Path | None = None
        n = args.iterations
        self.n_noop = n or (3 if self.quick else 20)
        self.n_create = n or (3 if self.quick else 6)
        self.n_update = n or (3 if self.quick else 6)
        self.n_many = n or (2 if self.quick else 4)
        self.n_notice = n or (2 if self.quick else 3)
        self.n_merge = n or (1 if self.quick else 3)
        self.n_hostile = n or (2 if self.quick else 3)

    # ---- bookkeeping

    def section(self, name: str, fn) -> None:
        log(f"=== {name}")
        try:
            fn()
        except CommandFailed as e:
            msg = f"{name}: {e}"
            self.failures.append(msg)
            log(f"FAILED: {msg}")
        except Exception:  # a bug here must not cost the other sections
            import traceback
            msg = f"{name}: internal error of benches/run.py:\n{traceback.format_exc()}"
            self.failures.append(msg)
            log(f"FAILED: {msg}")

    def timed(self, label: str, cmds: list[list[str]], *, endpoint: str, cwd: Path | None = None,
              concurrent: bool = False, timeout: float = 300, allow_fail: bool = False,
              moto: Moto | None = None, allow_timeout: bool = False) -> dict:
        """Runs `cmds` (one after the other, or all at once) and returns seconds and requests
        (counted in the log of `moto`, by default the plain one, if started). With
        `allow_timeout`, a run that hits `timeout` is killed and returned as not ok."""
        moto = moto or self.moto
        env = self.env.for_endpoint(endpoint)
        start = moto.mark() if moto else 0
        moto_cpu0 = moto.cpu_seconds() if moto else float("nan")
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        procs = []
        results = []
        try:
            if concurrent:
                for c in cmds:
                    procs.append(subprocess.Popen(c, cwd=cwd or REPO, env=env,
                                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                  stdin=subprocess.DEVNULL,
                                                  start_new_session=True))
                for p in procs:
                    out, err = p.communicate(timeout=timeout)
                    results.append((p.args, p.returncode, out, err))
            else:
                for c in cmds:
                    p = subprocess.Popen(c, cwd=cwd or REPO, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
                    procs.append(p)
                    out, err = p.communicate(timeout=timeout)
                    results.append((p.args, p.returncode, out, err))
                    if p.returncode != 0:
                        break
        except subprocess.TimeoutExpired:
            kill_all(procs)
            if not allow_timeout:
                raise CommandFailed(f"{label}: timed out after {timeout:.0f} s")
            return {"seconds": timeout, "requests": 0, "t_exit": time.perf_counter(),
                    "moto_cpu": float("nan"), "client_cpu": float("nan"), "ok": False,
                    "timed_out": True, "results": results}
        except BaseException:  # interrupted: leave nothing running
            kill_all(procs)
            raise
        elapsed = time.perf_counter() - t0
        t_exit = time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        requests = moto.requests_between(start, moto.mark()) if moto else 0
        moto_cpu = moto.cpu_seconds() - moto_cpu0 if moto else float("nan")
        client_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        bad = [r for r in results if r[1] != 0]
        if bad and not allow_fail:
            argv, rc, out, err = bad[0]
            raise CommandFailed(f"{label}: exit {rc}: `{' '.join(map(str, argv))}`\n"
                                f"{tail(out, 10)}\n{tail(err)}")
        return {"seconds": elapsed, "requests": requests, "t_exit": t_exit, "moto_cpu": moto_cpu,
                "client_cpu": client_cpu, "ok": not bad, "results": results}

    # ---- set-up

    def machine(self) -> None:
        cpu = "unknown"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem = "unknown"
        with contextlib.suppress(OSError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        os_name = platform.platform()
        with contextlib.suppress(OSError):
            for line in Path("/etc/os-release").read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    os_name = f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
        status = capture(["git", "status", "--porcelain"], cwd=REPO)
        self.info.update(
            nproc=capture(["nproc"]) or str(os.cpu_count()),
            cpu=cpu,
            memory=mem,
            os=os_name,
            date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            commit=capture(["git", "rev-parse", "HEAD"], cwd=REPO),
            commit_subject=capture(["git", "log", "-1", "--format=%s"], cwd=REPO),
            dirty=len(status.splitlines()) if status else 0,
            rustc=capture(["rustc", "-V"]),
            cargo=capture(["cargo", "-V"]),
            python=platform.python_version(),
            load_start=os.getloadavg(),
            mode="quick" if self.quick else "full",
        )

    def build_tool(self) -> None:
        """`cargo build -p tsw`, then a private copy of the binary (others rebuild it)."""
        env = self.env.for_endpoint("http://127.0.0.1:9")
        cmd = ["cargo", "build", "-p", "tsw"]
        last = None
        for attempt in range(3):
            try:
                t0 = time.perf_counter()
                run_checked(cmd, cwd=REPO, env=env, timeout=1800, what=" ".join(cmd))
                self.info["build_seconds"] = time.perf_counter() - t0
                self.info["build_cmd"] = " ".join(cmd)
                break
            except CommandFailed as e:
                # The working tree is being edited by others; a half-made edit may not compile.
                last = e
                log(f"build failed (attempt {attempt + 1}/3); retrying in 20 s")
                time.sleep(20)
        else:
            raise last
        # A private copy: someone else's rebuild cannot swap it mid-run.
        (self.workdir / "bin").mkdir()
        self.tsw = self.workdir / "bin" / "tsw"
        shutil.copy2(REPO / "target" / "debug" / "tsw", self.tsw)

    def moto_python(self) -> Path:
        """The checkout's sandbox venv, or one built under target/bench/."""
        py = moto_python(self.env.for_endpoint("http://127.0.0.1:9"))
        self.info["moto_python"] = str(py.relative_to(REPO))
        return py

    def awscli(self) -> None:
        venv = BENCH_DIR / f"awscli-{AWSCLI_VERSION}"
        aws = venv / "bin" / "aws"
        env = self.env.for_endpoint("http://127.0.0.1:9")
        if f"aws-cli/{AWSCLI_VERSION} " not in capture([str(aws), "--version"], env=env) + " ":
            log(f"installing awscli=={AWSCLI_VERSION} into {venv}")
            BENCH_DIR.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(venv, ignore_errors=True)
            run_checked([sys.executable, "-m", "venv", str(venv)], cwd=REPO, env=env,
                        timeout=300, what="python3 -m venv")
            run_checked([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                         f"awscli=={AWSCLI_VERSION}"], cwd=REPO, env=env, timeout=1800,
                        what="pip install awscli")
        self.aws = aws
        self.info["awscli"] = capture([str(aws), "--version"], env=env)
        # The CLI's polling intervals, read from the installed package (for the report).
        waiters = glob.glob(str(venv / "lib" / "python3*" / "site-packages" / "**" /
                                "cloudformation" / "*" / "waiters-2.json"), recursive=True)
        if waiters:
            w = json.loads(Path(waiters[0]).read_text())["waiters"]
            self.info["cli_wait_delay"] = w["StackCreateComplete"]["delay"]
            self.info["cli_wait_update_delay"] = w["StackUpdateComplete"]["delay"]
        deployer = glob.glob(str(venv / "lib" / "python3*" / "site-packages" / "awscli" /
                                 "customizations" / "cloudformation" / "deployer.py"))
        if deployer:
            delays = re.findall(r"'Delay':\s*(\d+)", Path(deployer[0]).read_text())
            if len(delays) >= 2:
                self.info["cli_deploy_changeset_delay"] = int(delays[0])
                self.info["cli_deploy_execute_delay"] = int(delays[1])
        stack_rs = REPO / "crates" / "aws" / "src" / "stack.rs"
        with contextlib.suppress(OSError):
            src = stack_rs.read_text()
            first = re.search(r"FIRST: Duration = Duration::from_millis\((\d+)\)", src)
            most = re.search(r"MAX: Duration = Duration::from_secs\((\d+)\)", src)
            mul = re.search(r"mul_f32\(([\d.]+)\)", src)
            if first and most and mul:
                self.info["backoff"] = (int(first.group(1)) / 1000, float(most.group(1)),
                                        float(mul.group(1)))

    def start_moto(self) -> None:
        py = self.moto_python()
        env = self.env.for_endpoint("http://127.0.0.1:9")
        self.info["moto"] = capture([str(py), "-c", "import moto; print(moto.__version__)"],
                                    env=env)
        launcher = REPO / "crates" / "aws-sandbox" / "python" / "moto_launcher.py"
        self.moto = Moto(py, launcher, self.workdir, self.env)
        self.cleanup.callback(self.moto.stop)
        self.moto.start()

    def latency_moto(self) -> Moto:
        """A second moto, started once, that answers every request LATENCY_MS later."""
        if self.moto_lat is None:
            launcher = REPO / "crates" / "aws-sandbox" / "python" / "moto_launcher.py"
            m = Moto(self.moto.python, launcher, self.workdir, self.env,
                     latency_ms=LATENCY_MS, name="moto-latency")
            self.cleanup.callback(m.stop)
            m.start()
            self.moto_lat = m
        return self.moto_lat

    def scratch_root(self) -> None:
        root = self.workdir / "root"
        (root / "environments").mkdir(parents=True)
        shutil.copytree(REPO / "templates", root / "templates")
        self.root = root

    def descriptor(self, name: str, stack: str, lam: str = LAMBDA_A,
                   endpoint: str | None = None) -> None:
        text = f"""# written by benches/run.py
[aws]
region = "{REGION}"
endpoint_url = "{endpoint or self.moto.endpoint}"

[temporal]
server_role_arn = "{SERVER_ROLE}"

[role]
stack_name = "{stack}"
external_id = "{EXTERNAL_ID}"
lambda_function_arns = ["{lam}"]

[deploy]
confirm = false
"""
        (self.root / "environments" / f"{name}.toml").write_text(text)

    def params_file(self, lam: str) -> Path:
        path = self.workdir / f"params-{lam.rsplit('-', 1)[-1]}.json"
        path.write_text(json.dumps([
            {"ParameterKey": "TemporalIamRoleArn", "ParameterValue": SERVER_ROLE},
            {"ParameterKey": "AssumeRoleExternalId", "ParameterValue": EXTERNAL_ID},
            {"ParameterKey": "LambdaFunctionARNs", "ParameterValue": lam},
        ]))
        return path

    # ---- commands

    def tool(self, *args: str) -> list[str]:
        return [str(self.tsw), "--root", str(self.root), *args]

    def cli(self, *args: str, endpoint: str | None = None) -> list[str]:
        return [str(self.aws), "--region", REGION,
                "--endpoint-url", endpoint or self.moto.endpoint, "cloudformation", *args]

    def cli_deploy(self, stack: str, lam: str, endpoint: str | None = None,
                   env: str | None = None) -> list[str]:
        """`aws cloudformation deploy` of the tool's template; `env`: the environment whose
        stack it is, tagged as the tool tags it (else the CLI's deploy would take the tag away,
        and the tool's next deploy would put it back: an update, not a no-op)."""
        tags = ["--tags", f"{OWNER_TAG}={env}"] if env else []
        return self.cli("deploy", "--no-fail-on-empty-changeset", "--stack-name", stack,
                        "--template-file", str(self.root / "templates" / TEMPLATE),
                        "--parameter-overrides", f"TemporalIamRoleArn={SERVER_ROLE}",
                        f"AssumeRoleExternalId={EXTERNAL_ID}", f"LambdaFunctionARNs={lam}",
                        "--capabilities", "CAPABILITY_NAMED_IAM", *tags, endpoint=endpoint)

    def cli_create(self, stack: str, lam: str, endpoint: str | None = None) -> list[list[str]]:
        return [self.cli("create-stack", "--stack-name", stack, "--template-body",
                         f"file://{self.root / 'templates' / TEMPLATE}", "--parameters",
                         f"file://{self.params_file(lam)}", "--capabilities",
                         "CAPABILITY_NAMED_IAM", endpoint=endpoint),
                self.cli("wait", "stack-create-complete", "--stack-name", stack,
                         endpoint=endpoint)]

    def cli_update(self, stack: str, lam: str, endpoint: str | None = None) -> list[list[str]]:
        return [self.cli("update-stack", "--stack-name", stack, "--template-body",
                         f"file://{self.root / 'templates' / TEMPLATE}", "--parameters",
                         f"file://{self.params_file(lam)}", "--capabilities",
                         "CAPABILITY_NAMED_IAM", endpoint=endpoint),
                self.cli("wait", "stack-update-complete", "--stack-name", stack,
                         endpoint=endpoint)]

    # ---- 1. cold build

    def cold_build(self) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="tsw-bench-cold-"))
        self.cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        r = self.results.setdefault("cold", {})
        clone, env, r["port"] = self.cold_clone(tmp, "repo")
        local = clone / "environments" / "local.toml"
        r["commit"] = capture(["git", "rev-parse", "HEAD"], cwd=clone)
        pip_cache = capture([sys.executable, "-m", "pip", "cache", "dir"], env=env)
        r["pip_cache"] = bool(pip_cache) and Path(pip_cache).is_dir() and \
            any(Path(pip_cache).rglob("*"))
        # Untimed: make sure every crate is in ~/.cargo, so the times exclude downloads.
        run_checked(["cargo", "fetch"], cwd=clone, env=env, timeout=1800, what="cargo fetch")
        r["load_before"] = os.getloadavg()
        log(f"cold: cargo xtask deploy local in {clone}")
        t0 = time.perf_counter()
        started = time.time()
        r["deploy"], r["timeline"] = run_timeline(
            ["cargo", "xtask", "deploy", "local"], cwd=clone, env=env, timeout=1800,
            what="cold cargo xtask deploy local")
        r["total"] = r["deploy"]
        r["load_after"] = os.getloadavg()
        # When cargo finished the binary: its modification time (`cargo xtask` builds in the
        # `tool` profile).
        with contextlib.suppress(OSError):
            r["built_tsw"] = (clone / "target" / "tool" / "tsw").stat().st_mtime - started
        if "[outputs]" not in local.read_text():
            raise CommandFailed("cold deploy local exited 0 but recorded no [outputs]:\n"
                                + "\n".join(l for _, l in r["timeline"][-25:]))
        log(f"cold: deploy local took {fmt_s(r['deploy'])}")
        self.cold_sandbox_down(clone, env)
        self.cold_guide(tmp)
        self.cold_validate(tmp, env)

    def cold_validate(self, tmp: Path, env: dict) -> None:
        """`cargo xtask validate` as the first command of another fresh clone."""
        r = self.results["cold"]
        clone = tmp / "repo-validate"
        run_checked(["git", "clone", "-q", str(REPO), str(clone)], cwd=tmp, env=env,
                    timeout=600, what="git clone")
        log(f"cold: cargo xtask validate in {clone}")
        t0 = time.perf_counter()
        run_checked(["cargo", "xtask", "validate"], cwd=clone, env=env, timeout=1800,
                    what="cold cargo xtask validate")
        r["validate"] = time.perf_counter() - t0
        log(f"cold: validate took {fmt_s(r['validate'])}")

    def cold_clone(self, tmp: Path, name: str) -> tuple[Path, dict, int]:
        """A fresh clone of HEAD whose `local` environment uses free ports (the emulator's
        and the dev server's), the environment to run it with, and the emulator's port."""
        clone = tmp / name
        port, tport = free_port(), free_port()
        env = self.env.for_endpoint(f"http://127.0.0.1:{port}")
        run_checked(["git", "clone", "-q", str(REPO), str(clone)], cwd=tmp, env=env,
                    timeout=600, what="git clone")
        local = clone / "environments" / "local.toml"
        text = local.read_text()
        text, n = re.subn(r'(endpoint_url\s*=\s*"http://127\.0\.0\.1:)\d+', rf"\g<1>{port}",
                          text)
        if n != 1:
            raise CommandFailed("cannot find `endpoint_url = \"http://127\.0\.0\.1:PORT\"` in "
                                "the clone's environments/local.toml")
        # The dev server's address too, so that nothing in the clone can reach 7233.
        text = re.sub(r'(address\s*=\s*"127\.0\.0\.1:)\d+', rf"\g<1>{tport}", text)
        local.write_text(text)
        self.cleanup.callback(self.cold_sandbox_down, clone, env)
        return clone, env, port

    def cold_guide(self, tmp: Path) -> None:
        """The whole guide as the README gives it, in another fresh clone, each step timed
        from the clone: the sandbox (`sandbox up`, which compiles the AWS half meanwhile), the
        role and a registered version (`deploy local --register`), and a workflow run through
        Lambda (`smoke local`)."""
        r = self.results["cold"]
        clone, env, _ = self.cold_clone(tmp, "repo-guide")
        steps = r.setdefault("smoke_steps", [])
        t0 = time.perf_counter()
        for args in (["sandbox", "up"], ["deploy", "local", "--register"], ["smoke", "local"]):
            label = "cargo xtask " + " ".join(args)
            log(f"cold: {label}")
            elapsed, lines = run_timeline(["cargo", "xtask", *args], cwd=clone, env=env,
                                          timeout=1800, what=f"cold {label}")
            steps.append((label, elapsed))
            r["smoke_said"] = [l for _, l in lines if "smoke" in l][-1:]
        r["smoke_total"] = time.perf_counter() - t0
        log(f"cold: clone to smoke completed took {fmt_s(r['smoke_total'])}")
        self.cold_sandbox_down(clone, env)

    def cold_sandbox_down(self, clone: Path, env: dict) -> None:
        with contextlib.suppress(CommandFailed, OSError):
            run_checked(["cargo", "xtask", "sandbox", "down"], cwd=clone, env=env, timeout=180,
                        what="cargo xtask sandbox down (clone)")
            log("cold: sandbox down in the clone")
        # Whatever the clone's sandbox recorded and still runs from the clone: stop it by pid.
        for pid_file in (clone / "target" / "xtask" / "sandbox").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                pid = int(pid_file.read_text().split()[0])
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if str(clone).encode() in cmdline:
                    os.kill(pid, signal.SIGTERM)
                    log(f"cold: stopped leftover pid {pid}")

    # ---- 2. no-op deploy

    def noop(self) -> None:
        stack = f"noop-{self.rid}"
        self.descriptor("bench", stack)
        ep = self.moto.endpoint
        self.timed("first deploy bench", [self.tool("deploy", "bench")], endpoint=ep)
        # Warm-ups, untimed: cargo's freshness check, the CLI's first import.
        wrapper = ["cargo", "xtask", "--root", str(self.root), "deploy", "bench"]
        self.timed("warm-up cargo xtask", [wrapper], endpoint=ep, timeout=1800)
        self.timed("warm-up aws deploy", [self.cli_deploy(stack, LAMBDA_A, env="bench")], endpoint=ep)
        r = self.results.setdefault("noop", {"tool": [], "wrapper": [], "cli": [], "aws_bin": []})
        for i in range(self.n_noop):
            r["tool"].append(self.timed("no-op deploy (binary)", [self.tool("deploy", "bench")],
                                        endpoint=ep))
            r["wrapper"].append(self.timed("no-op deploy (cargo xtask)", [wrapper],
                                           endpoint=ep, timeout=1800))
            r["cli"].append(self.timed("no-op aws cloudformation deploy",
                                       [self.cli_deploy(stack, LAMBDA_A, env="bench")], endpoint=ep))
        said = r["tool"][-1]["results"][0][2].decode("utf-8", "replace")
        r["tool_said"] = said.strip().splitlines()[0] if said.strip() else ""
        log("no-op: tool {} / cargo xtask {} / aws {}".format(
            *(fmt_s(median([s["seconds"] for s in r[k]])) for k in ("tool", "wrapper", "cli"))))

    def noop_latency(self) -> None:
        """The binary and the aws CLI again, against the moto that answers LATENCY_MS late."""
        self.results.setdefault("noop_lat", {})  # attempted: the report says FAILED if empty
        lm = self.latency_moto()
        ep = lm.endpoint
        stack = f"noopl-{self.rid}"
        self.descriptor("bench", stack, endpoint=ep)
        self.timed("first deploy bench (latency)", [self.tool("deploy", "bench")],
                   endpoint=ep, moto=lm)
        self.timed("warm-up aws deploy (latency)",
                   [self.cli_deploy(stack, LAMBDA_A, endpoint=ep, env="bench")], endpoint=ep, moto=lm)
        r = self.results["noop_lat"]
        r.update(tool=[], cli=[])
        for i in range(self.n_noop):
            r["tool"].append(self.timed("no-op deploy (binary, latency)",
                                        [self.tool("deploy", "bench")], endpoint=ep, moto=lm))
            r["cli"].append(self.timed("no-op aws cloudformation deploy (latency)",
                                       [self.cli_deploy(stack, LAMBDA_A, endpoint=ep, env="bench")],
                                       endpoint=ep, moto=lm))
        log("no-op with {} ms latency: tool {} / aws {}".format(
            LATENCY_MS, *(fmt_s(median([s["seconds"] for s in r[k]])) for k in ("tool", "cli"))))

    # ---- 3. create and update

    def create_update(self) -> None:
        ep = self.moto.endpoint
        r = self.results.setdefault("create", {"tool": [], "cli": [], "cli_deploy": []})
        for i in range(self.n_create):
            s = f"ct{i}-{self.rid}"
            self.descriptor("create", s)
            r["tool"].append(self.timed("create (tool)", [self.tool("deploy", "create")],
                                        endpoint=ep))
            r["cli"].append(self.timed("create-stack + wait",
                                       self.cli_create(f"cc{i}-{self.rid}", LAMBDA_A),
                                       endpoint=ep))
            r["cli_deploy"].append(self.timed("aws cloudformation deploy (create)",
                                              [self.cli_deploy(f"cd{i}-{self.rid}", LAMBDA_A)],
                                              endpoint=ep))
        u = self.results.setdefault("update", {"tool": [], "cli": [], "cli_deploy": []})
        ut, uc, ud = (f"ut-{self.rid}", f"uc-{self.rid}", f"ud-{self.rid}")
        self.descriptor("update", ut, LAMBDA_A)
        self.timed("update set-up (tool)", [self.tool("deploy", "update")], endpoint=ep)
        self.timed("update set-up (cli)", self.cli_create(uc, LAMBDA_A), endpoint=ep)
        self.timed("update set-up (cli deploy)", [self.cli_deploy(ud, LAMBDA_A)], endpoint=ep)
        for i in range(self.n_update):
            lam = LAMBDA_B if i % 2 == 0 else LAMBDA_A
            self.descriptor("update", ut, lam)
            u["tool"].append(self.timed("update (tool)", [self.tool("deploy", "update")],
                                        endpoint=ep))
            u["cli"].append(self.timed("update-stack + wait", self.cli_update(uc, lam),
                                       endpoint=ep))
            u["cli_deploy"].append(self.timed("aws cloudformation deploy (update)",
                                              [self.cli_deploy(ud, lam)], endpoint=ep))
        said = u["tool"][-1]["results"][0][2].decode("utf-8", "replace").strip()
        u["tool_said"] = said.splitlines()[0] if said else ""

    def notice(self) -> None:
        """Through a recording proxy: from the moment the stack has settled to the exit."""
        proxy = TraceProxy(self.moto.port)
        self.cleanup.callback(proxy.stop)
        proxy.start()
        pe = proxy.endpoint
        r = self.results.setdefault("notice", {})

        def gap(label: str, cmds: list[list[str]], settles_with: str) -> None:
            proxy.take()
            m = self.timed(label, cmds, endpoint=pe)
            events = proxy.take()
            settled = [e for e in events if e[2] == settles_with]
            if not settled:
                raise CommandFailed(f"{label}: no {settles_with} request seen by the proxy "
                                    f"(saw {[e[2] for e in events]})")
            t_settled = settled[-1][1]
            after = [e[2] for e in events if e[0] >= t_settled]
            entry = r.setdefault(label, {"gaps": [], "after": after, "total": [],
                                         "settles_with": settles_with,
                                         "sequence": [e[2] for e in events]})
            entry["gaps"].append(m["t_exit"] - t_settled)
            entry["total"].append(m["seconds"])

        for i in range(self.n_notice):
            self.descriptor("notice", f"nt{i}-{self.rid}", LAMBDA_A, endpoint=pe)
            gap("tool: deploy (create)", [self.tool("deploy", "notice")], "ExecuteChangeSet")
            self.descriptor("notice", f"nt{i}-{self.rid}", LAMBDA_B, endpoint=pe)
            gap("tool: deploy (update)", [self.tool("deploy", "notice")], "ExecuteChangeSet")
            gap("aws: create-stack + wait stack-create-complete",
                self.cli_create(f"nc{i}-{self.rid}", LAMBDA_A, endpoint=pe), "CreateStack")
            gap("aws: update-stack + wait stack-update-complete",
                self.cli_update(f"nc{i}-{self.rid}", LAMBDA_B, endpoint=pe), "UpdateStack")
            gap("aws: cloudformation deploy (create)",
                [self.cli_deploy(f"nd{i}-{self.rid}", LAMBDA_A, endpoint=pe)],
                "ExecuteChangeSet")

    # ---- 4. many environments

    def many(self) -> None:
        self.many_on(self.moto, "many", "m")

    def many_latency(self) -> None:
        self.results.setdefault("many_lat", {})  # attempted: the report says FAILED if empty
        self.many_on(self.latency_moto(), "many_lat", "l")

    def many_on(self, moto: Moto, key: str, prefix: str) -> None:
        """Section 4's rows against `moto` (results under `key`, stacks named `prefix`...)."""
        ep = moto.endpoint
        names = [f"e{k}" for k in range(1, 9)]
        r = self.results.setdefault(key, {})
        for k in ("create8", "noop8", "create1", "noop1", "create8p", "noop8p", "create8s",
                  "noop8s"):
            r.setdefault(k, [])
        r["supported"] = True

        def timed(label: str, cmds: list[list[str]], **kw) -> dict:
            return self.timed(label, cmds, endpoint=ep, moto=moto, **kw)

        def descriptor(name: str, stack: str) -> None:
            self.descriptor(name, stack, endpoint=ep)

        for it in range(self.n_many):
            for k, n in enumerate(names, 1):
                descriptor(n, f"{prefix}{it}a{k}-{self.rid}")
            m = timed("deploy e1..e8 --yes (create)",
                      [self.tool("deploy", *names, "--yes")], allow_fail=True)
            if not m["ok"]:
                _, rc, out, err = m["results"][0]
                text = err.decode("utf-8", "replace")
                if rc == 2 and ("unexpected argument" in text or "Usage:" in text):
                    r["supported"] = False
                    r["rejected"] = text.strip().splitlines()[0]
                    log("many: several environments are not supported yet by this binary")
                else:
                    raise CommandFailed(f"deploy e1..e8 --yes: exit {rc}\n{tail(out, 10)}\n"
                                        f"{tail(err)}")
            if r["supported"]:
                r["create8"].append(m)
                r["noop8"].append(timed("deploy e1..e8 --yes (no-op)",
                                        [self.tool("deploy", *names, "--yes")]))
            descriptor("e1", f"{prefix}{it}b1-{self.rid}")
            r["create1"].append(timed("deploy e1 (create)",
                                      [self.tool("deploy", "e1", "--yes")]))
            r["noop1"].append(timed("deploy e1 (no-op)",
                                    [self.tool("deploy", "e1", "--yes")]))
            for k, n in enumerate(names, 1):
                descriptor(n, f"{prefix}{it}c{k}-{self.rid}")
            r["create8p"].append(timed(
                "8 concurrent deploy eK (create)",
                [self.tool("deploy", n, "--yes") for n in names], concurrent=True))
            r["noop8p"].append(timed(
                "8 concurrent deploy eK (no-op)",
                [self.tool("deploy", n, "--yes") for n in names], concurrent=True))
            for k, n in enumerate(names, 1):
                descriptor(n, f"{prefix}{it}d{k}-{self.rid}")
            r["create8s"].append(timed(
                "8 sequential deploy eK (create)",
                [self.tool("deploy", n, "--yes") for n in names]))
            r["noop8s"].append(timed(
                "8 sequential deploy eK (no-op)",
                [self.tool("deploy", n, "--yes") for n in names]))

    # ---- 5. merging into a large server file

    def merge(self) -> None:
        """`render` into a server file of N hand-set keys: add the block, replace it, no-op."""
        r = self.results.setdefault("merge", {"sizes": {}, "limit": self.args.merge_timeout})
        r["commit"] = self.info.get("commit", "")
        server = self.root / "server" / "dynamicconfig.yaml"
        server.parent.mkdir(exist_ok=True)
        for n in MERGE_SIZES:
            hand = "".join(f"history.benchKey{k:07d}:\n  - value: {k}\n" for k in range(n))
            rows = r["sizes"].setdefault(n, {"bytes": len(hand), "insert": [], "replace": [],
                                             "noop": []})
            for it in range(self.n_merge):
                for op, namespaces in (("insert", '["orders", "billing"]'),
                                       ("replace", '["orders"]'), ("noop", '["orders"]')):
                    if op == "insert":
                        server.write_text(hand)
                    self.merge_descriptor(namespaces)
                    m = self.timed(f"render into {n} keys ({op})", [self.tool("render", "merge")],
                                   endpoint="http://127.0.0.1:9", timeout=r["limit"],
                                   allow_timeout=True)
                    rows[op].append(m)
                    said = m["results"][0][2].decode("utf-8", "replace") if m["results"] else ""
                    if m["ok"] and (op == "noop") == ("updated" in said):
                        raise CommandFailed(f"render into {n} keys ({op}) said: {said!r}")
                    if not m["ok"]:
                        break
                if any(not x["ok"] for x in rows["insert"] + rows["replace"]):
                    break
            log(f"merge {n} keys: " + ", ".join(
                f"{op} {fmt_s(median([x['seconds'] for x in rows[op] if x['ok']]))}"
                for op in ("insert", "replace", "noop")))

    def merge_descriptor(self, namespaces: str) -> None:
        text = f"""# written by benches/run.py
[aws]
region = "{REGION}"

[temporal]
server_role_arn = "{SERVER_ROLE}"
namespaces = {namespaces}
dynamic_config_file = "server/dynamicconfig.yaml"

[role]
stack_name = "bench-merge"
external_id = "{EXTERNAL_ID}"
lambda_function_arns = ["{LAMBDA_A}"]
"""
        (self.root / "environments" / "merge.toml").write_text(text)

    # ---- 6. hostile files

    def hostile(self) -> None:
        """`render --check` on huge and deeply nested server files, `validate` on a huge value:
        wall time, max RSS and output of each, in a checkout of its own (one descriptor)."""
        r = self.results.setdefault("hostile", {"rows": []})
        r["commit"] = self.info.get("commit", "")
        root = self.workdir / "hostile-root"
        (root / "environments").mkdir(parents=True)
        (root / "server").mkdir()
        shutil.copytree(REPO / "templates", root / "templates")
        server = root / "server" / "dynamicconfig.yaml"
        env_file = root / "environments" / "hostile.toml"
        env_file.write_text(f"""# written by benches/run.py
[aws]
region = "{REGION}"

[temporal]
server_role_arn = "{SERVER_ROLE}"
namespaces = ["orders"]
dynamic_config_file = "server/dynamicconfig.yaml"

[role]
stack_name = "bench-hostile"
external_id = "{EXTERNAL_ID}"
lambda_function_arns = ["{LAMBDA_A}"]
""")

        def unique_keys(limit: int) -> None:
            """Hand-set keys (`history.benchKeyNNNNNNNN:` one `- value:` each) up to `limit`
            bytes, written in chunks."""
            size, k = 0, 0
            with open(server, "w") as f:
                while True:
                    chunk = "".join(f"history.benchKey{j:08d}:\n  - value: {j}\n"
                                    for j in range(k, k + 10_000))
                    if size + len(chunk) > limit:
                        lines = chunk.splitlines(keepends=True)
                        while lines and size + len(lines[0]) + len(lines[1]) <= limit:
                            f.write(lines[0] + lines[1])
                            size += len(lines[0]) + len(lines[1])
                            lines = lines[2:]
                        return
                    f.write(chunk)
                    size += len(chunk)
                    k += 10_000

        def measure(key: str, what: str, args: list[str], expect_ok: bool, said: str) -> None:
            row = {"key": key, "what": what, "bytes": 0, "runs": []}
            row["bytes"] = (server if key != "value" else root / "environments" / "huge.toml"
                            ).stat().st_size
            for _ in range(self.n_hostile):
                m = self.rusage_run(what, [str(self.tsw), "--root", str(root), *args],
                                    cwd=root, timeout=600)
                if m["ok"] != expect_ok or said not in m["stderr"] + m["stdout"]:
                    raise CommandFailed(
                        f"{what}: exit {m['rc']} (expected {'0' if expect_ok else 'non-zero'} "
                        f"and {said!r} in the output)\n{tail(m['stdout'], 5)}\n"
                        f"{tail(m['stderr'][:4000], 10)}")
                row["runs"].append(m)
            first = row["runs"][0]
            row["said"] = next((l for l in (first["stderr"] + first["stdout"]).splitlines()
                                if said in l and l.strip()), "").replace(f"{root}/", "")
            r["rows"].append(row)
            log(f"hostile {key}: {fmt_s(median([x['seconds'] for x in row['runs']]))}, "
                f"{median([x['maxrss_kib'] for x in row['runs']]) / 1024:.0f} MiB max RSS")

        # 100 MB of unique keys: refused by its size before a byte is read.
        unique_keys(100_000_000)
        measure("big", "render --check, 100 MB server file", ["render", "--check", "hostile"],
                False, "4 MiB")
        # Just under the cap once the tool's block is in: the most the tool ever parses. The
        # block is rendered in first (untimed), so the check passes and does all of its work.
        unique_keys(MAX_FILE_BYTES - 16 * 1024)
        run_checked([str(self.tsw), "--root", str(root), "render", "hostile"], cwd=root,
                    env=self.env.for_endpoint("http://127.0.0.1:9"), timeout=600,
                    what="render hostile (4 MiB server file, untimed)")
        if server.stat().st_size > MAX_FILE_BYTES:
            raise CommandFailed(f"the rendered server file is {server.stat().st_size} bytes, "
                                f"over the cap of {MAX_FILE_BYTES}")
        measure("cap", "render --check, server file just under 4 MiB",
                ["render", "--check", "hostile"], True, "")
        # 200 KB of nested flow collections: refused by the depth check, nothing parsed.
        depth = 200_000 // len("[{a: }]")
        server.write_text("history.benchNested: " + "[{a: " * depth + "}]" * depth + "\n")
        measure("nested", "render --check, 200 KB of nested flow collections",
                ["render", "--check", "hostile"], False, "nested more than")
        # One 3 MiB value in the descriptor (under the cap): refused, quoted as an excerpt.
        env_file.unlink()
        (root / "environments" / "huge.toml").write_text(f"""# written by benches/run.py
[aws]
region = "{REGION}"

[temporal]
server_role_arn = "{SERVER_ROLE}"

[role]
stack_name = "{'A' * (3 << 20)}"
external_id = "{EXTERNAL_ID}"
lambda_function_arns = ["{LAMBDA_A}"]
""")
        measure("value", "validate, a descriptor with one 3 MiB value", ["validate", "huge"],
                False, "role.stack_name")

    def rusage_run(self, label: str, cmd: list[str], *, cwd: Path, timeout: float) -> dict:
        """One command; its wall time, and its own rusage (max RSS, CPU) from wait4, which
        RUSAGE_CHILDREN cannot give (its max RSS is the largest of every child so far)."""
        env = self.env.for_endpoint("http://127.0.0.1:9")
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        bufs: dict[str, bytes] = {}

        def drain(name: str, pipe) -> None:
            bufs[name] = pipe.read()

        threads = [threading.Thread(target=drain, args=(n, f), daemon=True)
                   for n, f in (("stdout", p.stdout), ("stderr", p.stderr))]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            kill()
            raise
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        for t in threads:
            t.join()
        if elapsed >= timeout:
            raise CommandFailed(f"{label}: timed out after {timeout:.0f} s")
        out, err = bufs.get("stdout", b""), bufs.get("stderr", b"")
        return {"seconds": elapsed, "rc": p.returncode, "ok": p.returncode == 0,
                "maxrss_kib": ru.ru_maxrss, "cpu": ru.ru_utime + ru.ru_stime,
                "out_bytes": len(out) + len(err),
                "stdout": out.decode("utf-8", "replace"), "stderr": err.decode("utf-8", "replace")}

    # ---- the report

    def write_report(self, path: Path) -> None:
        self.info["load_end"] = os.getloadavg()
        i, res = self.info, self.results
        L: list[str] = []
        w = L.append

        def med(samples: list[dict]) -> float:
            return median([s["seconds"] for s in samples])

        def reqs(samples: list[dict]) -> str:
            return fmt_req([s["requests"] for s in samples])

        def spread(samples: list[dict]) -> str:
            xs = [s["seconds"] for s in samples]
            return f"{fmt_s(min(xs))} – {fmt_s(max(xs))}" if xs else "n/a"

        def cpu(samples: list[dict], key: str) -> str:
            return fmt_s(median([s[key] for s in samples]))

        def ok(cond: bool | None) -> str:
            return "n/a" if cond is None else ("**met**" if cond else "**missed**")

        try:
            cores = int(i.get("nproc") or os.cpu_count() or 1)
        except ValueError:
            cores = os.cpu_count() or 1
        lat = f"{LATENCY_MS} ms"

        def cpu_floor(m: dict, kind: str) -> str:
            """Why 8 environments miss 1.5x one on plain moto: CPU, from the run's own numbers.
            moto's CPU time has a 10 ms resolution, so it is counted 10 ms low here."""
            eight = m["create8" if kind == "create" else "noop8"]
            one = m["create1" if kind == "create" else "noop1"]
            limit = 1.5 * med(one)
            mc = median([x["moto_cpu"] for x in eight])
            cc = median([x["client_cpu"] for x in eight])
            mc_low = max(mc - 0.01, 0.0)
            if mc_low > limit:
                return (f"moto alone was busy on the CPU for {fmt_s(mc)} (on one core: the "
                        f"GIL), more than the whole limit of {fmt_s(limit)}: out of reach for "
                        "any client on this emulator")
            oc = median([x["client_cpu"] for x in one])
            start = (f" (one environment is itself mostly the client's CPU: {fmt_s(oc)} of "
                     f"{fmt_s(med(one))})")
            if (mc_low + cc) / cores > limit:
                return (f"the run is CPU work throughout: client {fmt_s(cc)} + moto "
                        f"{fmt_s(mc)} of CPU take at least {fmt_s((mc_low + cc) / cores)} on "
                        f"{cores} cores, more than the limit of {fmt_s(limit)}{start}")
            return (f"CPU-bound here: client {fmt_s(cc)} + moto {fmt_s(mc)} of CPU (moto on "
                    f"one core) against a limit of {fmt_s(limit)}{start}")

        w("# Benchmarks")
        w("")
        w(f"Measured by `python3 benches/run.py{' --quick' if self.quick else ''}` "
          f"({i.get('mode')} mode) on {i.get('date')}. "
          "Times are wall-clock medians; requests are the lines moto logged during each run.")
        w("")
        w("## Machine and versions")
        w("")
        w(f"- CPU: {i.get('cpu')}, `nproc` = {i.get('nproc')}; memory {i.get('memory')}; "
          f"{i.get('os')}")
        ls, le = i.get("load_start"), i.get("load_end")
        w(f"- Load average (1/5/15 min) at start {ls[0]:.2f}/{ls[1]:.2f}/{ls[2]:.2f}, at end "
          f"{le[0]:.2f}/{le[1]:.2f}/{le[2]:.2f}. The machine was **not** quiet: other engineers "
          "were building and testing in this checkout at the same time, so every number carries "
          "that noise (the cold build most of all).")
        w(f"- Git commit {i.get('commit')} (\"{i.get('commit_subject')}\"); the working tree had "
          f"{i.get('dirty')} uncommitted change(s). The cold build clones HEAD; every other "
          "measurement uses `target/debug/tsw` (the dev profile) built from the working tree by "
          f"`{i.get('build_cmd', 'cargo build -p tsw')}` at the start of the run, copied aside "
          "so that a rebuild by someone else cannot swap it mid-run.")
        w(f"- {i.get('rustc')}; {i.get('cargo')}; Python {i.get('python')}; moto "
          f"{i.get('moto')} (`{i.get('moto_python')}`, launcher "
          "`crates/aws-sandbox/python/moto_launcher.py`); "
          f"{i.get('awscli', 'aws CLI not installed')} (pinned, in `target/bench/`).")
        w("- Everything ran against moto on 127.0.0.1 with dummy credentials; nothing left the "
          "machine.")
        w("")

        # Summary table
        w("## Results against the targets")
        w("")
        w("| # | measurement | result | target | |")
        w("|---|---|---|---|---|")
        cold = res.get("cold")
        if self.quick or self.args.skip_cold:
            w("| 1 | cold build | skipped (`--quick`) | validate < 30 s, deploy local < 75 s | "
              "n/a |")
        elif cold and "validate" in cold:
            w(f"| 1a | cold `cargo xtask validate`, the first command of a fresh clone "
              f"(compiling included; §1) | {fmt_s(cold['validate'])} | < 30 s | "
              f"{ok(cold['validate'] < 30)} |")
            if "deploy" in cold:
                w(f"| 1b | cold `cargo xtask deploy local`, the first command of a fresh clone: "
                  f"clone to deployed (§1) | {fmt_s(cold['deploy'])} | < 75 s | "
                  f"{ok(cold['deploy'] < 75)} |")
            else:
                w("| 1b | cold `cargo xtask deploy local` | FAILED | < 75 s | n/a |")
            if "smoke_total" in cold:
                w(f"| 1c | cold clone to a completed `smoke local`: `sandbox up`, `deploy local "
                  f"--register`, `smoke local` in a fresh clone (§1) | "
                  f"{fmt_s(cold['smoke_total'])} | measured | |")
        else:
            w("| 1 | cold build | FAILED (see below) | validate < 30 s, deploy local < 75 s | "
              "n/a |")
        noop = res.get("noop")
        if noop and noop.get("cli"):
            t, c = med(noop["tool"]), med(noop["cli"])
            tr = median([s["requests"] for s in noop["tool"]])
            w(f"| 2a | no-op `deploy` requests (binary) | {reqs(noop['tool'])} | ≤ 3 | "
              f"{ok(tr <= 3)}"
              + (": since the target was set, a deploy asks STS whose credentials it has "
                 "(GetCallerIdentity) and reads the role to restore a drifted one (4 IAM "
                 "reads, in 2 round trips)" if tr > 3 else "") + " |")
            w(f"| 2b | no-op `deploy`: binary vs `aws cloudformation deploy` | {fmt_s(t)} vs "
              f"{fmt_s(c)} = **{t / c:.3f}×** | ≤ 0.1× | {ok(t / c <= 0.1)} |")
        else:
            w("| 2 | no-op deploy | FAILED (see below) | ≤ 3 requests, ≤ 0.1× the aws CLI | n/a |")
        noop_lat = res.get("noop_lat")
        if noop_lat and noop_lat.get("cli"):
            t, c = med(noop_lat["tool"]), med(noop_lat["cli"])
            w(f"| 2c | for context: the same no-op against moto answering every request {lat} "
              f"late (models AWS latency, §2) | {fmt_s(t)} vs {fmt_s(c)} = **{t / c:.3f}×** "
              f"({reqs(noop_lat['tool'])} vs {reqs(noop_lat['cli'])} requests) | none (2b's "
              "target is for plain moto) | |")
        elif "noop_lat" in res:
            w(f"| 2c | for context: no-op against moto with {lat} latency | FAILED (see below) "
              "| none | |")
        notice = res.get("notice")
        if notice:
            gaps = [g for k, v in notice.items() if k.startswith("tool") for g in v["gaps"]]
            bo = i.get("backoff")
            w(f"| 3 | settled stack noticed by `deploy` | worst {fmt_s(max(gaps))} from settled "
              f"to exit, on moto (which settles stacks synchronously); on AWS up to "
              f"{bo[1] if bo else '?':g} s by the polling back-off (§3) | < 1 s | "
              f"{ok(max(gaps) < 1)} on moto"
              + ("; on AWS by construction" if bo and bo[1] <= 1 else
                 "; not on AWS" if bo else "") + " |")
        else:
            w("| 3 | notice a settled stack | FAILED (see below) | < 1 s | n/a |")
        many, many_lat = res.get("many"), res.get("many_lat")
        for tag, word in (("a", "creating"), ("b", "no-op")):
            kind = "create" if tag == "a" else "noop"
            for m, where in ((many, "plain moto (CPU-bound emulator, §4)"),
                             (many_lat, f"moto answering every request {lat} late: **the "
                                        "measurement that models AWS** (§4)")):
                if m is None:
                    continue
                if not m.get("create1") or (m.get("supported") and not m.get(kind + "8")):
                    w(f"| 4{tag} | 8 environments in one command, {word}, {where} | FAILED "
                      "(see below) | < 1.5× one | n/a |")
                    continue
                if not m.get("supported"):
                    w(f"| 4{tag} | 8 environments in one command, {word}, {where} | not "
                      "supported yet | < 1.5× one | n/a |")
                    continue
                x8, x1 = med(m[kind + "8"]), med(m[kind + "1"])
                verdict = ok(x8 / x1 < 1.5)
                if m is many and x8 / x1 >= 1.5:
                    verdict += ", explained: " + cpu_floor(m, kind)
                w(f"| 4{tag} | 8 environments in one command, {word}, {where} | {fmt_s(x8)} vs "
                  f"one {fmt_s(x1)} = **{x8 / x1:.2f}×** | < 1.5× | {verdict} |")
        if many is None and many_lat is None:
            w("| 4 | many environments | not measured (see below) | < 1.5× one | n/a |")
        w("")

        if cold and "validate" in cold:
            w("## 1. Cold build")
            w("")
            w(f"Three fresh `git clone -q`s of HEAD ({cold.get('commit', '')[:12]}) into a "
              "temporary directory (so `target/` is empty), each with `environments/local.toml`'s "
              "endpoint and dev server moved to free ports (the first: "
              f"{cold.get('port')}), each timed from its first command: `deploy local` alone; "
              "the whole guide as the README gives it; `validate` alone.")
            w("")
            w("| step | time |")
            w("|---|---|")
            if "deploy" in cold:
                built = (f"; cargo finished `tsw` at {fmt_s(cold['built_tsw'])}"
                         if "built_tsw" in cold else "")
                w("| clone 1: `cargo xtask deploy local` (cargo compiles `tsw` in the `tool` "
                  "profile, then it creates the moto virtualenv in the clone's "
                  f"`target/xtask/sandbox/`, pip-installs the pins, starts moto and deploys{built})"
                  f" | {fmt_s(cold['deploy'])} |")
            for n, (label, elapsed) in enumerate(cold.get("smoke_steps", [])):
                w(f"| clone 2: {'then ' if n else ''}`{label[len('cargo xtask '):]}`"
                  + (" (compiles `tsw`, then installs and starts the sandbox)" if n == 0 else "")
                  + f" | {fmt_s(elapsed)} |")
            if "smoke_total" in cold:
                w(f"| clone 2 to a completed smoke workflow, all three steps | "
                  f"{fmt_s(cold['smoke_total'])} |")
            if "validate" in cold:
                w(f"| clone 3: `cargo xtask validate` (compiles `tsw`: `tool` profile, "
                  f"{i.get('nproc')} cores) | {fmt_s(cold['validate'])} |")
            w("")
            if cold.get("smoke_said"):
                w(f"`smoke local` said: `{cold['smoke_said'][0].strip()}`")
                w("")
            lb, la = cold.get("load_before"), cold.get("load_after")
            if lb and la:
                # The build itself raises the load average; only a load before it above one
                # core's worth says that something else was running.
                busy = lb[0] > 1.5
                shared = "other work shared the CPU" if busy else "nothing else was running"
                w(f"Load average (1 min) {lb[0]:.2f} before and {la[0]:.2f} after the cold build "
                  f"on {i.get('nproc')} cores ({shared}; the build itself raises it). A single "
                  "cold build is one sample, so expect several percent between runs.")
                w("")
            if cold.get("timeline"):
                w("What `cargo xtask deploy local` printed, with the time since it started "
                  "(stdout and stderr; indented detail lines left out):")
                w("")
                w("```")
                shown = [(t, l) for t, l in cold["timeline"] if not l.startswith((" ", "\t"))]
                for t, l in shown[:20]:
                    w(f"+{t:6.1f} s  {l[:110]}")
                w(f"+{cold['deploy']:6.1f} s  (exit 0)")
                w("```")
            w("")
            w("The crates were already in `~/.cargo` (an untimed `cargo fetch` ran first), so "
              "these numbers **exclude crate download time**. pip, on the other hand, runs for "
              "real inside `deploy local`"
              + (", but its cache (`~/.cache/pip`) was warm from earlier installs on this "
                 "machine, so Python package downloads are mostly excluded too"
                 if cold.get("pip_cache") else
                 " and pip's cache was empty, so the download of the Python packages (moto, "
                 "the Temporal CLI, ...) from the package registry **is included**")
              + ". `cargo xtask sandbox down` stopped the clone's moto afterwards.")
            w("")

        if noop and noop.get("cli"):
            w("## 2. No-op deploy")
            w("")
            w(f"One stack, deployed once, then {len(noop['tool'])} rounds of the three commands "
              "below, interleaved (one warm-up of the wrapper and of the CLI first, untimed). "
              "The scratch checkout (`--root DIR`) has a copy of `templates/` and an "
              "`environments/bench.toml` pointing at the script's moto.")
            w("")
            w("| command | median | min – max | AWS requests per run | client CPU | moto CPU |")
            w("|---|---|---|---|---|---|")
            for name, key in (("`target/debug/tsw --root DIR deploy bench`", "tool"),
                              ("`cargo xtask --root DIR deploy bench` (the wrapper)", "wrapper"),
                              ("`aws cloudformation deploy --no-fail-on-empty-changeset ...`",
                               "cli")):
                d = noop.get(key)
                if not d:
                    continue
                w(f"| {name} | {fmt_s(med(d))} | {spread(d)} | {reqs(d)} | "
                  f"{cpu(d, 'client_cpu')} | {cpu(d, 'moto_cpu')} |")
            w("")
            w("Client CPU is the user + system time of the measured processes (and their "
              "children), moto CPU that of the emulator during the run (10 ms resolution).")
            w("")
            over = med(noop["wrapper"]) - med(noop["tool"])
            if over >= 0:
                w(f"- The `cargo xtask` wrapper adds **{fmt_s(over)}**: cargo checking that the "
                  "binary (`target/tool/tsw`, the `tool` profile) is fresh. A max far above the "
                  "median means someone changed the source mid-run and the wrapper recompiled.")
            else:
                w(f"- The `cargo xtask` wrapper was **{fmt_s(-over)} faster** than the binary: "
                  "it runs `target/tool/tsw`, the `tool` profile (no debug assertions or "
                  "overflow checks), which saves more than cargo's freshness check costs.")
            w(f"- Ratio binary / aws CLI: **{med(noop['tool']) / med(noop['cli']):.3f}**; "
              f"wrapper / aws CLI: {med(noop['wrapper']) / med(noop['cli']):.3f}. The binary is "
              "the unoptimised dev build.")
            w(f"- The tool said: `{noop.get('tool_said', '')}`. It asks STS who the caller is "
              "(GetCallerIdentity: credentials of another account are refused), reads the stack "
              "(DescribeStacks, GetTemplate) and then its role (GetRole, ListRolePolicies, "
              "GetRolePolicy and ListAttachedRolePolicies, at once), to put back a role changed "
              "outside CloudFormation; `aws cloudformation deploy` creates a change set, waits "
              "for it, finds it empty and (on moto) leaves it behind FAILED, as on AWS.")
            w("")

        if noop_lat and noop_lat.get("cli"):
            if not (noop and noop.get("cli")):
                w("## 2. No-op deploy")
                w("")
            t, c = med(noop_lat["tool"]), med(noop_lat["cli"])
            w(f"### Against moto with {lat} of latency per request (for context)")
            w("")
            w(f"A second moto, started with the launcher's `--latency-ms {LATENCY_MS}`, answers "
              f"every request {lat} later (about what one CloudFormation API call takes from "
              "outside AWS; the wait sleeps without the GIL). One more stack there, deployed "
              f"once, then {len(noop_lat['tool'])} interleaved rounds of the binary and the CLI "
              "(one untimed warm-up of the CLI first):")
            w("")
            w(f"| command | median | min – max | AWS requests per run | client CPU | moto CPU | "
              f"median − round trips × {lat} |")
            w("|---|---|---|---|---|---|---|")
            trips = {"tool": TOOL_NOOP_ROUND_TRIPS,
                     "cli": median([x["requests"] for x in noop_lat["cli"]])}
            for name, key in (("`target/debug/tsw --root DIR deploy bench`", "tool"),
                              ("`aws cloudformation deploy --no-fail-on-empty-changeset ...`",
                               "cli")):
                d = noop_lat[key]
                rest = med(d) - trips[key] * LATENCY_MS / 1000
                w(f"| {name} | {fmt_s(med(d))} | {spread(d)} | {reqs(d)} | "
                  f"{cpu(d, 'client_cpu')} | {cpu(d, 'moto_cpu')} | {fmt_s(rest)} |")
            w("")
            tr = median([x["requests"] for x in noop_lat["tool"]])
            cr = median([x["requests"] for x in noop_lat["cli"]])
            w(f"- Ratio binary / aws CLI: **{t / c:.3f}**"
              + (f" (on plain moto {med(noop['tool']) / med(noop['cli']):.3f})"
                 if noop and noop.get("cli") else "")
              + f". Here the round trips matter: {tr:g} requests in {TOOL_NOOP_ROUND_TRIPS} round "
              f"trips for the tool (the role's reads go out together), {cr:g} one after the other "
              f"for the CLI, each at least {lat}. The last column is what is left besides that "
              "waiting: mostly each client's own start-up and CPU (the CLI's is Python and "
              "botocore), which latency does not change. As latency grows the ratio tends to "
              f"{TOOL_NOOP_ROUND_TRIPS}/{cr:g} = {TOOL_NOOP_ROUND_TRIPS / cr:.2f}; on plain moto "
              "it is the start-up that counts.")
            cd = i.get("cli_deploy_changeset_delay")
            w("- moto computes a change set during CreateChangeSet, so the CLI's change-set "
              f"waiter{f' (polling every {cd} s)' if cd else ''} is satisfied at its first "
              "poll; on AWS a change set takes a moment to compute and the CLI may wait one "
              "interval more. That is not modelled here, nor are throttling and the latency's "
              "variance.")
            w("")

        if res.get("create") and res["create"].get("tool"):
            cr, up = res["create"], res.get("update", {})
            w("## 3. Create and update")
            w("")
            w("Create uses a new stack name every iteration; update flips the stack's one "
              "Lambda ARN between two values (a real change of the policy resource) on one "
              "stack per command.")
            w("")
            w("| operation | command | median | min – max | requests | client CPU | moto CPU | "
              "ratio to the tool |")
            w("|---|---|---|---|---|---|---|---|")
            for label, d in (("create", cr), ("update", up)):
                if not d.get("tool"):
                    continue
                t = med(d["tool"])
                rows = [("`tsw deploy`", d["tool"]),
                        (f"`aws cloudformation {label}-stack` + `wait stack-{label}-complete`",
                         d.get("cli", [])),
                        ("`aws cloudformation deploy`", d.get("cli_deploy", []))]
                for name, samples in rows:
                    if samples:
                        w(f"| {label} | {name} | {fmt_s(med(samples))} | {spread(samples)} | "
                          f"{reqs(samples)} | {cpu(samples, 'client_cpu')} | "
                          f"{cpu(samples, 'moto_cpu')} | {med(samples) / t:.2f}× |")
            w("")
            if notice:
                w("### Noticing a settled stack")
                w("")
                w("moto creates and updates resources synchronously: when CreateStack, "
                  "UpdateStack or ExecuteChangeSet returns, the stack is already *_COMPLETE. So "
                  "the time a command takes after that reply is exactly its delay in noticing "
                  "a settled stack (plus its own exit). A recording proxy in front of moto "
                  "timed the replies:")
                w("")
                w("| command | settled after | median, settled → exit | worst | requests "
                  "after it | whole command through the proxy |")
                w("|---|---|---|---|---|---|")
                for label, v in notice.items():
                    after = ", ".join(v["after"]) or "none"
                    settle = v["settles_with"]
                    w(f"| {label} | {settle} | {fmt_s(median(v['gaps']))} | "
                      f"{fmt_s(max(v['gaps']))} | {after} | {fmt_s(median(v['total']))} |")
                w("")
                seq = next((v["sequence"] for k, v in notice.items() if "create" in k
                            and k.startswith("tool")), [])
                if seq:
                    w(f"The tool's requests for a create: {', '.join(seq)}.")
                    w("")
                cd = i.get("cli_wait_delay")
                bo = i.get("backoff")
                w("**On real AWS this differs.** Stacks do not settle during the API call. "
                  f"`aws cloudformation wait stack-create-complete` polls every {cd} s "
                  f"(botocore's waiter), `update` every {i.get('cli_wait_update_delay')} s, "
                  "and `aws cloudformation deploy` polls its change set every "
                  f"{i.get('cli_deploy_changeset_delay')} s and the execution every "
                  f"{i.get('cli_deploy_execute_delay')} s: on AWS the CLI notices a settled "
                  f"stack up to {cd} s late (about {cd / 2 if cd else '?'} s on average). On "
                  "moto all of these return at their first poll, which is why the CLI looks "
                  "fast here and why these ratios understate the difference on AWS.")
                if bo:
                    first, most, mul = bo
                    cum, step, k = 0.0, first, 0
                    while step < 1.0:
                        cum += step
                        step *= mul
                        k += 1
                    cum5, step5 = 0.0, first
                    while step5 < most:
                        cum5 += step5
                        step5 *= mul
                    w(f"The tool polls stack events after {first * 1000:.0f} ms, then ×{mul} "
                      f"per poll up to {most:.0f} s (`Backoff` in "
                      "`crates/aws/src/stack.rs`): its interval stays under 1 s only "
                      f"for the first {cum:.1f} s of waiting ({k} polls), and is {most:.0f} s "
                      f"after about {cum5:.0f} s. "
                      + (f"So on AWS, where an IAM role stack takes tens of seconds, the tool "
                         f"notices the settled stack at most {most:g} s (one interval, plus one "
                         "request) after it settles: within about a second by construction, at the "
                         "cost of about one DescribeStackEvents per second while it waits."
                         if most <= 1 else
                         f"So on AWS, where an IAM role stack takes tens of seconds, the tool "
                         f"notices the settled stack up to {most:g} s late, not within a "
                         "second; measured here it is within a second only because moto "
                         "settles synchronously."))
                w("")

        def many_table(m: dict) -> None:
            w("| | command | median | min – max | requests | client CPU | moto CPU | "
              "ratio to one |")
            w("|---|---|---|---|---|---|---|---|")
            rows = []
            if m.get("supported"):
                rows += [("create", "`tsw deploy e1 … e8 --yes` (one command)", "create8"),
                         ("no-op", "`tsw deploy e1 … e8 --yes` (one command)", "noop8")]
            rows += [("create", "`tsw deploy e1 --yes` (one environment)", "create1"),
                     ("no-op", "`tsw deploy e1 --yes` (one environment)", "noop1"),
                     ("create", "8 × `tsw deploy eK --yes`, concurrent processes", "create8p"),
                     ("no-op", "8 × `tsw deploy eK --yes`, concurrent processes", "noop8p"),
                     ("create", "8 × `tsw deploy eK --yes`, one after the other", "create8s"),
                     ("no-op", "8 × `tsw deploy eK --yes`, one after the other", "noop8s")]
            for kind, name, key in rows:
                samples = m.get(key, [])
                base = m.get("create1" if kind == "create" else "noop1")
                if samples and base:
                    w(f"| {kind} | {name} | {fmt_s(med(samples))} | {spread(samples)} | "
                      f"{reqs(samples)} | {cpu(samples, 'client_cpu')} | "
                      f"{cpu(samples, 'moto_cpu')} | {med(samples) / med(base):.2f}× |")
            if not m.get("supported"):
                w(f"| | one command with 8 names | not supported yet "
                  f"(`{m.get('rejected', '')}`) | | | | | |")
            w("")

        if (many and many.get("create1")) or (many_lat and many_lat.get("create1")):
            w("## 4. Many environments")
            w("")
            n_it = max(len((m or {}).get("create1") or []) for m in (many, many_lat))
            w(f"8 descriptors `e1` … `e8` with different stack names, {n_it} iteration(s), fresh "
              "stacks for every create. The same rows twice: against plain moto, then against "
              f"a second moto that answers every request {lat} late, the measurement that "
              "models AWS for target 4.")
            w("")
        if many and many.get("create1"):
            w("### Plain moto")
            w("")
            many_table(many)
            w("moto serves requests on threads in one Python process: with the GIL it uses at "
              "most one core, so 8 stacks created in parallel are largely serialised on the "
              f"emulator's side, and on this {cores}-core machine the clients compete with it "
              "for the CPU. Every request here is CPU work and nothing else (moto answers in "
              "about a millisecond), so this measures the tool's parallelism against a "
              "CPU-bound, single-threaded emulator, not against AWS, where each stack's time is "
              "spent waiting on CloudFormation and the network, and parallel deploys overlap "
              "those waits.")
            w("")
            if many.get("create8") and many.get("create8s"):
                c8, s8 = many["create8"], many["create8s"]
                mc = median([x["moto_cpu"] for x in c8])
                w(f"- Creating 8 in one command took {fmt_s(med(c8))}, of which moto was busy "
                  f"on the CPU for {fmt_s(mc)} ({mc / med(c8):.0%}); the same 8 one after the "
                  f"other took {fmt_s(med(s8))} (parallel speed-up "
                  f"{med(s8) / med(c8):.2f}×), 8 concurrent processes "
                  f"{fmt_s(med(many['create8p']))}.")
                w(f"- Creating, against 1.5 × one = {fmt_s(1.5 * med(many['create1']))}: "
                  f"{cpu_floor(many, 'create')}.")
                if many.get("noop8"):
                    w(f"- No-op, against 1.5 × one = {fmt_s(1.5 * med(many['noop1']))}: "
                      f"{cpu_floor(many, 'noop')}.")
                w("")
        if many_lat and many_lat.get("create1"):
            w(f"### moto answering every request {lat} late (models AWS)")
            w("")
            w(f"The launcher's `--latency-ms {LATENCY_MS}`: every request is answered {lat} "
              "later, and the wait sleeps without the GIL, so concurrent requests overlap, "
              "as they do on AWS. It is a simple model of API latency: stacks still settle "
              "during ExecuteChangeSet (on AWS an IAM role stack takes tens of seconds, a wait "
              "that parallel deploys overlap too), and there is no throttling and no variance.")
            w("")
            many_table(many_lat)
            c1 = many_lat["create1"]
            r1 = median([x["requests"] for x in c1])
            trips = r1 - TOOL_ROLE_READS_AT_ONCE
            parts = [f"One create makes {r1:g} requests in {trips:g} round trips (the role's "
                     f"reads go out together), at least {fmt_s(trips * LATENCY_MS / 1000)} of "
                     f"waiting, and took {fmt_s(med(c1))}"]
            if many_lat.get("create8"):
                c8 = many_lat["create8"]
                parts.append(f"8 in one command took {fmt_s(med(c8))} "
                             f"(**{med(c8) / med(c1):.2f}×** one, target < 1.5×: "
                             f"{ok(med(c8) / med(c1) < 1.5)}), with "
                             f"{fmt_s(median([x['moto_cpu'] for x in c8]))} of moto CPU")
            if many_lat.get("create8s"):
                s8 = many_lat["create8s"]
                parts.append(f"one after the other {fmt_s(med(s8))} "
                             f"({med(s8) / med(c1):.2f}× one)")
            if many_lat.get("create8p"):
                parts.append(f"8 concurrent processes {fmt_s(med(many_lat['create8p']))}")
            w("- " + "; ".join(parts) + ".")
            if many_lat.get("noop8"):
                n1, n8 = many_lat["noop1"], many_lat["noop8"]
                w(f"- No-op: one took {fmt_s(med(n1))} ({reqs(n1)} requests), 8 in one "
                  f"command {fmt_s(med(n8))} (**{med(n8) / med(n1):.2f}×**, target < 1.5×: "
                  f"{ok(med(n8) / med(n1) < 1.5)}), one after the other "
                  f"{fmt_s(med(many_lat['noop8s']))}.")
            w("")
        elif "many_lat" in res and many and many.get("create1"):
            w(f"### moto answering every request {lat} late (models AWS)")
            w("")
            w("Not measured: the section failed (see Failures).")
            w("")

        merge = res.get("merge")
        if merge and merge.get("sizes"):
            limit = merge["limit"]

            def merge_cell(samples: list[dict]) -> str:
                done = [x for x in samples if x["ok"]]
                if not samples:
                    return "not run"
                if not done:
                    return f"did not finish in {limit:.0f} s"
                return fmt_s(med(done)) + (f" ({len(done)} of {len(samples)} finished)"
                                           if len(done) < len(samples) else "")

            def before_cell(op: str, n: int) -> str:
                if n not in MERGE_BEFORE[op]:
                    return "not measured"
                t = MERGE_BEFORE[op][n]
                return fmt_s(t) if t is not None else \
                    f"did not finish in {MERGE_BEFORE['limit_s']} s"

            w("## 5. Merging into a large server file")
            w("")
            w("`tsw --root DIR render merge`, whose descriptor points `temporal.dynamic_config_file` "
              "at a server file of N keys set by hand (`history.benchKeyNNNNNNN:` with one "
              "`- value:` each); no emulator involved. *add*: the file has no managed block "
              "yet; *replace*: a changed descriptor replaces the block; *no-op*: nothing to "
              f"change. Median of {self.n_merge} run(s) each, killed after {limit:.0f} s; "
              f"measured on commit {str(merge.get('commit'))[:7]}"
              f"{' (section rerun alone with `--only merge`)' if self.args.only else ''}.")
            w("")
            w("| keys | file size | add | replace | no-op | before: add | before: replace | "
              "before: no-op |")
            w("|---|---|---|---|---|---|---|---|")
            for n, rows in sorted(merge["sizes"].items()):
                w(f"| {n:,} | {rows['bytes'] / 1e6:.1f} MB | {merge_cell(rows['insert'])} | "
                  f"{merge_cell(rows['replace'])} | {merge_cell(rows['noop'])} | "
                  f"{before_cell('insert', n)} | {before_cell('replace', n)} | "
                  f"{before_cell('noop', n)} |")
            w("")
            w(f"*before* is the text-marker merge of commit {MERGE_BEFORE['commit']}, measured "
              "with this script on the same machine (`MERGE_BEFORE` in `benches/run.py`): it "
              "compared every key with every key seen before it (Temporal matches keys without "
              "case), quadratic in the number of keys. The format-preserving editor reads the file "
              "in one pass, parses it once before and once after the edit to prove that nothing "
              "but the tool's keys changed, and checks duplicate keys with a hash set; the "
              "ratio of the 90k to the 50k row is the one to watch (1.8 for linear); 400k keys, "
              "17 MB, measured before the 4 MiB cap on every file the tool reads, is refused "
              "unread now (section 6).")
            w("")
        elif "merge" in res:
            w("## 5. Merging into a large server file")
            w("")
            w("Not measured: the section failed (see Failures).")
            w("")

        hostile = res.get("hostile")
        if hostile and hostile.get("rows"):
            def mib(kib: float) -> str:
                return f"{kib / 1024:.0f} MiB"

            def size(n: int) -> str:
                return f"{n:,} bytes"

            def excerpt(line: str) -> str:
                line = line.strip()
                line = line if len(line) <= 160 else line[:157] + "..."
                return "`" + line.replace("`", "'").replace("|", "\\|") + "`"

            w("## 6. Hostile files")
            w("")
            w("The files of issue 18 (\"Scale of hostile files\"), in a scratch checkout with one "
              "descriptor whose `temporal.dynamic_config_file` names the generated server file "
              "(`tsw --root DIR render --check hostile`; unique hand-set keys "
              "`history.benchKeyNNNNNNNN:` with one `- value:` each, or one key holding "
              "`[{a: ` nested to 200 KB), and `tsw --root DIR validate huge` on a descriptor "
              "whose `role.stack_name` is 3 MiB of `A`; no emulator involved. The file under the "
              "cap has the tool's block rendered in first, so the check passes after doing all "
              "its work. Binary: the private copy of `target/debug/tsw` (set-up above). Wall "
              "time, and max RSS and CPU (user + sys) of the process itself (`wait4`); output: "
              f"bytes of stdout and stderr together. Median of {self.n_hostile} run(s) each; "
              f"measured on commit {str(hostile.get('commit'))[:7]}"
              f"{' (section rerun alone with `--only hostile`)' if self.args.only else ''}.")
            w("")
            w("| case | file | exit | wall | min – max | max RSS | CPU | output | what it said | "
              "before (issue 18 and by hand; not rerunnable) |")
            w("|---|---|---|---|---|---|---|---|---|---|")
            for row in hostile["rows"]:
                runs = row["runs"]
                rcs = sorted({x["rc"] for x in runs})
                w(f"| {row['what']} | {size(row['bytes'])} | {', '.join(map(str, rcs))} | "
                  f"**{fmt_s(med(runs))}** | {spread(runs)} | "
                  f"**{mib(median([x['maxrss_kib'] for x in runs]))}** | "
                  f"{fmt_s(median([x['cpu'] for x in runs]))} | "
                  f"{int(median([x['out_bytes'] for x in runs])):,} B | "
                  f"{excerpt(row['said']) if row['said'] else ''} | "
                  f"{HOSTILE_BEFORE.get(row['key']) or 'n/a'} |")
            w("")
            w(f"The tool refuses a file over {MAX_FILE_BYTES // (1024 * 1024)} MiB "
              "(`env_descriptor::MAX_FILE_BYTES`) from its size, before reading it, and YAML "
              "nested deeper than 64 levels in one linear pass before any parser "
              "(`yaml_edit::check_depth`): both hostile files now cost about a process start "
              "where they took minutes and gigabytes, the file just under the cap bounds what "
              "any accepted file can cost, and a huge value is quoted as a bounded excerpt, so "
              "the output stays small. The *before* column is quoted from the issue (its "
              "reporter's machine and files) and from one hand measurement by another engineer; "
              "this script cannot rerun it (`HOSTILE_BEFORE` in `benches/run.py`).")
            w("")
        elif "hostile" in res:
            w("## 6. Hostile files")
            w("")
            w("Not measured: the section failed (see Failures).")
            w("")

        if self.failures:
            w("## Failures")
            w("")
            for f in self.failures:
                w("```")
                w(f.strip())
                w("```")
            w("")

        w("## How to rerun")
        w("")
        w("```sh")
        w("python3 benches/run.py           # everything (a few minutes on 2 cores, mostly the "
          "cold build)")
        w("python3 benches/run.py --quick   # 2-3 iterations per row, no cold build (~1 min)")
        w("python3 benches/run.py --only merge  # one section (cold, noop, create, many, merge, "
          "hostile); the others are kept")
        w("cargo build -p tsw && python3 benches/many.py  # 200 environments (its own section, "
          "kept by run.py)")
        w("cargo build -p tsw && python3 benches/stackset.py  # a StackSet over 50 accounts "
          "(writes its own section, kept by run.py)")
        w("```")
        w("")
        w("The script builds `target/debug/tsw` (`cargo build -p tsw`), installs "
          f"`awscli=={AWSCLI_VERSION}` into `target/bench/awscli-{AWSCLI_VERSION}/` (once), "
          "uses the sandbox's moto virtualenv `target/xtask/sandbox/venv/` (or builds one "
          "under `target/bench/`), starts its own two motos (plain, and with "
          f"`--latency-ms {LATENCY_MS}`) on free ports on 127.0.0.1, works in a "
          "temporary `--root` directory and rewrites this file. It stops what it started and "
          "removes its temporary directories, also on failure; it exits non-zero only when a "
          "command it measured failed, never because a target was missed. "
          "`--iterations N` overrides the iteration counts; `--skip-cold` skips the cold build; "
          "`--only SECTION` (repeatable) measures those sections and replaces only them in "
          "this file.")
        w("")
        text = "\n".join(L)
        if self.args.only and path.exists():
            text = splice_sections(path.read_text(), text, self.args.only)
        elif path.exists():
            text = keep_foreign_sections(path.read_text(), text)
        path.write_text(text)
        log(f"wrote {path}")


SECTION_HEADINGS = {"cold": "## 1.", "noop": "## 2.", "create": "## 3.", "many": "## 4.",
                    "merge": "## 5.", "hostile": "## 6."}


def sections_of(text: str) -> list[tuple[str, str]]:
    """`text` cut before each `## ` heading: (heading line, whole section) in order."""
    parts: list[tuple[str, str]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("## ") or not parts:
            parts.append((line.strip(), ""))
        parts[-1] = (parts[-1][0], parts[-1][1] + line)
    return parts


def keep_foreign_sections(old: str, new: str) -> str:
    """`new` with the sections of `old` that this script does not write (e.g. the one of
    `benches/many.py`) kept, before `## How to rerun`."""
    ours = ("## Machine and versions", "## Results against the targets", "## Failures",
            "## How to rerun")
    foreign = [(h, t if t.endswith("\n\n") else t + "\n") for h, t in sections_of(old)
               if h.startswith("## ") and not h.startswith(ours) and not h[3:4].isdigit()]
    parts = sections_of(new)
    at = next((i for i, (h, _) in enumerate(parts) if h.startswith("## How to rerun")),
              len(parts))
    return "".join(t for _, t in parts[:at] + foreign + parts[at:])


def splice_sections(old: str, new: str, only: list[str]) -> str:
    """`old` with the sections named in `only` taken from `new` (and `## How to rerun`, and
    `## Failures` when the rerun had any): a rerun of some sections keeps the others' numbers.
    A section `old` lacks goes before the next numbered one, or `## How to rerun`."""
    prefixes = [SECTION_HEADINGS[o] for o in only] + ["## How to rerun"]
    if "\n## Failures" in new:
        prefixes.append("## Failures")
    fresh = [(h, t) for h, t in sections_of(new) if any(h.startswith(p) for p in prefixes)]
    kept = [(h, t) for h, t in sections_of(old) if not any(h.startswith(p) for p in prefixes)]
    tail_at = next((i for i, (h, _) in enumerate(kept) if h.startswith("## How to rerun")),
                   len(kept))
    for heading, section in fresh:
        at = next((i for i, (h, _) in enumerate(kept) if h > heading and h.startswith("## ")
                   and h[3:4].isdigit()), tail_at)
        at = min(at, tail_at)
        last = heading.startswith("## How to rerun")
        kept.insert(at, (heading, section if last or section.endswith("\n\n") else section + "\n"))
        tail_at += 1
    return "".join(t for _, t in kept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer iterations, and no cold build")
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold build")
    parser.add_argument("--iterations", type=int, default=0,
                        help="iterations of every measurement (default: by mode)")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="measure only this section (repeatable); the other sections of "
                             "the output file are kept")
    parser.add_argument("--merge-timeout", type=float, default=60,
                        help="seconds before a run of section 5 is stopped (default 60)")
    args = parser.parse_args()
    # Every process, including the informational ones (git, rustc -V, ...), inherits dummy
    # credentials and a loopback endpoint; the measured ones get their own endpoint on top.
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    os.environ.update(AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL="http://127.0.0.1:9")

    with contextlib.ExitStack() as stack:
        bench = Bench(args, stack)

        def on_term(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, on_term)
        bench.machine()
        try:
            only = set(args.only or SECTIONS)
            if "cold" in only and not (args.quick or args.skip_cold):
                bench.section("1. cold build", bench.cold_build)
            aws = bool(only & {"noop", "create", "many"})
            setup_ok = True
            try:
                log("=== set-up")
                if only - {"cold"}:
                    bench.build_tool()
                    bench.scratch_root()
                if aws:
                    bench.awscli()
                    bench.start_moto()
            except CommandFailed as e:
                bench.failures.append(f"set-up: {e}")
                log(f"FAILED: set-up: {e}")
                setup_ok = False
            if setup_ok:
                if "noop" in only:
                    bench.section("2. no-op deploy", bench.noop)
                    bench.section("2. no-op deploy, latency model", bench.noop_latency)
                if "create" in only:
                    bench.section("3. create and update", bench.create_update)
                    bench.section("3. noticing a settled stack", bench.notice)
                if "many" in only:
                    bench.section("4. many environments", bench.many)
                    bench.section("4. many environments, latency model", bench.many_latency)
                if "merge" in only:
                    bench.section("5. merging into a large server file", bench.merge)
                if "hostile" in only:
                    bench.section("6. hostile files", bench.hostile)
        finally:
            bench.write_report(args.output)
        if bench.failures:
            log(f"{len(bench.failures)} failure(s); see {args.output}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
