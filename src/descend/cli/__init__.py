"""The ``descend`` command line: parsing (main), what each command does
(commands, lesson_commands, training) and what it prints (console)."""
from descend.cli.main import main

__all__ = ["main"]
