"""The examples in the docstrings of the experiments modules run and give what they say."""

import doctest
import importlib

import pytest

MODULES = ["cuped", "ratio", "bayes", "srm", "hybrid", "scorecard", "scorecard_report", "simulate_metrics", "slate_ab", "power"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"vectree.experiments.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
