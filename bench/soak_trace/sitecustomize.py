"""Debug-only hook for ``bench/soak.py --trace DIR``: never imported by the service itself.

``soak.py --trace DIR`` puts this folder first on the server's ``PYTHONPATH`` and sets ``SOAK_TRACE_DIR``
and ``SOAK_TRACE_AT`` (seconds after the server process started, comma-separated). Python imports
``sitecustomize`` at start-up, so the server then runs with ``tracemalloc`` on (from ``SOAK_TRACE_START``
seconds, default 30, after start-up), and a daemon thread takes a
snapshot at each of those times: ``snap-<t>.tracemalloc`` (for ``tracemalloc.Snapshot.load``) and
``objects-<t>.txt`` (``gc.get_objects()`` counts by type, traced and RSS totals). From the second snapshot
on it also writes ``diff-<t0>-<t>.txt``: the allocations that grew most between the first snapshot and this
one, by line and by traceback.

``soak.py --gc-log DIR`` sets ``SOAK_GC_LOG`` instead: no tracing, just a line every 30 s with the RSS, the
garbage collector's counts and collections, and the number of objects in generation 2.
"""

from __future__ import annotations

import os

_DIR = os.environ.get("SOAK_TRACE_DIR")


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _run(directory: str, times: list[float], frames: int) -> None:
    import gc
    import time
    import tracemalloc
    from collections import Counter

    start = time.monotonic()
    # Tracing from the start would slow imports past the bench's readiness timeout; growth after
    # warm-up is what the diff is for, and a block allocated before tracing starts is not counted.
    time.sleep(float(os.environ.get("SOAK_TRACE_START", "30")))
    tracemalloc.start(frames)
    first: tuple[float, tracemalloc.Snapshot] | None = None
    filters = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        tracemalloc.Filter(False, "<unknown>"),
    ]
    for at in times:
        time.sleep(max(at - (time.monotonic() - start), 0.0))
        t = int(at)
        snap = tracemalloc.take_snapshot().filter_traces(filters)
        snap.dump(os.path.join(directory, f"snap-{t}.tracemalloc"))
        counts = Counter(type(o).__qualname__ + " (" + type(o).__module__ + ")" for o in gc.get_objects())
        current, peak = tracemalloc.get_traced_memory()
        with open(os.path.join(directory, f"objects-{t}.txt"), "w") as out:
            traced = f"traced={current / 2**20:.1f} MiB (peak {peak / 2**20:.1f})"
            out.write(f"t={t} s rss={_rss_mb():.1f} MiB {traced}\n")
            out.write(f"gc objects: {sum(counts.values())}\n")
            for name, n in counts.most_common(150):
                out.write(f"{n:9d}  {name}\n")
        if first is None:
            first = (at, snap)
            continue
        t0, base = first
        with open(os.path.join(directory, f"diff-{int(t0)}-{t}.txt"), "w") as out:
            for key in ("lineno", "filename"):
                stats = snap.compare_to(base, key)
                out.write(f"== by {key}: total {sum(s.size_diff for s in stats) / 2**20:+.2f} MiB\n")
                for stat in stats[:40]:
                    out.write(f"{stat}\n")
            out.write("\n== by traceback (top 15)\n")
            for stat in snap.compare_to(base, "traceback")[:15]:
                out.write(f"\n{stat.size_diff / 1024:+.1f} KiB, {stat.count_diff:+d} blocks\n")
                out.write("\n".join(stat.traceback.format(limit=frames)) + "\n")


def _gc_log(path: str, every_s: float) -> None:
    """One line per ``every_s``: RSS, the collector's counts, collections so far and gen-2 size."""
    import gc
    import time

    start = time.monotonic()
    with open(path, "a", buffering=1) as out:
        out.write("t_s rss_mib count0 count1 count2 collections(gen0,gen1,gen2) gen2_objects\n")
        while True:
            time.sleep(every_s)
            stats = [s["collections"] for s in gc.get_stats()]
            out.write(
                f"{time.monotonic() - start:.0f} {_rss_mb():.1f} {' '.join(map(str, gc.get_count()))} "
                f"{tuple(stats)} {len(gc.get_objects(2))}\n"
            )


_GC_LOG = os.environ.get("SOAK_GC_LOG")
if _GC_LOG:  # cheap: no tracing, one pass over generation 2 per line
    import threading

    threading.Thread(target=_gc_log, args=(_GC_LOG, 30.0), name="soak-gc-log", daemon=True).start()

if _DIR:
    import threading

    _FRAMES = int(os.environ.get("SOAK_TRACE_FRAMES", "12"))
    _TIMES = [float(x) for x in os.environ.get("SOAK_TRACE_AT", "600,1500").split(",")]
    threading.Thread(target=_run, args=(_DIR, _TIMES, _FRAMES), name="soak-trace", daemon=True).start()
