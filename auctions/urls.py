from django.urls import path

from auctions import api

urlpatterns = [
    path("shows/<int:show_id>/auctions/", api.AuctionStartApi.as_view(), name="auction-start"),
    path("shows/<int:show_id>/prebids/", api.PreBidApi.as_view(), name="show-prebids"),
    path("auctions/<int:auction_id>/", api.AuctionDetailApi.as_view(), name="auction-detail"),
    path("auctions/<int:auction_id>/bids/", api.BidApi.as_view(), name="auction-bids"),
    path(
        "auctions/<int:auction_id>/cancel/", api.AuctionCancelApi.as_view(), name="auction-cancel"
    ),
]
