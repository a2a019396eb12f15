from django.urls import path

from webhooks import api

_ENDPOINT = "shops/<int:shop_id>/webhooks/<int:endpoint_id>/"

urlpatterns = [
    path("shops/<int:shop_id>/webhooks/", api.EndpointListCreateApi.as_view(), name="webhooks"),
    path(_ENDPOINT, api.EndpointDetailApi.as_view(), name="webhook-detail"),
    path(
        f"{_ENDPOINT}rotate-secret/",
        api.EndpointRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path(f"{_ENDPOINT}deliveries/", api.DeliveryListApi.as_view(), name="webhook-deliveries"),
    path(
        f"{_ENDPOINT}deliveries/<int:delivery_id>/redeliver/",
        api.DeliveryRedeliverApi.as_view(),
        name="webhook-redeliver",
    ),
]
