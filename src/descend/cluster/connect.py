"""``--dask local`` or ``--dask tcp://HOST:PORT``: the client a command computes with.

``local`` starts a LocalCluster on this machine's cores (one single-threaded
worker process per core, so each chunk's kernel has a core of its own) and
closes it when the command ends; an address connects to a running scheduler
(a cluster started by dask-kubernetes, dask-jobqueue, Coiled or by hand) and
leaves it running.
"""
import contextlib
import logging

from descend.cluster.arrays import require_dask
from descend.exceptions import DataError, UsageError

#: Seconds to wait for a scheduler to answer before giving up.
CONNECT_TIMEOUT = 5
SCHEMES = ("tcp://", "tls://", "ucx://", "inproc://", "ws://", "wss://")


def check_address(address):
    """A UsageError unless ``address`` is ``local`` or a scheduler URL."""
    if address != "local" and not address.startswith(SCHEMES):
        raise UsageError(f"--dask {address}: give 'local' (a cluster on this machine) or a "
                         "scheduler address such as tcp://10.0.0.5:8786")


@contextlib.contextmanager
def dask_client(address):
    """The distributed client for ``address``, the default while the block runs."""
    check_address(address)
    require_dask("--dask")
    from distributed import Client, LocalCluster
    if address == "local":
        from descend.engine.threads import default_threads
        with LocalCluster(n_workers=default_threads(), threads_per_worker=1,
                          dashboard_address=None, silence_logs=logging.CRITICAL) as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise DataError(f"--dask {address}: no Dask scheduler answers there ({exc}); start "
                        "one (dask scheduler), check the address and port, or use "
                        "--dask local") from None
    with client:
        yield client
