import pytest

from catalog.models import Shop, ShopStaff
from tests.factories import ShopFactory, ShopStaffFactory, UserFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_create_shop_makes_caller_owner(client_for, user):
    r = client_for(user).post("/api/v1/shops/", {"name": "Corner Shop", "currency": "EUR"})
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "Corner Shop"
    assert body["currency"] == "EUR"
    assert body["owner"] == {"id": user.pk, "username": user.username}
    assert Shop.objects.get(pk=body["id"]).owner == user


def test_create_shop_defaults_currency_to_usd(client_for, user):
    r = client_for(user).post("/api/v1/shops/", {"name": "Plain"})
    assert r.status_code == 201
    assert r.json()["currency"] == "USD"


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "12$", 840])
def test_create_shop_rejects_bad_currency(client_for, user, currency):
    r = client_for(user).post("/api/v1/shops/", {"name": "X", "currency": currency})
    err = assert_error(r, 400, "invalid")
    assert "currency" in err["details"]
    assert not Shop.objects.exists()


def test_create_shop_rejects_blank_name(client_for, user):
    err = assert_error(client_for(user).post("/api/v1/shops/", {"name": "  "}), 400, "invalid")
    assert "name" in err["details"]


def test_create_shop_anonymous_is_401(api_client):
    assert_error(api_client.post("/api/v1/shops/", {"name": "X"}), 401, "not_authenticated")
    assert not Shop.objects.exists()


def test_list_shops_returns_owned_and_staffed_only(client_for, user):
    owned = ShopFactory(owner=user)
    staffed = ShopStaffFactory(user=user).shop
    ShopFactory()  # someone else's
    r = client_for(user).get("/api/v1/shops/")
    assert r.status_code == 200
    assert sorted(s["id"] for s in r.json()["results"]) == sorted([owned.pk, staffed.pk])
    assert r.json()["next"] is None


def test_list_shops_anonymous_is_401(api_client):
    assert_error(api_client.get("/api/v1/shops/"), 401, "not_authenticated")


def test_shop_detail_is_public(api_client, shop):
    r = api_client.get(f"/api/v1/shops/{shop.pk}/")
    assert r.status_code == 200
    assert r.json()["id"] == shop.pk
    assert r.json()["owner"]["username"] == shop.owner.username


def test_shop_detail_unknown_is_404(api_client, db):
    assert_error(api_client.get("/api/v1/shops/999999/"), 404, "not_found")


def test_owner_adds_staff_then_adding_again_is_200_and_changes_nothing(client_for, shop):
    helper = UserFactory(username="helper")
    owner = client_for(shop.owner)
    r = owner.post(f"/api/v1/shops/{shop.pk}/staff/", {"username": "helper"})
    assert r.status_code == 201
    assert r.json()["user"] == {"id": helper.pk, "username": "helper"}
    again = owner.post(f"/api/v1/shops/{shop.pk}/staff/", {"username": "helper"})
    assert again.status_code == 200
    assert again.json() == r.json()
    assert ShopStaff.objects.filter(shop=shop).count() == 1


def test_owner_removes_staff_and_removing_again_is_204(client_for, shop):
    member = ShopStaffFactory(shop=shop).user
    owner = client_for(shop.owner)
    url = f"/api/v1/shops/{shop.pk}/staff/"
    assert owner.delete(url, {"username": member.username}, format="json").status_code == 204
    assert not ShopStaff.objects.filter(shop=shop).exists()
    assert owner.delete(url, {"username": member.username}, format="json").status_code == 204


def test_remove_staff_accepts_username_in_query_string(client_for, shop):
    member = ShopStaffFactory(shop=shop).user
    r = client_for(shop.owner).delete(f"/api/v1/shops/{shop.pk}/staff/?username={member.username}")
    assert r.status_code == 204
    assert not ShopStaff.objects.filter(shop=shop).exists()


def test_add_unknown_username_is_400(client_for, shop):
    r = client_for(shop.owner).post(f"/api/v1/shops/{shop.pk}/staff/", {"username": "ghost"})
    err = assert_error(r, 400, "invalid")
    assert "username" in err["details"]


def test_owner_cannot_add_themselves(client_for, shop):
    r = client_for(shop.owner).post(
        f"/api/v1/shops/{shop.pk}/staff/", {"username": shop.owner.username}
    )
    assert_error(r, 400, "invalid")
    assert not ShopStaff.objects.exists()


def test_staff_can_list_staff_but_not_change_it(client_for, shop):
    member = ShopStaffFactory(shop=shop).user
    UserFactory(username="newbie")
    client = client_for(member)
    r = client.get(f"/api/v1/shops/{shop.pk}/staff/")
    assert r.status_code == 200
    assert [m["user"]["username"] for m in r.json()["results"]] == [member.username]
    assert_error(
        client.post(f"/api/v1/shops/{shop.pk}/staff/", {"username": "newbie"}),
        403,
        "permission_denied",
    )
    assert ShopStaff.objects.filter(shop=shop).count() == 1


def test_staff_endpoint_unknown_shop_is_404(client_for, user):
    r = client_for(user).post("/api/v1/shops/424242/staff/", {"username": user.username})
    assert_error(r, 404, "not_found")


def test_staff_are_named_by_username_in_any_case(client_for, shop):
    helper = UserFactory(username="Helper")
    owner = client_for(shop.owner)
    url = f"/api/v1/shops/{shop.pk}/staff/"
    assert owner.post(url, {"username": "hELPER"}).json()["user"]["id"] == helper.pk
    assert list(ShopStaff.objects.values_list("user_id", flat=True)) == [helper.pk]
    assert owner.delete(f"{url}?username=HELPER").status_code == 204
    assert not ShopStaff.objects.exists()


def test_me_lists_the_shops_owned_and_staffed(client_for, shop):
    member = ShopStaffFactory(shop=shop).user
    own = ShopFactory(owner=member, name="Own")
    r = client_for(member).get("/api/v1/me/")
    assert r.status_code == 200
    assert r.json() == {
        "id": member.pk,
        "username": member.username,
        "shops": [
            {"id": shop.pk, "name": shop.name, "role": "staff"},
            {"id": own.pk, "name": "Own", "role": "owner"},
        ],
    }
