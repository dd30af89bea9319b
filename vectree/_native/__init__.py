"""Compiled kernels (``_scan.c``, built by ``pip install``), below every other layer.

``topk``: one query's top k over many blocks (used by :mod:`vectree.collection.kernel`);
``rank_centers``: one query's nearest bucket centers, exactly, reading few in full (used by
:mod:`vectree.index.centers`).
"""
