"""vectree as a service: an HTTP API with tenants, API keys and private collections, its clients, a web console.

Server: ``vectree serve ROOT`` (:func:`vectree.service.app.create_app`). Clients: :func:`connect`
(blocking) and :func:`connect_async` (asyncio), with the same methods as the local library.
"""

from vectree.service.aio import AsyncClient, AsyncRemoteCollection, connect_async
from vectree.service.client import Client, RemoteCollection, ServiceError, connect
from vectree.service.config import ServiceConfig

__all__ = [
    "connect",
    "connect_async",
    "Client",
    "RemoteCollection",
    "AsyncClient",
    "AsyncRemoteCollection",
    "ServiceError",
    "ServiceConfig",
]
