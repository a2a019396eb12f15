// Moderation from a chat list (studio, and the viewer page for a show's moderators):
// Remove / Timeout / Ban buttons that open a dialog with a required reason, the reason
// the affected viewer will read. Needs the markup of templates/pages/_mod_dialog.html.
import { api, errorText, newIdempotencyKey } from "./api.js";
import { $, h, setText, userId, userName } from "./dom.js";

export function moderation(showId, { onRemoved } = {}) {
  const dialog = $("#mod-dialog");
  let pending = null;

  function open(action, m) {
    pending = { action, message: m };
    const words = { remove_message: "Remove message", timeout: "Time out", ban: "Ban from this show" };
    setText($("#mod-title"), words[action]);
    setText($("#mod-target"), `${userName(m.user)}: “${m.text}”`);
    $("#mod-duration-field").hidden = action !== "timeout";
    $("#mod-reason").value = "";
    setText($("#mod-error"), "");
    dialog.showModal();
    $("#mod-reason").focus();
  }

  $("#mod-cancel").addEventListener("click", () => dialog.close());
  $("#mod-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const reason = $("#mod-reason").value.trim();
    if (!reason) {
      setText($("#mod-error"), "A reason is required: the viewer will read it.");
      $("#mod-reason").focus();
      return;
    }
    const { action, message } = pending;
    const body = { action, reason };
    if (action === "remove_message") body.message = message.id;
    else body.user = userId(message.user);
    if (action === "timeout") body.duration_s = Number($("#mod-duration").value);
    const btn = $("#mod-confirm");
    btn.disabled = true;
    try {
      await api("POST", `/api/v1/shows/${showId}/moderation/`, body, { idempotencyKey: newIdempotencyKey() });
      dialog.close();
      if (action === "remove_message" && onRemoved) onRemoved(message.id);
    } catch (err) {
      setText($("#mod-error"), errorText(err));
    } finally {
      btn.disabled = false;
    }
  });

  /** The action buttons for one chat message. */
  function buttons(m) {
    const act = (action, label) => h("button", {
      type: "button", class: "secondary small mod", dataset: { action },
      "aria-label": `${label} ${userName(m.user)}: ${m.text}`, onclick: () => open(action, m),
    }, label);
    return h("span", { class: "row mod-actions" },
      act("remove_message", "Remove"), act("timeout", "Timeout"), act("ban", "Ban"));
  }

  return { open, buttons };
}
