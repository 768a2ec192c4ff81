"""Runs one Lambda invocation for the sandbox's emulator (moto_launcher.py), in a process of its
own, as AWS Lambda's Python runtime would: the handler imported from the function's code
directory (the working directory and first on sys.path), called with the event and a Lambda-like
context, its result or error written as JSON to the invocation's result file.

Usage: python lambda_bootstrap.py INVOCATION_DIR   (reads invocation.json, writes result.json)

As on AWS, the function's timeout does not include the init phase (the interpreter's start and
the import of the handler's module, which for temporalio takes seconds on a loaded machine), up
to INIT_LIMIT_S: the clock starts when init ends, or INIT_LIMIT_S after the process started if
init takes longer (AWS then counts the rest of init against the timeout too). The deadline that
follows is written, as one line of milliseconds since the epoch, to the pipe `ready_fd` the
emulator waits on, so that it kills the process at the very deadline the context reports.

The process leads its own process group; it kills that group when the emulator that started it
is gone, so nothing it started outlives the emulator. After the handler returns it ends with
os._exit, as Lambda does (no interpreter teardown: it crashed the Temporal worker once in five).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# AWS Lambda's limit on the init phase of an on-demand function, which its timeout excludes.
INIT_LIMIT_S = 10.0


class Context:
    """The attributes of AWS's LambdaContext that handlers (and temporalio's lambda_worker) use."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.aws_request_id: str = spec["request_id"]
        self.invoked_function_arn: str = spec["invoked_function_arn"]
        self.function_name: str = spec["function_name"]
        self.function_version: str = spec["function_version"]
        self.memory_limit_in_mb: int = int(spec["memory_limit_in_mb"])
        self.log_group_name: str = f"/aws/lambda/{self.function_name}"
        self.log_stream_name: str = spec["request_id"]
        self._deadline_ms: float = float(spec["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def watch_parent(parent: int) -> None:
    """Kill this process group once the emulator is gone (it may have been SIGKILLed)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.killpg(0, signal.SIGKILL)


def guard_network(launcher_dir: str) -> None:
    """Python-level traffic of the handler stays on loopback, as the emulator's own does."""
    sys.path.insert(0, launcher_dir)
    try:
        from moto_launcher import patch_network_guard
    finally:
        sys.path.remove(launcher_dir)
    patch_network_guard()


def error(error_type: str, message: str, trace: list[str] | None = None) -> dict[str, Any]:
    return {"error": {"errorMessage": message, "errorType": error_type, "stackTrace": trace or []}}


def load_handler(name: str) -> Any:
    module_name, _, function = name.rpartition(".")
    if not module_name or not function:
        raise LookupError(f"Bad handler '{name}': not enough values to unpack (expected 2, got 1)")
    module = importlib.import_module(module_name.replace("/", "."))
    handler = getattr(module, function, None)
    if handler is None:
        raise AttributeError(f"Handler '{function}' missing on module '{module_name}'")
    return handler


def init(spec: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """The init phase: the handler, or the invocation's outcome when it cannot be loaded."""
    try:
        return load_handler(spec["handler"]), None
    except (ImportError, SyntaxError) as exc:
        return None, error("Runtime.ImportModuleError", f"Unable to import module '{spec['handler'].rpartition('.')[0]}': {exc}")
    except (LookupError, AttributeError) as exc:
        return None, error("Runtime.HandlerNotFound", str(exc))
    except SystemExit as exc:
        return None, error("Runtime.ExitError", f"RequestId: {spec['request_id']} Error: Runtime exited with error: exit status {exc.code}")


def start_clock(spec: dict[str, Any]) -> float:
    """Ends the init phase: the invocation's deadline (ms since the epoch), also told to the
    emulator through `ready_fd`."""
    now_ms = time.time() * 1000
    clock_ms = min(now_ms, float(spec["started_ms"]) + INIT_LIMIT_S * 1000)
    deadline_ms = clock_ms + float(spec["timeout_s"]) * 1000
    with os.fdopen(int(spec["ready_fd"]), "w") as ready:
        ready.write(f"{deadline_ms}\n")
    return deadline_ms


def invoke(handler: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The invocation's outcome: {"result": ...} or {"error": {...}} in Lambda's error shape."""
    try:
        result = handler(spec["event"], Context(spec))
    except SystemExit as exc:
        return error("Runtime.ExitError", f"RequestId: {spec['request_id']} Error: Runtime exited with error: exit status {exc.code}")
    except Exception as exc:
        frames = traceback.format_tb(exc.__traceback__)
        traceback.print_exc()
        return error(type(exc).__name__, str(exc), [line.strip() for line in frames])
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return error("Runtime.MarshalError", f"Unable to marshal response: {exc}")
    return {"result": result}


def main() -> None:
    invocation = Path(sys.argv[1])
    spec = json.loads((invocation / "invocation.json").read_text())
    threading.Thread(target=watch_parent, args=(int(spec["parent_pid"]),), daemon=True).start()
    guard_network(spec["launcher_dir"])
    os.chdir(spec["code_dir"])
    sys.path.insert(0, spec["code_dir"])
    handler, failed = init(spec)
    spec["deadline_ms"] = start_clock(spec)
    outcome = failed or invoke(handler, spec)
    (invocation / "result.json.tmp").write_text(json.dumps(outcome))
    os.replace(invocation / "result.json.tmp", invocation / "result.json")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
