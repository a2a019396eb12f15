// WebSocket client for one show's live room (SPEC "WebSocket").
//
// - The first frame on every connection is `show.snapshot` with the `seq` it includes.
// - Broadcast events carry `seq`; we remember the last one applied and drop duplicates.
// - After a reconnect we keep our state and send `resume` {after_seq}: the server replays
//   what we missed, in order. If that is older than its window it sends `resync` and a
//   fresh snapshot, which we then apply in full.
// - `batch` frames hold several events, each with its own seq, in order.
// - Reconnects by itself with capped exponential backoff and jitter; says so via onStatus.

const NO_RETRY = new Set([4403, 4404]);

export class LiveSocket {
  /**
   * @param {number|string} showId
   * @param {{onSnapshot?: Function, onEvent?: Function, onStatus?: Function, ticket?: Function}} handlers
   *   onSnapshot(data, {first, resync}) — apply a full snapshot.
   *   onEvent(type, data, frame) — one event (broadcast or private), in order.
   *   onStatus(state, info) — "connecting" | "live" | "reconnecting" | "closed".
   *   ticket() — optional async function returning a ws-ticket string (else the session cookie).
   */
  constructor(showId, handlers = {}) {
    this.showId = showId;
    this.h = handlers;
    this.lastSeq = null;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.needFullSnapshot = true;
    this.pingTimer = null;
    this.retryTimer = null;
    this.resumeUntil = null;
    this.resumeTimer = null;
    this.buffer = [];
    this.holdUntil = 0;
    this.statusLog = [];
    this.stats = { connects: 0, resumes: 0, resyncs: 0, duplicates: 0, gaps: 0 };
  }

  url(ticket) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = ticket ? `?ticket=${encodeURIComponent(ticket)}` : "";
    return `${proto}//${location.host}/ws/shows/${this.showId}/${q}`;
  }

  async connect() {
    if (this.stopped) return;
    this.status(this.stats.connects ? "reconnecting" : "connecting");
    let ticket = null;
    if (this.h.ticket) {
      try { ticket = await this.h.ticket(); } catch { ticket = null; }
    }
    const ws = new WebSocket(this.url(ticket));
    this.ws = ws;
    this.resumeUntil = null;
    this.buffer = [];
    ws.onopen = () => {
      this.stats.connects += 1;
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send("ping", {}), 25000);
    };
    ws.onmessage = (msg) => {
      let frame;
      try { frame = JSON.parse(msg.data); } catch { return; }
      this.receive(frame);
    };
    ws.onclose = (ev) => {
      clearInterval(this.pingTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped || NO_RETRY.has(ev.code)) {
        this.stopped = true;
        this.status("closed", { code: ev.code, reason: ev.reason });
        return;
      }
      this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    this.attempt += 1;
    const base = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = Math.max(base / 2 + Math.random() * base / 2, (this.holdUntil || 0) - Date.now());
    this.status("reconnecting", { inMs: Math.round(delay), attempt: this.attempt });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  status(state, info = {}) {
    this.state = state;
    this.statusLog.push(state);
    if (this.statusLog.length > 50) this.statusLog.shift();
    if (this.h.onStatus) this.h.onStatus(state, info);
  }

  send(type, data = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type, data }));
    return true;
  }

  /**
   * Drop the current socket as if the network failed (used on "online" and by the browser
   * tests); `holdMs` keeps the client away that long before it reconnects and resumes.
   */
  drop(holdMs = 0) {
    this.holdUntil = Date.now() + holdMs;
    if (this.ws) this.ws.close(4000, "client drop");
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000, "bye");
  }

  receive(frame) {
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "batch") {
      for (const ev of (frame.data && frame.data.events) || []) this.receive(ev);
      return;
    }
    if (frame.type === "show.snapshot") return this.onSnapshot(frame);
    if (frame.type === "resync") {
      this.stats.resyncs += 1;
      this.needFullSnapshot = true;
      clearTimeout(this.resumeTimer);
      this.resumeUntil = null;
      this.buffer = [];
      return;
    }
    if (frame.type === "pong") return;
    if (typeof frame.seq === "number") {
      if (this.resumeUntil !== null && frame.seq > this.resumeUntil) {
        // A live event overtook the replay we asked for: hold it until the replay is in.
        this.buffer.push(frame);
        return;
      }
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) {
        this.stats.duplicates += 1;
        return;
      }
      if (this.lastSeq !== null && frame.seq > this.lastSeq + 1) this.stats.gaps += 1;
      this.lastSeq = frame.seq;
    }
    if (this.h.onEvent) this.h.onEvent(frame.type, frame.data || {}, frame);
    if (this.resumeUntil !== null && this.lastSeq >= this.resumeUntil) this.endResume();
  }

  endResume() {
    clearTimeout(this.resumeTimer);
    this.resumeUntil = null;
    const held = this.buffer.splice(0);
    for (const f of held) this.receive(f);
  }

  onSnapshot(frame) {
    const data = frame.data || {};
    const snapSeq = typeof data.seq === "number" ? data.seq : frame.seq;
    const first = this.stats.connects <= 1 && this.lastSeq === null;
    this.attempt = 0;
    const behind = typeof snapSeq === "number" && this.lastSeq !== null && this.lastSeq <= snapSeq;
    if (this.needFullSnapshot || !behind) {
      // First connection, after `resync`, or a server whose seq is behind ours (its state
      // cannot be matched with ours): take the snapshot as the whole truth.
      const resync = !first;
      this.needFullSnapshot = false;
      this.lastSeq = typeof snapSeq === "number" ? snapSeq : this.lastSeq;
      if (this.h.onSnapshot) this.h.onSnapshot(data, { first, resync });
      // Tell the server we hold this snapshot so live events start at once.
      if (typeof snapSeq === "number") this.send("resume", { after_seq: snapSeq });
    } else {
      // We have state up to lastSeq: ask for exactly what we missed (maybe nothing).
      if (this.lastSeq < snapSeq) {
        this.stats.resumes += 1;
        this.resumeUntil = snapSeq;
        this.buffer = [];
        // Never wait forever for a replay: after 5 s carry on with what we have.
        clearTimeout(this.resumeTimer);
        this.resumeTimer = setTimeout(() => this.endResume(), 5000);
      }
      this.send("resume", { after_seq: this.lastSeq });
    }
    this.status("live", { seq: this.lastSeq });
  }
}
