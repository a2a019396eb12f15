// Host studio /studio/shows/{id}/: go live / end, pin and unpin from the lineup, live
// sales ticker, chat with remove / timeout / ban (always with a reason), viewer count.
import { api, apiList, errorText, money, newIdempotencyKey } from "./api.js";
import { $, $$, h, pageData, setText, userId, userName } from "./dom.js";
import { LiveSocket } from "./live.js";
import { moderation } from "./moderation.js";
import { Catalog, stockText } from "./products.js";
import { AuctionPanel } from "./auction.js";

const page = pageData();
const show = page.show;
const catalog = new Catalog();
for (const p of page.lineup || []) {
  catalog.remember({ id: p.id, title: p.title, price: p.price, currency: p.currency,
    variants: p.variants.map((v) => ({ id: v.id, sku: v.sku, stock_available: v.available })) });
}
let status = show.status;
let currentPin = null;

// ---- status -------------------------------------------------------------------------
function setStatus(s) {
  status = s;
  const badge = $("#status-badge");
  badge.className = `badge ${s}`;
  setText(badge, s[0].toUpperCase() + s.slice(1));
  $("#go-live").hidden = s !== "scheduled";
  $("#end-show").hidden = s !== "live";
  $("#studio").dataset.status = s;
}

async function changeStatus(action, btn) {
  if (action === "end" && !confirm("End the show for everyone? The replay stays shoppable.")) return;
  btn.disabled = true;
  setText($("#status-error"), "");
  try {
    const res = await api("POST", `/api/v1/shows/${show.id}/${action}/`, {}, { idempotencyKey: newIdempotencyKey() });
    setStatus(res.status);
  } catch (err) {
    setText($("#status-error"), errorText(err));
  } finally {
    btn.disabled = false;
  }
}
$("#go-live").addEventListener("click", (e) => changeStatus("start", e.currentTarget));
$("#end-show").addEventListener("click", (e) => changeStatus("end", e.currentTarget));

// ---- lineup and pins ----------------------------------------------------------------
function pinnedProductId(pin) {
  if (!pin) return null;
  return typeof pin.product === "object" && pin.product ? pin.product.id : pin.product;
}

function setPin(pin) {
  currentPin = pin;
  const pid = pinnedProductId(pin);
  for (const li of $$("#lineup > li")) li.dataset.pinned = String(Number(li.dataset.product) === pid);
  $("#unpin").hidden = !pin;
  renderStock();
}

function renderStock() {
  for (const el of $$("[data-stock-for]")) {
    const p = catalog.products.get(Number(el.dataset.stockFor));
    if (p) setText(el, stockText(catalog.available(p, null)));
  }
  const pid = pinnedProductId(currentPin);
  const p = pid !== null ? catalog.products.get(pid) : null;
  setText($("#t-pin"), p ? `Pinned: ${p.title} — ${stockText(catalog.available(p, null))}` : "Nothing pinned.");
}

for (const form of $$(".pin-form")) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { product: Number(form.dataset.product) };
    const price = form.elements.price.value.trim();
    const limit = form.elements.limit_per_buyer.value.trim();
    if (price) body.price = price;
    if (limit) body.limit_per_buyer = Number(limit);
    setText($("#pin-error"), "");
    const btn = form.querySelector("button");
    btn.disabled = true;
    try {
      const pin = await api("POST", `/api/v1/shows/${show.id}/pins/`, body, { idempotencyKey: newIdempotencyKey() });
      setPin(pin);
    } catch (err) {
      setText($("#pin-error"), errorText(err));
    } finally {
      btn.disabled = false;
    }
  });
}

// ---- auctions -----------------------------------------------------------------------
const auction = new AuctionPanel($("#auction-card"));
window.__lcAuction = auction;
for (const form of $$(".auction-form")) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      product: Number(form.dataset.product),
      starting_bid: form.elements.starting_bid.value.trim(),
      duration_s: Number(form.elements.duration_s.value),
      sudden_death: form.elements.sudden_death.checked,
    };
    setText($("#pin-error"), "");
    const btn = form.querySelector("button");
    btn.disabled = true;
    try {
      auction.set(await api("POST", `/api/v1/shows/${show.id}/auctions/`, body, { idempotencyKey: newIdempotencyKey() }));
    } catch (err) {
      setText($("#pin-error"), errorText(err));
    } finally {
      btn.disabled = false;
    }
  });
}

$("#unpin").addEventListener("click", async () => {
  setText($("#pin-error"), "");
  try {
    await api("DELETE", `/api/v1/shows/${show.id}/pins/current/`);
    setPin(null);
  } catch (err) {
    setText($("#pin-error"), errorText(err));
  }
});

// ---- sales ticker -------------------------------------------------------------------
const SOLD = new Set(["paid", "shipped", "delivered"]);

function orderShowId(o) {
  return typeof o.show === "object" && o.show ? o.show.id : o.show;
}

function orderUnits(o) {
  if (typeof o.quantity === "number") return o.quantity;
  if (Array.isArray(o.items)) return o.items.reduce((n, i) => n + (i.quantity || 0), 0);
  return 1;
}

function orderAmount(o) {
  const v = o.subtotal ?? o.items_total ?? (o.unit_price && o.quantity ? Number(o.unit_price) * o.quantity : o.total);
  return Number(v || 0);
}

let tickerBusy = false;
let tickerAgain = false;
async function refreshTicker() {
  if (tickerBusy) { tickerAgain = true; return; }
  tickerBusy = true;
  try {
    const orders = (await apiList(`/api/v1/shops/${show.shop.id}/orders/?show=${show.id}`, 20))
      .filter((o) => orderShowId(o) === undefined || orderShowId(o) === show.id);
    const sold = orders.filter((o) => SOLD.has(o.status));
    const live = orders.filter((o) => SOLD.has(o.status) || o.status === "pending_payment");
    setText($("#t-orders"), live.length);
    setText($("#t-units"), sold.reduce((n, o) => n + orderUnits(o), 0));
    setText($("#t-gmv"), money(sold.reduce((n, o) => n + orderAmount(o), 0), show.currency));
    window.__lcMetrics = { ...(window.__lcMetrics || {}), tickerAt: Date.now() };
  } catch (err) {
    setText($("#t-pin"), `Sales unavailable: ${errorText(err)}`);
  } finally {
    tickerBusy = false;
    if (tickerAgain) { tickerAgain = false; setTimeout(refreshTicker, 300); }
  }
}
let tickerTimer = null;
function soonTicker() {
  clearTimeout(tickerTimer);
  tickerTimer = setTimeout(refreshTicker, 250);
}
refreshTicker();
// Payments complete in Celery without a broadcast; a slow poll catches them.
setInterval(() => { if (status === "live" && !document.hidden) refreshTicker(); }, 3000);

// ---- chat and moderation ------------------------------------------------------------
const messages = $("#messages");
const mod = moderation(show.id, {
  onRemoved: (id) => messages.querySelector(`[data-id="${CSS.escape(String(id))}"]`)?.remove(),
});

function addMessage(m) {
  if (!m || m.id === undefined || messages.querySelector(`[data-id="${CSS.escape(String(m.id))}"]`)) return;
  const mine = page.user && userId(m.user) === page.user.id;
  const li = h("li", { dataset: { id: m.id } },
    h("span", { class: "who" }, userName(m.user)), h("span", { class: "text" }, m.text),
    mine ? null : mod.buttons(m));
  const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
  messages.append(li);
  while (messages.children.length > 300) messages.firstElementChild.remove();
  if (atBottom) messages.scrollTop = messages.scrollHeight;
}

$("#chat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("#chat-input");
  const text = input.value.trim();
  if (text && live.send("chat.send", { text })) input.value = "";
});

// ---- live room ----------------------------------------------------------------------
function onStatus(s) {
  const conn = $("#conn");
  conn.dataset.state = s;
  setText(conn, { connecting: "Connecting…", live: "Connected", reconnecting: "Reconnecting…", closed: "Disconnected." }[s]);
}

function onSnapshot(d) {
  if (d.show && d.show.status) setStatus(d.show.status);
  catalog.applyStock(d.stock);
  if (typeof d.viewer_count === "number") setText($("#viewer-count"), d.viewer_count);
  messages.replaceChildren();
  for (const m of d.recent_messages || []) addMessage(m);
  setPin(d.current_pin || null);
  auction.snapshot(d.auction || null, d.server_time);
}

function onEvent(type, d) {
  if (type.startsWith("auction.")) {
    auction.onEvent(type, d);
    if (type === "auction.closed") soonTicker();
    return;
  }
  switch (type) {
    case "show.status": setStatus(d.status || (d.show && d.show.status)); break;
    case "pin.changed": setPin(d.pin || null); break;
    case "stock.changed": catalog.applyChange(d); renderStock(); soonTicker(); break;
    case "sale.recorded": case "order.updated": soonTicker(); break;
    case "chat.message": addMessage(d); break;
    case "chat.removed": messages.querySelector(`[data-id="${CSS.escape(String(d.id))}"]`)?.remove(); break;
    case "viewers.changed": setText($("#viewer-count"), d.count); break;
    default: break;
  }
}

const live = new LiveSocket(show.id, { onSnapshot, onEvent, onStatus });
window.__lcLive = live;
live.connect();
renderStock();
