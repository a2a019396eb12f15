// Progressive forms that talk to the REST API: <form data-api-url="/api/v1/..." data-api-method="POST">.
// Fields become a JSON body (data-type on an input: int, decimal, bool, list, iso-datetime);
// a form with enctype="multipart/form-data" is sent as FormData. On success the form's
// data-then runs ("reload", or the name of a handler registered with onApiForm); errors
// from the API (SPEC shape) are shown in the form's .form-error and next to the fields.
import { ApiError, api, errorText, newIdempotencyKey } from "./api.js";

const handlers = {};
export function onApiForm(name, fn) { handlers[name] = fn; }

function value(el) {
  const t = el.dataset.type;
  if (el.type === "checkbox") return el.checked;
  const v = el.value.trim();
  if (v === "" && t !== "string") return undefined;
  if (t === "int") return Number.parseInt(v, 10);
  if (t === "iso-datetime") return new Date(v).toISOString();
  return v;
}

export function formBody(form) {
  if (form.enctype === "multipart/form-data") {
    const fd = new FormData(form);
    for (const el of form.querySelectorAll("input[type=checkbox][name]")) fd.set(el.name, el.checked ? "true" : "false");
    return fd;
  }
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.type === "submit" || el.type === "button") continue;
    if (el.dataset.type === "list") {
      if (el.type === "checkbox" && !el.checked) { body[el.name] = body[el.name] || []; continue; }
      const v = Number.isNaN(Number(el.value)) ? el.value : Number(el.value);
      body[el.name] = [...(body[el.name] || []), v];
      continue;
    }
    const v = value(el);
    if (v !== undefined) body[el.name] = v;
  }
  return body;
}

function showErrors(form, err) {
  const box = form.querySelector(".form-error");
  if (box) box.textContent = errorText(err);
  if (!(err instanceof ApiError)) return;
  for (const [field, msgs] of Object.entries(err.details || {})) {
    const el = form.elements[field];
    if (el && el.setAttribute) {
      el.setAttribute("aria-invalid", "true");
      if (box && box.id) el.setAttribute("aria-describedby", box.id);
    }
  }
}

export function bindApiForms(root = document) {
  for (const form of root.querySelectorAll("form[data-api-url]")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const box = form.querySelector(".form-error");
      if (box) box.textContent = "";
      for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
      const btn = ev.submitter || form.querySelector("button[type=submit], button:not([type])");
      if (btn) btn.disabled = true;
      try {
        const method = form.dataset.apiMethod || "POST";
        const res = await api(method, form.dataset.apiUrl, formBody(form),
          method === "POST" ? { idempotencyKey: newIdempotencyKey() } : {});
        const then = form.dataset.then || "reload";
        if (then === "reload") location.reload();
        else if (handlers[then]) handlers[then](res, form);
      } catch (err) {
        showErrors(form, err);
      } finally {
        if (btn) btn.disabled = false;
      }
    });
  }
}
