"""The GraphiQL page and its assets are served by the service itself (contract §12: no internet needed)."""

from __future__ import annotations

import re

from entitle.graphql.ide import ASSET_NAMES, STATIC_DIR
from tests.conftest import Api, serving

PAGE_HEADERS = {"Accept": "text/html"}


async def test_the_page_loads_only_assets_of_this_service(api: Api) -> None:
    # when
    page = await api.client.get("/graphql", headers=PAGE_HEADERS)
    # then
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls, page.text
    assert all(url.startswith("/graphql/static/") or url.startswith("data:") for url in urls), urls
    assert "//" not in page.text.replace("data:,", "")  # no scheme-relative or absolute URL at all
    loaded = {url.split("/")[-1].split("?")[0] for url in urls if not url.startswith("data:")}
    assert loaded == set(ASSET_NAMES)


async def test_every_asset_is_served_immutable_under_its_content_version(api: Api) -> None:
    # given
    page = await api.client.get("/graphql", headers=PAGE_HEADERS)
    urls = re.findall(r'(?:src|href)="(/graphql/static/[^"]+)"', page.text)
    # when
    responses = {url: await api.client.get(url, headers={"Accept-Encoding": "identity"}) for url in urls}
    # then
    for url, response in responses.items():
        name = url.split("/")[-1].split("?")[0]
        assert response.status_code == 200, url
        assert response.content == (STATIC_DIR / name).read_bytes()
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["etag"] == f'"{url.split("?v=")[1]}"'
        expected = "text/javascript" if name.endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(expected)


async def test_assets_are_gzipped_when_accepted_and_revalidate_with_etag(api: Api) -> None:
    # given
    url = "/graphql/static/graphiql.min.js"
    # when
    zipped = await api.client.get(url, headers={"Accept-Encoding": "gzip"})
    again = await api.client.get(url, headers={"If-None-Match": zipped.headers["etag"]})
    # then
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < (STATIC_DIR / "graphiql.min.js").stat().st_size / 3
    assert zipped.content == (STATIC_DIR / "graphiql.min.js").read_bytes()  # httpx decoded it
    assert again.status_code == 304
    assert again.content == b""


async def test_unknown_assets_and_other_methods_are_refused(api: Api) -> None:
    # when
    missing = await api.client.get("/graphql/static/evil.js")
    traversal = await api.client.get("/graphql/static/..%2F..%2Fsettings.py")
    posted = await api.client.post("/graphql/static/graphiql.min.js")
    # then
    assert missing.status_code == 404
    assert traversal.status_code == 404
    assert posted.status_code == 405


async def test_with_introspection_off_neither_page_nor_assets_are_served(database_url: str) -> None:
    # given
    async with serving(database_url, entitle_introspection=False) as api:
        # when
        page = await api.client.get("/graphql", headers=PAGE_HEADERS)
        asset = await api.client.get("/graphql/static/graphiql.min.js")
    # then
    assert page.status_code == 404
    assert asset.status_code == 404
