"""More benchmark problems: mixed, categorical-heavy, conditional, long log ranges, cliffs, noise.

Shaped like real sweeps: an optimizer choice next to learning rates over many
decades, model families with their own conditional parameters, powers of two,
plateaus where training does not start and cliffs where it diverges, and
objectives whose value carries evaluation noise (fixed per configuration, as a
cross-validation error on fixed folds: reproducible, but rough). The
scikit-learn ones tune real models on bundled datasets.

``HELD_OUT`` names the problems kept aside while the GP was tuned: the
benchmark reports them separately (bench/blackbox/score.py).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tunehooks.params import Categorical, Float, Int
from tunehooks.space import SearchSpace

__all__ = ["HELD_OUT", "suite_problems"]

HELD_OUT = frozenset(
    {
        "optim_choice_noisy",
        "cat_only",
        "step_levels",
        "hartmann6_noisy",
        "svc_digits_kernel",
        "mixed_large",
        "levy8",
        "knn_digits",
    }
)


def _noise(p: Mapping[str, Any], sd: float, salt: str) -> float:
    """Evaluation noise fixed per configuration (a hash of it seeds the draw)."""
    key = json.dumps(dict(p), sort_keys=True, default=str) + salt
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return float(sd * np.random.default_rng(seed).standard_normal())


# -- an optimizer choice with learning rates over many decades ------------------------------
# best log10(lr), width of the good valley (decades) and the loss floor of each optimizer
_OPT = {
    "sgd": (-1.0, 0.8, 0.12),
    "momentum": (-1.7, 0.7, 0.08),
    "adam": (-3.2, 0.9, 0.05),
    "rmsprop": (-3.6, 0.6, 0.07),
    "adagrad": (-1.5, 1.0, 0.15),
}


def optim_choice(p: Mapping[str, Any]) -> float:
    center, width, floor = _OPT[str(p["optimizer"])]
    u = (math.log10(float(p["lr"])) - center) / width
    if u > 1.6:  # diverged: a cliff to the worst value
        return 3.0
    # too small a learning rate: training barely starts (a plateau near 1)
    fit = 1.0 - math.exp(-0.5 * u * u)
    loss = floor + 0.9 * fit
    loss += 0.04 * ((math.log10(float(p["weight_decay"])) + 4.5) / 3.5) ** 2
    loss += 0.1 * (float(p["dropout"]) - 0.2) ** 2
    return loss


OPTIM_SPACE = SearchSpace(
    {
        "optimizer": Categorical(list(_OPT)),
        "lr": Float(1e-7, 10.0, log=True),
        "weight_decay": Float(1e-9, 1e-1, log=True),
        "dropout": Float(0.0, 0.8),
    }
)


def optim_choice_noisy(p: Mapping[str, Any]) -> float:
    return optim_choice(p) + _noise(p, 0.02, "oc")


# -- categorical-heavy: additive effects plus pairwise interactions of random tables --------
def _tables(sizes: list[int], seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    main = [rng.exponential(1.0, n) for n in sizes]
    pairs = [0.4 * rng.standard_normal((sizes[i], sizes[i + 1])) for i in range(len(sizes) - 1)]
    return main, pairs


def _cat_value(p: Mapping[str, Any], names: list[str], sizes: list[int], seed: int) -> float:
    main, pairs = _tables(sizes, seed)
    idx = [int(str(p[n]).split("_")[1]) for n in names]
    f = sum(float(main[i][k]) for i, k in enumerate(idx))
    f += sum(float(pairs[i][idx[i], idx[i + 1]]) for i in range(len(idx) - 1))
    return f


_CH_SIZES = [3, 4, 6, 8]
_CO_SIZES = [3, 5, 8, 4, 6]


def cat_heavy(p: Mapping[str, Any]) -> float:
    names = [f"c{i}" for i in range(len(_CH_SIZES))]
    return _cat_value(p, names, _CH_SIZES, 11) + 2.0 * (float(p["x"]) - 0.35) ** 2


def cat_only(p: Mapping[str, Any]) -> float:
    return _cat_value(p, [f"c{i}" for i in range(len(_CO_SIZES))], _CO_SIZES, 23)


def _cat_space(sizes: list[int], extra: dict[str, Any] | None = None) -> SearchSpace:
    params: dict[str, Any] = {
        f"c{i}": Categorical([f"v_{k}" for k in range(n)]) for i, n in enumerate(sizes)
    }
    return SearchSpace({**params, **(extra or {})})


def _cat_min(sizes: list[int], seed: int) -> float:
    """The exact minimum of the chain-structured table (dynamic programming)."""
    main, pairs = _tables(sizes, seed)
    best = main[0].copy()
    for i in range(1, len(sizes)):
        best = (best[:, None] + pairs[i - 1]).min(axis=0) + main[i]
    return float(best.min())


# -- a model family with its own conditional parameters -------------------------------------
def conditional_arch(p: Mapping[str, Any]) -> float:
    lr = math.log10(float(p["lr"]))
    model = str(p["model"])
    if model == "mlp":
        f = 0.35 + 0.05 * (int(p["layers"]) - 3) ** 2 / 4
        f += 0.08 * (math.log2(int(p["width"])) - 8) ** 2 / 4
        f += 0.3 * ((lr + 3) / 2) ** 2
    elif model == "cnn":
        f = 0.1 + 0.1 * {3: 0.0, 5: 0.3, 7: 0.8}[int(p["kernel"])]
        f += 0.06 * (math.log2(int(p["channels"])) - 6) ** 2 / 4
        f += 0.3 * ((lr + 2.5) / 2) ** 2
    else:
        f = 0.25 + (0.0 if p["cell"] == "gru" else 0.05)
        f += 0.07 * (math.log2(int(p["hidden"])) - 7) ** 2 / 4
        f += 0.3 * ((lr + 3.5) / 2) ** 2
    return f


ARCH_SPACE = SearchSpace(
    {
        "model": Categorical(["mlp", "cnn", "rnn"]),
        "lr": Float(1e-6, 1.0, log=True),
        "layers": Int(1, 8, condition={"model": ["mlp"]}),
        "width": Int(16, 1024, power_of_two=True, condition={"model": ["mlp"]}),
        "kernel": Categorical([3, 5, 7], condition={"model": ["cnn"]}),
        "channels": Int(8, 512, power_of_two=True, condition={"model": ["cnn"]}),
        "cell": Categorical(["lstm", "gru"], condition={"model": ["rnn"]}),
        "hidden": Int(16, 1024, power_of_two=True, condition={"model": ["rnn"]}),
    }
)


# -- integers and powers of two -------------------------------------------------------------
def pow2_int(p: Mapping[str, Any]) -> float:
    b = math.log2(int(p["batch"]))
    f = 0.1 * (b - 7) ** 2 + 0.02 * (int(p["epochs"]) - 60) ** 2 / 36
    f += 0.05 * (int(p["layers"]) - 5) ** 2
    f += 0.5 * ((math.log10(float(p["lr"])) + 2.5 - 0.3 * (b - 7)) / 1.5) ** 2
    return f


POW2_SPACE = SearchSpace(
    {
        "batch": Int(8, 4096, power_of_two=True),
        "epochs": Int(1, 100),
        "layers": Int(1, 12),
        "lr": Float(1e-6, 1.0, log=True),
    }
)


# -- flat regions and cliffs ----------------------------------------------------------------
def flat_cliff(p: Mapping[str, Any]) -> float:
    x = np.array([float(p[f"x{i}"]) for i in range(1, 5)])
    d = float(np.linalg.norm(x - np.array([0.75, 0.2, 0.6, 0.3])))
    if d > 0.45:
        return 1.0  # flat: nothing learns
    if x[0] > 0.9:
        return 2.0  # cliff: diverged
    return 1.0 - 0.8 * (1 - d / 0.45) ** 2


def step_levels(p: Mapping[str, Any]) -> float:
    x = np.array([float(p[f"x{i}"]) for i in range(1, 4)])
    q = float(((x - np.array([0.3, 0.7, 0.55])) ** 2).sum())
    return math.floor(q * 40) / 40  # plateaus: accuracy on a small validation set


def log_decades(p: Mapping[str, Any]) -> float:
    t = [math.log10(float(p[f"a{i}"])) for i in range(1, 4)]
    return (t[0] - 3.7) ** 2 / 4 + (t[1] + 6.2) ** 2 / 9 + 0.5 * (t[2] + 1.1) ** 2


# -- a larger mixed space -------------------------------------------------------------------
def mixed_large(p: Mapping[str, Any]) -> float:
    f = {"a": 0.0, "b": 0.3, "c": 0.6, "d": 0.2}[str(p["norm"])]
    f += {"relu": 0.2, "gelu": 0.0, "silu": 0.05, "tanh": 0.5, "sigmoid": 0.9}[str(p["act"])]
    f += 0.0 if p["schedule"] == "cosine" else (0.15 if p["schedule"] == "step" else 0.3)
    f += 0.03 * (int(p["depth"]) - 6) ** 2 / 4 + 0.05 * (math.log2(int(p["batch"])) - 6) ** 2 / 4
    f += 0.4 * ((math.log10(float(p["lr"])) + 3) / 2) ** 2
    f += 0.1 * ((math.log10(float(p["wd"])) + 5) / 4) ** 2
    f += 0.05 * ((math.log10(float(p["eps"])) + 8) / 3) ** 2
    f += 0.5 * (float(p["dropout"]) - 0.1) ** 2 + 0.5 * (float(p["warmup"]) - 0.05) ** 2
    return f


MIXED_LARGE_SPACE = SearchSpace(
    {
        "norm": Categorical(["a", "b", "c", "d"]),
        "act": Categorical(["relu", "gelu", "silu", "tanh", "sigmoid"]),
        "schedule": Categorical(["constant", "step", "cosine"]),
        "depth": Int(1, 16),
        "batch": Int(8, 1024, power_of_two=True),
        "lr": Float(1e-6, 1.0, log=True),
        "wd": Float(1e-10, 1e-1, log=True),
        "eps": Float(1e-12, 1e-3, log=True),
        "dropout": Float(0.0, 0.7),
        "warmup": Float(0.0, 0.3),
    }
)


# -- scikit-learn: real models on bundled data ----------------------------------------------
def kridge_diabetes(p: Mapping[str, Any]) -> float:
    from problems import _cv_error
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(),
        KernelRidge(alpha=float(p["alpha"]), gamma=float(p["gamma"]), kernel=str(p["kernel"])),
    )
    return min(1.5, _cv_error(model, "diabetes", regression=True))  # overfit: capped


def mlp_breast_cancer(p: Mapping[str, Any]) -> float:
    import warnings

    from problems import _cv_error
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(int(p["hidden"]),),
            activation=str(p["activation"]),
            solver=str(p["solver"]),
            alpha=float(p["alpha"]),
            learning_rate_init=float(p["lr"]),
            max_iter=40,
            random_state=0,
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _cv_error(model, "breast_cancer")


def rf_wine(p: Mapping[str, Any]) -> float:
    from problems import _cv_error
    from sklearn.ensemble import RandomForestClassifier

    mf = None if p["max_features"] == "all" else str(p["max_features"])
    model = RandomForestClassifier(
        n_estimators=int(p["n_estimators"]),
        max_depth=int(p["max_depth"]),
        max_features=mf,
        criterion=str(p["criterion"]),
        min_samples_leaf=int(p["min_samples_leaf"]),
        random_state=0,
        n_jobs=1,
    )
    return _cv_error(model, "wine")


def svc_digits_kernel(p: Mapping[str, Any]) -> float:
    from problems import _cv_error
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    kernel = str(p["kernel"])
    model = make_pipeline(
        StandardScaler(),
        SVC(
            C=float(p["C"]),
            gamma=float(p["gamma"]),
            kernel=kernel,
            degree=int(p.get("degree", 3)),
            max_iter=5000,
        ),
    )
    return _cv_error(model, "digits")


def logreg_digits(p: Mapping[str, Any]) -> float:
    import warnings

    from problems import _cv_error
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cw = None if p["class_weight"] == "none" else "balanced"
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=float(p["C"]), tol=float(p["tol"]), class_weight=cw, max_iter=60),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _cv_error(model, "digits")


def suite_problems(
    problem: Callable[..., Any], cached: Callable[[str, Callable[..., float]], Callable[..., float]]
) -> list[Any]:
    """The problems of this module, built with ``problems.Problem`` and its cache."""
    from problems import hartmann6

    def h6_noisy(p: Mapping[str, Any]) -> float:
        return hartmann6(p) + _noise(p, 0.1, "h6")

    box = lambda d: SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(1, d + 1)})  # noqa: E731
    return [
        problem("optim_choice", OPTIM_SPACE, optim_choice, min(v[2] for v in _OPT.values()),
                "synthetic", "optimizer choice (5) + lr over 8 decades with plateau and "
                "divergence cliff + weight decay over 8 decades + dropout"),
        problem("optim_choice_noisy", OPTIM_SPACE, optim_choice_noisy, None, "synthetic",
                "optim_choice with evaluation noise (sd 0.02, fixed per configuration)"),
        problem("cat_heavy", _cat_space(_CH_SIZES, {"x": Float(0.0, 1.0)}), cat_heavy,
                _cat_min(_CH_SIZES, 11), "synthetic",
                "4 categoricals (3, 4, 6, 8 choices) with pairwise interactions + a float"),
        problem("cat_only", _cat_space(_CO_SIZES), cat_only, _cat_min(_CO_SIZES, 23),
                "synthetic", "5 categoricals (3-8 choices) with pairwise interactions"),
        problem("conditional_arch", ARCH_SPACE, conditional_arch, 0.1, "synthetic",
                "model family (3) with its own conditional ints, powers of two and "
                "categoricals; shared log lr"),
        problem("pow2_int", POW2_SPACE, pow2_int, 0.0, "synthetic",
                "power-of-two batch, ints, log lr coupled to the batch"),
        problem("flat_cliff", box(4), flat_cliff, 0.2, "synthetic",
                "flat almost everywhere, a basin with a cliff edge, 4-d"),
        problem("step_levels", box(3), step_levels, 0.0, "synthetic",
                "piecewise constant (plateaus) quadratic, 3-d"),
        problem("log_decades", SearchSpace({
            "a1": Float(1e-10, 1e10, log=True), "a2": Float(1e-12, 1e2, log=True),
            "a3": Float(1e-8, 1e4, log=True)}), log_decades, 0.0, "synthetic",
            "3 log floats over 12-20 decades"),
        problem("hartmann6_noisy", box(6), h6_noisy, None, "synthetic",
                "Hartmann 6-d with evaluation noise (sd 0.1, fixed per configuration)"),
        problem("mixed_large", MIXED_LARGE_SPACE, mixed_large, 0.0, "synthetic",
                "10 parameters: 3 categoricals, ints, power of two, 3 log floats over "
                "6-9 decades, 2 floats"),
        problem("kridge_diabetes", SearchSpace({
            "alpha": Float(1e-8, 1e4, log=True), "gamma": Float(1e-8, 1e2, log=True),
            "kernel": Categorical(["rbf", "laplacian"])}),
            cached("kridge", kridge_diabetes), None, "sklearn",
            "kernel ridge on diabetes: 2 log parameters over 10-12 decades + kernel, "
            "3-fold CV MSE / Var(y)"),
        problem("mlp_breast_cancer", SearchSpace({
            "solver": Categorical(["adam", "sgd", "lbfgs"]),
            "lr": Float(1e-6, 1.0, log=True), "alpha": Float(1e-8, 10.0, log=True),
            "hidden": Int(4, 256, power_of_two=True),
            "activation": Categorical(["relu", "tanh", "logistic"])}),
            cached("mlp", mlp_breast_cancer), None, "sklearn",
            "MLP on breast_cancer: solver choice, lr and alpha over many decades, "
            "3-fold CV error"),
        problem("rf_wine", SearchSpace({
            "n_estimators": Int(4, 64, power_of_two=True), "max_depth": Int(1, 20),
            "max_features": Categorical(["sqrt", "log2", "all"]),
            "criterion": Categorical(["gini", "entropy"]),
            "min_samples_leaf": Int(1, 30, log=True)}),
            cached("rf", rf_wine), None, "sklearn", "random forest on wine, 3-fold CV error"),
        problem("svc_digits_kernel", SearchSpace({
            "kernel": Categorical(["rbf", "poly", "sigmoid"]),
            "C": Float(1e-3, 1e5, log=True), "gamma": Float(1e-7, 10.0, log=True),
            "degree": Int(2, 5, condition={"kernel": ["poly"]})}),
            cached("svck", svc_digits_kernel), None, "sklearn",
            "SVC on digits: kernel choice, C and gamma over 8 decades, conditional degree"),
        problem("logreg_digits", SearchSpace({
            "C": Float(1e-6, 1e4, log=True), "tol": Float(1e-6, 1.0, log=True),
            "class_weight": Categorical(["none", "balanced"])}),
            cached("logreg", logreg_digits), None, "sklearn",
            "logistic regression on digits: C and tol over 6-10 decades, 3-fold CV error"),
    ]  # fmt: skip
