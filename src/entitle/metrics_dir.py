"""The Prometheus multiprocess directory ``entitle serve`` owns (kept free of prometheus_client imports)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def owned_multiproc_dir() -> Iterator[str | None]:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` to a fresh temp dir for this serve (and its workers), removed after.

    An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is used as it is and never removed. With
    ``ENTITLE_METRICS=false`` nothing is set up.
    """
    if os.environ.get("ENTITLE_METRICS", "true").strip().lower() in {"false", "0", "no", "off"}:
        yield None
        return
    if os.environ.get(MULTIPROC_ENV):
        yield os.environ[MULTIPROC_ENV]
        return
    path = tempfile.mkdtemp(prefix="entitle-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)
