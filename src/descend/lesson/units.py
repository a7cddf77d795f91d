"""The lesson in the learner's units: each xᵢ beside what the file holds.

A model of a table standardises its numbers, x′ = (x − mean)/scale with the
training data's mean and scale, and turns each text column into one-hot
indicators; the graph and the table use x′. These are the file's values of
one row, for the lesson to show beside x′.
"""
from dataclasses import dataclass

import numpy as np

STANDARDISATION = ("The model standardises each number: x′ = (x − mean)/scale, with the "
                   "mean and scale of its training data; text columns become one-hot 0/1 "
                   "indicators. The graph uses x′.")


@dataclass(frozen=True)
class Source:
    """What the file holds for one feature: ``short`` for the graph ("file 13"),
    ``long`` for the text ("the file: 13 → (13 − 24.1)/8.3")."""

    short: str
    long: str


def _num(v):
    return f"{v:.6g}"


def row_sources(preprocessor, row):
    """One :class:`Source` per feature of X for the one-row Arrow table ``row``."""
    from descend.data.columns import as_numbers
    numeric = preprocessor.numeric
    sources = []
    for j, name in enumerate(numeric["columns"]):
        raw = float(as_numbers(row.column(name))[0]) if name in row.column_names else np.nan
        mean, scale = numeric["mean"][j], numeric["scale"][j]
        if np.isnan(raw):
            sources.append(Source("file: missing", "the file: missing, filled in"))
            continue
        sources.append(Source(f"file {_num(raw)}", f"the file: {_num(raw)} → "
                              f"({_num(raw)} − {_num(mean)})/{_num(scale)}"))
    categorical = preprocessor.categorical
    for name, levels in zip(categorical["columns"], categorical["categories"]):
        value = row.column(name)[0].as_py() if name in row.column_names else None
        text = "missing" if value is None else str(value)
        for level in levels:
            sources.append(Source(f"file {name} = {text}",
                                  f"the file: {name} = {text} (1 when it is {level}, else 0)"))
    return sources
