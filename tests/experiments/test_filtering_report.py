"""Filtering: exact duplicates and bot-like sessions are removed, with a report of what and why."""

import numpy as np
import pandas as pd
import pytest

from vectree.errors import InvalidInputError
from vectree.experiments.data import bot_sessions, drop_bot_sessions, drop_exact_duplicates


def _search_log():
    rng = np.random.default_rng(0)
    rows = []
    t0 = pd.Timestamp("2026-03-01")
    for s in range(200):  # people: ~10 impressions over minutes, some clicks
        n = int(rng.integers(3, 15))
        for i in range(n):
            rows.append(
                {
                    "session": f"p{s}",
                    "query": f"q{s}",
                    "doc": int(rng.integers(0, 500)),
                    "click": int(rng.random() < 0.2),
                    "time": t0 + pd.Timedelta(seconds=30 * i + s),
                }
            )
    for s in range(5):  # crawlers: 200 impressions, never a click, over 10 minutes
        for i in range(200):
            rows.append(
                {"session": f"crawler{s}", "query": "q", "doc": i, "click": 0, "time": t0 + pd.Timedelta(seconds=3 * i)}
            )
    for s in range(3):  # scripted clicks: 30 impressions in 5 seconds, some clicks
        for i in range(30):
            rows.append(
                {
                    "session": f"fast{s}",
                    "query": "q",
                    "doc": i,
                    "click": int(i % 3 == 0),
                    "time": t0 + pd.Timedelta(milliseconds=150 * i),
                }
            )
    return pd.DataFrame(rows)


def test_bot_sessions_removed_with_reasons():
    log = _search_log()
    stats = bot_sessions(log, time_col="time", min_impressions_no_click=20, max_impressions_per_minute=20)
    flagged = stats[stats["reason"] != ""]
    assert set(flagged.index) == {f"crawler{i}" for i in range(5)} | {f"fast{i}" for i in range(3)}
    kept, report = drop_bot_sessions(log, time_col="time", min_impressions_no_click=20, max_impressions_per_minute=20)
    assert len(kept) == len(log) - 5 * 200 - 3 * 30
    assert not kept["session"].str.startswith(("crawler", "fast")).any()
    steps = {s.reason: s for s in report.steps}
    assert (
        steps["20+ impressions and no click"].rows_removed == 1000
        and steps["20+ impressions and no click"].units_removed == 5
    )
    assert steps["more than 20 impressions per minute"].units_removed == 3
    text = report.to_markdown()
    assert f"Kept {len(kept):,} of {len(log):,} rows" in text and "crawler0" in text


def test_ctr_rule_and_no_time():
    log = _search_log()
    clicky = pd.DataFrame({"session": ["c"] * 25, "click": [1] * 25})
    both = pd.concat([log[["session", "click"]], clicky])
    kept, report = drop_bot_sessions(both, max_ctr=0.9, max_impressions_per_minute=None)
    assert "c" not in set(kept["session"])
    assert any("click-through" in s.reason for s in report.steps)


def test_exact_duplicates_and_chained_report():
    log = _search_log()
    doubled = pd.concat([log, log.iloc[:50]], ignore_index=True)
    kept, rep = drop_exact_duplicates(doubled, ["session", "query", "doc", "click", "time"])
    assert len(kept) == len(log) and rep.steps[0].rows_removed == 50
    kept2, rep2 = drop_bot_sessions(kept, time_col="time", max_impressions_per_minute=20)
    total = rep + rep2
    assert total.rows_in == len(doubled) and total.rows_out == len(kept2) and len(total.steps) == 1 + len(rep2.steps)
    assert total.as_dict()["steps"][0]["name"] == "exact duplicates"
    with pytest.raises(InvalidInputError):
        rep2 + rep


def test_bad_columns_raise():
    with pytest.raises(InvalidInputError, match="not in the table"):
        bot_sessions(pd.DataFrame({"session": [1]}))
    with pytest.raises(InvalidInputError, match="0/1"):
        bot_sessions(pd.DataFrame({"session": [1], "click": [3]}))
