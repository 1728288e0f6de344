// DOM helpers. Text from the server is only ever set with textContent or as attribute values,
// never parsed as HTML: snippets and descriptions are hostile by design.

/**
 * Create an element. `attrs` values are set as attributes (or `class`, `text`, `dataset`);
 * children are nodes or strings (strings become text nodes).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (/^on/i.test(key)) throw new Error("event handlers are added with addEventListener");
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Set an element's text (by id). */
export function setText(id, value) {
  document.getElementById(id).textContent = value === null || value === undefined ? "–" : String(value);
}

/** A number with fixed decimals, or a dash. */
export function fixed(value, digits = 2) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** A signed reward: +0.40, -0.15. */
export function signed(value, digits = 2) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  return (value > 0 ? "+" : "") + value.toFixed(digits);
}

/** A ratio in [0, 1] as a percentage. */
export function percent(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${Math.round(value * 100)}%` : "–";
}

/** "yes" / "no" / dash. */
export function yesNo(value) {
  return value === true ? "yes" : value === false ? "no" : "–";
}

/** An ISO timestamp as "YYYY-MM-DD HH:MM" (UTC). */
export function shortTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toISOString().slice(0, 16).replace("T", " ");
}

/** Show (or hide, with an empty message) the page's error line. */
export function showError(message) {
  const node = document.getElementById("error");
  if (!node) return;
  node.textContent = message || "";
  node.hidden = !message;
}

/** Human words for the engine's outcome codes. */
export const OUTCOME_LABELS = {
  match: "Correct",
  false_positive: "False positive",
  duplicate: "Duplicate",
  hint: "Hint",
  submit: "Submitted",
};
