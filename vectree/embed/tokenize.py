"""The tokenizer of the word-vector embedders: lower-cased runs of letters and digits.

``tokenize("Don't-stop: GPT-4o beats 3.5!") == ["don't-stop", "gpt-4o", "beats", "3", "5"]``

A token is a run of letters or digits (any script), optionally joined by single apostrophes or
hyphens; everything else (punctuation, whitespace, underscores) separates tokens. No stemming,
no stop words: TF-IDF weighting already discounts frequent words.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-cased word tokens (see the module docstring for the exact rule)."""
    return _TOKEN.findall(text.lower())
