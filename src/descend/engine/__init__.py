"""The engine: the lesson's graph, its scalar formulas compiled per precision,
the one-pass kernel over rows, and the objective the solver minimises."""
