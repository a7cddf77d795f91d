"""Run ``descend`` in a real process that a signal hits in the middle of writing."""
import subprocess
import sys

#: The process patches one writer to write a first part, then signals itself
#: (SIGKILL included) and waits for the signal to act.
SCRIPT = r"""
import os, signal, sys, time
signame, what, args = sys.argv[1], sys.argv[2], sys.argv[3:]
# SIGINT as in a terminal's foreground: a suite started in the background
# (`make test &`) hands its children SIGINT ignored, which descend keeps
signal.signal(signal.SIGINT, signal.default_int_handler)

def interrupt():
    os.kill(os.getpid(), getattr(signal, signame))
    time.sleep(30)  # a handler that does not raise lets this finish: the test fails

if what == "model":
    import descend.cli.training as training
    def save_model(model, path):
        with open(path, "w") as handle:
            handle.write('{"coef": [0.1')
        interrupt()
    training.save_model = save_model
elif what == "predictions":
    from descend.data.writer import BatchWriter
    write = BatchWriter.write
    def write_then_interrupt(self, table):
        write(self, table)
        interrupt()
    BatchWriter.write = write_then_interrupt
else:
    raise SystemExit(f"unknown writer {what}")
from descend.cli.main import main
main(args)
"""


def run_interrupted(signame, what, args, cwd, timeout=60):
    """(exit code, stdout, stderr) of ``descend ARGS`` signalled while ``what``
    ("model" or "predictions") is being written."""
    result = subprocess.run([sys.executable, "-c", SCRIPT, signame, what, *map(str, args)],
                            cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            check=False)
    return result.returncode, result.stdout, result.stderr
