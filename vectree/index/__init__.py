"""The index: projection, tree, probing and the streaming build."""

from vectree.index.build import BuildResult, IndexConfig, build_index
from vectree.index.index import Index
from vectree.index.probe import box_distances, probe, probe_centers
from vectree.index.projection import Projection, fit_pca
from vectree.index.tree import TREE_RULES, Tree, fit_tree

__all__ = [
    "BuildResult",
    "IndexConfig",
    "build_index",
    "Index",
    "box_distances",
    "probe",
    "probe_centers",
    "Projection",
    "fit_pca",
    "TREE_RULES",
    "Tree",
    "fit_tree",
]
