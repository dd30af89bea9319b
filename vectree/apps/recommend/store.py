"""Save and load a fitted ``RankingFunnel`` as one vectree collection.

The collection holds the two-tower item vectors (row ids = item indices) and four attachments, each JSON
or a pickle-free ``.npz`` (a collection never unpickles what it reads):

- ``recommend.two_tower`` (JSON) / ``recommend.two_tower.npz``: the torch model (``TwoTowerModel.to_state``)
- ``recommend.funnel`` (JSON) / ``recommend.funnel.npz``: everything else (configuration, catalogue,
  re-ranker trees, pair features, histories), written by ``vectree.apps.recommend.state.encode``, which
  rebuilds only the recommender's own classes.
"""

from __future__ import annotations

import copy
import json

import vectree
from vectree.apps.recommend import state
from vectree.apps.recommend.baselines import EASERecommender, ItemKNNRecommender, PopularityRecommender
from vectree.apps.recommend.features import Catalog
from vectree.apps.recommend.funnel import RankingFunnel
from vectree.apps.recommend.index import ItemIndex
from vectree.apps.recommend.rerank import PairFeatures, ReRanker
from vectree.apps.recommend.sources import ExtraSources
from vectree.errors import InvalidInputError, NotFoundError

TWO_TOWER_ATTACHMENT = "recommend.two_tower"
FUNNEL_ATTACHMENT = "recommend.funnel"
_FORMAT = 2

for _cls in (
    RankingFunnel,
    Catalog,
    PairFeatures,
    ReRanker,
    ItemKNNRecommender,
    PopularityRecommender,
    EASERecommender,
    ExtraSources,
):
    state.register(_cls)


def save_funnel(funnel: RankingFunnel, url: str) -> str:
    """Write ``funnel`` to the collection at ``url`` (created if the funnel's own collection lives
    elsewhere). Returns the url."""
    funnel._check()
    index = funnel.index_
    if index.url != url:
        index = ItemIndex(
            index.vectors, metric=funnel.metric, url=url, bucket_size=funnel.bucket_size, probes=funnel.probes
        )
    col = index.collection
    header, arrays = funnel.two_tower_.to_state()
    col.put_attachment(TWO_TOWER_ATTACHMENT, json.dumps(header).encode())
    col.put_attachment(TWO_TOWER_ATTACHMENT + ".npz", state.to_npz(arrays))
    rest = copy.copy(funnel)
    del rest.two_tower_, rest.index_
    rest.url = url
    tree, arrays = state.encode(rest)
    col.put_attachment(FUNNEL_ATTACHMENT, json.dumps({"format": _FORMAT, "funnel": tree}).encode())
    col.put_attachment(FUNNEL_ATTACHMENT + ".npz", state.to_npz(arrays))
    return url


def load_funnel(url: str, probes: int | None = None) -> RankingFunnel:
    """Read a funnel written by ``save_funnel``."""
    col = vectree.open_collection(url)
    try:
        head = json.loads(col.get_attachment(FUNNEL_ATTACHMENT))
        arrays = state.from_npz(col.get_attachment(FUNNEL_ATTACHMENT + ".npz"))
        tt_header = json.loads(col.get_attachment(TWO_TOWER_ATTACHMENT))
        tt_arrays = state.from_npz(col.get_attachment(TWO_TOWER_ATTACHMENT + ".npz"))
    except NotFoundError as exc:
        raise NotFoundError(
            f"{url} is a collection but holds no saved recommender ({exc}); run `vectree recommend fit` first"
        ) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"the saved recommender at {url} is not valid JSON ({exc})") from exc
    if head.get("format") != _FORMAT:
        raise InvalidInputError(
            f"saved recommender at {url} has format {head.get('format')}, this vectree reads {_FORMAT}"
        )
    funnel = state.decode(head["funnel"], arrays)
    if not isinstance(funnel, RankingFunnel):
        raise InvalidInputError(f"the saved recommender at {url} does not hold a RankingFunnel")
    from vectree.apps.recommend.two_tower import TwoTowerModel

    funnel.two_tower_ = TwoTowerModel.from_state(tt_header, tt_arrays)
    funnel.index_ = ItemIndex.open(url, probes=probes or funnel.probes)
    if probes is not None:
        funnel.probes = probes
    return funnel
