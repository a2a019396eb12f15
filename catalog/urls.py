from django.urls import path

from catalog import api

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="me"),  # the account and its shops
    path("shops/", api.ShopListCreateApi.as_view(), name="shop-list"),
    path("shops/<int:shop_id>/", api.ShopDetailApi.as_view(), name="shop-detail"),
    path("shops/<int:shop_id>/staff/", api.ShopStaffApi.as_view(), name="shop-staff"),
    path(
        "shops/<int:shop_id>/catalog-import/",
        api.CatalogImportApi.as_view(),
        name="shop-catalog-import",
    ),
    path(
        "shops/<int:shop_id>/catalog-export/",
        api.CatalogExportApi.as_view(),
        name="shop-catalog-export",
    ),
    path("products/", api.ProductListCreateApi.as_view(), name="product-list"),
    path("products/<int:product_id>/", api.ProductDetailApi.as_view(), name="product-detail"),
    path(
        "products/<int:product_id>/stock-adjustments/",
        api.StockAdjustmentApi.as_view(),
        name="product-stock-adjustments",
    ),
]
