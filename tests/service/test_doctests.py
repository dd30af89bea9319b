"""The examples in the service's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["vectree.service.config", "vectree.service.tenants", "vectree.service.registry", "vectree.service.limits",
           "vectree.service.calls", "vectree.service.wire", "vectree.service.client", "vectree.service.aio", "vectree.service.app"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
