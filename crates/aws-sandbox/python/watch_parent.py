"""Runs a command until the process PARENT_PID is gone, then stops it: the Temporal dev server of
a test (`Owned::temporal`) ends with the test process, however that ends.

Usage: python watch_parent.py PARENT_PID PROGRAM ARGS...

SIGTERM stops the command too. Exits with the command's status, 0 when it was stopped."""

import os
import signal
import subprocess
import sys
import time


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> int:
    parent = int(sys.argv[1])
    child = subprocess.Popen(sys.argv[2:])

    def stop(*_: object) -> None:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while child.poll() is None:
        if not alive(parent):
            stop()
        time.sleep(0.5)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
