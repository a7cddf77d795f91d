r"""Text the command line prints: summaries, metrics, the lesson's table.

Formatting only: every number arrives computed by the library. Text that
comes from the user's files (class labels, column names, values quoted in
error messages) goes through :func:`printable` before it reaches the
terminal, so a label such as ``\x1b]0;title\x07yes`` is shown, never obeyed.
"""
import re
import sys

#: Control characters a terminal may act on: C0 (tab and newline included),
#: DEL, C1 (U+0080–U+009F, CSI among them), and the line and paragraph
#: separators and bidirectional controls that reorder or break what is shown.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: An error or warning line longer than this is cut in the middle.
MAX_MESSAGE_CHARS = 2000
#: A quoted value longer than this inside a message is cut in the middle.
MAX_QUOTED_CHARS = 200
#: A quoted value: a quote not inside a word, up to the next quote.
_QUOTED = re.compile(r"(?<![\w'\"])('[^'\n]{%d,}'|\"[^\"\n]{%d,}\")(?!\w)"
                     % (MAX_QUOTED_CHARS, MAX_QUOTED_CHARS))


def _escape(match):
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text):
    r"""``text`` with every control character written as an escape (``\x1b``,
    ``\x9b``, ``\u202e``): safe to print to a terminal, and one line."""
    return _CONTROL.sub(_escape, str(text))


def _cut(text, limit, length=None):
    """``text`` cut in the middle to about ``limit`` characters, saying how
    many went (of ``length``, the text's length before any earlier cut)."""
    length = max(length or 0, len(text))
    if len(text) <= limit and length == len(text):
        return text
    keep = min(limit, len(text)) // 2
    return f"{text[:keep]}…[{length - 2 * keep:,} characters cut]…{text[-keep:]}"


def message_line(message):
    """An error or warning for the terminal: control characters escaped, each
    quoted value over ``MAX_QUOTED_CHARS`` and the whole line over
    ``MAX_MESSAGE_CHARS`` cut in the middle (a 100 MB cell is not echoed)."""
    text = str(message)
    length = len(text)
    if length > 4 * MAX_MESSAGE_CHARS:  # escaping only lengthens: a head and a tail suffice
        text = text[:2 * MAX_MESSAGE_CHARS] + text[-2 * MAX_MESSAGE_CHARS:]
    text = _QUOTED.sub(lambda m: m.group()[0] + _cut(m.group()[1:-1], MAX_QUOTED_CHARS)
                       + m.group()[-1], printable(text))
    return _cut(text, MAX_MESSAGE_CHARS, length if length > len(text) else None)


def metrics_lines(name, m):
    return [f"  {name:<11} log-loss {m['log_loss']:.5f}  accuracy {m['accuracy']:.4f}  "
            f"ROC AUC {m['roc_auc']:.4f}  ({m['rows']} rows)"]


def train_summary(report, model_path=None, offer_saving=True):
    """The end-of-training summary, a few lines."""
    lines = [f"descend: trained on {report['rows']} rows, {report['features_in']} columns → "
             f"{report['features_out']} features"]
    lines += _dropped_lines(report.get("dropped", {}))
    if "classes" in report:
        shown = ", ".join(printable(repr(c)) for c in report["classes"][:10])
        more = f", … ({len(report['classes'])} in all)" if len(report["classes"]) > 10 else ""
        lines.append(f"  {len(report['classes'])} classes (multinomial): {shown}{more}")
    else:
        lines.append(f"  positive class {printable(repr(report['positive']))} "
                     f"(negative {printable(repr(report['negative']))})")
    lines.append(f"  {report['iterations']} iterations, "
                 + ("converged" if report["converged"] else "did NOT converge (raise --max-iter)")
                 + _timing_text(report))
    if "cv" in report:
        cv = report["cv"]
        rho = f", l1_ratio {cv['l1_ratio']:g}" if 0 < cv["l1_ratio"] < 1 else ""
        lines.append(f"  C chosen by {cv['folds']}-fold cross-validation: {cv['C']:.4g}{rho} "
                     f"(best mean held-out log-loss of {len(cv['Cs'])} values)")
    if "cv" in report or report.get("nonzero", report.get("coefficients")) != \
            report.get("coefficients"):
        lines.append(f"  {report['nonzero']} of {report['coefficients']} coefficients non-zero")
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
    if len(classes) > 2:
        return multiclass_report(m, classes)
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    neg, pos = (printable(c) for c in classes)
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


def multiclass_report(m, classes):
    """K classes: log-loss, accuracy, per-class and averaged precision, recall
    and F1, one-vs-rest ROC AUC, and the K × K confusion matrix."""
    names = [printable(c) for c in classes]
    width = max(max(map(len, names)), 12)
    lines = [f"rows       {m['rows']}", f"log-loss   {m['log_loss']:.6f}",
             f"accuracy   {m['accuracy']:.4f}",
             f"ROC AUC    {m['roc_auc']:.4f}  (one-vs-rest, macro)", "",
             f"  {'class':<{width}}  precision  recall     F1         support  ROC AUC"]
    for name, c in zip(names, m["per_class"]):
        lines.append(f"  {name:<{width}}  {c['precision']:<9.4f}  {c['recall']:<9.4f}  "
                     f"{c['f1']:<9.4f}  {c['support']:<7d}  {c['roc_auc']:.4f}")
    for avg in ("macro", "weighted"):
        lines.append(f"  {avg + ' avg':<{width}}  {m[avg + '_precision']:<9.4f}  "
                     f"{m[avg + '_recall']:<9.4f}  {m[avg + '_f1']:<9.4f}")
    cell = max(width, max(len(str(v)) for row in m["confusion_matrix"] for v in row))
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              f"  {'':<{cell}}  " + "  ".join(f"{n:>{cell}}" for n in names)]
    for name, row in zip(names, m["confusion_matrix"]):
        lines.append(f"  {name:<{cell}}  " + "  ".join(f"{v:>{cell}}" for v in row))
    return "\n".join(lines)


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
