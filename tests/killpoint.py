"""Run the command line and SIGKILL it at a chosen moment (tests/test_kill.py).

    python tests/killpoint.py MODULE:FUNCTION:N[:after] -- ARGS...

wraps ``FUNCTION`` of ``MODULE`` so that the process sends itself SIGKILL as it enters the
``N``-th call (with ``:after``: as that call returns), then runs ``eventstudy ARGS``. The
function still does what it did; only the moment of death is chosen, so a kill lands exactly
there instead of at a moment a timer happens to hit. SIGKILL runs no handler, no ``finally``,
no ``atexit``: what is left on disk is what a real kill leaves.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from functools import wraps
from typing import Any


def main() -> None:
    where, separator, *args = sys.argv[1:]
    if separator != "--":
        raise SystemExit(__doc__)
    module_name, name, count, *when = where.split(":")
    module = importlib.import_module(module_name)
    real = getattr(module, name)
    calls = 0

    @wraps(real)
    def dying(*a: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == int(count) and not when:
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*a, **kw)
        if calls == int(count) and when == ["after"]:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(module, name, dying)
    from eventstudy.cli import main as cli

    cli(args, prog_name="eventstudy")


if __name__ == "__main__":
    main()
