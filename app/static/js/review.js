// The Review page: play one episode over the WebSocket endpoint, or over REST when the socket
// cannot be opened, is lost, or an API key is set (browsers cannot send headers on a socket).

import { api, apiKey, ApiError, fillTaskSelect, onApiKeyChange } from "./api.js";
import { applyUnifiedDiff, CodeView } from "./code.js";
import { el, fixed, OUTCOME_LABELS, percent, setText, showError, signed, yesNo } from "./dom.js";
import { isSocketFailure, RestTransport, SocketTransport } from "./transport.js";

const page = {
  transport: null,
  socketFailed: false,
  tasks: new Map(),
  sessionId: null,
  episodeId: null,
  observation: null,
  view: null,
  done: true,
  busy: false,
  reports: [],
};

function socketUrl() {
  return `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/ws`;
}

/** The transport for the next episode: the socket unless a key is set or it failed before. */
async function chooseTransport() {
  if (apiKey()) return new RestTransport("an API key is set");
  if (page.transport instanceof SocketTransport && !page.transport.closed) return page.transport;
  if (!page.socketFailed && "WebSocket" in window) {
    try {
      return await SocketTransport.open(socketUrl());
    } catch {
      page.socketFailed = true;
    }
  }
  return new RestTransport("the WebSocket could not be opened");
}

function showTransport() {
  const transport = page.transport;
  setText("transport", transport.name === "WebSocket"
    ? "Connected over WebSocket."
    : `Using REST (${transport.reason}).`);
  document.getElementById("transport").dataset.transport = transport.name;
}

function setBusy(busy) {
  page.busy = busy;
  const running = !page.done && page.observation !== null;
  document.getElementById("open-report").disabled = busy || !running;
  document.getElementById("hint").disabled = busy || !running || !page.observation?.hint_available;
  document.getElementById("submit-review").disabled = busy || !running;
  document.getElementById("start").disabled = busy;
  document.getElementById("report-submit").disabled = busy;
}

function renderObservation(body) {
  const observation = body.observation;
  page.observation = observation;
  const info = observation.info || {};
  setText("step-reward", body.reward === null || body.reward === undefined ? "–" : signed(body.reward));
  const cumulative = body.metadata && typeof body.metadata.cumulative_reward === "number"
    ? body.metadata.cumulative_reward : (body.reward === null ? 0 : null);
  if (cumulative !== null) setText("cumulative-reward", fixed(cumulative));
  setText("steps-left", `${info.steps_remaining} of ${observation.max_steps}`);
  setText("hints-left", info.hints_remaining);
  setText("feedback", observation.feedback);
  const hint = document.getElementById("hint-text");
  hint.hidden = !observation.hint_text;
  hint.textContent = observation.hint_text ? `Latest hint: ${observation.hint_text}` : "";
}

function renderReports() {
  const list = document.getElementById("reports");
  list.replaceChildren(...page.reports.map((report) => {
    const issue = report.issue;
    const verdict = OUTCOME_LABELS[report.outcome] || report.outcome || "Pending";
    return el("li", { dataset: { line: String(issue.line_number), outcome: report.outcome || "" } },
      el("span", { class: `badge ${report.outcome || "neutral"}` }, verdict),
      `Line ${issue.line_number} · ${issue.issue_type.replace(/_/g, " ")} · ${issue.severity}`,
      report.reward !== null ? ` (${signed(report.reward)})` : "",
      issue.description ? el("br") : null,
      issue.description || null);
  }));
  document.getElementById("no-reports").hidden = page.reports.length > 0;
}

async function startEpisode(event) {
  event.preventDefault();
  showError("");
  const task = document.getElementById("task").value;
  const seedText = document.getElementById("seed").value.trim();
  const args = { task, split: document.getElementById("split").value };
  if (seedText !== "") {
    const seed = Number(seedText);
    if (!Number.isInteger(seed) || seed < 0) {
      showError("The seed must be a whole number of 0 or more.");
      return;
    }
    args.seed = seed;
  }
  setBusy(true);
  try {
    const transport = await chooseTransport();
    if (page.transport && page.transport !== transport) page.transport.close();
    page.transport = transport;
    showTransport();
    let body;
    try {
      body = await transport.reset(args);
    } catch (error) {
      if (!isSocketFailure(error)) throw error;
      transport.close();
      page.socketFailed = true;
      page.transport = new RestTransport("the WebSocket connection was lost");
      showTransport();
      body = await page.transport.reset(args);
    }
    page.sessionId = body.session_id;
    page.episodeId = body.episode_id;
    page.done = false;
    page.reports = [];
    renderReports();
    document.getElementById("result").hidden = true;
    document.getElementById("legend").hidden = true;
    const observation = body.observation;
    setText("file-name", observation.code_snippet.file_name);
    setText("task-description", observation.task_description);
    // A pull request is reviewed on the code after it: its lines are the ones reports name.
    const pull = observation.diff ? applyUnifiedDiff(observation.code_snippet.code, observation.diff) : null;
    setText("code-title-text", pull ? "Code after the pull request" : "Code");
    document.getElementById("diff-panel").hidden = !pull;
    setText("diff", observation.diff || "");
    page.view = new CodeView(document.getElementById("code"), pull ? pull.code : observation.code_snippet.code,
      { onActivate: openReportForm, changed: pull ? pull.changed : undefined });
    document.getElementById("code-help").hidden = false;
    const taskInfo = page.tasks.get(observation.task_name);
    if (taskInfo) document.getElementById("issue-type").value = taskInfo.issue_type;
    renderObservation(body);
  } catch (error) {
    showError(error instanceof ApiError ? error.describe() : String(error));
  } finally {
    setBusy(false);
  }
}

/** Apply one action; on a lost socket, continue the same session over REST. */
async function sendAction(action) {
  showError("");
  setBusy(true);
  try {
    let body;
    try {
      body = await page.transport.step(page.sessionId, action);
    } catch (error) {
      if (!isSocketFailure(error)) throw error;
      page.transport.close();
      // The step may or may not have been applied: read the session's state rather than
      // repeating it, then continue over REST.
      page.socketFailed = true;
      page.transport = new RestTransport("the WebSocket connection was lost");
      showTransport();
      const state = await api(`/state?session_id=${encodeURIComponent(page.sessionId)}`);
      page.done = state.done;
      renderObservation({ observation: state.observation, reward: state.observation.reward,
        metadata: { cumulative_reward: state.cumulative_reward } });
      showError("The WebSocket connection was lost; the page now uses REST. Check the last action before repeating it.");
      if (page.done) await finish();
      return null;
    }
    if (action.action_type === "identify_issue") {
      page.reports.push({ issue: action.issue, outcome: body.observation.info.last_outcome, reward: body.reward });
      page.view.mark(action.issue.line_number, "reported");
      renderReports();
    }
    page.done = body.done;
    renderObservation(body);
    if (body.done) await finish();
    return body;
  } catch (error) {
    showError(error instanceof ApiError ? error.describe() : String(error));
    return null;
  } finally {
    setBusy(false);
  }
}

/** Show the result and overlay the answer key (served only once the episode is finished). */
async function finish() {
  const record = await api(`/api/episodes/${encodeURIComponent(page.episodeId)}`);
  const result = record.result || {};
  setText("result-score", fixed(result.completion_score));
  setText("result-precision", percent(result.precision));
  setText("result-recall", percent(result.recall));
  setText("result-success", yesNo(result.success));
  setText("result-found", `${result.found} of ${result.expected}`);
  setText("result-false-positives", result.false_positives);
  const verdict = document.getElementById("result-verdict");
  verdict.textContent = result.success ? "Success: the review reached the task's threshold."
    : "The review did not reach the task's threshold.";
  verdict.className = `verdict ${result.success ? "good" : "bad"}`;
  document.getElementById("result-replay").href = `/episodes/${encodeURIComponent(page.episodeId)}`;
  document.getElementById("result").hidden = false;
  if (record.planted_issues) {
    page.view.showAnswerKey(record);
    document.getElementById("legend").hidden = false;
  }
  document.getElementById("code").classList.remove("interactive");
  document.getElementById("code-help").hidden = true;
  document.getElementById("result-title").focus();
}

// ------------------------------------------------------------------ the report form

function openReportForm(line) {
  if (page.done || page.busy || !page.view) return;
  const dialog = document.getElementById("report-dialog");
  const number = Math.min(Math.max(Number(line) || 1, 1), page.view.lines.length);
  document.getElementById("line-number").value = String(number);
  document.getElementById("line-number").max = String(page.view.lines.length);
  document.getElementById("report-line-code").textContent = `${number}: ${page.view.text(number)}`;
  document.getElementById("description").value = "";
  document.getElementById("suggested-fix").value = "";
  dialog.showModal();
  document.getElementById("issue-type").focus();
}

function readReport() {
  const line = Number(document.getElementById("line-number").value);
  const confidenceText = document.getElementById("confidence").value.trim();
  const fix = document.getElementById("suggested-fix").value;
  const action = {
    action_type: "identify_issue",
    issue: {
      line_number: line,
      issue_type: document.getElementById("issue-type").value,
      severity: document.getElementById("severity").value,
      description: document.getElementById("description").value,
      suggested_fix: fix.trim() ? fix : null,
    },
  };
  if (confidenceText !== "") action.confidence = Number(confidenceText);
  return action;
}

function wireReportForm() {
  const dialog = document.getElementById("report-dialog");
  const form = document.getElementById("report-form");
  const lineInput = document.getElementById("line-number");
  lineInput.addEventListener("input", () => {
    const number = Number(lineInput.value);
    if (page.view && number >= 1 && number <= page.view.lines.length) {
      document.getElementById("report-line-code").textContent = `${number}: ${page.view.text(number)}`;
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const action = readReport();
    dialog.close();
    await sendAction(action);
    page.view?.focusLine(action.issue.line_number, !page.done);
  });
  document.getElementById("report-cancel").addEventListener("click", () => dialog.close());
}

// ------------------------------------------------------------------ start

function randomSeed() {
  const values = new Uint32Array(1);
  crypto.getRandomValues(values);
  return values[0];
}

async function loadTasks() {
  showError("");
  try {
    const tasks = await fillTaskSelect(document.getElementById("task"), { keepFirst: false });
    page.tasks = new Map(tasks.map((task) => [task.name, task]));
  } catch (error) {
    showError(error instanceof ApiError ? error.describe() : String(error));
  }
}

function main() {
  document.getElementById("episode-form").addEventListener("submit", startEpisode);
  document.getElementById("random-seed").addEventListener("click", () => {
    document.getElementById("seed").value = String(randomSeed());
  });
  document.getElementById("open-report").addEventListener("click", () => {
    openReportForm(page.view ? page.view.activeLine() : 1);
  });
  document.getElementById("hint").addEventListener("click", () => sendAction({ action_type: "request_hint" }));
  document.getElementById("submit-review").addEventListener("click", () => sendAction({ action_type: "submit_review" }));
  wireReportForm();
  onApiKeyChange(() => {
    if (page.transport instanceof SocketTransport) page.transport.close();
    page.transport = null;
    loadTasks();
  });
  setBusy(false);
  loadTasks();
}

main();
