"""The few array operations the solver needs, for NumPy and any Array API namespace.

The solver's vectors (θ, gradients, momentum, the preconditioner) live in
the namespace and on the device of the objective's arrays: NumPy for the
compiled CPU objectives, PyTorch, CuPy or ``array-api-strict`` for
:mod:`descend.engine.array_objective`. NumPy arrays take NumPy's own
functions, so the CPU path computes exactly what it always did; other
arrays go through ``array-api-compat``, and numbers leave the device only
through :func:`host_floats` (one transfer for all of an iteration's numbers).
"""
import numpy as np


def is_numpy(v):
    """Whether v is a NumPy array or a Python/NumPy number (the host path)."""
    return isinstance(v, (np.ndarray, np.generic, float, int))


def namespace(v):
    """NumPy itself for NumPy arrays, else v's Array API namespace."""
    if is_numpy(v):
        return np
    from array_api_compat import array_namespace
    return array_namespace(v)


def device_of(v):
    """The device v lives on ("cpu" for NumPy)."""
    if is_numpy(v):
        return "cpu"
    from array_api_compat import device
    return device(v)


def copy_float64(v):
    """A float64 copy of the vector v, in its namespace and on its device."""
    if is_numpy(v):
        return np.array(v, dtype=np.float64)
    xp = namespace(v)
    return xp.asarray(xp.astype(v, xp.float64), copy=True)


def like(v, values):
    """Host numbers ``values`` as a float64 array in v's namespace and device."""
    if is_numpy(v):
        return np.asarray(values, dtype=np.float64)
    xp = namespace(v)
    return xp.asarray(np.asarray(values, dtype=np.float64), device=device_of(v))


def to_host(v):
    """v as a NumPy array (one transfer from the device)."""
    if is_numpy(v):
        return np.asarray(v)
    from array_api_compat import is_cupy_array, is_torch_array
    if is_torch_array(v):
        return v.detach().cpu().numpy()
    if is_cupy_array(v):
        return v.get()
    return np.from_dlpack(v)


def host_floats(*values):
    """Each 0-d value as a Python float; values on a device are stacked and
    moved in one transfer (a synchronisation per call, not per number)."""
    if all(is_numpy(v) for v in values):
        return tuple(float(v) for v in values)
    reference = next(v for v in values if not is_numpy(v))
    xp = namespace(reference)
    stacked = xp.stack([xp.asarray(v, dtype=xp.float64, device=device_of(reference))
                        if is_numpy(v) else xp.astype(v, xp.float64) for v in values])
    return tuple(float(x) for x in to_host(stacked))
