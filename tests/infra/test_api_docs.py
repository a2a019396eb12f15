"""/api/docs/ works offline: Swagger UI's assets come from this server, not a CDN."""

from __future__ import annotations

import re

import pytest
from django.test import Client


@pytest.mark.django_db
def test_api_docs_load_their_assets_from_this_server() -> None:
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html[:500]
    for asset in assets:
        assert asset.startswith("/"), asset
    bundle = next(a for a in assets if a.endswith("swagger-ui-bundle.js"))
    assert client.get(bundle).status_code == 200


@pytest.mark.django_db
def test_api_schema_is_served() -> None:
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi: 3" in response.content
