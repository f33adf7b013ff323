"""The guard of the process groups a test started (see tests/_processes.py), run as a script:
``python _process_guard.py STOP_TIMEOUT``, the group ids on its stdin, one a line.

At the end of its input (the test process gone, however) it stops every group: SIGTERM, then
SIGKILL to what is left after STOP_TIMEOUT seconds. A ``stopped`` line instead means the test
process stopped them itself. Only the standard library: it starts with them, in a second.
"""

from __future__ import annotations

import os
import signal
import sys
import time

# What the test process writes once it has stopped the groups itself.
STOPPED = "stopped"


def signal_group(group: int, signal_number: int) -> bool:
    """Send ``signal_number`` to process group ``group``; whether the group still existed."""
    try:
        os.killpg(group, signal_number)
    except ProcessLookupError:
        return False
    return True


def guard(stop_timeout: float) -> None:
    """Read process group ids from stdin until its end, then stop them; return at a ``stopped`` line.

    :param stop_timeout: how long the groups get to exit on SIGTERM before they are killed.
    """
    groups = []
    for line in sys.stdin:
        if line.strip() == STOPPED:
            return
        groups.append(int(line))
    for group in groups:
        signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + stop_timeout
    while time.monotonic() < deadline and any(signal_group(group, 0) for group in groups):
        time.sleep(0.5)
    for group in groups:
        signal_group(group, signal.SIGKILL)


if __name__ == "__main__":
    guard(float(sys.argv[1]))
