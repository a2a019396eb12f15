from django.contrib import admin

from webhooks.models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["id", "shop", "url", "active", "disabled_reason", "created_at"]
    list_filter = ["active"]
    exclude = ["secret", "previous_secret"]
    raw_id_fields = ["shop"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "endpoint", "status", "attempts", "next_attempt_at"]
    list_filter = ["status"]
    raw_id_fields = ["event", "endpoint", "redelivery_of"]
