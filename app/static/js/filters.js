// The filter form shared by the Episodes and Analytics pages, kept in the URL's query string
// so a filtered view can be bookmarked and shared.

import { ApiError, fillTaskSelect } from "./api.js";
import { showError } from "./dom.js";

/** Dates of <input type="date"> as UTC midnight timestamps the API accepts. */
function toTimestamp(name, value) {
  if (!value) return "";
  return (name === "since" || name === "until") && /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
}

/** The form's values for the API (empty ones left out). */
export function filterParams(form) {
  const params = {};
  for (const [name, value] of new FormData(form).entries()) {
    const text = String(value).trim();
    if (text) params[name] = toTimestamp(name, text);
  }
  return params;
}

/** Fill the form from the page's query string. */
export function readUrlIntoForm(form) {
  const search = new URLSearchParams(window.location.search);
  for (const element of form.elements) {
    if (!element.name || !search.has(element.name)) continue;
    const value = search.get(element.name);
    element.value = (element.type === "date" ? value.slice(0, 10) : value);
  }
}

/** Put the form's values (plus `extra`) into the URL without reloading. */
export function writeFormIntoUrl(form, extra = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of new FormData(form).entries()) {
    if (String(value).trim()) search.set(name, String(value).trim());
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value !== "" && value !== null && value !== undefined) search.set(name, String(value));
  }
  const query = search.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

/** Fill the task filter from the API (keeping the URL's choice), then call `load`. */
export async function refreshTaskFilter(select, load) {
  try {
    const selected = new URLSearchParams(window.location.search).get("task");
    await fillTaskSelect(select);
    if (selected) select.value = selected;
  } catch (error) {
    showError(error instanceof ApiError ? error.describe() : String(error));
    return;
  }
  load();
}
