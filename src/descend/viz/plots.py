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


def literal(text):
    """``text`` from the data as Matplotlib shows it literally: a ``$`` would
    start mathtext (a category ``$_$`` made drawing fail)."""
    return str(text).replace("$", r"\$")


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
    ax.barh([literal(names[i]) for i in order], coef[order], color=colors)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("coefficient wᵢ (standardised feature)")
    ax.set_title("Coefficients" + (f" (largest {limit})" if len(coef) > limit else ""))
    return fig


def confusion_figure(matrix, classes):
    """The K × K confusion matrix as a heat map, counts written in the cells
    (rows: true class, columns: predicted)."""
    matrix = np.asarray(matrix)
    K = len(classes)
    side = 3.2 + 0.45 * max(K - 2, 0)
    fig, ax = plt.subplots(figsize=(side + 0.4, side))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=12 if K <= 4 else 8,
                color="white" if v > matrix.max() / 2 else "black")
    ax.set_xticks(range(K), [f"pred {literal(c)}" for c in classes], rotation=0 if K <= 2 else 45,
                  ha="center" if K <= 2 else "right")
    ax.set_yticks(range(K), [f"true {literal(c)}" for c in classes])
    ax.set_title("Confusion matrix")
    fig.tight_layout()
    return fig


def coefficient_matrix_figure(names, classes, W, limit=30):
    """K classes: W (K × n) as a heat map, the ``limit`` features of largest
    Σₖ |W[k, i]| as columns."""
    W = np.asarray(W)
    order = np.argsort(-np.abs(W).sum(axis=0))[:limit]
    fig, ax = plt.subplots(figsize=(max(4.5, 0.32 * len(order) + 2), 0.4 * len(classes) + 1.8))
    top = float(np.max(np.abs(W[:, order]), initial=1e-12))
    image = ax.imshow(W[:, order], cmap="RdBu", vmin=-top, vmax=top, aspect="auto")
    ax.set_xticks(range(len(order)), [names[i] for i in order], rotation=60, ha="right",
                  fontsize=7)
    ax.set_yticks(range(len(classes)), [str(c) for c in classes])
    fig.colorbar(image, ax=ax, label="W[k, i] (standardised feature)")
    ax.set_title("Coefficients by class" + (f" (largest {limit})" if W.shape[1] > limit else ""))
    fig.tight_layout()
    return fig


def region_figure(X, y, W, b, names, classes):
    """Two features, K classes: points coloured by class over the regions where
    each class's zₖ = wₖ·x + bₖ is the largest (the boundaries between them)."""
    X = np.asarray(X, dtype=float)
    K = len(classes)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    g0, g1 = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 200),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], 200))
    region = np.argmax(np.column_stack([g0.ravel(), g1.ravel()]) @ np.asarray(W).T + b, axis=1)
    colors = plt.cm.tab10(np.arange(K) % 10)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.contourf(g0, g1, region.reshape(g0.shape), levels=np.arange(K + 1) - 0.5,
                colors=colors, alpha=0.18)
    for k in range(K):
        pts = X[y == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=colors[k], label=str(classes[k]),
                   edgecolor="white", lw=0.4)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title("Decision regions (largest zₖ)")
    ax.legend(fontsize=7, loc="best")
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
        ax.scatter(pts[:, 0], pts[:, 1], s=18, color=color, label=literal(labels[label]),
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
    ax.set_xlabel(literal(names[0]))
    ax.set_ylabel(literal(names[1]))
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return fig


def penalty_path(cv, coefs):
    """Coefficient paths against C and the cross-validated score against C
    (``cv``: :func:`descend.model.selection.selection_report`'s report;
    ``coefs``: (n_Cs, n_coefficients), the folds' mean path), the chosen C marked."""
    Cs = np.asarray(cv["Cs"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True)
    top.plot(Cs, coefs, lw=1)
    top.axhline(0, color="grey", lw=0.6)
    top.set_ylabel("coefficient (mean over folds)")
    top.set_title(f"Regularisation path: {int(np.count_nonzero(coefs[-1]))} of "
                  f"{coefs.shape[1]} non-zero at the smallest penalty")
    mean, std = np.asarray(cv["score_mean"]), np.asarray(cv["score_std"])
    bottom.errorbar(Cs, -mean, yerr=std, fmt=".-", color="#d62728", capsize=2)
    bottom.set_ylabel(f"held-out log-loss ({cv['folds']} folds)")
    bottom.set_xlabel("C (inverse penalty strength)")
    for ax in (top, bottom):
        ax.set_xscale("log")
        ax.axvline(cv["C"], color="black", ls="--", lw=0.8)
        ax.grid(alpha=0.3)
    bottom.annotate(f"chosen C = {cv['C']:.3g}", (cv["C"], 1), xycoords=("data", "axes fraction"),
                    xytext=(4, -12), textcoords="offset points", fontsize=8)
    fig.tight_layout()
    return fig
