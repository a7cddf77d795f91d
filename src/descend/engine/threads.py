"""The threads compiled kernels run on: one pool for the process, and how many
cores it may use. Kernels release the GIL, so Python threads run them in
parallel; each caller sums its parts in a fixed order."""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import ThreadpoolController

_POOL = None
#: (modules loaded when it was made, the controller): finding the loaded BLAS
#: libraries takes ~17 ms, paid once per fit before; a new library comes with
#: a new import, so the controller is made again when more modules are loaded.
_BLAS = (0, None)


def pool(n_threads):
    """The process's thread pool, grown to at least ``n_threads`` workers."""
    global _POOL
    if _POOL is None or _POOL._max_workers < n_threads:
        _POOL = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="descend")
    return _POOL


def default_threads():
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def one_blas_thread():
    """A context in which BLAS runs on one core (threadpoolctl's limit):
    our threads split the rows, and a multi-threaded BLAS could add its
    partial sums in an order that depends on the load."""
    global _BLAS
    loaded, controller = _BLAS
    if controller is None or len(sys.modules) != loaded:
        _BLAS = loaded, controller = len(sys.modules), ThreadpoolController()
    return controller.limit(limits=1, user_api="blas")
