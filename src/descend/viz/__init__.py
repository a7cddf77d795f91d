"""Pictures: plots (matplotlib), the computation graph (Graphviz) and the HTML report."""
