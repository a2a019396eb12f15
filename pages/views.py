"""Server-rendered pages. Each renders the page shell and its initial data; everything
the page then does goes through the public REST API and the show's WebSocket, like any
other client (see docs/pages.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse

from catalog.models import Shop
from catalog.selectors import user_is_shop_owner
from disputes.selectors import latest_dispute_by_order
from disputes.services import DISPUTABLE, dispute_window_closes_at
from orders import clock
from orders.selectors import orders_for_buyer
from pages import charts, selectors
from streams.models import Show
from trust import selectors as trust_selectors
from trust.quality import listing_quality_many
from trust.rules import RULES
from webhooks.selectors import dashboard_endpoints


def _show_or_404(show_id: int) -> Show:
    show = selectors.show_get(show_id=show_id)
    if show is None:
        raise Http404("No such show.")
    return show


def _user_data(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not user.is_authenticated:
        return None
    return {"id": user.pk, "username": user.get_username()}


def _show_data(show: Show) -> dict[str, Any]:
    return {
        "id": show.pk,
        "title": show.title,
        "status": show.status,
        "playback_url": show.playback_url,
        "shop": {"id": show.shop_id, "name": show.shop.name},
        "currency": show.shop.currency,
        "scheduled_at": show.scheduled_at.isoformat() if show.scheduled_at else None,
        "started_at": show.started_at.isoformat() if show.started_at else None,
        "rehearsal": show.rehearsal,
    }


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, the API docs);
    our pages link the same file (templates/base.html)."""
    return redirect(static("favicon.svg"))


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/home.html", selectors.shows_for_home())


def show_page(request: HttpRequest, show_id: int) -> HttpResponse:
    """Viewer page; once the show has ended, the same page is its shoppable replay."""
    show = _show_or_404(show_id)
    is_host = selectors.user_is_show_host(user=request.user, show=show)
    if show.rehearsal and not is_host:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise PermissionDenied("Rehearsals are for the show's hosts.")
    can_moderate = is_host or selectors.user_is_show_moderator(user=request.user, show=show)
    page_data = {
        "show": _show_data(show),
        "user": _user_data(request),
        "is_host": is_host,
        "can_moderate": can_moderate,
        "hls_url": static("vendor/hls.js/hls.light.min.mjs"),
        "login_url": reverse("login"),
    }
    return render(
        request,
        "pages/show.html",
        {"show": show, "page_data": page_data, "is_host": is_host, "can_moderate": can_moderate},
    )


def studio_page(request: HttpRequest, show_id: int) -> HttpResponse:
    """Host studio: only the show's hosts (shop owner and staff)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    show = _show_or_404(show_id)
    if not selectors.user_is_show_host(user=request.user, show=show):
        raise PermissionDenied("Only this show's hosts can open its studio.")
    lineup = selectors.show_lineup(show=show)
    page_data = {
        "show": _show_data(show),
        "user": _user_data(request),
        "lineup": [
            {
                "id": p.pk,
                "title": p.title,
                "price": str(p.price),
                "currency": p.currency,
                "variants": [
                    {"id": v.pk, "sku": v.sku, "available": v.stock_available}
                    for v in p.variants.all()
                ],
            }
            for p in lineup
        ],
        "hls_url": static("vendor/hls.js/hls.light.min.mjs"),
    }
    return render(
        request,
        "pages/studio.html",
        {"show": show, "lineup": lineup, "page_data": page_data},
    )


def _dashboard_shop(request: HttpRequest) -> tuple[list[Shop], Shop | None]:
    shops = list(selectors.dashboard_shops(user=request.user))
    shop = shops[0] if shops else None
    wanted = request.GET.get("shop")
    if wanted and wanted.isdigit():
        shop = next((s for s in shops if s.pk == int(wanted)), shop)
    return shops, shop


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Seller dashboard: products and stock, shows, orders and shipments; for the owner,
    the shop's webhooks with their delivery log."""
    shops, shop = _dashboard_shop(request)
    context: dict[str, Any] = {"shops": shops, "shop": shop}
    if shop is not None:
        context["products"] = selectors.shop_products(shop=shop)
        shows = selectors.shop_shows(shop=shop)
        sales = {row["show_id"]: row for row in selectors.shop_show_summaries(shop=shop)}
        for show in shows:
            show.sales = sales.get(show.pk)  # type: ignore[attr-defined]
            show.lineup_ids = {item.product_id for item in show.lineup.all()}  # type: ignore[attr-defined]
        context["shows"] = shows
        quality = listing_quality_many([p for p in context["products"] if p.is_active])
        context["quality"] = [(p, quality[p.pk]) for p in context["products"] if p.pk in quality]
        if user_is_shop_owner(user=request.user, shop=shop):  # owner only (SPEC webhooks)
            context["webhooks"] = dashboard_endpoints(shop=shop)
        context["page_data"] = {
            "shop": {"id": shop.pk, "name": shop.name},
            "products": [{"id": p.pk, "title": p.title} for p in context["products"]],
            "shows": [{"id": s.pk, "title": s.title} for s in shows],
        }
    return render(request, "pages/dashboard.html", context)


@login_required
def show_analytics_page(request: HttpRequest, show_id: int) -> HttpResponse:
    """One show's sales: timeline with pins, GMV, units, conversion, top products."""
    show = _show_or_404(show_id)
    if not selectors.user_is_show_host(user=request.user, show=show):
        raise PermissionDenied("Only this show's shop can see its sales.")
    data = selectors.show_analytics(show=show)
    context: dict[str, Any] = {"show": show, "data": data}
    if data is not None:
        context["timeline_svg"] = charts.sales_timeline_svg(data)
        context["top_svg"] = charts.top_products_svg(data) if data.top_products else None
    return render(request, "pages/analytics.html", context)


@login_required
def account_cases(request: HttpRequest) -> HttpResponse:
    """My account → cases and appeals: every enforcement against the user, with its
    reason, evidence and appeal (the form posts to the REST API)."""
    cases = [
        trust_selectors.case_payload(c, viewer=request.user)
        for c in trust_selectors.cases_of_user(user=request.user)[:100]
    ]
    return render(request, "pages/account_cases.html", {"cases": cases, "rules": RULES})


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    """The buyer's orders with their parcel, and each order's dispute: status, the
    seller's deadline, the outcome; a form to open one where the rules allow."""
    orders = list(orders_for_buyer(buyer=request.user).select_related("product", "show")[:100])
    disputes = latest_dispute_by_order(orders=orders)
    now = clock.now()
    for order in orders:
        dispute = disputes.get(order.pk)
        closes_at = dispute_window_closes_at(order=order)
        order.dispute = dispute  # type: ignore[attr-defined]
        order.dispute_window_closes_at = closes_at  # type: ignore[attr-defined]
        order.can_dispute = (  # type: ignore[attr-defined]
            order.status in DISPUTABLE
            and (closes_at is None or now <= closes_at)
            and (dispute is None or not dispute.is_open)
        )
    return render(request, "pages/orders.html", {"orders": orders, "now": now})
