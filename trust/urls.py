from django.urls import path

from trust import api

urlpatterns = [
    path("me/cases/", api.MyCasesApi.as_view(), name="me-cases"),
    path("cases/<int:case_id>/", api.CaseDetailApi.as_view(), name="case-detail"),
    path("cases/<int:case_id>/appeal/", api.AppealApi.as_view(), name="case-appeal"),
    path("staff/cases/", api.StaffCaseQueueApi.as_view(), name="staff-cases"),
    path(
        "staff/cases/<int:case_id>/decision/",
        api.StaffDecisionApi.as_view(),
        name="staff-case-decision",
    ),
    path(
        "staff/products/<int:product_id>/remove/",
        api.StaffListingRemoveApi.as_view(),
        name="staff-product-remove",
    ),
    path(
        "products/<int:product_id>/quality/",
        api.ProductQualityApi.as_view(),
        name="product-quality",
    ),
]
