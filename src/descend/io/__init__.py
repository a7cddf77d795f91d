"""Files written whole or not at all, and checkpoints of a solver run."""
