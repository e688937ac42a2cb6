"""Reading a fail's reason in the fault tests."""

from __future__ import annotations

import re

_SEVERAL = re.compile(r"^\d+ checks failed: ")


def first_failure(reason: str) -> str:
    """The reason from its first failed check on: a result that failed several checks says
    ``N checks failed: A: detail; B: detail`` (result.failed_reason), the first one first; a fault
    test asserts that the fault's own check is that first one."""
    return _SEVERAL.sub("", reason, count=1)
