// Support and disputes on the pages: the new-ticket form shows the immediate first answer
// (with links to the help articles it cites) instead of reloading. Binding the forms is
// left to the page's own script (dashboard.js, or forms-page.js on standalone pages).
import { h } from "./dom.js";
import { onApiForm } from "./forms.js";

onApiForm("ticketAnswer", (ticket, form) => {
  const box = document.getElementById("first-answer");
  if (!box) return;
  const due = new Date(ticket.due_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  document.getElementById("first-answer-meta").textContent =
    `Ticket #${ticket.id} · ${ticket.priority} priority · a person answers by ${due} · position ${ticket.queue_position} in the queue`;
  document.getElementById("first-answer-text").textContent = ticket.first_answer.text;
  document.getElementById("first-answer-articles").replaceChildren(
    ...ticket.first_answer.articles.map((a) => h("li", {}, h("a", { href: a.url }, a.title))));
  box.hidden = false;
  form.reset();
});
