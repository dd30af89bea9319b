"""Learning curves: model quality against training-set size, to answer "do we need more data?".

Two ways to measure, both with scikit-learn underneath:

- cross-validated (``sklearn.model_selection.learning_curve``): every size is trained on nested random
  subsets of each training fold and scored on the held-out fold;
- against a fixed validation set (the seed's picture): nested subsets of the training rows, each scored
  on the same validation rows, repeated with ``repeats`` seeds.

The verdict compares the last two sizes: if the score still rises by more than twice its standard error
(and by at least ``min_gain``), more data helps; otherwise the curve has flattened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vectree.errors import InvalidInputError
from vectree.figures import pyplot, save_figure

__all__ = ["LearningCurve", "learning_curve"]


@dataclass(frozen=True)
class LearningCurve:
    """Scores at each training-set size (means and standard deviations over folds or repeats)."""

    sizes: list[int]
    train_mean: list[float]
    train_std: list[float]
    val_mean: list[float]
    val_std: list[float]
    scoring: str
    method: str  # "cv" or "holdout"
    runs: int  # folds or repeats per size
    min_gain: float = 0.005

    @property
    def last_gain(self) -> float:
        """Validation score gained between the last two sizes."""
        return self.val_mean[-1] - self.val_mean[-2] if len(self.sizes) > 1 else float("nan")

    @property
    def more_data_helps(self) -> bool:
        """True when the last step still improves the validation score significantly."""
        if len(self.sizes) < 2:
            return True
        se = math.sqrt((self.val_std[-1] ** 2 + self.val_std[-2] ** 2) / max(1, self.runs))
        return self.last_gain > max(2 * se, self.min_gain)

    @property
    def verdict(self) -> str:
        """One line for the report."""
        step = f"{self.sizes[-2]:,} -> {self.sizes[-1]:,} rows" if len(self.sizes) > 1 else "one size only"
        if self.more_data_helps:
            return f"more data still helps: validation {self.scoring} rose by {self.last_gain:+.4f} ({step})"
        return (
            f"the curve has flattened: validation {self.scoring} changed by {self.last_gain:+.4f} ({step}); more "
            "of the same data will not help much"
        )

    def rows(self) -> list[dict]:
        """One dict per size, for tables and JSON."""
        return [
            {"n_train": n, "train_mean": a, "train_std": b, "val_mean": c, "val_std": d}
            for n, a, b, c, d in zip(self.sizes, self.train_mean, self.train_std, self.val_mean, self.val_std)
        ]

    def as_dict(self) -> dict:
        """A JSON-able dict, with the verdict."""
        return {**asdict(self), "verdict": self.verdict, "more_data_helps": self.more_data_helps}

    def to_markdown(self) -> str:
        """The curve as a markdown table with the verdict."""
        lines = [
            f"Learning curve ({self.method}, {self.runs} runs per size, {self.scoring}): **{self.verdict}**.",
            "",
            f"| training rows | train {self.scoring} | validation {self.scoring} |",
            "|---|---|---|",
        ]
        lines += [
            f"| {r['n_train']:,} | {r['train_mean']:.4f} ± {r['train_std']:.4f} | {r['val_mean']:.4f} ± "
            f"{r['val_std']:.4f} |"
            for r in self.rows()
        ]
        return "\n".join(lines) + "\n"

    def plot(self, path: str | Path, *, title: str = "Learning curve") -> Path:
        """A PNG of train and validation scores against training-set size (log x axis)."""
        plt = pyplot()

        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for mean, std, label in (
            (self.train_mean, self.train_std, "train"),
            (self.val_mean, self.val_std, "validation"),
        ):
            m, s = np.array(mean), np.array(std)
            ax.plot(self.sizes, m, marker="o", label=label)
            ax.fill_between(self.sizes, m - s, m + s, alpha=0.2)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(self.sizes, [f"{s:,}" for s in self.sizes], rotation=30)
        ax.set_xlabel("training rows")
        ax.set_ylabel(self.scoring)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
        return save_figure(fig, path)


def _sizes(train_sizes: Sequence[float | int], n: int) -> np.ndarray:
    s = np.asarray(train_sizes, dtype=np.float64)
    out = np.where(s <= 1.0, np.round(s * n), s).astype(int)
    out = np.unique(np.clip(out, 1, n))
    if len(out) == 0:
        raise InvalidInputError(f"train_sizes gave no usable size for {n} rows: {list(train_sizes)}")
    return out


def learning_curve(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    validation: tuple[Any, Any] | None = None,
    train_sizes: Sequence[float | int] = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0),
    cv: int = 3,
    repeats: int = 3,
    scoring: str = "accuracy",
    seed: int = 0,
    min_gain: float = 0.005,
) -> LearningCurve:
    """Measure an estimator's score against the number of training rows.

    Without ``validation``: scikit-learn's cross-validated ``learning_curve`` with ``cv`` folds. With
    ``validation=(X_val, y_val)``: nested random subsets of (X, y), each scored on the validation set,
    ``repeats`` times. Sizes are fractions (<= 1) of the training rows or absolute counts.
    """
    from sklearn.base import clone, is_classifier
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.model_selection import learning_curve as sk_learning_curve

    n = len(y)
    if n < 4:
        raise InvalidInputError(f"need at least 4 training rows for a learning curve, got {n}")
    try:
        scorer = get_scorer(scoring)
    except ValueError as exc:
        raise InvalidInputError(f"unknown scoring {scoring!r}: {exc}") from exc
    if validation is None:
        splitter = (StratifiedKFold if is_classifier(estimator) else KFold)(
            n_splits=cv, shuffle=True, random_state=seed
        )
        sizes, tr, va = sk_learning_curve(
            clone(estimator),
            X,
            y,
            train_sizes=_sizes(train_sizes, n * (cv - 1) // cv),
            cv=splitter,
            scoring=scoring,
            shuffle=True,
            random_state=seed,
            n_jobs=1,
        )
        return LearningCurve(
            sizes.tolist(),
            tr.mean(1).tolist(),
            tr.std(1).tolist(),
            va.mean(1).tolist(),
            va.std(1).tolist(),
            scoring,
            "cv",
            cv,
            min_gain,
        )
    Xv, yv = validation
    sizes = _sizes(train_sizes, n)
    tr = np.zeros((len(sizes), repeats))
    va = np.zeros((len(sizes), repeats))
    for r in range(repeats):
        perm = np.random.default_rng(seed + r).permutation(n)
        for i, size in enumerate(sizes):
            idx = np.sort(perm[:size])
            Xs = X[idx] if hasattr(X, "shape") else [X[j] for j in idx]
            ys = np.asarray(y)[idx]
            model = clone(estimator).fit(Xs, ys)
            tr[i, r] = scorer(model, Xs, ys)
            va[i, r] = scorer(model, Xv, yv)
    return LearningCurve(
        sizes.tolist(),
        tr.mean(1).tolist(),
        tr.std(1).tolist(),
        va.mean(1).tolist(),
        va.std(1).tolist(),
        scoring,
        "holdout",
        repeats,
        min_gain,
    )
