// The Episodes page: the filterable, paginated list of GET /api/episodes.

import { api, ApiError, onApiKeyChange, queryString } from "./api.js";
import { el, fixed, shortTime, showError, yesNo } from "./dom.js";
import { filterParams, readUrlIntoForm, refreshTaskFilter, writeFormIntoUrl } from "./filters.js";

const form = document.getElementById("filters");
let page = Number(new URLSearchParams(window.location.search).get("page")) || 1;

function row(item) {
  const labels = [item.agent, item.model].filter(Boolean).join(" / ") || "–";
  return el("tr", {},
    el("td", { class: "mono" }, el("a", { href: `/episodes/${encodeURIComponent(item.id)}` }, item.id)),
    el("td", {}, item.task),
    el("td", {}, item.split),
    el("td", { class: "num" }, item.seed === null ? "–" : String(item.seed)),
    el("td", { class: "wrap" }, labels),
    el("td", {}, item.status),
    el("td", { class: "num" }, fixed(item.completion_score)),
    el("td", {}, yesNo(item.success)),
    el("td", { class: "num" }, `${item.step_count} / ${item.max_steps}`),
    el("td", { class: "num" }, fixed(item.cumulative_reward)),
    el("td", {}, shortTime(item.created_at)));
}

async function load() {
  showError("");
  const params = { ...filterParams(form), page };
  writeFormIntoUrl(form, { page: page > 1 ? page : "" });
  const summary = document.getElementById("summary");
  summary.textContent = "Loading…";
  try {
    const data = await api(`/api/episodes${queryString(params)}`);
    const body = document.querySelector("#episodes tbody");
    body.replaceChildren(...data.items.map(row));
    const first = data.total === 0 ? 0 : (data.page - 1) * data.limit + 1;
    const last = Math.min(data.page * data.limit, data.total);
    summary.textContent = data.total === 0
      ? "No episodes match these filters."
      : `Episodes ${first}–${last} of ${data.total}`;
    document.getElementById("page-label").textContent = data.pages ? `Page ${data.page} of ${data.pages}` : "";
    document.getElementById("prev-page").disabled = data.page <= 1;
    document.getElementById("next-page").disabled = data.page >= data.pages;
  } catch (error) {
    summary.textContent = "";
    showError(error instanceof ApiError ? error.describe() : String(error));
  }
}

function main() {
  readUrlIntoForm(form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    load();
  });
  form.addEventListener("reset", () => {
    setTimeout(() => { page = 1; load(); }, 0);
  });
  document.getElementById("prev-page").addEventListener("click", () => { page = Math.max(1, page - 1); load(); });
  document.getElementById("next-page").addEventListener("click", () => { page += 1; load(); });
  onApiKeyChange(refresh);
  refresh();
}

function refresh() {
  refreshTaskFilter(document.getElementById("f-task"), load);
}

main();
