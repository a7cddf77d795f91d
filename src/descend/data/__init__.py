"""Tables in, matrices out: reading CSV and Parquet files, and the fitted
preprocessing that turns a table into the design matrix X."""
