"""A pass's blocks worked on several threads, their results added in order.

Most of a pass over a table is Arrow's and NumPy's kernels on one block,
which release the GIL; the reader hands out the next block meanwhile. A
:class:`BlockWork` visitor splits its work in two: :meth:`~BlockWork.work`
on one block, which shares nothing and may run on any thread, and
:meth:`~BlockWork.add`, which takes the results one at a time in the blocks'
order, on the thread that reads. So a pass gives the same bits whatever the
number of threads, and at most ``threads`` blocks are held beyond the one
being read.
"""
from collections import deque

from descend.engine.threads import default_threads, pool


class BlockWork:
    """A visitor of a pass: call it on each block in order, then :meth:`finish`.

    Parameters
    ----------
    threads : int or None
        Blocks worked on at once (None: the cores this process may use).
    """

    def __init__(self, threads=None):
        self.threads = default_threads() if threads is None else threads
        self._pending = deque()
        self._rows = 0

    def work(self, batch, start):
        """What one block gives, ``start`` being the pass's row number of its
        first row (runs on a worker thread: must not change ``self``)."""
        raise NotImplementedError

    def add(self, result):
        """Take one block's result; called in the blocks' order."""
        raise NotImplementedError

    def __call__(self, batch):
        start, self._rows = self._rows, self._rows + batch.num_rows
        if self.threads <= 1:
            self.add(self.work(batch, start))
            return
        self._pending.append(pool(self.threads).submit(self.work, batch, start))
        while len(self._pending) > self.threads:
            self.add(self._pending.popleft().result())

    def finish(self):
        """Add the results still being worked on; the pass is then complete.
        An error raised by :meth:`work` on a block is raised here or by the
        call of a later block, in the blocks' order."""
        while self._pending:
            self.add(self._pending.popleft().result())

    def abandon(self):
        """Wait for the blocks in flight and drop them (a pass that starts again)."""
        while self._pending:
            self._pending.popleft().exception()


def finish(visitor):
    """:meth:`BlockWork.finish` for a visitor that has it (others are done)."""
    if isinstance(visitor, BlockWork):
        visitor.finish()
    return visitor


def abandon(visitor):
    """:meth:`BlockWork.abandon` for a visitor that has it."""
    if isinstance(visitor, BlockWork):
        visitor.abandon()
