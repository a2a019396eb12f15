from django.contrib import admin

from auctions.models import Auction, Bid, PreBid, Strike


@admin.register(Auction)
class AuctionAdmin(admin.ModelAdmin):
    list_display = ["id", "show", "product", "status", "current_bid", "bid_count", "ends_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Auction._meta.fields]


@admin.register(Bid)
class BidAdmin(admin.ModelAdmin):
    list_display = ["id", "auction", "bidder", "amount", "proxy", "created_at"]
    readonly_fields = [f.name for f in Bid._meta.fields]


@admin.register(PreBid)
class PreBidAdmin(admin.ModelAdmin):
    list_display = ["id", "show", "product", "bidder", "max_amount", "used_in"]


@admin.register(Strike)
class StrikeAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "auction", "created_at"]
