// JSON API calls, with the optional API key: stored in sessionStorage and sent as a Bearer
// token. A 401 answer shows the key form in the page header.

import { el } from "./dom.js";

const STORAGE_KEY = "codereview.apiKey";
const listeners = new Set();

/** An error answer in the API's one shape: {"error": {"code", "message", "fields"?}}. */
export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || null;
  }

  /** The message with the field messages, for people. */
  describe() {
    if (!this.fields) return this.message;
    const parts = Object.entries(this.fields).map(([field, messages]) =>
      `${field}: ${Array.isArray(messages) ? messages.join(" ") : JSON.stringify(messages)}`);
    return `${this.message} (${parts.join("; ")})`;
  }
}

/** The API key of this browser tab, or "". */
export function apiKey() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) || "";
  } catch {
    return "";
  }
}

function storeKey(value) {
  try {
    if (value) sessionStorage.setItem(STORAGE_KEY, value);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: the key lasts as long as the page.
  }
  refreshKeyControls();
  for (const listener of listeners) listener(value);
}

/** Call `listener(key)` whenever the key is set or forgotten (pages reload their data). */
export function onApiKeyChange(listener) {
  listeners.add(listener);
}

function refreshKeyControls() {
  const forget = document.getElementById("api-key-forget");
  if (forget) forget.hidden = !apiKey();
}

/** Show the key form with a message (after a 401). */
export function askForApiKey(message) {
  const form = document.getElementById("api-key-form");
  if (!form) return;
  document.getElementById("api-key-message").textContent =
    message || "This server needs an API key.";
  if (form.hidden) {
    form.hidden = false;
    document.getElementById("api-key-input").focus();
  }
}

function initKeyControls() {
  const form = document.getElementById("api-key-form");
  const forget = document.getElementById("api-key-forget");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("api-key-input");
    const value = input.value.trim();
    if (!value) return;
    input.value = "";
    form.hidden = true;
    storeKey(value);
  });
  forget.addEventListener("click", () => storeKey(""));
  refreshKeyControls();
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", initKeyControls);
} else {
  initKeyControls();
}

/**
 * Call the JSON API.
 * @param {string} path  path and query string
 * @param {{method?: string, body?: any}} options
 * @returns the decoded JSON body
 * @throws {ApiError} on a network failure (status 0) or an error answer
 */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", "The server could not be reached.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const message = error.message || `${response.status} ${response.statusText}`;
    if (response.status === 401) {
      askForApiKey(key ? `The API key was refused: ${message}` : message);
    }
    throw new ApiError(response.status, error.code || `HTTP_${response.status}`, message, error.fields);
  }
  return data;
}

/** A query string from an object, leaving out empty values. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Fill a <select> with the registered tasks (keeps its first option, e.g. "any"). */
export async function fillTaskSelect(select, { keepFirst = true } = {}) {
  const { tasks } = await api("/tasks");
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren(...(first ? [first] : []));
  for (const task of tasks) {
    select.append(el("option", { value: task.name }, `${task.name} (${task.difficulty})`));
  }
  return tasks;
}
