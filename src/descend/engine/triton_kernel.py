"""The fused graph as a Triton kernel: one read of X per gradient on a GPU.

Each program takes a contiguous run of row blocks of X (a CUDA tensor,
float32, float16 or bfloat16, accumulated in float32). For each block of
``BLOCK_M`` rows it runs the lesson's graph while the rows are on chip:
z = X_b w + b, L(z, y) and dz = a − y (the formulas of
:mod:`descend.engine.numerics`, written here in Triton), then dw += X_bᵀ (s dz)
and db += Σ s dz. Narrow X (n ≤ ``MAX_BLOCK_N`` columns) is one tile of
registers: each element is loaded once and serves both z and dw. Wide X is
cut into column tiles: z is summed tile by tile, then each tile is read again
for dw while the block is still in the cache (the block is small enough for
that), so X is read from memory once.

Each program writes one row of partial sums (dw, Σ sL, Σ s dz) and a second
kernel adds the rows in float64 in a fixed order: the result does not depend
on scheduling, and the number of programs depends on X's shape only, so the
same data gives the same bits on every run.

Offsets into X are 64-bit: X may hold more than 2³¹ elements.

Under ``TRITON_INTERPRET=1`` (set before Triton is imported) the same kernels
run on CPU tensors, which is how the tests check their numbers without a GPU.
"""
import triton
import triton.language as tl

#: Columns per tile: a tile of X held in registers is BLOCK_M × BLOCK_N.
MAX_BLOCK_N = 128
#: Elements per tile (BLOCK_M = TILE_ELEMENTS / BLOCK_N rows, 16 to 256).
TILE_ELEMENTS = 4096
#: At most this many programs (rows of partial sums): enough to fill a GPU,
#: few enough that adding their partials costs nothing next to reading X.
MAX_PROGRAMS = 2048
#: Rows of partials added together by the reducing kernel.
REDUCE_ROWS = 32


@triton.jit
def _log1p_unit(e):
    """log(1 + e) for 0 ≤ e ≤ 1, accurate for tiny e: log(u)·e/(u − 1), u = 1 + e."""
    u = 1.0 + e
    d = u - 1.0
    exact = d == 0.0
    return tl.where(exact, e, tl.log(u) * (e / tl.where(exact, 1.0, d)))


@triton.jit
def _loss_and_dz(z, y):
    """L(z, y) = (1 − y) max(z, 0) + y max(−z, 0) + log(1 + e^−|z|) and
    dz = (1 − y) σ(z) − y σ(−z), both from e^−|z| (nothing overflows)."""
    e = tl.exp(-tl.abs(z))
    loss = (1.0 - y) * tl.maximum(z, 0.0) + y * tl.maximum(-z, 0.0) + _log1p_unit(e)
    r = 1.0 / (1.0 + e)
    positive = z >= 0.0
    a = tl.where(positive, r, e * r)
    a_complement = tl.where(positive, e * r, r)
    return loss, (1.0 - y) * a - y * a_complement


@triton.jit
def _row_terms(z, y_ptr, s_ptr, rows, rmask, HAS_WEIGHTS: tl.constexpr):
    """(s L, s dz) of a block's rows, 0 for rows past the end."""
    y = tl.load(y_ptr + rows, mask=rmask, other=0.0)
    loss, dz = _loss_and_dz(z, y)
    if HAS_WEIGHTS:
        s = tl.load(s_ptr + rows, mask=rmask, other=0.0)
        loss, dz = s * loss, s * dz
    return tl.where(rmask, loss, 0.0), tl.where(rmask, dz, 0.0)


@triton.jit
def _narrow_kernel(X, y_ptr, s_ptr, w_ptr, b_ptr, part, m, n, stride_m, stride_n,
                   blocks_per_program, HAS_WEIGHTS: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """n ≤ BLOCK_N: each row block is one tile, loaded once for z and dw."""
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    cmask = cols < n
    w = tl.load(w_ptr + cols, mask=cmask, other=0.0)
    b = tl.load(b_ptr)
    dw = tl.zeros((BLOCK_N,), tl.float32)
    loss_sum = tl.zeros((BLOCK_M,), tl.float32)
    dz_sum = tl.zeros((BLOCK_M,), tl.float32)
    for k in range(0, blocks_per_program):
        rows = (pid * blocks_per_program + k) * BLOCK_M + tl.arange(0, BLOCK_M)
        rmask = rows < m
        x = tl.load(X + rows.to(tl.int64)[:, None] * stride_m + cols[None, :] * stride_n,
                    mask=rmask[:, None] & cmask[None, :], other=0.0).to(tl.float32)
        z = tl.sum(x * w[None, :], axis=1) + b
        loss, dz = _row_terms(z, y_ptr, s_ptr, rows, rmask, HAS_WEIGHTS)
        loss_sum += loss
        dz_sum += dz
        dw += tl.sum(x * dz[:, None], axis=0)
    row = part + pid * (n + 2)
    tl.store(row + cols, dw, mask=cmask)
    tl.store(row + n, tl.sum(loss_sum, axis=0))
    tl.store(row + n + 1, tl.sum(dz_sum, axis=0))


@triton.jit
def _wide_kernel(X, y_ptr, s_ptr, w_ptr, b_ptr, part, m, n, stride_m, stride_n,
                 blocks_per_program, HAS_WEIGHTS: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """n > BLOCK_N: z over column tiles, then each tile again (from cache) for dw;
    the program's row of partials (zeroed) holds dw between blocks."""
    pid = tl.program_id(0)
    b = tl.load(b_ptr)
    row = part + pid * (n + 2)
    loss_sum = tl.zeros((BLOCK_M,), tl.float32)
    dz_sum = tl.zeros((BLOCK_M,), tl.float32)
    for k in range(0, blocks_per_program):
        rows = (pid * blocks_per_program + k) * BLOCK_M + tl.arange(0, BLOCK_M)
        rmask = rows < m
        z = tl.zeros((BLOCK_M,), tl.float32)
        for c0 in range(0, n, BLOCK_N):
            cols = c0 + tl.arange(0, BLOCK_N)
            cmask = cols < n
            x = tl.load(X + rows.to(tl.int64)[:, None] * stride_m + cols[None, :] * stride_n,
                        mask=rmask[:, None] & cmask[None, :], other=0.0).to(tl.float32)
            z += tl.sum(x * tl.load(w_ptr + cols, mask=cmask, other=0.0)[None, :], axis=1)
        loss, dz = _row_terms(z + b, y_ptr, s_ptr, rows, rmask, HAS_WEIGHTS)
        loss_sum += loss
        dz_sum += dz
        for c0 in range(0, n, BLOCK_N):
            cols = c0 + tl.arange(0, BLOCK_N)
            cmask = cols < n
            x = tl.load(X + rows.to(tl.int64)[:, None] * stride_m + cols[None, :] * stride_n,
                        mask=rmask[:, None] & cmask[None, :], other=0.0).to(tl.float32)
            dw = tl.load(row + cols, mask=cmask, other=0.0) + tl.sum(x * dz[:, None], axis=0)
            tl.store(row + cols, dw, mask=cmask)
        # the next block's loads of the partials may fall to other threads
        # than these stores: a barrier makes the stores visible to them
        tl.debug_barrier()
    tl.store(row + n, tl.sum(loss_sum, axis=0))
    tl.store(row + n + 1, tl.sum(dz_sum, axis=0))


@triton.jit
def _reduce_kernel(part, out, programs, width, BLOCK_G: tl.constexpr, BLOCK_N: tl.constexpr):
    """out[j] = Σ_g part[g, j] in float64, the same order every time."""
    cols = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cmask = cols < width
    acc = tl.zeros((BLOCK_G, BLOCK_N), tl.float64)
    for g0 in range(0, programs, BLOCK_G):
        g = g0 + tl.arange(0, BLOCK_G)
        acc += tl.load(part + g[:, None] * width + cols[None, :],
                       mask=(g[:, None] < programs) & cmask[None, :], other=0.0).to(tl.float64)
    tl.store(out + cols, tl.sum(acc, axis=0), mask=cmask)


def launch_shape(m, n):
    """(BLOCK_M, BLOCK_N, programs, blocks per program) for X of shape (m, n):
    a function of the shape alone, so the partial sums' order is too."""
    block_n = min(triton.next_power_of_2(max(n, 1)), MAX_BLOCK_N)
    block_m = max(16, min(256, TILE_ELEMENTS // block_n))
    row_blocks = max(1, triton.cdiv(m, block_m))
    per_program = triton.cdiv(row_blocks, MAX_PROGRAMS)
    return block_m, block_n, triton.cdiv(row_blocks, per_program), per_program


def fused_sums(X, y, s, w, b):
    """(Σ sᵢLᵢ, Σ sᵢdzᵢxᵢ, Σ sᵢdzᵢ) over the rows of X in one pass, float64.

    Parameters
    ----------
    X : torch.Tensor of shape (m, n)
        float32, float16 or bfloat16, any strides (on CUDA; on the CPU only
        under ``TRITON_INTERPRET=1``).
    y, s : torch.Tensor of shape (m,), float32
        Targets in {0, 1} and weights (s None: all ones).
    w : torch.Tensor of shape (n,), float32
    b : torch.Tensor of shape (), float32

    Returns
    -------
    (0-d tensor, tensor of shape (n,), 0-d tensor), float64, on X's device.
    """
    import torch
    m, n = X.shape
    block_m, block_n, programs, per_program = launch_shape(m, n)
    narrow = n <= block_n
    part = (torch.empty if narrow else torch.zeros)((programs, n + 2), dtype=torch.float32,
                                                    device=X.device)
    kernel = _narrow_kernel if narrow else _wide_kernel
    kernel[(programs,)](X, y.contiguous(), (y if s is None else s).contiguous(),
                        w.contiguous(), b.reshape(1).contiguous(), part, m, n,
                        X.stride(0), X.stride(1), per_program, HAS_WEIGHTS=s is not None,
                        BLOCK_M=block_m, BLOCK_N=block_n)
    out = torch.empty(n + 2, dtype=torch.float64, device=X.device)
    _reduce_kernel[(triton.cdiv(n + 2, MAX_BLOCK_N),)](part, out, programs, n + 2,
                                                        BLOCK_G=REDUCE_ROWS, BLOCK_N=MAX_BLOCK_N)
    return out[n], out[:n], out[n + 1]
