// REST client for the pages: same-origin fetch with the session cookie and CSRF token.
// Errors come back in the SPEC shape {"error": {code, message, details}} and are thrown
// as ApiError so callers can show `message` and per-field `details`.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) return meta.content;
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export function newIdempotencyKey() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * api("POST", "/api/v1/shows/1/buy/", {product: 3}, {idempotencyKey})
 * Returns the parsed JSON body (or null for 204). Throws ApiError on any non-2xx.
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined && body !== null) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network_error", "The network is not answering; try again.", {});
  }
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) {
    const err = data && data.error;
    if (err && err.code) throw new ApiError(res.status, err.code, err.message, err.details);
    throw new ApiError(res.status, "http_" + res.status, `The server answered ${res.status}.`, {});
  }
  return data;
}

/** All results of a paginated list (bounded by `max` pages). */
export async function apiList(path, max = 10) {
  const out = [];
  let url = path;
  for (let i = 0; url && i < max; i++) {
    const page = await api("GET", url);
    if (Array.isArray(page)) return page;
    out.push(...(page.results || []));
    url = page.next;
  }
  return out;
}

export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "";
  const n = Number(amount);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(n);
  } catch {
    return `${n.toFixed(2)} ${currency || ""}`.trim();
  }
}

/** Human text for an ApiError: the message, plus field details when there are any. */
export function errorText(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  const parts = [err.message];
  for (const [field, msgs] of Object.entries(err.details || {})) {
    if (field === "retry_after_s") continue;
    const list = Array.isArray(msgs) ? msgs.flat().join(" ") : typeof msgs === "object" ? JSON.stringify(msgs) : String(msgs);
    if (!err.message.includes(list)) parts.push(`${field}: ${list}`);
  }
  return parts.join(" — ");
}
