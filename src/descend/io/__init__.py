"""Reading data files and writing every file ``descend`` makes, atomically."""
