// The Replay page: step through a stored episode with its recorded rewards, and show whether
// re-running it through the engine gives the same rewards (the replay check).

import { api, ApiError, onApiKeyChange } from "./api.js";
import { barChart } from "./charts.js";
import { applyUnifiedDiff, CodeView } from "./code.js";
import { el, fixed, OUTCOME_LABELS, shortTime, showError, signed, yesNo } from "./dom.js";

const episodeId = document.getElementById("episode-title").dataset.episodeId;
const state = { record: null, replay: null, view: null, position: 0 };

function info(label, value) {
  return el("div", {}, el("dt", {}, label), el("dd", {}, value === null || value === undefined || value === "" ? "–" : String(value)));
}

function renderInfo(record) {
  document.getElementById("episode-info").replaceChildren(
    info("Task", record.task),
    info("Split", record.split),
    info("Seed", record.seed),
    info("Status", record.status),
    info("Agent", record.agent),
    info("Model", record.model),
    info("Score", fixed(record.completion_score)),
    info("Success", yesNo(record.success)),
    info("Total reward", fixed(record.cumulative_reward)),
    info("Started (UTC)", shortTime(record.created_at)),
  );
}

function renderVerdict(replay) {
  const verdict = document.getElementById("verdict");
  if (!replay) {
    verdict.textContent = "The replay check could not run.";
    verdict.className = "verdict bad";
    return;
  }
  const parts = [];
  if (!replay.code_identical) parts.push("the stored code differs from the regenerated snippet");
  if (replay.divergences) parts.push(`${replay.divergences} step${replay.divergences === 1 ? "" : "s"} differ`);
  if (!replay.result_identical) parts.push("the result differs");
  verdict.textContent = replay.identical
    ? "Replay check: identical. Re-running the recorded actions gives the same rewards."
    : `Replay check: diverged (${parts.join("; ") || "see the steps"}).`;
  verdict.className = `verdict ${replay.identical ? "good" : "bad"}`;
  verdict.dataset.identical = String(replay.identical);
}

function describeAction(action) {
  if (!action) return "–";
  if (action.action_type === "identify_issue" && action.issue) {
    return `report line ${action.issue.line_number}`;
  }
  return String(action.action_type || "").replace(/_/g, " ");
}

function renderStepList(steps) {
  const list = document.getElementById("steps");
  list.replaceChildren(
    el("li", {}, stepButton(0, "Start", "")),
    ...steps.map((step) => el("li", {}, stepButton(step.index,
      `${step.index}. ${describeAction(step.action)}${step.outcome && step.action?.action_type === "identify_issue" ? ` · ${OUTCOME_LABELS[step.outcome] || step.outcome}` : ""}`,
      signed(step.reward)))),
  );
}

function stepButton(position, label, reward) {
  const button = el("button", { type: "button", dataset: { position: String(position) } },
    el("span", {}, label), el("span", {}, reward));
  button.addEventListener("click", () => show(position));
  return button;
}

function field(label, value, wide = false) {
  return el("div", { class: wide ? "wide" : null },
    el("dt", {}, label), el("dd", {}, value === null || value === undefined || value === "" ? "–" : String(value)));
}

function renderStep() {
  const { record, replay, view, position } = state;
  const steps = record.steps;
  const step = position > 0 ? steps[position - 1] : null;
  document.getElementById("position").textContent = `Step ${position} of ${steps.length}`;
  document.getElementById("first").disabled = position === 0;
  document.getElementById("prev").disabled = position === 0;
  document.getElementById("next").disabled = position === steps.length;
  document.getElementById("last").disabled = position === steps.length;
  for (const button of document.querySelectorAll("#steps button")) {
    if (Number(button.dataset.position) === position) button.setAttribute("aria-current", "step");
    else button.removeAttribute("aria-current");
  }
  document.querySelector(`#steps button[data-position="${position}"]`)?.scrollIntoView({ block: "nearest" });

  // Lines reported up to this step, and the current step's line.
  view.clearMark("reported");
  view.clearMark("current");
  for (const earlier of steps.slice(0, position)) {
    const issue = earlier.action?.issue;
    if (issue) view.mark(issue.line_number, "reported");
  }
  const fields = document.getElementById("step-fields");
  const cumulative = steps.slice(0, position).reduce((total, s) => total + s.reward, 0);
  if (!step) {
    document.getElementById("step-title").textContent = "Start";
    fields.replaceChildren(field("Cumulative reward", fixed(0)), field("Steps", steps.length));
    document.getElementById("step-feedback").textContent = "Before the first action.";
  } else {
    const check = replay?.steps?.find((entry) => entry.index === step.index);
    const issue = step.action?.issue;
    document.getElementById("step-title").textContent = `Step ${step.index}: ${describeAction(step.action)}`;
    const rows = [
      field("Reward", signed(step.reward)),
      field("Cumulative reward", fixed(cumulative)),
    ];
    if (issue) {
      rows.push(field("Verdict", OUTCOME_LABELS[step.outcome] || step.outcome),
        field("Line", issue.line_number),
        field("Issue type", String(issue.issue_type).replace(/_/g, " ")),
        field("Severity", issue.severity),
        field("Confidence", step.action.confidence ?? "–"),
        field("Description", issue.description, true),
        field("Suggested fix", issue.suggested_fix, true));
      view.mark(issue.line_number, "current");
      scrollToLine(issue.line_number);
    }
    rows.push(field("Breakdown", Object.entries(step.breakdown || {})
      .map(([name, value]) => `${name.replace(/_/g, " ")} ${signed(value)}`).join(", "), true));
    if (check) {
      rows.push(field("Replayed reward", check.replayed_reward === null ? `failed: ${check.error || ""}` : signed(check.replayed_reward)),
        field("Replay", check.identical ? "identical" : "diverged"));
    }
    fields.replaceChildren(...rows);
    document.getElementById("step-feedback").textContent = step.feedback || "";
  }
  const bars = document.querySelectorAll("#reward-chart .ct-bar");
  bars.forEach((bar, index) => bar.classList.toggle("ct-current", index === position - 1));
}

/** Bring a line into the middle of the code box, without moving the page. */
function scrollToLine(number) {
  const container = document.getElementById("code");
  const row = state.view.row(number);
  if (!row) return;
  container.scrollTop = Math.max(0, row.offsetTop - (container.clientHeight - row.offsetHeight) / 2);
}

function show(position) {
  if (!state.record) return;
  state.position = Math.min(Math.max(position, 0), state.record.steps.length);
  renderStep();
}

function wireControls() {
  document.getElementById("first").addEventListener("click", () => show(0));
  document.getElementById("prev").addEventListener("click", () => show(state.position - 1));
  document.getElementById("next").addEventListener("click", () => show(state.position + 1));
  document.getElementById("last").addEventListener("click", () => show(Infinity));
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest("input, select, textarea, dialog")) return;
    const moves = { ArrowLeft: () => show(state.position - 1), ArrowRight: () => show(state.position + 1),
      Home: () => show(0), End: () => show(Infinity) };
    if (moves[event.key]) {
      event.preventDefault();
      moves[event.key]();
    }
  });
  document.getElementById("show-key").addEventListener("change", (event) => {
    if (event.target.checked) state.view.showAnswerKey(state.record);
    else state.view.clearAnswerKey();
    document.getElementById("legend").hidden = !event.target.checked;
  });
}

async function load() {
  showError("");
  const path = `/api/episodes/${encodeURIComponent(episodeId)}`;
  let record;
  try {
    record = await api(path);
  } catch (error) {
    showError(error instanceof ApiError ? error.describe() : String(error));
    return;
  }
  let replay = null;
  try {
    replay = await api(`${path}/replay`);
  } catch (error) {
    showError(`The replay check failed: ${error instanceof ApiError ? error.describe() : String(error)}`);
  }
  state.record = record;
  state.replay = replay;
  renderInfo(record);
  renderVerdict(replay);
  document.getElementById("file-name").textContent = record.file_name;
  // A pull request is shown as the code after it, whose lines the steps and answer key name.
  const pull = record.diff ? applyUnifiedDiff(record.code, record.diff) : null;
  state.view = new CodeView(document.getElementById("code"), pull ? pull.code : record.code,
    { changed: pull ? pull.changed : undefined });
  const showKey = document.getElementById("show-key");
  showKey.disabled = !record.planted_issues;
  showKey.parentElement.title = record.answer_key_hidden
    ? "The answer key of an evaluation-split episode is shown to admin keys only." : "";
  showKey.checked = false;
  document.getElementById("legend").hidden = true;
  renderStepList(record.steps);
  if (record.steps.length) {
    barChart(document.getElementById("reward-chart"), record.steps.map((step) => String(step.index)),
      [{ name: "reward", values: record.steps.map((step) => step.reward) }], { height: 160, low: Math.min(0, ...record.steps.map((step) => step.reward)) })
      .on("created", () => renderStep());
  }
  show(0);
}

wireControls();
onApiKeyChange(load);
load();
