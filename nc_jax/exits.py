"""The exit-status policy of every nc-jax command (``nc-jax check``, ``sweep``, the experiment
scripts, ``python -m theorems.PAPER``), in one place:

- 0 (OK): every check holds or is vacuous;
- 1 (VIOLATED): a check is violated while its hypotheses hold (a finding: a bug or a
  counterexample), and nothing else ever exits 1;
- 2 (USAGE): bad usage or bad input; the message names the flag or argument and the fix;
- 3 (BUG): an unexpected error (a bug in nc-jax or a paper package; the traceback is printed);
- 130 (INTERRUPTED): stopped with Ctrl-C; finished results are kept.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable

OK, VIOLATED, USAGE, BUG, INTERRUPTED = 0, 1, 2, 3, 130
USAGE_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError)
EPILOG = (
    "Exit status: 0 every check holds or is vacuous, 1 a check is violated, 2 bad usage or "
    "input, 3 an unexpected error."
)


def status_of(verdicts: Iterable[str]) -> int:
    """VIOLATED if any verdict is "violated", else OK (vacuous never fails a run)."""
    return VIOLATED if any(verdict == "violated" for verdict in verdicts) else OK


def guarded(prog: str, action: Callable[[], int]) -> int:
    """``action()``'s status, with a usage error printed as ``PROG: error: ...`` (USAGE), an
    interrupt as INTERRUPTED and any other exception as a bug (traceback, BUG): a failure is
    never reported as a violated bound."""
    try:
        return action()
    except USAGE_ERRORS as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print(
            f"{prog}: interrupted; finished results are kept (a sweep resumes when the same "
            "command is run again)",
            file=sys.stderr,
        )
        return INTERRUPTED
    except Exception:
        traceback.print_exc()
        print(f"{prog}: internal error (exit {BUG}); please report it", file=sys.stderr)
        return BUG
