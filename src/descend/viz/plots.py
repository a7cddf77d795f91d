"""Matplotlib figures: loss curve, ROC curve, coefficients, decision boundary.

Every function returns a Figure; :func:`save_figure` writes it atomically.
The Agg backend draws without a display; in Jupyter (whose kernel names the
inline backend in ``MPLBACKEND``) figures show in the notebook instead.
"""
import io
import os

import matplotlib
import matplotlib.ticker

if "inline" not in os.environ.get("MPLBACKEND", ""):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from descend.io.atomic import atomic_path  # noqa: E402

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def save_figure(fig, path):
    """Write ``fig`` to ``path`` (.png, .svg or .pdf), atomically, then close it."""
    from pathlib import Path
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        plt.close(fig)
        from descend.exceptions import UsageError
        raise UsageError(f"{path}: plots are written as .png, .svg or .pdf")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


def figure_bytes(fig, fmt="svg"):
    """The figure as bytes (for inlining into an HTML page), then close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def loss_curve(history, title="Training loss"):
    """Objective J per iteration, log scale of J − min J when it spans decades."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    it = [h["iteration"] for h in history]
    loss = np.array([h["loss"] for h in history])
    marker = "." if len(it) < 60 else None
    ax.plot(it, loss, marker=marker, color="#1f77b4", label="training (objective J)")
    if history and "validation_loss" in history[0]:
        held_out = [h["validation_loss"] for h in history]
        ax.plot(it, held_out, marker=marker, color="#ff7f0e", label="validation (mean log-loss)")
        ax.legend(fontsize=8)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("iteration")
    ax.set_ylabel("objective J (mean log-loss + L2)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def roc_figure(y, proba, auc=None):
    """The ROC curve of probabilities ``proba`` against 0/1 labels ``y``."""
    fpr, tpr, _ = roc_curve(y, proba)
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot(fpr, tpr, color="#d62728", label=f"AUC = {auc:.3f}" if auc is not None else None)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve")
    if auc is not None:
        ax.legend(loc="lower right")
    return fig


def coefficient_figure(names, coef, limit=30):
    """Horizontal bars of the largest |wᵢ| with their feature names."""
    order = np.argsort(-np.abs(coef))[:limit][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(order) + 1.2))
    colors = ["#2ca02c" if coef[i] > 0 else "#d62728" for i in order]
    ax.barh([names[i] for i in order], coef[order], color=colors)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("coefficient wᵢ (standardised feature)")
    ax.set_title("Coefficients" + (f" (largest {limit})" if len(coef) > limit else ""))
    return fig


def confusion_figure(matrix, classes):
    """The 2×2 confusion matrix with counts written in the cells."""
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center",
                color="white" if v > matrix.max() / 2 else "black", fontsize=12)
    ax.set_xticks([0, 1], [f"pred {c}" for c in classes])
    ax.set_yticks([0, 1], [f"true {c}" for c in classes])
    ax.set_title("Confusion matrix")
    return fig


def boundary_figure(X, y, lines, names=("x₁", "x₂"), title="Decision boundary",
                    labels=("y = 0", "y = 1")):
    """Points of two features coloured by class, with boundaries w₁x₁ + w₂x₂ + b = 0.

    ``lines`` is a list of (w, b, label); several show the boundary moving.
    """
    fig, ax = plt.subplots(figsize=(5, 4.2))
    X = np.asarray(X, dtype=float)
    for label, color in ((0, "#1f77b4"), (1, "#ff7f0e")):
        pts = X[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=18, color=color, label=labels[label],
                   edgecolor="white", lw=0.4)
    lo, hi = X[:, 0].min(), X[:, 0].max()
    xs = np.linspace(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), 50)
    colors = plt.cm.viridis(np.linspace(0.85, 0.0, len(lines)))
    for (w, b, text), color in zip(lines, colors):
        if abs(w[1]) > 1e-12:
            ax.plot(xs, -(w[0] * xs + b) / w[1], color=color, label=text)
        elif abs(w[0]) > 1e-12:
            ax.axvline(-b / w[0], color=color, label=text)
    ymin, ymax = X[:, 1].min(), X[:, 1].max()
    pad = 0.15 * (ymax - ymin or 1)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return fig
