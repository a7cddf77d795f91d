"""The ``descend`` command: parse, call the library, print. Nothing more.

Errors become one line on standard error and an exit code: 2 for wrong usage,
1 for bad data, 130 and 143 for SIGINT and SIGTERM; no traceback, and no
half-written file (SIGINT and SIGTERM unwind the command, so the temporary
files of the writes in progress are removed).
"""
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

import click

from descend.cli.console import command_line_flag, message_line
from descend.cli.reading import text_format_from, text_format_options
from descend.exceptions import DataError, DescendError, UsageError
from descend.optim.rules import RULES

SOLVER_CHOICES = ["auto", *RULES]


def _comma_list(ctx, param, value):
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _inverse_strength(ctx, param, value):
    """A number (the estimator checks that it is positive) or "cv"."""
    if value == "cv":
        return value
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number or 'cv'") from None


def _learning_rate(ctx, param, value):
    if value == "auto":
        return value
    try:
        rate = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number or 'auto'") from None
    if not rate > 0:
        raise click.BadParameter("must be positive, e.g. 0.1 (or 'auto')")
    return rate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="descend")
def cli():
    """Logistic regression trained by gradient descent, every number shown.

    \b
    Example:
      descend train data.csv --target churn -o model.json
      descend predict model.json new.csv -o predictions.csv
      descend evaluate model.json test.csv --target churn
      descend demo
    """


@cli.command()
@click.argument("data", type=click.Path(readable=False, path_type=Path))
@click.option("--target", "-t", required=True, help="Column holding the two labels.")
@click.option("--output", "-o", "model_path", type=click.Path(readable=False, dir_okay=False, path_type=Path),
              help="Model file to write (JSON).")
@click.option("--positive", help="Label to treat as the positive class (y = 1).")
@click.option("--features", callback=_comma_list, help="Comma-separated feature columns.")
@click.option("--drop", callback=_comma_list, help="Comma-separated columns to leave out.")
@click.option("--drop-missing", is_flag=True, help="Drop rows with missing feature values.")
@click.option("--impute", type=click.Choice(["mean", "median", "most_frequent"]),
              help="Fill missing feature values (text columns: most frequent).")
@click.option("--C", "C", default="1.0", callback=_inverse_strength, show_default=True,
              help="Inverse penalty strength, as in scikit-learn; 'cv' chooses it by "
              "cross-validation over 20 values from 1e-4 to 1e4.")
@click.option("--penalty", type=click.Choice(["l2", "l1", "elasticnet", "none"]), default="l2",
              show_default=True, help="l1 and elasticnet set coefficients to exactly zero.")
@click.option("--l1-ratio", type=click.FloatRange(0, 1), help="The elastic net's L1 share ρ.")
@click.option("--cv", type=click.IntRange(min=2), default=5, show_default=True,
              help="Folds for --C cv.")
@click.option("--plot-path", "plot_path_path", type=click.Path(readable=False, dir_okay=False,
              path_type=Path), help="With --C cv: draw the coefficient paths and the "
              "cross-validated score against C (.png/.svg).")
@click.option("--solver", type=click.Choice(SOLVER_CHOICES), default="auto", show_default=True)
@click.option("--learning-rate", default="auto", callback=_learning_rate, show_default=True,
              help="Fixed α, or 'auto'.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Mini-batch rows (default: full batch).")
@click.option("--max-iter", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--tol", type=click.FloatRange(min=0), default=1e-10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Shuffling and hold-out seed.")
@click.option("--class-weight", type=click.Choice(["balanced"]), help="Reweight classes.")
@click.option("--validation", type=float, help="Fraction of rows held out and reported on.")
@click.option("--history", "history_path", type=click.Path(readable=False, dir_okay=False, path_type=Path),
              help="Write the per-iteration history as CSV.")
@click.option("--plot", "plot_path", type=click.Path(readable=False, dir_okay=False, path_type=Path),
              help="Draw the loss curve (.png/.svg).")
@click.option("--checkpoint", type=click.Path(readable=False, file_okay=False, path_type=Path),
              help="Folder for checkpoints (saved every --checkpoint-every iterations, on Ctrl-C and SIGTERM).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--resume", type=click.Path(readable=False, file_okay=False, path_type=Path),
              help="Continue from the checkpoint in this folder.")
@click.option("--memory-limit", help="Memory the command may use (e.g. 1GB): data is "
              "streamed and a larger design matrix is memory-mapped.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]),
              help="Precision of the design matrix (default: float64 in memory, float32 mapped).")
@click.option("--categorical", type=click.Choice(["auto", "onehot", "codes"]), default="auto",
              show_default=True, help="Text columns as one-hot columns of X, or as one "
              "integer code each beside the numbers (the same model; auto: codes above "
              "32 levels or a large one-hot block).")
@click.option("--dask", "dask_address", metavar="local|tcp://HOST:PORT",
              help="Run on a Dask cluster: 'local' starts one on this machine's cores, an "
              "address uses a running scheduler (needs pip install descend[dask]).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@text_format_options
def train(data, target, model_path, **options):
    """Train on a CSV or Parquet file and report how well it fits.

    \b
    Example:
      descend train customers.csv --target churned --positive yes \\
          --drop customer_id --validation 0.2 -o churn.json --plot loss.png
    """
    from descend.data.readahead import start_reading
    options["given"] = given_options(click.get_current_context())
    options["text_format"] = text_format_from(options)
    read_ahead = start_reading(data, options["text_format"], options, target)
    from descend.cli.training import run_train  # imported while the data is read
    run_train(data, target, model_path, options, read_ahead)


@cli.command()
@click.argument("model", type=click.Path(readable=False, dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(readable=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(readable=False, dir_okay=False, path_type=Path),
              help="CSV or Parquet file for the predictions (default: standard output); "
              "with --dask, a folder of Parquet parts.")
@click.option("--dask", "dask_address", metavar="local|tcp://HOST:PORT",
              help="Run on a Dask cluster: 'local' starts one on this machine's cores, an "
              "address uses a running scheduler (needs pip install descend[dask]).")
@text_format_options
def predict(model, data, output, dask_address, **reading):
    """Predict the label and probability of every row of DATA.

    \b
    Example:
      descend predict churn.json new_customers.csv -o predictions.csv
    """
    if dask_address:  # a folder of Parquet parts, one per partition
        from descend.cli.cluster_commands import predict_with_dask
        return predict_with_dask(model, data, output, text_format_from(reading), dask_address)
    from descend.cli.commands import run_predict
    run_predict(model, data, output, text_format_from(reading))


@cli.command()
@click.argument("model", type=click.Path(readable=False, dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(readable=False, path_type=Path))
@click.option("--target", "-t", help="Column with the true labels (default: the model's).")
@click.option("--plot", "plot_path", type=click.Path(readable=False, dir_okay=False, path_type=Path),
              help="Draw the ROC curve (.png/.svg); for K classes the confusion heat map.")
@click.option("--dask", "dask_address", metavar="local|tcp://HOST:PORT",
              help="Run on a Dask cluster: 'local' starts one on this machine's cores, an "
              "address uses a running scheduler (needs pip install descend[dask]).")
@text_format_options
def evaluate(model, data, target, plot_path, dask_address, **reading):
    """Log-loss, accuracy, precision, recall, ROC AUC and confusion matrix.

    \b
    Example:
      descend evaluate churn.json test.csv --target churned --plot roc.png
    """
    from descend.cli.commands import run_evaluate
    text_format, scorer = text_format_from(reading), None
    if dask_address:  # labels and probabilities computed on the cluster
        from descend.cli.cluster_commands import dask_scorer
        scorer = dask_scorer(data, target, text_format, dask_address)
    run_evaluate(model, data, target, plot_path, text_format, scorer)


@cli.command()
@click.option("--out-dir", type=click.Path(readable=False, file_okay=False, path_type=Path),
              default=Path("descend-demo"), show_default=True, help="Where the plots go.")
@click.option("--lesson", is_flag=True, help="The lesson's two-feature walk-through instead.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--all", "show_all", is_flag=True, help="Every feature in the lesson's table, "
              "not the largest 5 |dw|.")
def demo(out_dir, lesson, quiet, show_all):
    """Train on scikit-learn's breast-cancer data and show every number.

    \b
    Example:
      descend demo               # the whole job on bundled data
      descend demo --lesson      # two features, the lesson step by step
    """
    from descend.cli.commands import run_demo, run_lesson_demo
    if lesson:
        run_lesson_demo(out_dir, quiet)
    else:
        run_demo(out_dir, quiet, show_all)


def given_options(ctx):
    """The names of the parameters the user gave (not left to their defaults)."""
    from click.core import ParameterSource
    return {name for name in ctx.params
            if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT,
                                                      ParameterSource.DEFAULT_MAP)}


def _register_lesson_commands():
    from descend.cli.lesson_commands import explain, lesson, report
    cli.add_command(explain)
    cli.add_command(report)
    cli.add_command(lesson)


_register_lesson_commands()


def main(argv=None):
    """Entry point: run the command, turn errors into one line and an exit code."""
    try:
        with _signals_unwind():
            cli.main(args=argv, prog_name="descend", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _interrupted(signal.SIGINT)
    except Interrupted as exc:
        _interrupted(exc.signum)
    except click.UsageError as exc:
        hint = f" (see 'descend {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.parent else \
            " (see 'descend --help')"
        _fail(exc.format_message().replace("\n", " ") + hint, 2)
    except UsageError as exc:
        _fail(exc.phrase(command_line_flag), 2)
    except (DataError, DescendError) as exc:
        _fail(exc.phrase(command_line_flag), 1)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except OSError as exc:
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), 1)
    except Exception as exc:  # a bug of ours: still one line, distinct exit code
        if os.environ.get("DESCEND_DEBUG"):
            raise
        _fail(f"internal error ({type(exc).__name__}: {exc}); rerun with DESCEND_DEBUG=1 "
              "for the traceback and report it", 3)
    sys.exit(0)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: raised where the command is, it unwinds it
    as Ctrl-C's KeyboardInterrupt would (not an Exception, so nothing on the
    way swallows it), and every ``finally`` removes its temporary files."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_unwind():
    """While the command runs, SIGINT and SIGTERM raise :class:`Interrupted`;
    a second signal is ignored so it cannot cut the clean-up short. A signal
    ignored when descend started stays ignored. (Training with checkpoints
    sets its own handlers while it fits.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous = {sig: handler for sig, handler in previous.items()
                if handler not in (None, signal.SIG_IGN)}

    def unwind(signum, frame):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)
    for sig in previous:
        signal.signal(sig, unwind)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupted(signum):
    """Remove what the writes in progress left; one line, exit 128 + signal."""
    from descend.io.atomic import remove_unfinished
    remove_unfinished()
    name = signal.Signals(signum).name
    if signum == signal.SIGINT and sys.stderr.isatty():
        click.echo(err=True)  # past the terminal's ^C
    _fail(f"interrupted by {name} (no half-written file left behind)", 128 + signum)


def _fail(message, code):
    click.echo(f"descend: error: {message_line(message)}", err=True)
    sys.exit(code)
