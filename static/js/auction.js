// The live auction panel, shared by the viewer page (with bidding) and the host studio
// (read-only, bids live). The countdown runs on the server's clock: `server_time` from
// the snapshot gives this browser's offset, so every viewer sees the same end.
import { api, errorText, money, newIdempotencyKey } from "./api.js";
import { $, announce, h, setText } from "./dom.js";

export class AuctionPanel {
  constructor(root, { me = null, bidding = false } = {}) {
    this.root = root;
    this.me = me; // my username, or null
    this.bidding = bidding;
    this.auction = null;
    this.offsetMs = 0; // server clock minus this browser's clock
    this.mine = null; // "winning" | "outbid" | null
    this.timer = null;
    this.build();
  }

  build() {
    this.el = {
      title: h("h2", { id: "auction-heading" }, "Live auction"),
      status: h("p", { class: "auction-status", id: "auction-status", role: "status" }),
      current: h("span", { class: "price", id: "auction-current" }),
      leader: h("span", { class: "muted small", id: "auction-leader" }),
      countdown: h("span", { class: "countdown", id: "auction-countdown", "aria-live": "off" }),
      count: h("span", { class: "muted small", id: "auction-count" }),
      mine: h("p", { class: "auction-mine", id: "auction-mine", role: "status", "aria-live": "assertive" }),
      error: h("p", { class: "form-error", id: "auction-error", role: "alert" }),
    };
    const parts = [
      this.el.title,
      h("p", {}, this.el.current, " ", this.el.leader),
      h("p", {}, this.el.countdown, " ", this.el.count),
      this.el.status,
      this.el.mine,
    ];
    if (this.bidding) {
      this.el.bid = h("button", { type: "button", id: "auction-bid", class: "buy" }, "Bid");
      this.el.bid.addEventListener("click", () => this.place(null));
      this.el.max = h("input", { id: "auction-max", inputmode: "decimal", placeholder: "Your maximum" });
      const form = h("form", { class: "row", id: "auction-max-form" },
        h("label", { for: "auction-max", class: "visually-hidden" }, "Maximum bid"),
        this.el.max, h("button", { type: "submit", class: "secondary" }, "Set max bid"));
      form.addEventListener("submit", (ev) => { ev.preventDefault(); this.place(this.el.max.value.trim()); });
      parts.push(h("div", { class: "stack" }, this.el.bid, form));
    }
    parts.push(this.el.error);
    this.root.replaceChildren(...parts);
  }

  /** From `show.snapshot`: the running auction (or null) and the server's time. */
  snapshot(auction, serverTime) {
    if (serverTime) this.offsetMs = Date.parse(serverTime) - Date.now();
    this.mine = null;
    this.set(auction);
  }

  set(auction) {
    this.auction = auction;
    if (auction && this.me && auction.leader === this.me) this.mine = "winning";
    this.render();
  }

  onEvent(type, d) {
    const a = this.auction;
    if (type === "auction.started") { this.mine = null; this.set(d.auction); return true; }
    if (!a || d.auction !== a.id) return false;
    if (type === "auction.bid") {
      Object.assign(a, { current_bid: d.amount, leader: d.leader, bid_count: d.bid_count,
        min_next_bid: d.min_next_bid, ends_at: d.ends_at });
      if (this.me && d.leader === this.me) this.mine = "winning";
      else if (this.mine === "winning") this.mine = "outbid";
    } else if (type === "auction.outbid") {
      this.mine = "outbid";
      announce("You have been outbid.");
    } else if (type === "auction.closed") {
      Object.assign(a, { status: d.status, winner: d.winner });
      if (d.amount) a.current_bid = d.amount;
    } else {
      return false;
    }
    this.render();
    return true;
  }

  remaining() {
    if (!this.auction) return 0;
    return Math.max(0, Date.parse(this.auction.ends_at) - (Date.now() + this.offsetMs)) / 1000;
  }

  render() {
    const a = this.auction;
    this.root.hidden = !a;
    clearInterval(this.timer);
    if (!a) return;
    const running = a.status === "running";
    const cur = a.current_bid ? money(a.current_bid, a.currency) : `starts at ${money(a.starting_bid, a.currency)}`;
    setText(this.el.current, cur);
    setText(this.el.leader, a.leader ? `· ${a.leader} leads` : "· no bids yet");
    setText(this.el.count, `${a.bid_count} bid${a.bid_count === 1 ? "" : "s"}${a.sudden_death ? " · sudden death" : ""}`);
    const outcome = { sold: `Sold to ${a.winner} for ${money(a.current_bid, a.currency)}`, no_sale: "No sale", cancelled: "Cancelled" }[a.status];
    setText(this.el.status, running ? "" : outcome);
    const mine = !running && this.me && a.winner === this.me ? "You won!" : running && this.mine === "winning" ? "You're winning" : running && this.mine === "outbid" ? "Outbid" : "";
    setText(this.el.mine, mine);
    this.el.mine.dataset.state = mine ? (this.mine || "won") : "";
    if (this.el.bid) {
      this.el.bid.hidden = !running;
      this.el.bid.disabled = !running;
      setText(this.el.bid, `Bid ${money(a.min_next_bid, a.currency)}`);
      this.el.bid.dataset.amount = a.min_next_bid;
      this.el.max.closest("form").hidden = !running;
    }
    const tick = () => {
      const left = this.remaining();
      setText(this.el.countdown, running ? `${left.toFixed(1)} s left` : "Ended");
      if (!running || left <= 0) clearInterval(this.timer);
    };
    tick();
    if (running) this.timer = setInterval(tick, 100);
  }

  async place(maxAmount) {
    const a = this.auction;
    if (!a) return;
    setText(this.el.error, "");
    const body = { amount: a.min_next_bid };
    if (maxAmount) body.max_amount = maxAmount;
    try {
      const res = await api("POST", `/api/v1/auctions/${a.id}/bids/`, body, { idempotencyKey: newIdempotencyKey() });
      this.mine = res.bid.leading ? "winning" : "outbid";
      if (this.auction && this.auction.id === res.auction.id) this.set(res.auction);
    } catch (err) {
      if (err.code === "bid_too_low" && err.details.min_next_bid) {
        a.min_next_bid = err.details.min_next_bid;
        this.render();
      }
      setText(this.el.error, errorText(err));
    }
  }
}

/** The replay's list of auction results (GET /api/v1/shows/{id}/auctions/). */
export async function auctionResults(showId, list) {
  let auctions = [];
  try {
    auctions = (await api("GET", `/api/v1/shows/${showId}/auctions/`)).results || [];
  } catch {
    return;
  }
  list.replaceChildren(...auctions.map((a) => h("li", { dataset: { auction: a.id } },
    `${a.product_title}: `,
    a.status === "sold" ? `sold to ${a.winner} for ${money(a.current_bid, a.currency)}`
      : a.status === "no_sale" ? "no sale" : a.status)));
  list.closest("section").hidden = !auctions.length;
  return $("li", list);
}
