"""Persisted queries (contract §12): Apollo's automatic persisted queries and trusted documents.

**APQ** (``extensions.persistedQuery = {version: 1, sha256Hash}``, over GET and POST): a request with
the hash and no query runs the document registered under that hash, or answers
``PERSISTED_QUERY_NOT_FOUND`` (message ``PersistedQueryNotFound``, HTTP 200 and ``Cache-Control:
no-store``, as Apollo Server does: the client then sends hash and query together, which registers
the document). A hash that is not the SHA-256 of the query sent with it is ``BAD_USER_INPUT`` (HTTP
400). Registered documents are kept per process in memory, bounded (1,024 documents and 1,000,000
characters, least recently used out; documents over 64,000 characters are not kept): behind several
workers a client may be asked for a document once per worker.

**Trusted documents** (``ENTITLE_TRUSTED_DOCUMENTS``: a JSON object mapping each document's SHA-256
hex digest to the document): their hashes always resolve. With ``ENTITLE_TRUSTED_ONLY=true`` any
other document — sent as text or by hash — is refused with ``PERSISTED_QUERY_NOT_IN_LIST`` (HTTP 400),
and nothing is registered. The file is checked when the app is created: a hash that is not the
document's digest is an error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import orjson
from cachetools import LRUCache
from starlette.responses import Response
from strawberry.http import GraphQLRequestData

from entitle.graphql.documents import CACHE_CHARS, CACHE_SIZE, LARGEST_CACHED_QUERY
from entitle.graphql.errors import error_body

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
_HASH = re.compile(r"[0-9a-f]{64}")


class TrustedDocumentsError(ValueError):
    """``ENTITLE_TRUSTED_DOCUMENTS`` cannot be used (unreadable, not a map, or a wrong hash)."""


class PersistedQueryRefused(Exception):
    """A request refused before execution because of its persisted-query extension or trust."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> Response:
        response = Response(
            orjson.dumps(error_body(self.code, self.message)),
            status_code=self.status,
            media_type="application/json",
        )
        response.headers["Cache-Control"] = "no-store"
        return response


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_trusted_documents(path: Path) -> dict[str, str]:
    try:
        loaded = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise TrustedDocumentsError(f"ENTITLE_TRUSTED_DOCUMENTS={path}: cannot read it ({error})") from None
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
    ):
        raise TrustedDocumentsError(
            f"ENTITLE_TRUSTED_DOCUMENTS={path}: must be a JSON object mapping SHA-256 hashes to documents"
        )
    for digest, document in loaded.items():
        if digest.lower() != sha256_hex(document):
            raise TrustedDocumentsError(
                f"ENTITLE_TRUSTED_DOCUMENTS={path}: {digest[:16]}… is not the SHA-256 of its document"
            )
    return {digest.lower(): document for digest, document in loaded.items()}


class PersistedQueries:
    def __init__(self, trusted: dict[str, str] | None = None, *, trusted_only: bool = False) -> None:
        self._trusted = trusted or {}
        self._trusted_only = trusted_only
        self._trusted_texts = frozenset(self._trusted.values())
        self._registered: LRUCache[str, str] = LRUCache(
            maxsize=CACHE_CHARS, getsizeof=lambda q: max(len(q), 1)
        )

    def resolve(
        self, parsed: GraphQLRequestData | list[GraphQLRequestData]
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request with every persisted query's document filled in; ``PersistedQueryRefused`` else."""
        if isinstance(parsed, list):
            return [self._resolve(item) for item in parsed]
        return self._resolve(parsed)

    def allows_text(self, query: str) -> bool:
        """Whether a document sent as text, without extensions, may run (``ENTITLE_TRUSTED_ONLY``)."""
        return not self._trusted_only or query in self._trusted_texts

    def _resolve(self, data: GraphQLRequestData) -> GraphQLRequestData:
        persisted = data.extensions.get("persistedQuery") if data.extensions else None
        if persisted is None:
            if self._trusted_only and data.query not in self._trusted_texts:
                raise PersistedQueryRefused(
                    400, NOT_IN_LIST, "this server runs trusted documents only (ENTITLE_TRUSTED_ONLY)"
                )
            return data
        digest = self._digest(persisted)
        if data.query is None:
            return dataclasses.replace(data, query=self._document(digest))
        if sha256_hex(data.query) != digest:
            raise PersistedQueryRefused(
                400,
                "BAD_USER_INPUT",
                "extensions.persistedQuery.sha256Hash: provided sha does not match query",
            )
        if self._trusted_only:
            if digest not in self._trusted:
                raise PersistedQueryRefused(
                    400, NOT_IN_LIST, "this document is not a trusted document (ENTITLE_TRUSTED_ONLY)"
                )
        elif digest not in self._trusted and len(data.query) <= LARGEST_CACHED_QUERY:
            while len(self._registered) >= CACHE_SIZE:
                self._registered.popitem()
            self._registered[digest] = data.query
        return data

    @staticmethod
    def _digest(persisted: object) -> str:
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryRefused(
                400, "BAD_USER_INPUT", "extensions.persistedQuery: only version 1 (Apollo APQ) is supported"
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest):
            raise PersistedQueryRefused(
                400, "BAD_USER_INPUT", "extensions.persistedQuery.sha256Hash: 64 lower-case hex digits"
            )
        return digest

    def _document(self, digest: str) -> str:
        document = self._trusted.get(digest)
        if document is not None:
            return document
        if self._trusted_only:
            raise PersistedQueryRefused(
                400, NOT_IN_LIST, "this hash is not a trusted document (ENTITLE_TRUSTED_ONLY)"
            )
        document = self._registered.get(digest)
        if document is None:
            raise PersistedQueryRefused(200, NOT_FOUND, "PersistedQueryNotFound")
        return document
