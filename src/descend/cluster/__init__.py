"""Dask: the estimator's input on a cluster, lazy predictions, the command line's --dask."""
