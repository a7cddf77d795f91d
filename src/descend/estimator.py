"""``descend.LogisticRegression``: the scikit-learn estimator contract.

Validation, labels and fitted attributes live here; the maths lives in
:mod:`descend.objective` and :mod:`descend.graph`, the loop in
:mod:`descend.solver`.
"""
import functools
import numbers
import sys

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from descend.engine.codes import is_coded, validate_coded
from descend.engine.codes_objective import codes_objective
from descend.cluster.arrays import is_dask
import descend.array_input as array_input
import descend.frame_input as frame_input
from descend.engine.array_multinomial import ArrayMultinomialObjective
from descend.engine.array_objective import ArrayObjective
from descend.engine.csr_multinomial import CsrMultinomialObjective
from descend.engine.csr_objective import CsrObjective
from descend.engine.multinomial import MultinomialObjective
from descend.engine.numerics import log_sigmoid, sigmoid
from descend.engine.objective import Objective
from descend.engine.softmax import log_softmax, softmax
from descend.exceptions import DataError, UsageError, warn_not_converged
from descend.optim.proximal import L1Penalty, penalised_mask
from descend.optim.rules import RULES
from descend.optim.solver import Solver
from descend.working_set import WorkingSetFit
from descend.working_set import applies as working_set_applies

SOLVERS = ("auto",) + tuple(RULES)
PRECONDITIONERS = ("auto", "none", "diagonal", "full")
PENALTIES = ("l2", "l1", "elasticnet", None)
#: Update rules that take proximal steps (an L1 part): the step, then the threshold.
PROXIMAL_SOLVERS = ("auto", "nesterov", "gd")


def _lazy_on_dask(method):
    """The prediction ``method``, lazy on dask input (:mod:`descend.cluster.predict`)."""
    @functools.wraps(method)
    def dispatch(self, X):
        if is_dask(X):
            from descend.cluster.predict import lazy
            check_is_fitted(self)
            return lazy(self, X, method.__name__)
        return method(self, X)
    return dispatch


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression (two or K classes) trained by gradient descent.

    Minimises the objective shared with scikit-learn's ``LogisticRegression``.
    Two classes:

        J(w, b) = Σᵢ sᵢ L(aᵢ, yᵢ) / Σᵢ sᵢ + ‖w‖² / (2 C Σᵢ sᵢ),
        aᵢ = σ(wᵀxᵢ + b),  L(a, y) = −[y log a + (1 − y) log(1 − a)];

    K ≥ 3 classes (multinomial, the full K × n matrix W):

        J(W, b) = Σᵢ sᵢ [logsumexp(zᵢ) − z_{i,yᵢ}] / Σᵢ sᵢ + ‖W‖²_F / (2 C Σᵢ sᵢ),
        zᵢ = W xᵢ + b,  aᵢ = softmax(zᵢ),

    so both reach the same optimum for the same ``C``. With ``penalty`` "l1" or
    "elasticnet" the penalty is scikit-learn's ``saga`` one,

        (1/(C Σᵢ sᵢ))·[(1 − ρ)/2 ‖w‖² + ρ ‖w‖₁],  ρ = ``l1_ratio`` (1 for "l1"),

    (‖W‖₁ over every entry for K classes), and each step is a proximal
    gradient step: the gradient step, then every weight shrunk towards zero
    by the step times ρ/(C Σᵢ sᵢ), to exactly zero when it would cross it.
    Each gradient is one
    run of the lesson's computation graph (dz = a − y, dw = Xᵀdz, db = Σ dz;
    for K classes dZ = A − Y, dW = dZᵀX, db = Σ dZ) over row blocks of X, in
    one pass.

    X may be a NumPy array (or anything array-like) or a scipy sparse matrix
    or array. Sparse X is never densified: CSR is used as it is (float32 or
    float64, int32 or int64 indices, unsorted indices and explicit zeros
    allowed; a row storing one column twice is summed into a copy), and any
    other sparse format (CSC, COO, LIL, …) is converted to CSR once, at the
    start of each call: pass CSR to avoid that copy. Each
    gradient then reads the non-zeros once (z over a row's non-zeros, dw
    scattered into their columns), and predictions use scipy's CSR product.
    A :class:`~descend.engine.codes.CodedMatrix` (dense numbers beside one
    integer code per categorical column, what ``descend train`` builds for
    text columns of many levels) is taken as the one-hot matrix it stands
    for, the one-hot columns never written. A pandas DataFrame with columns
    of the ``category`` dtype is taken in that form (as scikit-learn's
    ``HistGradientBoostingClassifier`` takes ``categorical_features=
    "from_dtype"``, :mod:`descend.frame_input`): the other columns are the
    numbers, in their own units (not standardised, as with any X), and
    ``coef_`` holds ``pd.get_dummies(X)``'s columns: the numeric columns in
    the frame's order, then one weight per level of each categorical column,
    in its category order. Later frames are coded by level name; a missing
    value or a level not seen in ``fit`` adds nothing to z.

    X may also be an Array API array: a PyTorch tensor (CPU
    or CUDA), a CuPy array, an ``array-api-strict`` array. It stays in its
    namespace and on its device for the whole fit (:mod:`descend.array_input`;
    on CUDA one fused Triton pass per gradient), and ``coef_``, ``intercept_``
    and numeric ``classes_`` are then arrays of X's namespace, on its device.

    Parameters
    ----------
    C : float, default=1.0
        Inverse penalty strength, > 0; ``np.inf`` for no penalty. The
        intercept is not penalised.
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
        None: no penalty (``C`` is ignored). "l1" and "elasticnet" need
        ``solver`` "auto", "nesterov" or "gd" and full batches. In the
        "full" metric (the default up to 1024 parameters) each step's
        threshold is a small lasso in the curvature B, solved by coordinate
        descent (a proximal Newton step once B is the Hessian); in the
        "diagonal" one it is soft-thresholding, coordinate by coordinate.
        From 200 features up (NumPy or CSR X, ``learning_rate="auto"``, no
        ``callback``, ``solver_state`` or ``eval_set``) an L1 part is fitted
        on a working set of columns, grown until the KKT conditions hold on
        every column (:mod:`descend.working_set`): the same optimum, each
        gradient over the set's columns alone.
    l1_ratio : float in [0, 1] or None, default=None
        ρ of the elastic net; only with ``penalty="elasticnet"``, where it is
        required.
    fit_intercept : bool, default=True
    solver : {"auto", "gd", "momentum", "nesterov", "adam"}, default="auto"
        Update rule. "auto" is Nesterov with adaptive restart; "gd" with a
        float ``learning_rate`` is the lesson's w ← w − α·dw, b ← b − α·db.
    learning_rate : float or "auto", default="auto"
        Fixed α > 0 in the features' own units, or "auto": step 1/L in
        preconditioned coordinates, halved whenever the loss rises.
    preconditioner : {"auto", "none", "diagonal", "full"}, default="auto"
        Change of variables applied to the parameters, never to X. "auto"
        factors the curvature bound B = [X 1]ᵀ[X 1]/4m + λI for up to 1024
        parameters with full batches and dense X, otherwise scales each
        column by the diagonal of the centred bound (mean μⱼ, scale
        √(varⱼ + 4λ): O(nnz), nothing n × n), and uses none with a fixed
        ``learning_rate``.
    batch_size : int or None, default=None
        None: full batch. 1: one-example SGD. Else mini-batches, shuffled each
        epoch with ``random_state``.
    max_iter : int, default=1000
        Iterations (full batch) or epochs (mini-batch).
    tol : float, default=1e-10
        Stop when ½‖g′‖²/L ≤ tol·max(J, 1e-6), g′ the preconditioned gradient: the
        decrease one more step would promise, relative to the loss. The
        default lands within 1e-6 of the optimum's objective on ordinary data.
    class_weight : dict, "balanced" or None, default=None
        Multiplies the sample weights of each class.
    random_state : int, Generator or None, default=None
        Seeds the shuffling of mini-batches (bit-for-bit reproducible).
    warm_start : bool, default=False
        Start ``fit`` from the previous ``coef_`` and ``intercept_``.
    verbose : int, default=0
        Print loss and gradient norm every ``verbose`` iterations to stderr.
    n_jobs : int or None, default=None
        Threads over row blocks; None uses every core for large X.
    callback : callable or None, default=None
        Called with the solver's state after each iteration (progress bars,
        checkpoints); it may raise to stop training.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features), or (K, n_features) for K ≥ 3 classes
    intercept_ : ndarray of shape (1,), or (K,) for K ≥ 3 classes, centred
        (Σₖ bₖ = 0: softmax does not change when every bₖ moves together)
    classes_ : ndarray of shape (K,)
        Sorted labels; with two, ``classes_[1]`` is the positive class (y = 1
        in the lesson).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names.
    is_categorical_ : ndarray of bool, shape (n_features_in_,)
        Only for a DataFrame with ``category`` columns: which columns are
        categorical. ``coef_`` then has Σ levels + (number of numeric
        columns) columns, named by ``descend.frame_input.coefficient_names``
        (``"city=Lyon"``).
    categories_ : list of ndarray
        Only for a DataFrame with ``category`` columns: the levels of each
        categorical column, in order, one weight per level in ``coef_``.
    n_iter_ : int
        Iterations (epochs) run. After a working-set fit, those of every
        set's fit together (each one gradient over the set's columns; the
        full gradient that checks each set is not counted).
    converged_ : bool
    history_ : list of dict
        Per iteration: ``iteration``, ``loss``, ``grad_norm``, ``step_size``,
        ``elapsed`` (seconds since the start); after a working-set fit also
        ``working_set`` (the set's size, in features), ``grad_norm`` that of
        the set's gradient.
    solver_state_ : SolverState or None
        The state to continue from (``fit(solver_state=…)``); None after a
        working-set fit, whose states are of its sets' smaller problems
        (continue it with ``warm_start=True``).
    """

    def __init__(self, *, C=1.0, penalty="l2", l1_ratio=None, fit_intercept=True,
                 solver="auto", learning_rate="auto", preconditioner="auto", batch_size=None,
                 max_iter=1000, tol=1e-10, class_weight=None, random_state=None,
                 warm_start=False, verbose=0, n_jobs=None, callback=None):
        self.C = C
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.learning_rate = learning_rate
        self.preconditioner = preconditioner
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.callback = callback

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True  # PyTorch, CuPy, array-api-strict (descend.array_input)
        return tags

    # -- validation ---------------------------------------------------------
    def _check_params(self):
        """Every parameter, before any data is looked at (UsageError names it)."""
        def positive(name, value, allow_inf=False):
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0
            if not ok or (not allow_inf and not np.isfinite(value)):
                raise UsageError(f"{{{name}}} must be a positive number, got {value!r} "
                                 "(for example 1.0)", **{name: None})
        positive("C", self.C, allow_inf=True)
        if self.learning_rate != "auto":
            positive("learning_rate", self.learning_rate)
        if self.solver not in SOLVERS:
            raise UsageError(f"{{solver}} must be one of {SOLVERS}, got {self.solver!r}",
                             solver=None)
        if self.preconditioner not in PRECONDITIONERS:
            raise UsageError(f"{{preconditioner}} must be one of {PRECONDITIONERS}, "
                             f"got {self.preconditioner!r}", preconditioner=None)
        for name, value in (("max_iter", self.max_iter), ("batch_size", self.batch_size)):
            if value is None and name == "batch_size":
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{{{name}}} must be a positive integer, got {value!r}",
                                 **{name: None})
        if not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise UsageError(f"{{tol}} must be a number ≥ 0, got {self.tol!r}", tol=None)
        if not (self.class_weight is None or self.class_weight == "balanced"
                or isinstance(self.class_weight, dict)):
            raise UsageError(f"{{class_weight}} must be 'balanced', a dict or None, got "
                             f"{self.class_weight!r}", class_weight=None)
        self._check_penalty()
        seed = self.random_state
        if not (seed is None or isinstance(seed, np.random.Generator) or (
                isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0)):
            raise UsageError(f"{{random_state}} must be a whole number ≥ 0, a numpy Generator "
                             f"or None, got {seed!r}", random_state=None)

    def _check_penalty(self):
        """``penalty`` and ``l1_ratio``, and what an L1 part needs of the solver."""
        if self.penalty not in PENALTIES:
            raise UsageError(f"{{penalty}} must be one of {PENALTIES}, got {self.penalty!r}",
                             penalty=None)
        if self.penalty != "elasticnet":
            if self.l1_ratio is not None:
                raise UsageError(f"{{l1_ratio}} is only used with {{penalty}} 'elasticnet', "
                                 f"not {self.penalty!r}: set {{penalty}} to 'elasticnet' or "
                                 "leave out {l1_ratio}", l1_ratio=None, penalty=None)
        elif not (isinstance(self.l1_ratio, numbers.Real) and not isinstance(self.l1_ratio, bool)
                  and 0 <= self.l1_ratio <= 1):
            raise UsageError(f"{{l1_ratio}} must be a number in [0, 1] with penalty "
                             f"'elasticnet', got {self.l1_ratio!r} (for example 0.5)",
                             l1_ratio=None)
        if self._rho == 0:
            return
        if self.solver not in PROXIMAL_SOLVERS:
            raise UsageError(f"{{solver}} {self.solver!r} cannot take proximal steps; with "
                             f"penalty {self.penalty!r} use one of {PROXIMAL_SOLVERS}",
                             solver=None)
        if self.batch_size is not None:
            raise UsageError(f"{{batch_size}} must be None (full batches) with penalty "
                             f"{self.penalty!r}", batch_size=None)

    @property
    def _rho(self):
        """ρ: the L1 share of the penalty (0 for "l2" and None)."""
        return {"l1": 1.0, "elasticnet": self.l1_ratio}.get(self.penalty, 0.0)

    def _strengths(self, S):
        """(λ₂, λ₁) = ((1 − ρ)/(C S), ρ/(C S)) for total sample weight S."""
        if self.penalty is None or np.isinf(self.C):
            return 0.0, 0.0
        rho = float(self._rho)
        return (1.0 - rho) / (self.C * S), rho / (self.C * S)

    def _validate_training_data(self, X, y, sample_weight, reset, set_classes=None):
        if is_dask(X):  # a dask array or DataFrame: checked on the cluster
            from descend.cluster.arrays import validate_training_data
            return validate_training_data(self, X, y, sample_weight, reset, set_classes)
        X, y = validate_input(self, X, y, dtype=[np.float64, np.float32], order="C",
                         accept_sparse="csr", reset=reset, y_numeric=False)
        check_classification_targets(y)
        if reset if set_classes is None else set_classes:
            self.classes_ = self._check_classes(np.unique(y))
        y01 = self._encode(y)
        if sample_weight is not None or self.class_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
            if self.class_weight is not None:
                # "balanced" counts weighted examples, as scikit-learn does
                per_class = compute_class_weight(self.class_weight, classes=self.classes_, y=y,
                                                 sample_weight=sample_weight)
                sample_weight = sample_weight * per_class[y01.astype(int)].astype(X.dtype)
            largest = float(np.max(sample_weight, initial=0.0))
            if not largest < 1e150:
                raise DataError(f"sample_weight has values as large as {largest:.3g}: their "
                                "sums overflow floating point; rescale the weights (only "
                                "their ratios matter)")
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight sums to zero; give some examples a "
                                 "positive weight")
        return X, y01, sample_weight

    @staticmethod
    def _check_classes(classes):
        if len(classes) == 1:
            raise ValueError(f"y has only one class ({classes[0]!r}): logistic regression "
                             "needs examples of at least two classes; add examples of "
                             "another class")
        return classes

    @property
    def _multinomial(self):
        """K ≥ 3 classes: the softmax model (two classes keep the sigmoid)."""
        return len(self.classes_) > 2

    def _encode(self, y):
        """Labels → class indices (float 0/1 for two classes, classes_[1] as 1);
        unseen labels are an error."""
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"y has labels {np.unique(y[unknown])[:5].tolist()} not in "
                             f"classes_ {self.classes_.tolist()}")
        codes = np.searchsorted(self.classes_, y)
        return codes.astype(np.intp) if self._multinomial else codes.astype(np.float64)

    # -- training -----------------------------------------------------------
    def _objective(self, X, y01, sample_weight):
        if is_dask(X):  # one map-reduce over the chunks per evaluation
            from descend.cluster.arrays import make_objective as dask_objective
            return dask_objective(self, X, y01, sample_weight)
        S = len(y01) if sample_weight is None else float(np.sum(sample_weight, dtype=np.float64))
        l2, _ = self._strengths(S)
        if is_coded(X):
            return codes_objective(X, y01, len(self.classes_), sample_weight, l2=l2,
                                   fit_intercept=self.fit_intercept, n_threads=self.n_jobs)
        if self._multinomial:
            kind = CsrMultinomialObjective if sp.issparse(X) else MultinomialObjective
            if array_input.is_array_api_input(X):
                kind = ArrayMultinomialObjective
            return kind(X, y01, len(self.classes_), sample_weight, l2=l2,
                        fit_intercept=self.fit_intercept, n_threads=self.n_jobs)
        return make_objective(X, y01, sample_weight, l2=l2, fit_intercept=self.fit_intercept,
                              n_threads=self.n_jobs)

    def _make_solver(self, objective, preconditioner=None, monitor=None):
        return Solver(rule=self.solver, learning_rate=self.learning_rate,
                      preconditioner=preconditioner or self.preconditioner,
                      max_iter=self.max_iter, tol=self.tol, batch_size=self.batch_size,
                      random_state=self.random_state, callback=self._iteration_callback,
                      monitor=monitor, penalty=self._l1_part(objective))

    def _l1_part(self, objective):
        """The L1 part of the penalty for this objective's weights, or None."""
        l1 = self._strengths(objective.S)[1]
        if l1 == 0:
            return None
        K = getattr(objective, "n_outputs", 1)
        return L1Penalty(l1, penalised_mask(K, objective.n_features, self.fit_intercept))

    def _validation_monitor(self, eval_set):
        """θ ↦ {"validation_loss": mean log-loss of the held-out rows}."""
        if eval_set is None:
            return None
        X_val, y_val = eval_set
        X_val = validate_input(self, X_val, dtype=[np.float64, np.float32], order="C",
                          accept_sparse="csr", reset=False)
        held_out = self._objective(X_val, self._encode(np.asarray(y_val)), None)
        held_out.l2 = 0.0
        return lambda theta: {"validation_loss": held_out.loss_grad(theta)[0]}

    def _iteration_callback(self, state):
        if self.verbose and state.iteration % int(self.verbose) == 0:
            h = state.history[-1]
            print(f"iter {h['iteration']:5d}  loss {h['loss']:.8f}  "
                  f"|grad| {h['grad_norm']:.3e}  step {h['step_size']:.3g}", file=sys.stderr)
        if self.callback is not None:
            self.callback(state)

    def _initial_theta(self, n_features):
        rows = len(self.classes_) if self._multinomial else 1
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (rows, n_features):
            return self._theta()
        return np.zeros(rows * (n_features + int(self.fit_intercept)))

    def _theta(self):
        """θ laid out (K, n + 1), flattened (one row for two classes)."""
        theta = self.coef_.astype(np.float64)
        if self.fit_intercept:
            theta = np.column_stack([theta, self.intercept_.astype(np.float64)])
        return theta.ravel()

    def _store(self, theta, state, n_features, dtype):
        self._store_theta(theta, n_features, dtype)
        self.n_iter_ = state.iteration
        self.converged_ = state.converged
        self.history_ = state.history

    def _store_theta(self, theta, n_features, dtype):
        """``coef_`` and ``intercept_`` from θ laid out (K, n + 1)."""
        T = np.asarray(theta, dtype=np.float64).reshape(-1, n_features + int(self.fit_intercept))
        self.coef_ = np.asarray(T[:, :n_features], dtype=dtype)
        b = T[:, -1] if self.fit_intercept else np.zeros(len(T))
        # K classes: b is defined up to a constant; report it centred, as scikit-learn
        self.intercept_ = np.asarray(b - b.mean() if self._multinomial else b, dtype=dtype)

    def fit(self, X, y, sample_weight=None, *, solver_state=None, eval_set=None):
        """Fit on X of shape (m, n) and labels y of shape (m,) with two or more classes.

        Parameters
        ----------
        X : array-like or scipy sparse matrix/array of shape (m, n)
            float32 stays float32; a C-contiguous float array is not copied.
            Sparse X is never densified: CSR (int32 or int64 indices, sorted
            or not) is used as it is, any other format (CSC, COO, …) is
            converted to CSR once. A DataFrame with ``category`` columns is
            kept as its numbers beside one integer code per categorical
            column (float32 when every numeric column is float32).
        y : array-like of shape (m,)
            Any labels (at least two); with two, the larger in sort order is the
            positive class and the model is the sigmoid one; with K ≥ 3 it is
            the multinomial (softmax) one.
        sample_weight : array-like of shape (m,), optional
            Non-negative weights sᵢ of the objective.
        solver_state : SolverState, optional
            Continue a run from this state (a checkpoint, see
            :mod:`descend.checkpoint`) instead of starting afresh; the result is
            the same, bit for bit, as the run that was never interrupted.
        eval_set : (X_val, y_val), optional
            Held-out rows: each ``history_`` record gets their mean log-loss
            at that iteration, ``validation_loss``.

        Returns
        -------
        self
        """
        if array_input.is_array_api_input(X):  # PyTorch, CuPy: the fit stays on X's device
            return array_input.fit(self, X, y, sample_weight, solver_state, eval_set)
        self._check_params()
        X, y01, sample_weight = self._validate_training_data(X, y, sample_weight, reset=True)
        if (solver_state is None and eval_set is None and self.callback is None
                and working_set_applies(self, X, X.shape[1])):
            return self._fit_working_set(X, y01, sample_weight)
        objective = self._objective(X, y01, sample_weight)
        solver = self._make_solver(objective, monitor=self._validation_monitor(eval_set))
        result = solver.run(objective, self._initial_theta(X.shape[1]), state=solver_state)
        self._store(result.theta, result.state, X.shape[1], X.dtype)
        self.solver_state_ = result.state
        if not result.state.converged:
            separable = result.state.separated or (
                self._strengths(1.0) == (0.0, 0.0) and np.all(self.predict(X) == np.asarray(y)))
            warn_not_converged(self.max_iter, result.state.measure, self.tol, separable)
        return self

    def _fit_working_set(self, X, y01, sample_weight):
        """The L1 fit of many features on a working set of columns
        (:mod:`descend.working_set`), from the warm start or the intercept alone."""
        fit = WorkingSetFit(self, X, y01, sample_weight)
        theta = fit.solve(self._initial_theta(X.shape[1]))
        self._store_theta(theta, X.shape[1], X.dtype)
        self.n_iter_, self.converged_, self.history_ = fit.iterations, fit.converged, fit.history
        self.solver_state_ = None  # each state is of a working set's problem, not this one
        if not fit.converged:
            warn_not_converged(self.max_iter, fit.measure, self.tol, False)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of the update rule on this batch, keeping its state.

        The first call needs ``classes`` (every label) unless y holds them all.
        The preconditioner ("diagonal" unless set) is built from the first
        batch and kept, so later batches take steps in the same coordinates.

        Returns
        -------
        self
        """
        if array_input.is_array_api_input(X):
            raise UsageError("partial_fit takes NumPy arrays or scipy sparse matrices; fit "
                             "takes Array API input (PyTorch, CuPy) whole", solver=None)
        first = not hasattr(self, "_partial_solver")
        if first:
            self._check_params()
            if classes is not None:
                self.classes_ = self._check_classes(np.unique(classes))
        X, y01, sample_weight = self._validate_training_data(
            X, y, sample_weight, reset=first, set_classes=first and classes is None)
        objective = self._objective(X, y01, sample_weight)
        if first:
            pre = "diagonal" if self.preconditioner == "auto" else self.preconditioner
            self._partial_solver = self._make_solver(objective, preconditioner=pre)
            self._partial_precond = self._partial_solver.prepare(objective)
            self._partial_state = self._partial_solver.initial_state(
                objective, self._partial_precond, np.zeros(objective.n_params))
        state = self._partial_state
        state.reset_loss_tracking()
        result = self._partial_solver.run(objective, state=state, precond=self._partial_precond,
                                          iterations=1)
        self._store(result.theta, state, X.shape[1], X.dtype)
        return self

    # -- notebooks ----------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        """In Jupyter, fitted: the loss curve and coefficients (descend.viz.notebook)."""
        from descend.viz.notebook import estimator_bundle
        return estimator_bundle(self, super()._repr_mimebundle_(**kwargs))

    def _repr_html_(self):
        return self._repr_mimebundle_().get("text/html")

    # -- prediction ---------------------------------------------------------
    # (sparse X: z = X w by scipy's CSR product, X is not densified)
    @_lazy_on_dask
    def decision_function(self, X):
        """z = X w + b, shape (m,): the logit of the positive class; for K ≥ 3
        classes Z = X Wᵀ + b, shape (m, K), one logit per class."""
        if array_input.is_array_api_input(X):
            return array_input.decision_function(self, X)
        check_is_fitted(self)
        array_input.check_host_input(self)
        X = validate_input(self, X, dtype=[np.float64, np.float32], accept_sparse="csr",
                      reset=False)
        if self._multinomial:
            return X @ self.coef_.T.astype(X.dtype) + self.intercept_.astype(X.dtype)
        return X @ self.coef_.ravel().astype(X.dtype) + self.intercept_.astype(X.dtype)[0]

    @_lazy_on_dask
    def predict_proba(self, X):
        """[1 − a, a] with a = σ(z), shape (m, 2); for K ≥ 3 classes
        softmax(Z), shape (m, K). Columns in ``classes_`` order, rows sum to 1."""
        if array_input.is_array_api_input(X):
            return array_input.predict_proba(self, X)
        z = self.decision_function(X)
        if z.ndim == 2:  # K classes
            return softmax(z)
        a = sigmoid(z)
        return np.column_stack([1 - a, a])

    @_lazy_on_dask
    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`, computed from z without underflow."""
        if array_input.is_array_api_input(X):
            return array_input.predict_log_proba(self, X)
        z = self.decision_function(X)
        if z.ndim == 2:  # K classes
            return log_softmax(z)
        return np.column_stack([log_sigmoid(-z), log_sigmoid(z)])

    @_lazy_on_dask
    def predict(self, X):
        """The label whose probability is largest (two classes: z > 0 → ``classes_[1]``)."""
        if array_input.is_array_api_input(X):
            return array_input.predict(self, X)
        z = self.decision_function(X)
        if z.ndim == 2:  # K classes
            return self.classes_[np.argmax(z, axis=1)]
        return self.classes_[(z > 0).astype(int)]


def validate_input(estimator, X, y="no_validation", **options):
    """scikit-learn's ``validate_data``, and :func:`~descend.engine.codes.validate_coded`
    for numbers beside categorical codes (a :class:`~descend.engine.codes.CodedMatrix`,
    or a DataFrame with ``category`` columns, coded by :mod:`descend.frame_input`)."""
    reset = options.get("reset", True)
    on_frame = frame_input.is_category_frame(X) if reset else \
        frame_input.fitted_on_frame(estimator)
    if reset and not on_frame:
        frame_input.forget(estimator)
    if not (on_frame or is_coded(X)):
        return validate_data(estimator, X, y, **options)
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the "
                         "target y is None")
    y = None if isinstance(y, str) else y
    if not on_frame:
        return validate_coded(estimator, X, y, reset)
    frame_input.check_coded_input(estimator, X)
    if frame_input.is_frame(X):
        X = frame_input.to_coded(estimator, X, reset)
    return validate_coded(estimator, X, y, reset=False,
                          n_columns=frame_input.coded_width(estimator))


def make_objective(X, y01, sample_weight=None, **options):
    """The objective for X's representation: CSR (:mod:`descend.engine.csr_objective`)
    for scipy sparse X, dense (:mod:`descend.engine.objective`) otherwise."""
    if array_input.is_array_api_input(X):
        return ArrayObjective(X, y01, sample_weight, **options)
    kind = CsrObjective if sp.issparse(X) else Objective
    return kind(X, y01, sample_weight, **options)
