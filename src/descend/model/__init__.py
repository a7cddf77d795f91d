"""A model trained on a table: preprocessing, coefficients, labels; training
it, scoring tables with it, and its JSON file."""
from descend.model.table_model import TableModel

__all__ = ["TableModel"]
