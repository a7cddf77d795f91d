"""Text the command line prints: summaries, metrics, the lesson's table.

Formatting only: every number arrives computed by the library.
"""
import sys


def metrics_lines(name, m):
    return [f"  {name:<11} log-loss {m['log_loss']:.5f}  accuracy {m['accuracy']:.4f}  "
            f"ROC AUC {m['roc_auc']:.4f}  ({m['rows']} rows)"]


def train_summary(report, model_path=None):
    """The end-of-training summary, a few lines."""
    lines = [
        f"descend: trained on {report['rows']} rows, {report['features_in']} columns → "
        f"{report['features_out']} features"
        + (f" ({report['dropped_missing']} rows with missing values dropped)"
           if report.get("dropped_missing") else ""),
        f"  positive class {report['positive']!r} (negative {report['negative']!r})",
        f"  {report['iterations']} iterations, "
        + ("converged" if report["converged"] else "did NOT converge (raise --max-iter)")
        + f", {report['seconds']:.2f} s",
    ]
    lines += metrics_lines("training", report["train"])
    if "validation" in report:
        lines += metrics_lines("validation", report["validation"])
    if model_path:
        lines.append(f"  model written to {model_path}")
    return "\n".join(lines)


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
