"""Options that say how CSV files write text and numbers, shared by the commands."""
import click


def text_format_options(command):
    """--encoding, --decimal and --thousands: how a CSV file writes text and numbers."""
    command = click.option("--thousands", type=click.Choice([",", ".", " ", "'"]),
                           help="Thousands separator of numbers in CSV files.")(command)
    command = click.option("--decimal", type=click.Choice([",", "."]),
                           help="Decimal mark of numbers in CSV files (default '.').")(command)
    return click.option("--encoding", default="utf-8", show_default=True,
                        help="Encoding of CSV files (e.g. latin-1, cp1252).")(command)


def text_format_from(options):
    """The reader's :class:`TextFormat` from the command-line options (removed from them)."""
    from descend.data.source import TextFormat
    return TextFormat(options.pop("encoding"), options.pop("decimal"), options.pop("thousands"))
