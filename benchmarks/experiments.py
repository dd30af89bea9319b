"""Experiments benchmark: are the A/B statistics calibrated, and what do the training-data tools find on real data?

Rows:
- calibration: false-positive rate of simulated A/A tests and power at the planned sample size
  (two-proportion z-test, Welch's t-test on normal and on skewed outcomes);
- CUPED at rho 0.3 / 0.5 / 0.7: the variance of the adjusted outcome against 1 - rho^2, A/A false-positive
  rate, power at the CUPED plan (which shrinks the sample by 1 - rho^2) against the planned 0.8;
- ratio metrics: coverage of the delta-method interval, against treating sessions as independent;
- many metrics: false discovery rate of Benjamini-Hochberg and family-wise error of Holm over runs of
  20 metrics with 5 true effects;
- Bayesian: chance-to-win calibration (of runs reporting 90-95%, the share whose variant truly wins);
- sequential hybrid: A/A false-positive rate, power and traffic used against the fixed-horizon plan;
- SRM: false alarms at p < 0.001 and detection (with the dimension named) of a segment losing units;
- MovieLens 100k: a simulated A/B of two ranking-funnel settings with logged-propensity exploration,
  replayed on each user's held-out interactions, analysed end to end (scorecard) and backtested;
- peeking: the false-positive rate when a test is checked 1, 5, 20 or 100 times, fixed-horizon z-test
  against the always-valid mSPRT, and the mSPRT's power;
- near duplicates on real arXiv embeddings (all-MiniLM-L6-v2): pairs found through a vectree collection
  (probes=8) against the exact scan, and the time each takes;
- splits and learning curve on the same embeddings (label = primary category): a random split against a
  time split (train on older papers, validate on newer ones), and validation accuracy against the number
  of training rows ("do we need more data?").

Usage: python benchmarks/experiments.py [--quick] [--data ../shared/data]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import arguments  # noqa: E402
from benchmarks.experiments_data import near_duplicates, read_arxiv, splits_and_curve  # noqa: E402
from benchmarks.experiments_movielens import movielens_ab  # noqa: E402
from benchmarks.experiments_report import plot, write_readme  # noqa: E402
from benchmarks.experiments_stats import (  # noqa: E402
    bayes_calibration,
    calibration,
    cuped,
    fdr,
    hybrid,
    peeking,
    progress,
    ratio_coverage,
    srm_rows,
)
from vectree.errors import VectreeError  # noqa: E402
from vectree.experiments.scorecard_report import plot_scorecard  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def main() -> None:
    ap = arguments(__doc__.splitlines()[0], quick="a small run in under a minute")
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("VECTREE_SHARED_DATA", REPO.parent / "shared" / "data"))
    )
    ap.add_argument(
        "--readme", action="store_true", help="only rewrite README.md's experiments block from the results file"
    )
    args = ap.parse_args()
    if args.readme:
        write_readme(json.loads((args.out / "experiments.json").read_text()), REPO / "README.md")
        return
    q = args.quick
    started = time.perf_counter()
    extra: dict = {}
    card, ml_rows = None, []
    from benchmarks.datasets import FetchError

    try:  # first: the longest part, and the one that needs a registry
        ml_rows, ml_extra, card = movielens_ab(q)
        extra["movielens_ab"] = ml_extra
    except (VectreeError, FetchError) as exc:  # no registry to fetch MovieLens from: say so, keep the rest
        extra["movielens_skipped"] = str(exc)
    rows = calibration(n_sims=500 if q else 2000, seeds=1 if q else 5)
    peek = peeking(500 if q else 2000)
    rows += peek
    progress("calibration and peeking done")
    sims = 100 if q else 2000
    cuped_rows = cuped(sims)
    fdr_rows = fdr(sims)
    bayes_rows, curves = bayes_calibration(300 if q else 5000)
    rows += (
        cuped_rows
        + ratio_coverage(sims)
        + fdr_rows
        + bayes_rows
        + hybrid(1000 if q else 10000)
        + srm_rows(sims, 3 if q else 40)
    )
    rows += ml_rows
    extra["bayes_calibration"] = curves
    lc = None
    if (args.data / "arxiv-abstracts-minilm.npy").is_file():
        n = 4000 if q else 20000
        x, meta = read_arxiv(args.data, n)
        nd_rows, examples = near_duplicates(x, meta, threshold=0.02)
        rows += nd_rows
        extra["near_duplicate_examples"] = examples
        n_curve = 6000 if q else 72000
        x2, meta2 = (x, meta) if n_curve <= n else read_arxiv(args.data, n_curve)
        sizes = (
            [250, 500, 1000, 2000, 4000] if q else [500, 1000, 2000, 4000, 8000, 16000, 32000, 1.0]
        )  # 1.0 = all training rows
        curve_rows, lc, lc_s, split_acc = splits_and_curve(x2[:n_curve], meta2[:n_curve], sizes, q)
        rows += curve_rows
        extra.update(
            {"learning_curve_verdict": lc.verdict, "learning_curve_s": round(lc_s, 1), "split_accuracy": split_acc}
        )
    else:
        extra["skipped"] = f"no shared data at {args.data}: near-duplicate and learning-curve rows skipped"
    import numpy as _np
    import scipy
    import sklearn
    import statsmodels

    result = {
        "benchmark": "experiments",
        "command": "python benchmarks/experiments.py" + (" --quick" if q else ""),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": _np.__version__,
            "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__,
            "scikit_learn": sklearn.__version__,
        },
        "date": date.today().isoformat(),
        "total_s": round(time.perf_counter() - started, 1),
        "rows": rows,
        **extra,
    }
    name = "experiments-quick" if q else "experiments"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, default=float))
    lines = [
        f"# {name}",
        "",
        f"`{result['command']}` on {result['date']} ({result['machine']['cpus']} CPUs, "
        f"Python {result['machine']['python']}), {result['total_s']} s.",
        "",
        "| setting | dataset | metrics |",
        "|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['dataset']} | " + ", ".join(f"{k}={v}" for k, v in r["metrics"].items()) + " |"
        )
    for key in ("learning_curve_verdict", "split_accuracy", "skipped", "movielens_skipped"):
        if key in extra:
            lines += ["", f"{key.replace('_', ' ')}: {extra[key]}"]
    if "near_duplicate_examples" in extra:
        lines += ["", "Near duplicates found (exact scan):", ""]
        lines += [
            f'- {e["a"]} / {e["b"]} (distance {e["distance"]:.4f}): "{e["title_a"]}" / "{e["title_b"]}"'
            for e in extra["near_duplicate_examples"]
        ]
    if "movielens_ab" in extra:
        ml = extra["movielens_ab"]
        lines += [
            "",
            f"MovieLens funnel A/B: settings {ml['settings']}, {ml['impressions_forward']:,} impressions in the "
            "forward run, "
            f"{ml['explored_share']:.1%} of them explored (logged propensity, median "
            f"{ml['explore_propensity_median']:.3g}; "
            f"model slots {ml['model_propensity']:.3g}); funnel fitted in {ml['fit_s']} s. Backtest of CUPED clicks "
            "per user: "
            f"{ml['backtest']['clicks_cuped']['verdict']}.",
            "",
            ml["scorecard_md"].replace("# MovieLens", "## MovieLens", 1),
        ]
        if card is not None:
            plot_scorecard(
                card, args.out / f"{name}-movielens.png", title="MovieLens funnel A/B: relative lift (B vs A)"
            )
            lines += ["", f"![MovieLens funnel A/B, lift per metric]({name}-movielens.png)"]
    plot(peek, lc, cuped_rows, curves, fdr_rows, args.out / f"{name}.png")
    lines += ["", f"![peeking, learning curve, CUPED, calibration, multiple testing]({name}.png)"]
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
