"""Save and load a fitted ``RankingFunnel`` as one vectree collection.

The collection holds the two-tower item vectors (row ids = item indices) and two attachments:
``recommend.two_tower`` (the torch model, ``TwoTowerModel.to_bytes``) and ``recommend.funnel`` (a pickle of
the rest: configuration, catalogue, re-ranker, features, histories). Pickles run code when loaded: only
load funnels you wrote yourself.
"""

from __future__ import annotations

import copy
import pickle

import vectree
from vectree.apps.recommend_funnel import RankingFunnel
from vectree.apps.recommend_index import ItemIndex
from vectree.errors import InvalidInputError, NotFoundError

TWO_TOWER_ATTACHMENT = "recommend.two_tower"
FUNNEL_ATTACHMENT = "recommend.funnel"
_FORMAT = 1


def save_funnel(funnel: RankingFunnel, url: str) -> str:
    """Write ``funnel`` to the collection at ``url`` (created if the funnel's own collection lives
    elsewhere). Returns the url."""
    funnel._check()
    index = funnel.index_
    if index.url != url:
        index = ItemIndex(index.vectors, metric=funnel.metric, url=url, bucket_size=funnel.bucket_size, probes=funnel.probes)
    col = index.collection
    col.put_attachment(TWO_TOWER_ATTACHMENT, funnel.two_tower_.to_bytes())
    rest = copy.copy(funnel)
    del rest.two_tower_, rest.index_
    rest.url = url
    col.put_attachment(FUNNEL_ATTACHMENT, pickle.dumps({"format": _FORMAT, "funnel": rest}))
    return url


def load_funnel(url: str, probes: int | None = None) -> RankingFunnel:
    """Read a funnel written by ``save_funnel``."""
    col = vectree.open_collection(url)
    try:
        blob = pickle.loads(col.get_attachment(FUNNEL_ATTACHMENT))
        tt = col.get_attachment(TWO_TOWER_ATTACHMENT)
    except NotFoundError as exc:
        raise NotFoundError(f"{url} is a collection but holds no saved recommender ({exc}); run `vectree recommend fit` first") from exc
    if blob.get("format") != _FORMAT:
        raise InvalidInputError(f"saved recommender at {url} has format {blob.get('format')}, this vectree reads {_FORMAT}")
    from vectree.embed.two_tower import TwoTowerModel

    funnel: RankingFunnel = blob["funnel"]
    funnel.two_tower_ = TwoTowerModel.from_bytes(tt)
    funnel.index_ = ItemIndex.open(url, probes=probes or funnel.probes)
    if probes is not None:
        funnel.probes = probes
    return funnel
