"""The threads compiled kernels run on: one pool for the process, and how many
cores it may use. Kernels release the GIL, so Python threads run them in
parallel; each caller sums its parts in a fixed order."""
import os
from concurrent.futures import ThreadPoolExecutor

_POOL = None


def pool(n_threads):
    """The process's thread pool, grown to at least ``n_threads`` workers."""
    global _POOL
    if _POOL is None or _POOL._max_workers < n_threads:
        _POOL = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="descend")
    return _POOL


def default_threads():
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
