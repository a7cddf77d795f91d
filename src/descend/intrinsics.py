"""Machine operations that Numba does not expose, as compiled intrinsics.

Each is one LLVM instruction: reinterpreting bits as a float (to build 2ᵏ
from its exponent field) and a software prefetch (to keep the memory stream
busy while a compiled kernel computes on rows already in cache).
"""
from llvmlite import ir as llvm_ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: llvm.prefetch locality 1: into the outer caches, not the first level,
#: which holds the rows being worked on.
_PREFETCH_LOCALITY = 1


@intrinsic
def float64_from_bits(typingctx, bits):
    """The float64 whose bit pattern is the int64 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())
    return types.float64(types.int64), codegen


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
