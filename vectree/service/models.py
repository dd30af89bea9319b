"""Request and response bodies (pydantic), one vocabulary with the library."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vectree.collection.plan import DEFAULT_PROBES

Id = int | str
Label = int | str | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateCollection(_Body):
    name: str = Field(description="1-128 letters, digits, '_', '.' or '-'")
    dim: int
    metric: Literal["l2", "cosine", "dot"] = "l2"
    private: bool = False
    vector_dtype: Literal["float32", "float16"] = "float32"
    bucket_size: int | None = None


class RowsBody(_Body):
    vectors: list[list[float]]
    ids: list[Id] | None = None
    labels: list[Label] | None = None
    metadata: list[dict[str, Any] | None] | None = None


class IdsBody(_Body):
    ids: list[Id]
    version: int | None = None


class DeleteBody(_Body):
    ids: list[Id]
    missing_ok: bool = False


class SearchBody(_Body):
    vectors: list[list[float]]
    k: int = 10
    probes: int = DEFAULT_PROBES
    exact: bool = False
    version: int | None = None
    include_metadata: bool = False
    method: Literal["auto", "compiled", "matrix", "streamed"] = "auto"
    where: dict[str, Any] | None = Field(
        None, description="a filter on ids, labels and metadata, as Collection.search(where=)"
    )
    exclude_ids: list[Id] | None = None


class TextSearchBody(_Body):
    texts: list[str]
    k: int = 10
    probes: int = DEFAULT_PROBES
    exact: bool = False
    include_metadata: bool = False


class TextsBody(_Body):
    texts: list[str]


class RecommendBody(_Body):
    users: list[int]
    k: int = 10


class VerifyBody(_Body):
    all_versions: bool = False


class CollectionInfo(BaseModel):
    name: str
    owner: str
    private: bool
    dim: int
    metric: str
    rows: int
    version: int
    vector_dtype: str
    bucket_size: int
    id_type: str | None
    label_type: str | None
    has_metadata: bool
    apps: list[str] = Field(description="what the collection carries: embed, search_text, classify, recommend")


class CollectionList(BaseModel):
    collections: list[CollectionInfo]


class VersionOut(BaseModel):
    version: int
    rows: int


class VersionInfo(BaseModel):
    version: int
    created: float
    operation: str
    rows: int


class VersionList(BaseModel):
    versions: list[VersionInfo]


class SearchOut(BaseModel):
    ids: list[list[Id | None]]
    distances: list[list[float | None]]
    id_type: str
    labels: list[list[Label]] | None = None
    metadata: list[list[dict[str, Any] | None]] | None = None
    stats: dict[str, int | float | str] = {}


class RowsOut(BaseModel):
    ids: list[Id]
    vectors: list[list[float]]
    labels: list[Label] | None = None
    metadata: list[str | None] | None = None


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    versions: list[int]
    problems: list[str]


class EmbedOut(BaseModel):
    vectors: list[list[float]]


class ClassifyOut(BaseModel):
    labels: list[Label]
    classes: list[Label]
    probabilities: list[list[float]]


class RecommendOut(BaseModel):
    items: list[list[int]]


class Dropped(BaseModel):
    dropped: str


class WhoAmI(BaseModel):
    tenant: str
    key_id: str
    admin: bool
    read_only: bool
