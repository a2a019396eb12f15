// Viewer page /shows/{id}/: player, pinned product with live stock, buy → hold → pay,
// chat and reactions, moderation notices, and the shoppable replay once the show ends.
import { api, apiList, errorText, money, newIdempotencyKey } from "./api.js";
import { $, $$, announce, clock, h, pageData, setText, userId, userName } from "./dom.js";
import { LiveSocket } from "./live.js";
import { Catalog, stockText, variantLabel } from "./products.js";
import { moderation } from "./moderation.js";
import { attachPlayer } from "./player.js";
import { AuctionPanel, auctionResults } from "./auction.js";

const page = pageData();
const showId = page.show.id;
const signedIn = Boolean(page.user);
const catalog = new Catalog();
const video = $("#video");

const state = {
  status: page.show.status,
  pin: null, // the current pin (live) or the chosen moment (replay)
  product: null,
  hold: null,
  order: null,
  countdown: null,
  shippingFee: null,
  muted: null, // {action, reason, until} while banned / timed out
  moments: [],
  waitlisted: new Set(), // "product:variant" keys joined on this page
};

const auction = new AuctionPanel($("#auction-card"), {
  me: page.user ? page.user.username : null,
  bidding: signedIn,
});
window.__lcAuction = auction; // for the browser tests

// ---- player -------------------------------------------------------------------------
attachPlayer(video, page.show.playback_url, page.hls_url);

// ---- connection status --------------------------------------------------------------
const conn = $("#conn");
function onStatus(s, info) {
  conn.dataset.state = s;
  const text = {
    connecting: "Connecting…",
    live: state.status === "ended" ? "Connected" : "Live",
    reconnecting: "Reconnecting…",
    closed: info && info.code === 4403 ? "This show is private." : "Disconnected.",
  }[s];
  setText(conn, text);
  if (s === "reconnecting" && info.attempt === 1) announce("Connection lost, reconnecting.");
  if (s === "live" && live.stats.connects > 1) announce("Reconnected.");
}

// ---- pinned product card ------------------------------------------------------------
const card = {
  empty: $("#pin-empty"), thumb: $("#pin-thumb"), body: $("#pin-body"), actions: $("#pin-actions"),
  title: $("#pin-title"), price: $("#pin-price"), listPrice: $("#pin-list-price"),
  stock: $("#pin-stock"), limit: $("#pin-limit"), shipping: $("#pin-shipping"),
  variantField: $("#variant-field"), variant: $("#variant"), buy: $("#buy"), error: $("#buy-error"),
};

async function showPin(pin) {
  state.pin = pin;
  setText(card.error, "");
  if (!pin) {
    state.product = null;
    card.empty.hidden = false;
    card.thumb.hidden = card.body.hidden = card.actions.hidden = true;
    return;
  }
  let product;
  try {
    product = await catalog.product(pin.product);
  } catch (err) {
    setText(card.error, errorText(err));
    return;
  }
  if (state.pin !== pin) return; // a newer pin arrived meanwhile
  state.product = product;
  if (pin.shipping_fee !== undefined && pin.shipping_fee !== null) state.shippingFee = pin.shipping_fee;
  else if (state.status !== "ended") refreshShippingFee();
  card.empty.hidden = true;
  card.thumb.hidden = card.body.hidden = card.actions.hidden = false;
  card.thumb.style.backgroundImage = product.image_url ? `url("${encodeURI(product.image_url)}")` : "";
  card.thumb.classList.toggle("has-image", Boolean(product.image_url));
  const icon = card.thumb.querySelector("svg");
  if (icon) icon.style.display = product.image_url ? "none" : "";
  setText(card.title, product.title);
  const variants = product.variants || [];
  card.variant.replaceChildren();
  card.variantField.hidden = variants.length <= 1;
  if (variants.length > 1) {
    const names = (product.options || []).map((o) => o.name).filter(Boolean);
    setText($("#variant-label"), names.length ? names.map((n) => n[0].toUpperCase() + n.slice(1)).join(" / ") : "Option");
    card.variant.append(h("option", { value: "" }, "Choose…"));
    for (const v of variants) card.variant.append(h("option", { value: v.id }, variantLabel(v)));
    renderVariantStock();
  }
  renderCard();
}

/** What buying the current pin would add in shipping, for this viewer (bundling aware). */
let feeSeq = 0;
async function refreshShippingFee() {
  if (!signedIn || state.status === "ended") return;
  const mine = ++feeSeq;
  try {
    const pin = await api("GET", `/api/v1/shows/${showId}/pins/current/`);
    if (mine !== feeSeq) return;
    if (pin && pin.shipping_fee !== undefined && pin.shipping_fee !== null) {
      state.shippingFee = pin.shipping_fee;
      renderCard();
    }
  } catch {
    // Keep what we had: the fee is also in the buy answer.
  }
}

function currentVariant() {
  const vs = (state.product && state.product.variants) || [];
  if (vs.length === 1) return vs[0];
  return vs.find((v) => String(v.id) === card.variant.value) || null;
}

/** Each option says how many are left; sold-out ones cannot be chosen. */
function renderVariantStock() {
  for (const opt of card.variant.options) {
    if (!opt.value) continue;
    const v = (state.product.variants || []).find((x) => String(x.id) === opt.value);
    const n = catalog.available(state.product, v.id);
    opt.textContent = `${variantLabel(v)} — ${n !== null && n <= 0 ? "sold out" : `${n} left`}`;
    opt.disabled = n !== null && n <= 0;
  }
}

function renderCard() {
  const p = state.product;
  if (!p) return;
  const pin = state.pin || {};
  const v = currentVariant();
  const list = v && v.price ? v.price : p.price;
  const live = state.status === "live";
  const showPrice = live && pin.price ? pin.price : list;
  setText(card.price, money(showPrice, p.currency));
  setText(card.listPrice, live && pin.price && Number(pin.price) < Number(list) ? money(list, p.currency) : "");
  const n = catalog.available(p, v ? v.id : null);
  setText(card.stock, stockText(n));
  card.stock.className = "stock" + (n !== null && n <= 0 ? " out" : n !== null && n <= 5 ? " low" : "");
  setText(card.limit, live && pin.limit_per_buyer ? `· limit ${pin.limit_per_buyer} per buyer` : "");
  if (!signedIn) setText(card.shipping, "Sign in to see shipping.");
  else if (state.shippingFee === null || state.shippingFee === undefined) setText(card.shipping, "");
  else setText(card.shipping, Number(state.shippingFee) > 0 ? `Shipping adds ${money(state.shippingFee, p.currency)}` : "Ships free with your other items from this show");
  if (card.buy) {
    const needVariant = (p.variants || []).length > 1 && !v;
    card.buy.disabled = (n !== null && n <= 0) || state.status === "scheduled" || Boolean(state.hold && state.hold.status === "active");
    setText(card.buy, n !== null && n <= 0 ? "Sold out" : needVariant ? "Choose an option" : "Buy now");
    const waitBtn = $("#waitlist");
    const key = `${p.id}:${v ? v.id : ""}`;
    waitBtn.hidden = !(n !== null && n <= 0) || state.waitlisted.has(key);
    setText($("#waitlist-note"), state.waitlisted.has(key)
      ? "You're on the waitlist: if units come back, they're held for you for a minute." : "");
  }
}

card.variant.addEventListener("change", renderCard);

// ---- buying -------------------------------------------------------------------------
const purchase = {
  box: $("#purchase"), holdText: $("#hold-text"), countdown: $("#hold-countdown"), order: $("#order-line"),
  form: $("#checkout"), pay: $("#pay"), addr: $("#addr"), newAddr: $("#new-address"), error: $("#checkout-error"),
  cancel: $("#cancel-hold"),
};

if (card.buy) card.buy.addEventListener("click", buy);

async function joinWaitlist() {
  const p = state.product;
  if (!p) return;
  const v = currentVariant();
  const body = { product: p.id };
  if (v && (p.variants || []).length > 1) body.variant = v.id;
  setText(card.error, "");
  try {
    await api("POST", `/api/v1/shows/${showId}/waitlist/`, body, { idempotencyKey: newIdempotencyKey() });
    state.waitlisted.add(`${p.id}:${v ? v.id : ""}`);
    renderCard();
  } catch (err) {
    setText(card.error, errorText(err));
  }
}
if ($("#waitlist")) $("#waitlist").addEventListener("click", joinWaitlist);

async function buy() {
  const p = state.product;
  if (!p) return;
  const v = currentVariant();
  if ((p.variants || []).length > 1 && !v) {
    card.variant.focus();
    setText(card.error, "Choose an option first.");
    return;
  }
  setText(card.error, "");
  card.buy.disabled = true;
  const body = { product: p.id, quantity: 1 };
  if (v && (p.variants || []).length > 1) body.variant = v.id;
  const started = performance.now();
  try {
    const res = await api("POST", `/api/v1/shows/${showId}/buy/`, body, { idempotencyKey: newIdempotencyKey() });
    window.__lcMetrics = { ...(window.__lcMetrics || {}), buyMs: performance.now() - started };
    if (res.shipping_fee !== undefined) state.shippingFee = res.shipping_fee;
    // A new purchase: forget the previous one's order line.
    state.order = null;
    setText(purchase.order, "");
    setHold(res.hold);
    if (res.order) setOrder(res.order);
    else openCheckout();
  } catch (err) {
    setText(card.error, errorText(err));
  } finally {
    renderCard();
  }
}

// Holds whose end (converted, expired, cancelled) was heard over the socket, by id: the
// end can arrive before the buy's own answer that still says "active".
const holdsEnded = new Map();

function setHold(incoming) {
  if (!incoming) return;
  const ended = incoming.status === "active" ? holdsEnded.get(incoming.id) : undefined;
  const hold = ended ? { ...incoming, ...ended } : incoming;
  if (state.hold && state.hold.id !== hold.id && state.hold.status === "active" && hold.status !== "active") return;
  // A hold never becomes active again (SPEC: active → converted | expired | cancelled). Its
  // private events carry no seq and come from different processes (the web relay, the
  // Celery worker), and the buy's own answer can land after them: a late "active" for a
  // hold already ended is stale.
  if (state.hold && state.hold.id === hold.id && state.hold.status !== "active" && hold.status === "active") return;
  state.hold = { ...(state.hold && state.hold.id === hold.id ? state.hold : {}), ...hold };
  purchase.box.hidden = false;
  clearInterval(state.countdown);
  const st = state.hold.status;
  if (st === "active") {
    setText(purchase.holdText, `Reserved for you${state.product ? `: ${state.product.title}` : ""} —`);
    const tick = () => {
      const left = (Date.parse(state.hold.expires_at) - Date.now()) / 1000;
      setText(purchase.countdown, left > 0 ? `${clock(left)} left` : "time is up");
      if (left <= 0) clearInterval(state.countdown);
    };
    tick();
    state.countdown = setInterval(tick, 1000);
  } else {
    setText(purchase.countdown, "");
    const words = {
      converted: "Your reservation became an order.",
      expired: "Your reservation expired; the item went back on sale.",
      cancelled: "Reservation cancelled.",
    };
    setText(purchase.holdText, words[st] || `Reservation ${st}.`);
    if (st !== "converted") purchase.form.hidden = true;
  }
  renderCard();
}

const ORDER_WORDS = {
  pending_payment: "Paying…",
  paid: "Paid — thank you! We'll tell you when it ships.",
  payment_failed: "Payment failed. You can buy again.",
  shipped: "Shipped.",
  delivered: "Delivered.",
  cancelled: "Order cancelled.",
  refunded: "Order refunded.",
};

// An order's private events come from the Celery worker and can overtake the HTTP answer
// that created the order (a one-tap buy paid before its 201 reached the page). Remember the
// furthest status seen for each order and never step back to an earlier one.
const ORDER_RANK = {
  pending_payment: 0, paid: 1, payment_failed: 1, shipped: 2, delivered: 3, cancelled: 4, refunded: 4,
};
const ordersSeen = new Map();

function latestOrder(order) {
  const seen = ordersSeen.get(order.id);
  const rank = (o) => ORDER_RANK[o.status] ?? 0;
  const merged = !seen || rank(order) >= rank(seen) ? { ...seen, ...order } : { ...order, ...seen };
  ordersSeen.set(order.id, merged);
  return merged;
}

function setOrder(incoming) {
  if (!incoming) return;
  const order = latestOrder(incoming);
  // Follow only the order of this page's current purchase.
  const ours = (state.order && order.id === state.order.id)
    || (state.hold && order.hold === state.hold.id)
    || (!state.order && !state.hold);
  if (!ours) return;
  state.order = { ...(state.order && state.order.id === order.id ? state.order : {}), ...order };
  purchase.box.hidden = false;
  purchase.form.hidden = true;
  const o = state.order;
  const reason = o.failure_reason || o.payment_error || "";
  setText(purchase.order, `Order #${o.id}: ${ORDER_WORDS[o.status] || o.status}${reason && o.status === "payment_failed" ? ` (${reason})` : ""}`);
  purchase.order.dataset.status = o.status;
  if (o.status !== "pending_payment") {
    clearInterval(state.countdown);
    setText(purchase.countdown, "");
  }
  if (o.status === "paid") {
    setText(purchase.holdText, "");
    refreshShippingFee();
    announce("Payment received.");
  }
  if (o.status === "payment_failed") {
    state.hold = null;
    renderCard();
  }
}

async function openCheckout() {
  purchase.form.hidden = false;
  setText(purchase.error, "");
  let methods = [];
  let addresses = [];
  try {
    [methods, addresses] = await Promise.all([apiList("/api/v1/me/payment-methods/"), apiList("/api/v1/me/addresses/")]);
  } catch {
    // Nothing saved (or the list failed): offer sandbox tokens and a new address.
  }
  purchase.pay.replaceChildren(
    ...methods.map((m) => h("option", { value: m.id, selected: m.is_default }, `${m.brand || "Card"} •••• ${m.last4}`)),
    h("option", { value: "sandbox_ok" }, "Test card (succeeds)"),
    h("option", { value: "sandbox_slow" }, "Test card (slow)"),
    h("option", { value: "sandbox_declined" }, "Test card (declined)"),
  );
  purchase.addr.replaceChildren(
    ...addresses.map((a) => h("option", { value: a.id, selected: a.is_default }, `${a.name}, ${a.line1}, ${a.city}`)),
    h("option", { value: "new" }, "New address…"),
  );
  purchase.newAddr.hidden = purchase.addr.value !== "new";
  purchase.pay.focus();
}

purchase.addr.addEventListener("change", () => { purchase.newAddr.hidden = purchase.addr.value !== "new"; });

purchase.form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!state.hold) return;
  setText(purchase.error, "");
  const btn = $("#pay-now");
  btn.disabled = true;
  try {
    let address = purchase.addr.value;
    if (address === "new") {
      const fd = new FormData(purchase.form);
      const body = {};
      for (const k of ["name", "line1", "line2", "city", "postal_code", "country"]) body[k] = (fd.get(k) || "").trim();
      const saved = await api("POST", "/api/v1/me/addresses/", body, { idempotencyKey: newIdempotencyKey() });
      address = saved.id;
      purchase.addr.prepend(h("option", { value: saved.id }, `${saved.name}, ${saved.line1}, ${saved.city}`));
      purchase.addr.value = String(saved.id);
      purchase.newAddr.hidden = true;
    }
    const pm = /^\d+$/.test(purchase.pay.value) ? Number(purchase.pay.value) : purchase.pay.value;
    const res = await api("POST", `/api/v1/holds/${state.hold.id}/checkout/`,
      { payment_method: pm, address: Number(address) }, { idempotencyKey: newIdempotencyKey() });
    setOrder(res.order || res);
  } catch (err) {
    setText(purchase.error, errorText(err));
  } finally {
    btn.disabled = false;
  }
});

purchase.cancel.addEventListener("click", async () => {
  if (!state.hold) return;
  try {
    setHold(await api("POST", `/api/v1/holds/${state.hold.id}/cancel/`, {}, { idempotencyKey: newIdempotencyKey() }));
  } catch (err) {
    setText(purchase.error, errorText(err));
  }
});

// ---- chat ---------------------------------------------------------------------------
const messages = $("#messages");
const chatForm = $("#chat-form");
const chatInput = $("#chat-input");
const notice = $("#mod-notice");

const mod = page.can_moderate ? moderation(showId, { onRemoved: (id) => removeMessage(id) }) : null;

function addMessage(m) {
  if (!m || m.id === undefined || messages.querySelector(`[data-id="${CSS.escape(String(m.id))}"]`)) return;
  const mine = page.user && userId(m.user) === page.user.id;
  const li = h("li", { dataset: { id: m.id } }, h("span", { class: "who" }, userName(m.user)), h("span", { class: "text" }, m.text),
    mod && !mine ? mod.buttons(m) : null);
  const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
  messages.append(li);
  while (messages.children.length > 200) messages.firstElementChild.remove();
  if (atBottom) messages.scrollTop = messages.scrollHeight;
}

function removeMessage(id) {
  const li = messages.querySelector(`[data-id="${CSS.escape(String(id))}"]`);
  if (li) li.remove();
}

function setMuted(info) {
  state.muted = info;
  if (!info) {
    notice.hidden = true;
    setText(notice, "");
  } else {
    const until = info.until ? ` until ${new Date(info.until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : "";
    const what = info.action === "ban" || info.code === "banned"
      ? "You are banned from this show's chat and reactions"
      : info.action === "timeout" || info.code === "timed_out"
        ? `You are timed out${until}`
        : "A moderator acted on your message";
    notice.hidden = false;
    setText(notice, `${what}. Reason: ${info.reason || info.message || "not given"}`);
  }
  const blocked = Boolean(info && ["ban", "timeout", "banned", "timed_out"].includes(info.action || info.code));
  if (chatInput) {
    chatInput.disabled = blocked;
    chatForm.querySelector("button").disabled = blocked;
  }
  // Read-only means reactions too (docs/shows-and-chat.md "Read-only").
  for (const b of $$(".reactions button")) b.disabled = blocked;
  if (info && info.until && blocked) {
    const ms = Date.parse(info.until) - Date.now();
    if (ms > 0 && ms < 24 * 3600 * 1000) setTimeout(() => { if (state.muted === info) setMuted(null); }, ms);
  }
}

if (chatForm) {
  chatForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = chatInput.value.trim();
    if (!text) return;
    if (live.send("chat.send", { text })) chatInput.value = "";
  });
  for (const b of $$(".reactions button")) b.addEventListener("click", () => live.send("reaction.send", { kind: b.dataset.kind }));
}

const EMOJI = { heart: "❤️", fire: "🔥", clap: "👏", laugh: "😂" };
let burstTimer = null;
function showBurst(counts) {
  const parts = Object.entries(counts || {}).filter(([, n]) => n > 0).map(([k, n]) => `${EMOJI[k] || k} ${n}`);
  setText($("#burst"), parts.join("  "));
  clearTimeout(burstTimer);
  burstTimer = setTimeout(() => setText($("#burst"), ""), 4000);
}

function setViewers(n) {
  setText($("#viewer-count"), n);
  setText($("#chat-viewers"), `${n} watching`);
}

// ---- replay -------------------------------------------------------------------------
async function loadMoments() {
  auctionResults(showId, $("#auction-results"));
  const box = $("#replay");
  box.hidden = false;
  let pins = [];
  try {
    pins = await apiList(`/api/v1/shows/${showId}/pins/`);
  } catch (err) {
    $("#timeline").replaceChildren(h("li", { class: "form-error" }, errorText(err)));
    return;
  }
  state.moments = pins.slice().sort((a, b) => a.offset_s - b.offset_s);
  const items = [];
  for (const pin of state.moments) {
    let title = typeof pin.product === "object" && pin.product ? pin.product.title : pin.product_title;
    if (!title) {
      try { title = (await catalog.product(pin.product)).title; } catch { title = `Product ${pin.product}`; }
    }
    const btn = h("button", { type: "button", dataset: { offset: pin.offset_s } },
      h("span", { class: "t" }, clock(pin.offset_s)), " ", title);
    btn.addEventListener("click", () => seekTo(pin, btn));
    items.push(h("li", {}, btn));
  }
  $("#timeline").replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, "Nothing was pinned in this show.")]));
  if (state.moments.length && !state.pin) showPin(state.moments[0]);
}

function markMoment(pin) {
  for (const b of $$("#timeline button")) b.setAttribute("aria-current", String(Number(b.dataset.offset) === pin.offset_s));
}

function seekTo(pin, btn) {
  try { video.currentTime = pin.offset_s; } catch { /* not seekable yet */ }
  video.play().catch(() => {});
  markMoment(pin);
  showPin(pin);
  if (btn) btn.focus();
}

video.addEventListener("timeupdate", () => {
  if (state.status !== "ended" || !state.moments.length) return;
  let at = null;
  for (const m of state.moments) if (m.offset_s <= video.currentTime + 0.25) at = m;
  if (at && state.pin !== at && (!state.pin || state.pin.offset_s !== at.offset_s)) {
    markMoment(at);
    showPin(at);
  }
});

function setShowStatus(status) {
  const was = state.status;
  state.status = status;
  const badge = $("#status-badge");
  badge.className = `badge ${status}`;
  setText(badge, status === "ended" ? "Replay" : status[0].toUpperCase() + status.slice(1));
  $("#viewer").dataset.status = status;
  if (status === "ended" && was !== "ended") {
    video.loop = false;
    for (const el of [chatForm, $("#reactions")]) if (el) el.hidden = true;
    if ($("#chat-closed")) $("#chat-closed").hidden = false;
    showPin(null);
    loadMoments();
  }
  if (status === "live" && video.paused) video.play().catch(() => {});
  renderCard();
}

// ---- live room ----------------------------------------------------------------------
function onSnapshot(d) {
  if (d.show && d.show.status && d.show.status !== state.status) setShowStatus(d.show.status);
  auction.snapshot(d.auction || null, d.server_time);
  catalog.applyStock(d.stock);
  if (typeof d.viewer_count === "number") setViewers(d.viewer_count);
  messages.replaceChildren();
  for (const m of d.recent_messages || []) addMessage(m);
  messages.scrollTop = messages.scrollHeight;
  if (state.status !== "ended") showPin(d.current_pin || null);
  if (d.moderation || d.me) {
    const mine = d.moderation || (d.me && d.me.moderation);
    if (mine && mine.action) setMuted(mine);
  }
}

function onEvent(type, d) {
  if (type.startsWith("auction.")) {
    auction.onEvent(type, d);
    return;
  }
  switch (type) {
    case "show.status": setShowStatus(d.status || (d.show && d.show.status)); break;
    case "pin.changed":
      if (state.status !== "ended") {
        showPin(d.pin || null);
        window.__lcMetrics = { ...(window.__lcMetrics || {}), pinAt: Date.now() };
      }
      break;
    case "stock.changed":
      catalog.applyChange(d);
      if (state.product && (state.product.variants || []).length > 1) renderVariantStock();
      renderCard();
      break;
    case "chat.message": addMessage(d); break;
    case "chat.removed": removeMessage(d.id); break;
    case "viewers.changed": setViewers(d.count); break;
    case "reaction.burst": showBurst(d.counts); break;
    case "hold.updated":
      if (d.status !== "active") holdsEnded.set(d.id, d);
      if (state.hold && d.id === state.hold.id) setHold(d);
      else if (d.offer && d.status === "active" && !(state.hold && state.hold.status === "active")) {
        // Units came back for us from the waitlist: a short hold to pay for.
        state.order = null;
        setHold(d);
        setText(purchase.order, "Good news: units came back for you from the waitlist.");
        openCheckout();
      }
      break;
    case "order.updated": setOrder(d); break;
    case "moderation.notice":
      if (d.action === "unban") setMuted(null);
      else if (d.action === "remove_message") {
        notice.hidden = false;
        notice.className = "notice";
        setText(notice, `A message of yours was removed. Reason: ${d.reason}`);
      } else {
        notice.className = "notice error";
        setMuted(d);
      }
      break;
    case "error":
      if (d.code === "banned" || d.code === "timed_out") {
        notice.className = "notice error";
        setMuted({ code: d.code, reason: d.message, until: d.until });
      } else if (d.code === "throttled") {
        announce(d.message);
      }
      break;
    default: break;
  }
}

/** A ban or timeout already in force when the page opens (GET /api/v1/me/moderation/). */
async function loadRestriction() {
  let actions = [];
  try {
    actions = await apiList("/api/v1/me/moderation/", 3);
  } catch {
    return;
  }
  const mine = actions
    .filter((a) => (typeof a.show === "object" && a.show ? a.show.id : a.show) === showId)
    .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  let current = null;
  for (const a of mine) {
    if (a.action === "ban") current = a;
    else if (a.action === "timeout" && a.until && Date.parse(a.until) > Date.now()) current = a;
    else if (a.action === "unban") current = null;
  }
  if (current && !state.muted) {
    notice.className = "notice error";
    setMuted(current);
  }
}
if (signedIn) loadRestriction();

const live = new LiveSocket(showId, { onSnapshot, onEvent, onStatus });
window.__lcLive = live; // for the browser tests and for debugging
live.connect();
window.addEventListener("online", () => { if (live.state !== "live") live.drop(); });
if (state.status === "ended") loadMoments();
