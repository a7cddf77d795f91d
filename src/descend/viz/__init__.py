"""Plots and graph pictures (matplotlib with the Agg backend, Graphviz)."""
