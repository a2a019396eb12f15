// Seller dashboard: API forms (products, stock, CSV, shows, moderators), and the shop's
// orders and shipments loaded from REST, with "ship with tracking" on open parcels.
import { api, apiList, errorText, money, newIdempotencyKey } from "./api.js";
import { $, h, pageData, setText } from "./dom.js";
import { bindApiForms, onApiForm } from "./forms.js";
import "./support.js";

const page = pageData();
const productTitles = new Map((page.products || []).map((p) => [p.id, p.title]));
const showTitles = new Map((page.shows || []).map((s) => [s.id, s.title]));
bindApiForms();

onApiForm("csvResult", (res, form) => {
  const out = form.querySelector("#csv-result");
  out.hidden = false;
  out.textContent = JSON.stringify(res, null, 2);
  const dry = form.elements.dry_run && form.elements.dry_run.checked;
  if (!dry) setTimeout(() => location.reload(), 1200);
});

function when(ts) {
  return ts ? new Date(ts).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

function orderAmount(o) {
  const v = o.total ?? o.subtotal ?? (o.unit_price && o.quantity ? Number(o.unit_price) * o.quantity : null);
  return v === null || v === undefined ? "" : money(v, o.currency);
}

async function loadOrders(shopId) {
  const body = $("#orders-body");
  try {
    const orders = await apiList(`/api/v1/shops/${shopId}/orders/`, 3);
    body.replaceChildren(...(orders.length ? orders.map((o) => h("tr", { dataset: { order: o.id } },
      h("td", {}, `#${o.id}`),
      h("td", {}, `${o.quantity || 1} × ${productTitles.get(o.product) || `product ${o.product}`}`,
        h("br"), h("span", { class: "small muted" }, showTitles.get(o.show) || "")),
      h("td", {}, h("span", { class: "badge" }, o.status)),
      h("td", {}, orderAmount(o)),
      h("td", {}, when(o.created_at)),
    )) : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No orders yet."))]));
  } catch (err) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "form-error" }, errorText(err))));
  }
}

function shipForm(s) {
  const err = h("p", { class: "form-error", role: "alert" });
  const carrier = h("input", { name: "carrier", required: true, id: `car-${s.id}`, placeholder: "USPS" });
  const tracking = h("input", { name: "tracking_number", required: true, id: `trk-${s.id}` });
  const form = h("form", { class: "row" },
    h("label", { for: `car-${s.id}`, class: "visually-hidden" }, "Carrier"), carrier,
    h("label", { for: `trk-${s.id}`, class: "visually-hidden" }, "Tracking number"), tracking,
    h("button", { type: "submit", class: "small" }, "Mark shipped"), err);
  tracking.placeholder = "Tracking number";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setText(err, "");
    try {
      await api("POST", `/api/v1/shipments/${s.id}/ship/`,
        { carrier: carrier.value.trim(), tracking_number: tracking.value.trim() }, { idempotencyKey: newIdempotencyKey() });
      loadShipments(page.shop.id);
      loadOrders(page.shop.id);
    } catch (e) {
      setText(err, errorText(e));
    }
  });
  return form;
}

function deliverButton(s) {
  const err = h("p", { class: "form-error", role: "alert" });
  const btn = h("button", { type: "button", class: "small" }, "Mark delivered");
  btn.addEventListener("click", async () => {
    setText(err, "");
    try {
      await api("POST", `/api/v1/shipments/${s.id}/deliver/`, null, { idempotencyKey: newIdempotencyKey() });
      loadShipments(page.shop.id);
      loadOrders(page.shop.id);
    } catch (e) {
      setText(err, errorText(e));
    }
  });
  return h("div", {}, btn, err);
}

async function loadShipments(shopId) {
  const body = $("#shipments-body");
  try {
    const list = await apiList(`/api/v1/shops/${shopId}/shipments/`, 3);
    body.replaceChildren(...(list.length ? list.map((s) => {
      const orders = (s.orders || []).map((o) => `#${typeof o === "object" ? o.id : o}`).join(", ");
      const shipped = s.status === "shipped" || s.status === "delivered" || s.tracking_number;
      return h("tr", { dataset: { shipment: s.id } },
        h("td", {}, `#${s.id}`, h("br"), h("span", { class: "small muted" }, showTitles.get(s.show) || "")),
        h("td", {}, orders),
        h("td", {}, h("span", { class: "badge" }, s.status || "open"),
          !shipped && Number(s.fee_uncollected) > 0
            ? h("span", { class: "small form-error" }, ` Shipping fee not collected: ${s.fee_uncollected} ${s.currency}`)
            : null),
        h("td", {}, shipped ? `${s.carrier || ""} ${s.tracking_number || ""}`.trim() : shipForm(s),
          s.status === "shipped" ? deliverButton(s) : ""));
    }) : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No shipments yet."))]));
  } catch (err) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "form-error" }, errorText(err))));
  }
}

if (page.shop) {
  loadOrders(page.shop.id);
  loadShipments(page.shop.id);
}

// Webhooks (owner only): redeliver a delivery, switch a disabled endpoint back on.
const webhooks = $("#webhooks");
if (webhooks) {
  const shopId = webhooks.dataset.shop;
  webhooks.addEventListener("click", async (ev) => {
    const redeliver = ev.target.closest("[data-redeliver]");
    const enable = ev.target.closest("[data-webhook-enable]");
    if (!redeliver && !enable) return;
    setText($("#webhooks-error"), "");
    try {
      if (redeliver) {
        await api("POST",
          `/api/v1/shops/${shopId}/webhooks/${redeliver.dataset.endpointId}/deliveries/${redeliver.dataset.redeliver}/redeliver/`,
          null, { idempotencyKey: newIdempotencyKey() });
      } else {
        await api("PATCH", `/api/v1/shops/${shopId}/webhooks/${enable.dataset.webhookEnable}/`, { active: true });
      }
      location.reload();
    } catch (e) {
      setText($("#webhooks-error"), errorText(e));
    }
  });
}
