"""A handler's imports with the cyclic garbage collector paused, and what they built frozen afterwards.

A cold start allocates a few hundred thousand objects that live as long as the process (modules,
classes, functions, botocore's service models) and next to no garbage. The collector still runs on
every allocation burst, and once enough objects have been promoted it runs a full collection, which
traverses all of them: measured at 15-50 ms of a handler's init (the approval callback's, which also
loads Powertools' event handler, paid two). Pausing it while the handler imports loses nothing: a
cycle created and dropped by import code is left to the first collection after.

Afterwards, in Lambda (``LAMBDA_TASK_ROOT`` set: a fresh process per function), ``gc.freeze()`` moves
every object that exists into the permanent generation, so the collections that run during
invocations do not traverse the process's imports either. A frozen object is never collected; what an
import built is never garbage, and the few stray cycles of import code stay allocated, once per
process. Elsewhere (the local engine and the tests import many handlers into one long-lived process)
nothing is frozen: the collector just resumes.

This module is imported first by every handler, so it imports only the standard library.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the ``with`` block (a handler's imports) without cyclic collection; in Lambda, freeze what exists.

    The collector is re-enabled after, even when an import fails, unless it was already disabled
    before the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if os.environ.get("LAMBDA_TASK_ROOT"):
            gc.freeze()
        if was_enabled:
            gc.enable()
