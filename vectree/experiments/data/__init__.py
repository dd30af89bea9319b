"""Training data that does not fool you: splits with a leakage check, filtering with a report, learning curves."""

from vectree.experiments.data.filtering import (
    FilterReport,
    FilterStep,
    bot_sessions,
    drop_bot_sessions,
    drop_exact_duplicates,
)
from vectree.experiments.data.learning_curve import LearningCurve, learning_curve
from vectree.experiments.data.near_duplicates import (
    check_near_duplicate_leakage,
    drop_near_duplicates,
    duplicate_clusters,
    near_duplicate_pairs,
    near_duplicates_between,
)
from vectree.experiments.data.splits import (
    LeakageError,
    Split,
    check_leakage,
    group_split,
    random_split,
    row_keys,
    stratified_split,
    time_split,
)

__all__ = [
    "Split",
    "LeakageError",
    "random_split",
    "stratified_split",
    "time_split",
    "group_split",
    "check_leakage",
    "row_keys",
    "FilterReport",
    "FilterStep",
    "drop_exact_duplicates",
    "bot_sessions",
    "drop_bot_sessions",
    "near_duplicate_pairs",
    "near_duplicates_between",
    "duplicate_clusters",
    "drop_near_duplicates",
    "check_near_duplicate_leakage",
    "LearningCurve",
    "learning_curve",
]
