from django.urls import path

from orders import api

urlpatterns = [
    path("shows/<int:show_id>/buy/", api.BuyApi.as_view(), name="show-buy"),
    path("shows/<int:show_id>/waitlist/", api.WaitlistJoinApi.as_view(), name="show-waitlist"),
    path("holds/", api.HoldListApi.as_view(), name="hold-list"),
    path("holds/<int:hold_id>/", api.HoldDetailApi.as_view(), name="hold-detail"),
    path("holds/<int:hold_id>/checkout/", api.HoldCheckoutApi.as_view(), name="hold-checkout"),
    path("holds/<int:hold_id>/cancel/", api.HoldCancelApi.as_view(), name="hold-cancel"),
    path("orders/", api.OrderListApi.as_view(), name="order-list"),
    path("orders/<int:order_id>/", api.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:order_id>/cancel/", api.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<int:order_id>/refund/", api.OrderRefundApi.as_view(), name="order-refund"),
    path("shops/<int:shop_id>/orders/", api.ShopOrderListApi.as_view(), name="shop-orders"),
    path(
        "shops/<int:shop_id>/shipments/", api.ShopShipmentListApi.as_view(), name="shop-shipments"
    ),
    path("shipments/<int:shipment_id>/ship/", api.ShipmentShipApi.as_view(), name="shipment-ship"),
    path(
        "shipments/<int:shipment_id>/deliver/",
        api.ShipmentDeliverApi.as_view(),
        name="shipment-deliver",
    ),
    path("me/payment-methods/", api.PaymentMethodListApi.as_view(), name="payment-method-list"),
    path(
        "me/payment-methods/<int:payment_method_id>/",
        api.PaymentMethodDetailApi.as_view(),
        name="payment-method-detail",
    ),
    path("me/addresses/", api.AddressListApi.as_view(), name="address-list"),
    path("me/addresses/<int:address_id>/", api.AddressDetailApi.as_view(), name="address-detail"),
]
