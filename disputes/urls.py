from django.urls import path

from disputes import api

urlpatterns = [
    path("orders/<int:order_id>/disputes/", api.DisputeOpenApi.as_view(), name="dispute-open"),
    path("disputes/<int:dispute_id>/", api.DisputeDetailApi.as_view(), name="dispute-detail"),
    path(
        "disputes/<int:dispute_id>/respond/",
        api.DisputeRespondApi.as_view(),
        name="dispute-respond",
    ),
    path(
        "staff/disputes/<int:dispute_id>/decision/",
        api.StaffDisputeDecisionApi.as_view(),
        name="staff-dispute-decision",
    ),
    path("me/disputes/", api.MyDisputeListApi.as_view(), name="my-disputes"),
    path("shops/<int:shop_id>/disputes/", api.ShopDisputeListApi.as_view(), name="shop-disputes"),
]
