// The Analytics page: one chart (and its data table) per analytics query.

import { api, ApiError, onApiKeyChange, queryString } from "./api.js";
import { barChart, clearChart, dataTable, lineChart } from "./charts.js";
import { fixed, percent, showError } from "./dom.js";
import { filterParams, readUrlIntoForm, refreshTaskFilter, writeFormIntoUrl } from "./filters.js";

const form = document.getElementById("filters");
const MAX_BARS = 15;

function card(id) {
  const section = document.getElementById(`card-${id}`);
  return {
    chart: section.querySelector(".chart"),
    empty: section.querySelector(".empty"),
    table: section.querySelector("table"),
  };
}

/** Draw `draw()` into a card, or say there is nothing to draw. */
function fill(id, rows, columns, draw) {
  const { chart, empty, table } = card(id);
  dataTable(table, columns, rows);
  empty.hidden = rows.length > 0;
  if (!rows.length) {
    clearChart(chart);
    chart.dataset.drawn = "empty";
    return;
  }
  draw(chart);
}

const taskSplit = (row) => `${row.task} (${row.split})`;
const agentModel = (row) => `${row.agent || "no agent"} / ${row.model || "no model"}`;
const score = (value) => fixed(value, 3);

function drawSummary(rows) {
  const finished = rows.filter((row) => row.finished > 0);
  fill("success", finished, [
    ["task", "Task"], ["split", "Split"], ["finished", "Finished"], ["success_rate", "Success rate", percent],
  ], (chart) => barChart(chart, finished.map(taskSplit), [{ name: "success rate", values: finished.map((r) => r.success_rate ?? 0) }],
    { ratio: true, high: 1 }));
  fill("scores", finished, [
    ["task", "Task"], ["split", "Split"], ["p10_score", "p10", score], ["median_score", "Median", score],
    ["mean_score", "Mean", score], ["p90_score", "p90", score],
  ], (chart) => barChart(chart, finished.map(taskSplit), [
    { name: "10th percentile", values: finished.map((r) => r.p10_score ?? 0) },
    { name: "median", values: finished.map((r) => r.median_score ?? 0) },
    { name: "mean", values: finished.map((r) => r.mean_score ?? 0) },
    { name: "90th percentile", values: finished.map((r) => r.p90_score ?? 0) },
  ], { ratio: true, high: 1 }));
}

function drawAgents(rows) {
  const ranked = rows.filter((row) => row.finished > 0)
    .sort((a, b) => (b.mean_score ?? 0) - (a.mean_score ?? 0)).slice(0, MAX_BARS);
  fill("leaderboard", ranked, [
    ["agent", "Agent"], ["model", "Model"], ["task", "Task"], ["finished", "Finished"],
    ["mean_score", "Mean score", score], ["success_rate", "Success rate", percent],
  ], (chart) => barChart(chart, ranked.map((row) => `${agentModel(row)} · ${row.task}`),
    [{ name: "mean score", values: ranked.map((r) => r.mean_score ?? 0) }],
    { ratio: true, high: 1, horizontal: true }));
}

function drawIssues(rows) {
  const hardest = rows.slice(0, MAX_BARS);
  fill("issues", hardest, [
    ["kind", "Kind"], ["issue_type", "Category"], ["cwe", "CWE"], ["planted", "Planted"],
    ["found", "Found"], ["find_rate", "Find rate", percent],
  ], (chart) => barChart(chart, hardest.map((row) => row.kind),
    [{ name: "find rate", values: hardest.map((r) => r.find_rate ?? 0) }],
    { ratio: true, high: 1, horizontal: true }));
}

function drawFalsePositives(rows) {
  const reported = rows.filter((row) => row.reports > 0);
  fill("false-positives", reported, [
    ["task", "Task"], ["agent", "Agent"], ["reports", "Reports"], ["false_positives", "False positives"],
    ["false_positive_rate", "FP rate", percent], ["duplicate_rate", "Duplicate rate", percent],
    ["decoys_flagged", "Decoys flagged"],
  ], (chart) => barChart(chart, reported.map((row) => `${row.task} · ${row.agent || "no agent"}`), [
    { name: "false-positive rate", values: reported.map((r) => r.false_positive_rate ?? 0) },
    { name: "duplicate rate", values: reported.map((r) => r.duplicate_rate ?? 0) },
  ], { ratio: true, high: 1, horizontal: true }));
}

function drawCalibration(rows) {
  fill("calibration", rows, [
    ["range", "Confidence"], ["reports", "Reports"], ["mean_confidence", "Mean confidence", score],
    ["hit_rate", "Hit rate", percent],
  ], (chart) => lineChart(chart, [
    { name: "observed hit rate", points: rows.map((r) => ({ x: r.mean_confidence, y: r.hit_rate ?? 0 })) },
    { name: "perfect calibration", className: "ct-reference", points: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
  ], { xRatio: true, yRatio: true }));
}

function drawTimeline(rows) {
  const hourly = new FormData(form).get("bucket") === "hour";
  // Buckets are "YYYY-MM-DD HH:00" (UTC): show the day, or the day and hour.
  const label = (bucket) => (hourly ? bucket.slice(5, 16) : bucket.slice(0, 10));
  fill("timeline", rows, [
    ["bucket", "Period (UTC)"], ["episodes", "Episodes"], ["finished", "Finished"], ["mean_score", "Mean score", score],
  ], (chart) => barChart(chart, rows.map((row) => label(row.bucket)),
    [{ name: "episodes", values: rows.map((row) => row.episodes) }], { integer: true, maxLabels: 10 }));
}

const QUERIES = {
  summary: drawSummary,
  agents: drawAgents,
  issues: drawIssues,
  false_positives: drawFalsePositives,
  calibration: drawCalibration,
  timeline: drawTimeline,
};

async function load() {
  showError("");
  writeFormIntoUrl(form);
  const query = queryString(filterParams(form));
  const results = await Promise.allSettled(Object.entries(QUERIES).map(async ([name, draw]) => {
    const data = await api(`/api/analytics/${name}${query}`);
    draw(data.rows);
  }));
  const failed = results.find((result) => result.status === "rejected");
  if (failed) {
    const error = failed.reason;
    showError(error instanceof ApiError ? error.describe() : String(error));
  }
}

function main() {
  readUrlIntoForm(form);
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  form.addEventListener("reset", () => setTimeout(load, 0));
  onApiKeyChange(refresh);
  refresh();
}

function refresh() {
  refreshTaskFilter(document.getElementById("f-task"), load);
}

main();
