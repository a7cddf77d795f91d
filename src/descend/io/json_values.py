"""Checks of values read from JSON files a user may hand us: each returns
the value or raises TypeError/ValueError, which the reader turns into one line."""
import math


def strings(values):
    """A list of strings."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError("a list of strings expected")
    return values


def floats(values, length, positive=False):
    """A list of ``length`` finite numbers (> 0 when ``positive``), as floats."""
    if not isinstance(values, list) or len(values) != length:
        raise ValueError(f"a list of {length} numbers expected")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError("finite numbers expected")
        if positive and v <= 0:
            raise ValueError("positive scales expected")
    return [float(v) for v in values]
