// Product cache and live stock shared by the viewer page and the studio.
import { api } from "./api.js";

export class Catalog {
  constructor() {
    this.products = new Map(); // id -> product (with variants)
    this.stock = new Map(); // variant id -> available
    this.productStock = new Map(); // product id -> available (when no variant is named)
  }

  /** A pin or moment names its product as an id or an object; return the full product. */
  async product(ref) {
    const id = typeof ref === "object" && ref !== null ? ref.id : ref;
    if (typeof ref === "object" && ref !== null && Array.isArray(ref.variants)) this.remember(ref);
    if (this.products.has(id)) return this.products.get(id);
    const p = await api("GET", `/api/v1/products/${id}/`);
    this.remember(p);
    return p;
  }

  remember(p) {
    this.products.set(p.id, p);
    for (const v of p.variants || []) {
      if (typeof v.stock_available === "number" && !this.stock.has(v.id)) this.stock.set(v.id, v.stock_available);
    }
    if (typeof p.stock_available === "number" && !this.productStock.has(p.id)) this.productStock.set(p.id, p.stock_available);
  }

  /** Apply snapshot `stock` (a list of {product, variant, available} or a map). */
  applyStock(stock) {
    if (!stock) return;
    if (Array.isArray(stock)) for (const s of stock) this.applyChange(s);
    else if (typeof stock === "object") {
      for (const [k, v] of Object.entries(stock)) {
        if (typeof v === "number") this.stock.set(Number(k), v);
        else if (v && typeof v === "object") this.applyChange({ variant: Number(k), ...v });
      }
    }
  }

  /** stock.changed {product, variant, available}. */
  applyChange(d) {
    const pid = typeof d.product === "object" && d.product ? d.product.id : d.product;
    const vid = typeof d.variant === "object" && d.variant ? d.variant.id : d.variant;
    if (vid !== null && vid !== undefined) this.stock.set(Number(vid), d.available);
    const p = this.products.get(pid);
    if (p) {
      const vs = p.variants || [];
      if (vid === null || vid === undefined || vs.length <= 1) this.productStock.set(pid, d.available);
      else this.productStock.set(pid, vs.reduce((n, v) => n + (this.stock.get(v.id) ?? v.stock_available ?? 0), 0));
    } else if (pid !== undefined && (vid === null || vid === undefined)) {
      this.productStock.set(pid, d.available);
    }
  }

  available(product, variantId) {
    if (variantId) return this.stock.get(Number(variantId)) ?? null;
    const vs = product.variants || [];
    if (vs.length === 1) return this.stock.get(vs[0].id) ?? this.productStock.get(product.id) ?? product.stock_available;
    if (vs.length > 1) return vs.reduce((n, v) => n + (this.stock.get(v.id) ?? v.stock_available ?? 0), 0);
    return this.productStock.get(product.id) ?? product.stock_available ?? null;
  }
}

export function stockText(n) {
  if (n === null || n === undefined) return "";
  if (n <= 0) return "Sold out";
  return `${n} left`;
}

export function variantLabel(v) {
  const opts = v.options && Object.keys(v.options).length ? Object.values(v.options).join(" / ") : v.sku;
  return opts || `Variant ${v.id}`;
}
