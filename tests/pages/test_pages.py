"""Each page renders for the right people, and for nobody else."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from tests.factories import ProductFactory, ShowFactory

pytestmark = pytest.mark.django_db


def page_data(response) -> dict:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    start = html.index('<script id="page-data" type="application/json">') + len(
        '<script id="page-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_home_lists_live_and_upcoming_shows_but_not_rehearsals(web, shop, live_show):
    ShowFactory(shop=shop, title="Next week", status="scheduled")
    ShowFactory(shop=shop, title="Secret run-through", status="live", rehearsal=True)
    response = web.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Spring drop" in html and f'href="/shows/{live_show.id}/"' in html
    assert "Next week" in html
    assert "Secret run-through" not in html


def test_viewer_page_works_for_anonymous_viewers_and_prompts_sign_in(web, live_show):
    response = web.get(f"/shows/{live_show.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sign in to buy" in html and "Sign in to chat" in html
    assert 'id="buy"' not in html and 'id="chat-form"' not in html
    data = page_data(response)
    assert data["user"] is None
    assert data["show"] == {
        **data["show"],
        "id": live_show.id,
        "status": "live",
        "playback_url": live_show.playback_url,
    }


def test_viewer_page_gives_signed_in_viewers_buy_and_chat(web_for, outsider, live_show):
    response = web_for(outsider).get(f"/shows/{live_show.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="buy"' in html and 'id="chat-form"' in html
    assert page_data(response)["user"] == {"id": outsider.id, "username": "outsider"}


def test_viewer_page_of_an_unknown_show_is_404(web):
    assert web.get("/shows/999999/").status_code == 404


def test_ended_show_page_is_the_replay_with_its_moments_section(web, shop):
    show = ShowFactory(shop=shop, status="ended", started_at=timezone.now())
    html = web.get(f"/shows/{show.id}/").content.decode()
    assert 'id="replay"' in html and "Replay" in html
    assert 'id="replay" aria-labelledby="replay-heading" hidden' not in html


def test_rehearsal_viewer_page_is_for_hosts_only(web, web_for, outsider, shop):
    show = ShowFactory(shop=shop, status="live", rehearsal=True)
    url = f"/shows/{show.id}/"
    anonymous = web.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert web_for(outsider).get(url).status_code == 403
    assert web_for(shop.owner).get(url).status_code == 200


def test_studio_redirects_anonymous_visitors_to_sign_in(web, live_show):
    response = web.get(f"/studio/shows/{live_show.id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/studio/shows/{live_show.id}/"


def test_studio_is_forbidden_to_signed_in_non_hosts(web_for, outsider, live_show):
    assert web_for(outsider).get(f"/studio/shows/{live_show.id}/").status_code == 403


def test_studio_is_forbidden_to_a_show_moderator_who_is_not_a_host(web_for, outsider, live_show):
    from streams.models import ShowModerator

    ShowModerator.objects.create(show=live_show, user=outsider)
    assert web_for(outsider).get(f"/studio/shows/{live_show.id}/").status_code == 403


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_studio_opens_for_the_shop_owner_and_staff_with_the_lineup(
    web_for, shop, staff_member, live_show, who
):
    user = shop.owner if who == "owner" else staff_member
    response = web_for(user).get(f"/studio/shows/{live_show.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Linen shirt" in html and 'class="inputs pin-form"' in html
    assert 'id="mod-dialog"' in html and "required" in html
    lineup = page_data(response)["lineup"]
    assert [p["title"] for p in lineup] == ["Linen shirt"]
    assert lineup[0]["variants"][0]["available"] == 3


def test_dashboard_requires_sign_in(web):
    response = web.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/"


def test_dashboard_shows_the_sellers_products_stock_and_shows(web_for, shop, live_show):
    ProductFactory(shop=shop, title="Wool socks", stock=0)
    html = web_for(shop.owner).get("/dashboard/").content.decode()
    assert "Linen shirt" in html and "Wool socks" in html and "Spring drop" in html
    assert f"/api/v1/shops/{shop.id}/catalog-export/" in html
    assert f'href="/studio/shows/{live_show.id}/"' in html


def test_dashboard_does_not_show_other_shops_products(web_for, outsider, live_show):
    html = web_for(outsider).get("/dashboard/").content.decode()
    assert "Linen shirt" not in html
    assert "Open a shop" in html


def test_dashboard_ignores_a_shop_parameter_for_a_shop_the_user_cannot_manage(
    web_for, outsider, live_show
):
    html = web_for(outsider).get(f"/dashboard/?shop={live_show.shop_id}").content.decode()
    assert "Linen shirt" not in html


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_sign_in_and_sign_up_pages_render_with_labelled_inputs(web, path):
    html = web.get(path).content.decode()
    assert '<label for="id_username">' in html
    assert 'id="id_username"' in html


def test_viewer_page_gives_the_shows_moderators_and_hosts_the_moderation_dialog(
    web_for, outsider, shop, live_show
):
    from streams.models import ShowModerator

    viewer = web_for(outsider).get(f"/shows/{live_show.id}/")
    assert 'id="mod-dialog"' not in viewer.content.decode()
    assert page_data(viewer)["can_moderate"] is False

    ShowModerator.objects.create(show=live_show, user=outsider)
    moderator = web_for(outsider).get(f"/shows/{live_show.id}/")
    assert 'id="mod-dialog"' in moderator.content.decode()
    assert page_data(moderator)["can_moderate"] is True
    assert page_data(web_for(shop.owner).get(f"/shows/{live_show.id}/"))["can_moderate"] is True


def test_sign_in_links_come_back_to_the_page_but_not_to_the_sign_in_page(web, live_show):
    viewer = web.get(f"/shows/{live_show.id}/").content.decode()
    assert f'href="/accounts/login/?next=/shows/{live_show.id}/"' in viewer
    login = web.get("/accounts/signup/").content.decode()
    assert 'href="/accounts/login/"' in login
    assert "next=/accounts/" not in login
