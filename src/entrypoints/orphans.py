"""A server process outlives no supervisor: when granian's main process dies (even by
kill -9, which it cannot pass on), its server processes stop too."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

log = logging.getLogger("jobcloud.server")

GRACE_S = 10.0  # after SIGTERM, how long a graceful stop may take before the process exits


def exit_with_parent(interval: float = 0.5) -> None:
    """Watch the parent from a daemon thread; when it is gone (we were re-parented), stop
    this process: SIGTERM (a graceful stop), then exit for good after GRACE_S."""
    parent = os.getppid()
    if parent == 1:
        return  # started by init itself (a container's PID 1 runs `serve`): nothing to watch

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        log.warning(
            "the server's main process %d is gone: stopping process %d", parent, os.getpid()
        )
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE_S)
        os._exit(1)

    threading.Thread(target=watch, name="jobcloud-parent-watch", daemon=True).start()
