"""The ``descend`` command line: parsing (main), what each command does
(training, commands, lesson_commands) and what it prints (console)."""
