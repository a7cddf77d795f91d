"""Text the command line prints: summaries, metrics, the lesson's table.

Formatting only: every number arrives computed by the library.
"""
import sys


def metrics_lines(name, m):
    return [f"  {name:<11} log-loss {m['log_loss']:.5f}  accuracy {m['accuracy']:.4f}  "
            f"ROC AUC {m['roc_auc']:.4f}  ({m['rows']} rows)"]


def train_summary(report, model_path=None, offer_saving=True):
    """The end-of-training summary, a few lines."""
    lines = [f"descend: trained on {report['rows']} rows, {report['features_in']} columns → "
             f"{report['features_out']} features"]
    lines += _dropped_lines(report.get("dropped", {}))
    lines.append(f"  positive class {report['positive']!r} (negative {report['negative']!r})")
    lines.append(f"  {report['iterations']} iterations, "
                 + ("converged" if report["converged"] else "did NOT converge (raise --max-iter)")
                 + _timing_text(report))
    lines += metrics_lines("training", report["train"])
    if "validation" in report:
        lines += metrics_lines("validation", report["validation"])
    if report.get("design_matrix"):
        lines.append(f"  design matrix: {report['design_matrix']}")
    if model_path or offer_saving:
        lines.append(f"  model written to {model_path}" if model_path else
                     "  no model saved: add -o model.json to keep it")
    return "\n".join(lines)


def _dropped_lines(dropped):
    reasons = [(dropped.get("missing_target", 0), "without a label"),
               (dropped.get("missing_features", 0), "with missing feature values")]
    parts = [f"{n} rows {why}" for n, why in reasons if n]
    return [f"  dropped {' and '.join(parts)} (--drop-missing)"] if parts else []


def _timing_text(report):
    timings = report.get("timings")
    if not timings:
        return f", {report['seconds']:.2f} s"
    return (f"; read {timings['read']:.2f} s, prepared {timings['prepare']:.2f} s, "
            f"fitted {timings['fit']:.2f} s")


def evaluation_report(m, classes):
    """Metrics and the confusion matrix of ``descend evaluate``."""
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    neg, pos = classes
    width = max(len(neg), len(pos), 8)
    return "\n".join([
        f"rows       {m['rows']}",
        f"log-loss   {m['log_loss']:.6f}",
        f"accuracy   {m['accuracy']:.4f}",
        f"precision  {m['precision']:.4f}",
        f"recall     {m['recall']:.4f}",
        f"ROC AUC    {m['roc_auc']:.4f}",
        "confusion matrix (rows: true, columns: predicted)",
        f"  {'':<{width}}  {neg:>{width}}  {pos:>{width}}",
        f"  {neg:<{width}}  {tn:>{width}}  {fp:>{width}}",
        f"  {pos:<{width}}  {fn:>{width}}  {tp:>{width}}",
    ])


class Progress:
    """A tqdm bar on standard error, updated by the solver's callback."""

    def __init__(self, total, quiet, desc="training"):
        from tqdm import tqdm
        # disable=None: no bar when standard error is not a terminal (logs, CI).
        self.bar = tqdm(total=total, disable=True if quiet else None, file=sys.stderr, desc=desc,
                        unit="it", leave=False, dynamic_ncols=True)

    def __call__(self, state):
        self.bar.update(state.iteration - self.bar.n)
        if state.history:
            self.bar.set_postfix(loss=f"{state.history[-1]['loss']:.6f}", refresh=False)

    def close(self):
        self.bar.close()


def command_line_flag(name, value):
    """An option named in a library error, as this command's flag: --impute mean."""
    flag = "--" + name.replace("_", "-")
    if value is None or value is True:
        return flag
    if isinstance(value, list):
        return f"{flag} {'|'.join(map(str, value))}"
    return f"{flag} {value}"
