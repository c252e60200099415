"""/docs works on a closed network: every script, style, icon and font the page names is served
by the node itself."""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from fastapi.testclient import TestClient


class _Links(HTMLParser):
    """Every src and href of the page, and every url(...) or quoted URL in its inline parts."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("src", "href") and v is not None]

    def handle_data(self, data: str) -> None:
        self.links += re.findall(r"url\(\s*['\"]?([^'\")\s]+)", data)
        self.links += re.findall(r"['\"](\w+://[^'\"]+|/[^'\"\s]*)['\"]", data)


def _local(link: str) -> bool:
    parts = urlsplit(link)
    return not parts.scheme and not parts.netloc and link.startswith("/")


def test_docs_name_only_the_nodes_own_assets_and_it_serves_each(node_client: TestClient) -> None:
    page = node_client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    parser = _Links()
    parser.feed(page.text)
    assert parser.links, "the page names its script and style"
    assert [link for link in parser.links if not _local(link)] == []
    assert "fonts.googleapis" not in page.text and "cdn." not in page.text
    for link in parser.links:
        asset = node_client.get(link)
        assert asset.status_code == 200, link
        assert asset.content, link
    kinds = {node_client.get(link).headers["content-type"].split(";")[0] for link in parser.links}
    assert {"text/javascript", "text/css", "application/json"} <= kinds

    style = node_client.get(next(x for x in parser.links if x.endswith(".css"))).text
    assert re.findall(r"@import|url\(\s*['\"]?https?:", style) == []  # no fonts from outside
    assert "validatorUrl" in page.text and '"validatorUrl": null' in page.text


def test_only_the_assets_the_page_needs_are_served(node_client: TestClient) -> None:
    assert node_client.get("/docs/assets/index.html").status_code == 404
    assert node_client.get("/docs/assets/..%2Fpyproject.toml").status_code == 404
    assert node_client.get("/redoc").status_code == 404
