"""Bad input the contract fuzzing and probing found answered with a 500, an HTML page or a
change of state (docs/contract-testing.md). Each test names the input that failed."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from streams.models import Show
from tests.factories import ShowFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_json_nested_deeper_than_the_decoder_follows_is_parse_error(api_client: Any) -> None:
    # Was a RecursionError inside json.loads: 500.
    r = api_client.post(
        "/api/v1/auth/register/", data="[" * 100_000, content_type="application/json"
    )
    assert_error(r, 400, "parse_error")


def test_deeply_nested_object_in_a_valid_looking_body_is_parse_error(api_client: Any) -> None:
    body = '{"username": "deep", "password": "pw-Secret-123", "x": ' + '{"a": ' * 5000
    r = api_client.post("/api/v1/auth/register/", data=body, content_type="application/json")
    assert_error(r, 400, "parse_error")
    assert not get_user_model().objects.filter(username="deep").exists()


def test_a_body_over_the_upload_limit_is_a_json_400(api_client: Any, settings: Any) -> None:
    # Was Django's HTML "Bad Request (400)" page.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    r = api_client.post(
        "/api/v1/auth/register/",
        data='{"username": "' + "x" * 2000 + '"}',
        content_type="application/json",
    )
    assert_error(r, 400, "parse_error")


def test_too_many_form_fields_is_a_json_400(api_client: Any) -> None:
    # Was Django's HTML "Bad Request (400)" page (DATA_UPLOAD_MAX_NUMBER_FIELDS is 1000).
    r = api_client.post(
        "/api/v1/auth/register/",
        data="&".join(f"f{i}=1" for i in range(2000)),
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(r, 400, "parse_error")


def test_an_unknown_host_on_the_api_is_a_json_400(api_client: Any) -> None:
    # Was Django's HTML "Bad Request (400)" page.
    assert_error(api_client.get("/api/v1/me/", HTTP_HOST="evil.example"), 400, "bad_request")


def test_an_unknown_host_on_a_page_keeps_the_html_400(client: Any) -> None:
    r = client.get("/dashboard/", HTTP_HOST="evil.example")
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")


def test_malformed_json_to_a_post_that_takes_no_body_is_parse_error_and_does_nothing(
    client_for: Any,
) -> None:
    # Was 200: `start` never read its body, so the garbage was ignored and the show went live.
    show = ShowFactory()
    r = client_for(show.shop.owner).post(
        f"/api/v1/shows/{show.pk}/start/", data="{oops", content_type="application/json"
    )
    assert_error(r, 400, "parse_error")
    show.refresh_from_db()
    assert show.status == Show.Status.SCHEDULED and show.started_at is None


def test_an_unsupported_body_to_a_post_that_takes_none_is_415(client_for: Any) -> None:
    show = ShowFactory(status="live", started_at=timezone.now())
    r = client_for(show.shop.owner).post(
        f"/api/v1/shows/{show.pk}/end/", data="end it", content_type="text/plain"
    )
    assert_error(r, 415, "unsupported_media_type")
    show.refresh_from_db()
    assert show.status == Show.Status.LIVE


def test_a_method_the_route_lacks_is_405_whatever_its_body(client_for: Any) -> None:
    show = ShowFactory()
    r = client_for(show.shop.owner).put(
        f"/api/v1/shows/{show.pk}/start/", data="{oops", content_type="application/json"
    )
    assert_error(r, 405, "method_not_allowed")


def test_an_empty_body_to_a_post_that_takes_none_still_works(client_for: Any) -> None:
    show = ShowFactory()
    r = client_for(show.shop.owner).post(
        f"/api/v1/shows/{show.pk}/start/", content_type="application/json"
    )
    assert r.status_code == 200


def test_a_malformed_body_with_an_idempotency_key_replays_its_400(client_for: Any) -> None:
    show = ShowFactory()
    client = client_for(show.shop.owner)
    send = lambda: client.post(  # noqa: E731
        f"/api/v1/shows/{show.pk}/start/",
        data="{oops",
        content_type="application/json",
        headers={"Idempotency-Key": "k-1"},
    )
    first, again = send(), send()
    assert_error(first, 400, "parse_error")
    assert again.status_code == 400 and again.content == first.content
    assert again["Idempotent-Replayed"] == "true"


# --- the schema documents what the API answers ------------------------------------------


@pytest.fixture
def schema(api_client: Any) -> dict[str, Any]:
    r = api_client.get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def test_list_answers_are_documented_as_cursor_pages(schema: dict[str, Any]) -> None:
    # Were documented as bare arrays while the API answers {"results": [...], "next": ...}.
    for path in ("/api/v1/products/", "/api/v1/holds/", "/api/v1/shops/{shop_id}/orders/"):
        answer = schema["paths"][path]["get"]["responses"]["200"]
        page = _resolve(schema, answer["content"]["application/json"]["schema"])
        assert page["type"] == "object", path
        assert {"results", "next"} <= set(page["required"]), path
        assert page["properties"]["results"]["type"] == "array", path


def test_every_operation_documents_the_error_shape(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/v1/"):
                answer = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
                assert answer == {"$ref": "#/components/schemas/Error"}, (method, path)


def test_every_post_documents_the_idempotency_key_header(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        if "post" in item:
            headers = [p["name"] for p in item["post"]["parameters"] if p["in"] == "header"]
            assert headers == ["Idempotency-Key"], path


def test_an_error_echoing_a_lone_surrogate_is_400_not_500(client_for: Any) -> None:
    # `"\ud800" is not a valid choice.` could not be encoded as UTF-8 by the renderer: 500.
    show = ShowFactory(status="live", started_at=timezone.now())
    r = client_for(show.shop.owner).post(
        f"/api/v1/shows/{show.pk}/moderation/",
        data='{"action": "\\ud800", "reason": "spam"}',
        content_type="application/json",
    )
    err = assert_error(r, 400, "invalid")
    assert "\\ud800" in err["details"]["action"][0]


def test_a_service_error_echoing_a_lone_surrogate_is_400_not_500(client_for: Any) -> None:
    # An ApiError naming a variant's unknown option (a JSON key, never validated as text).
    shop = ShowFactory().shop
    variant = '{"sku": "V-1", "stock_on_hand": 1, "options": {"\\udfff": "x"}}'
    body = f'{{"shop": {shop.pk}, "title": "T", "price": "1.00", "variants": [{variant}]}}'
    r = client_for(shop.owner).post("/api/v1/products/", data=body, content_type="application/json")
    assert_error(r, 400, "invalid")
