"""``python -m descend`` runs the command line."""
from descend.cli.main import main

main()
