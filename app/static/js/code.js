// The code view: numbered lines, a small Python tokenizer for colours, line marks and notes.
// Tokens become <span>s whose text is set with textContent: highlighting never parses HTML.

import { el } from "./dom.js";

const KEYWORDS = new Set([
  "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
  "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
  "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with",
  "yield", "match", "case",
]);
const BUILTINS = new Set([
  "abs", "all", "any", "bool", "bytes", "dict", "enumerate", "eval", "exec", "filter", "float",
  "format", "getattr", "hasattr", "int", "isinstance", "len", "list", "map", "max", "min", "next",
  "object", "open", "print", "range", "repr", "reversed", "round", "set", "setattr", "sorted",
  "str", "sum", "super", "tuple", "type", "zip", "self", "cls",
]);

// One token at a time, in order of precedence; `y` makes each regex match at lastIndex only.
const STRING_START = /([rRbBuUfF]{0,2})("""|'''|"|')/y;
const COMMENT = /#.*/y;
const NUMBER = /(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?j?)/y;
const NAME = /[A-Za-z_\u00C0-\uFFFF][\w\u00C0-\uFFFF]*/y;
const DECORATOR = /@[A-Za-z_][\w.]*/y;
const SPACE = /\s+/y;

function matchAt(regex, text, index) {
  regex.lastIndex = index;
  return regex.exec(text);
}

/** The end of a string body starting at `index` (after the quote), or -1 if not on this line. */
function stringEnd(text, index, quote) {
  for (let i = index; i < text.length; i += 1) {
    if (text[i] === "\\") { i += 1; continue; }
    if (text.startsWith(quote, i)) return i + quote.length;
  }
  return -1;
}

/**
 * Split one line into tokens [{type, text}], carrying an open triple-quoted string across lines.
 * @param {string} text the line
 * @param {{quote: string}|null} open the string still open from the previous line
 * @returns {{tokens: Array<{type: string, text: string}>, open: {quote: string}|null}}
 */
export function tokenizeLine(text, open) {
  const tokens = [];
  let index = 0;
  let previousName = "";
  if (open) {
    const end = stringEnd(text, 0, open.quote);
    if (end === -1) return { tokens: [{ type: "str", text }], open };
    tokens.push({ type: "str", text: text.slice(0, end) });
    index = end;
    open = null;
  }
  while (index < text.length) {
    let match;
    if ((match = matchAt(SPACE, text, index))) {
      tokens.push({ type: "", text: match[0] });
    } else if ((match = matchAt(COMMENT, text, index))) {
      tokens.push({ type: "com", text: match[0] });
    } else if ((match = matchAt(STRING_START, text, index))) {
      const quote = match[2];
      const end = stringEnd(text, index + match[0].length, quote);
      if (end === -1) {
        tokens.push({ type: "str", text: text.slice(index) });
        if (quote.length === 3) open = { quote };
        index = text.length;
        continue;
      }
      tokens.push({ type: "str", text: text.slice(index, end) });
      index = end;
      previousName = "";
      continue;
    } else if ((match = matchAt(DECORATOR, text, index)) && text.slice(0, index).trim() === "") {
      tokens.push({ type: "deco", text: match[0] });
    } else if ((match = matchAt(NAME, text, index))) {
      const word = match[0];
      let type = "";
      if (KEYWORDS.has(word)) type = "kw";
      else if (previousName === "def" || previousName === "class") type = "def";
      else if (BUILTINS.has(word)) type = "builtin";
      tokens.push({ type, text: word });
      previousName = word;
      index += word.length;
      continue;
    } else if ((match = matchAt(NUMBER, text, index)) && match[0] !== "." && match[0] !== "") {
      tokens.push({ type: "num", text: match[0] });
    } else {
      match = [text[index]];
      tokens.push({ type: "", text: match[0] });
    }
    if (match[0].trim()) previousName = "";
    index += match[0].length;
  }
  return { tokens, open };
}

// The view drawn in each container, so a new one can remove the old one's listeners.
const views = new WeakMap();

/**
 * A code view: one row per line, each holding its number and its coloured text.
 */
export class CodeView {
  /**
   * @param {HTMLElement} container emptied and filled
   * @param {string} code the snippet
   * @param {{onActivate?: (line: number) => void, changed?: Set<number>}} options with
   *   `onActivate`, lines are buttons (click, or arrow keys and Enter) that report on that line;
   *   lines in `changed` are marked as changed by a pull request
   */
  constructor(container, code, { onActivate, changed } = {}) {
    views.get(container)?.dispose();
    views.set(container, this);
    this.listeners = new AbortController();
    this.container = container;
    this.lines = code.replace(/\r\n?/g, "\n").split("\n");
    if (this.lines.length > 1 && this.lines[this.lines.length - 1] === "") this.lines.pop();
    this.rows = [];
    this.notes = [];
    this.onActivate = onActivate || null;
    container.replaceChildren();
    container.classList.toggle("interactive", Boolean(onActivate));
    let open = null;
    const fragment = document.createDocumentFragment();
    this.lines.forEach((text, offset) => {
      const number = offset + 1;
      const result = tokenizeLine(text, open);
      open = result.open;
      const source = el("span", { class: "src" },
        ...result.tokens.map((token) => (token.type ? el("span", { class: `tok-${token.type}` }, token.text) : token.text)));
      const label = this.onActivate
        ? el("button", { type: "button", class: "ln", tabindex: number === 1 ? "0" : "-1",
          "aria-label": `Line ${number}: report an issue` }, String(number))
        : el("span", { class: "ln", "aria-hidden": "true" }, String(number));
      const row = el("div", { class: changed?.has(number) ? "line changed" : "line", dataset: { line: String(number) } },
        label, source);
      this.rows.push(row);
      fragment.append(row);
    });
    container.append(fragment);
    if (this.onActivate) this.wireKeyboard();
  }

  /** Stop listening to the container (a new view replaces this one). */
  dispose() {
    this.listeners.abort();
  }

  wireKeyboard() {
    const options = { signal: this.listeners.signal };
    this.container.addEventListener("click", (event) => {
      const row = event.target.closest(".line");
      if (!row || !this.container.contains(row)) return;
      const number = Number(row.dataset.line);
      this.focusLine(number, false);
      this.onActivate(number);
    }, options);
    this.container.addEventListener("keydown", (event) => {
      const button = event.target.closest(".ln");
      if (!button) return;
      const current = Number(button.closest(".line").dataset.line);
      const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: 20, PageUp: -20 };
      let target = null;
      if (event.key in moves) target = current + moves[event.key];
      else if (event.key === "Home" && event.ctrlKey) target = 1;
      else if (event.key === "End" && event.ctrlKey) target = this.rows.length;
      if (target === null) return;
      event.preventDefault();
      this.focusLine(Math.min(Math.max(target, 1), this.rows.length), true);
    }, options);
  }

  /** Make `number` the line that Tab reaches (and focus it when `focus`). */
  focusLine(number, focus = true) {
    for (const row of this.rows) {
      const button = row.querySelector("button.ln");
      if (button) button.tabIndex = Number(row.dataset.line) === number ? 0 : -1;
    }
    const button = this.row(number)?.querySelector("button.ln");
    if (button && focus) button.focus();
  }

  /** The line Tab reaches in the code (the last one moved to or clicked). */
  activeLine() {
    const button = this.container.querySelector('button.ln[tabindex="0"]');
    return button ? Number(button.closest(".line").dataset.line) : 1;
  }

  /** The row of line `number` (1-based), or undefined. */
  row(number) {
    return this.rows[number - 1];
  }

  /** The text of line `number`. */
  text(number) {
    return this.lines[number - 1] ?? "";
  }

  /** Toggle a class on one line. */
  mark(number, className, on = true) {
    this.row(number)?.classList.toggle(className, on);
  }

  /** Remove a class from every line. */
  clearMark(className) {
    for (const row of this.rows) row.classList.remove(className);
  }

  /** Add a note under line `number`: a bold label, a text, and optionally a line of code. */
  note(number, kind, label, text, code) {
    const row = this.row(number);
    if (!row) return null;
    const node = el("div", { class: `note note-${kind}` }, el("strong", {}, label), " ", text,
      code ? el("span", { class: "note-code" }, el("span", {}, "Fix: "), el("code", {}, code.trim())) : null);
    let anchor = row;
    while (anchor.nextElementSibling && anchor.nextElementSibling.classList.contains("note")) {
      anchor = anchor.nextElementSibling;
    }
    anchor.after(node);
    this.notes.push(node);
    return node;
  }

  /** Remove the answer-key marks and notes. */
  clearAnswerKey() {
    for (const node of this.notes) node.remove();
    this.notes = [];
    for (const name of ["mark-found", "mark-missed", "mark-false-positive", "mark-decoy"]) this.clearMark(name);
  }

  /**
   * Overlay the answer key of a finished episode (the `/api/episodes/<id>` record): planted
   * issues found and missed, false positives and decoys, each in its own style.
   */
  showAnswerKey(record) {
    this.clearAnswerKey();
    const matched = new Set(((record.result && record.result.matched_issues) || []).map((issue) => issue.id));
    for (const issue of record.planted_issues || []) {
      const found = matched.has(issue.id);
      const kind = found ? "found" : "missed";
      this.mark(issue.line_number, `mark-${kind}`);
      const where = issue.accepted_lines && issue.accepted_lines.length > 1
        ? ` (lines ${issue.accepted_lines.join(", ")})` : "";
      const label = `${found ? "Found" : "Missed"}: ${issue.issue_type.replace(/_/g, " ")}, ${issue.severity}${issue.cwe ? `, ${issue.cwe}` : ""}${where}.`;
      this.note(issue.line_number, kind, label, issue.description, issue.fix);
    }
    for (const step of record.steps || []) {
      const issue = step.action && step.action.issue;
      if (step.outcome !== "false_positive" || !issue) continue;
      this.mark(issue.line_number, "mark-false-positive");
      this.note(issue.line_number, "false-positive", `False positive (step ${step.index}):`,
        `${String(issue.issue_type).replace(/_/g, " ")}: ${issue.description || ""}`);
    }
    for (const decoy of record.decoys || []) {
      this.mark(decoy.line_number, "mark-decoy");
      this.note(decoy.line_number, "decoy", "Decoy:", decoy.description);
    }
  }
}

/**
 * The code after a unified diff of one file, and the lines of it the diff added (1-based).
 * @param {string} before the code before
 * @param {string} diff a unified diff of it
 * @returns {{code: string, changed: Set<number>}}
 */
export function applyUnifiedDiff(before, diff) {
  const old = before.replace(/\r\n?/g, "\n").split("\n");
  if (old.length && old[old.length - 1] === "") old.pop();
  const lines = [];
  const changed = new Set();
  let cursor = 0;
  for (const line of diff.replace(/\r\n?/g, "\n").split("\n")) {
    const hunk = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@/.exec(line);
    if (hunk) {
      const start = Number(hunk[1]) - (hunk[2] === "0" ? 0 : 1);
      while (cursor < start) lines.push(old[cursor++]);
    } else if (line.startsWith("+") && !line.startsWith("+++")) {
      lines.push(line.slice(1));
      changed.add(lines.length);
    } else if (line.startsWith(" ")) {
      lines.push(old[cursor++]);
    } else if (line.startsWith("-") && !line.startsWith("---")) {
      cursor += 1;
    }
  }
  while (cursor < old.length) lines.push(old[cursor++]);
  return { code: lines.join("\n") + "\n", changed };
}
