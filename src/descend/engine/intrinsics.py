"""Machine operations that Numba does not expose, as compiled intrinsics.

Each is a few LLVM instructions: 2ᵏ built from its exponent field (for a
vectorisable exp) and a software prefetch (to keep the memory stream busy
while a compiled kernel computes on rows already in cache).
"""
import hashlib
from pathlib import Path

from llvmlite import ir as llvm_ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: llvm.prefetch locality 1: into the outer caches, not the first level,
#: which holds the rows being worked on.
_PREFETCH_LOCALITY = 1


#: Per float type: (integer of the same width, exponent bias, mantissa bits).
_FLOAT_LAYOUT = {
    types.float32: (llvm_ir.IntType(32), 127, 23),
    types.float64: (llvm_ir.IntType(64), 1023, 52),
}


@intrinsic
def power_of_two(typingctx, k):
    """2ᵏ for an integral float k in the normal range, in k's type: the
    exponent field set to k + bias (no library call, so loops vectorise)."""
    if k not in _FLOAT_LAYOUT:
        return None
    integer, bias, mantissa_bits = _FLOAT_LAYOUT[k]

    def codegen(context, builder, signature, args):
        exponent = builder.add(builder.fptosi(args[0], integer), integer(bias))
        bits = builder.shl(exponent, integer(mantissa_bits))
        return builder.bitcast(bits, context.get_value_type(k))
    return k(k), codegen


@intrinsic
def prefetch(typingctx, address):
    """Hint the CPU to start loading the cache line at ``address`` (an integer).

    A hint only: it never faults, and on targets without prefetch it is dropped.
    """
    def codegen(context, builder, signature, args):
        byte_pointer = llvm_ir.IntType(8).as_pointer()
        i32 = llvm_ir.IntType(32)
        fnty = llvm_ir.FunctionType(llvm_ir.VoidType(), [byte_pointer, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        pointer = builder.inttoptr(args[0], byte_pointer)
        # read (0), locality, data cache (1)
        builder.call(fn, [pointer, i32(0), i32(_PREFETCH_LOCALITY), i32(1)])
        return context.get_dummy_value()
    return types.void(types.intp), codegen


def sources_digest(*modules):
    """SHA-256 (hex) of the source files of ``modules``.

    Numba's on-disk cache is checked against the file of the function it
    caches only; a compiled function that inlines code from other modules
    keeps this digest of them as a closure constant, which Numba puts in its
    cache key, so editing those modules recompiles it instead of loading
    stale machine code.
    """
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()
