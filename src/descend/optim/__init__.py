"""Optimisation: update rules, preconditioners (changes of variables) and the
solver loop, which knows the objective only through its interface."""
