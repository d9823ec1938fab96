// tailor dashboard: reads /v1/dashboard/{kpis,service,model} and draws them (docs/dashboard.md).
// Every number is written with data-value = the API's raw value, so a test can compare them.
"use strict";

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);

function apiKey() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) sessionStorage.setItem("tailor-key", fromHash);
  return sessionStorage.getItem("tailor-key");
}

async function getJson(path) {
  const key = apiKey();
  const response = await fetch(path, { headers: key ? { "X-API-Key": key } : {} });
  if (response.status === 401 || response.status === 403) {
    $("auth").hidden = false;
    throw new Error("an API key with the read scope is needed");
  }
  if (!response.ok) throw new Error(path + " answered " + response.status);
  return response.json();
}

const fmt = {
  pct: (v) => (v === null ? "–" : (v * 100).toFixed(2) + " %"),
  money: (v) => (v === null ? "–" : v.toFixed(2)),
  int: (v) => (v === null ? "–" : String(v)),
  num: (v) => (v === null ? "–" : String(Number(v.toPrecision(6)))),
  ms: (v) => (v === null ? "–" : v.toFixed(1) + " ms"),
  s: (v) => (v === null ? "–" : v.toFixed(1) + " s"),
};

function cell(tag, value, format, name) {
  const el = document.createElement(tag);
  if (format) {
    el.textContent = fmt[format](value);
    el.dataset.value = value === null ? "null" : String(value);
  } else {
    el.textContent = value;
  }
  if (name) el.dataset.name = name;
  return el;
}

// columns: [[header, key, format]]; rowName(row) names each row for data-name="row:key"
function table(target, columns, rows, rowName) {
  const el = typeof target === "string" ? $(target) : target;
  el.replaceChildren();
  const head = el.insertRow();
  for (const [label] of columns) head.appendChild(cell("th", label));
  for (const row of rows) {
    const tr = el.insertRow();
    for (const [, key, format] of columns) {
      tr.appendChild(cell("td", row[key], format, rowName(row) + ":" + key));
    }
  }
}

const KPI_COLUMNS = [
  ["lists", "lists", "int"], ["visitors", "visitors", "int"], ["clicks", "clicks", "int"],
  ["orders", "orders", "int"], ["CTR", "ctr", "pct"], ["conversion", "conversion", "pct"],
  ["AOV", "aov", "money"], ["revenue", "revenue", "money"],
];

function plot(id, title, traces, yaxis, xrange) {
  const layout = {
    title: { text: title, font: { size: 13 } },
    margin: { l: 50, r: 10, t: 30, b: 40 },
    xaxis: { type: "date", range: xrange },
    yaxis: { rangemode: "tozero", ...yaxis },
    legend: { orientation: "h", y: -0.2 },
    showlegend: true,
  };
  Plotly.react($(id), traces, layout, { displayModeBar: false, responsive: true });
}

function kpiTraces(series, key) {
  const groups = new Map();
  for (const row of series) {
    const name = row.placement + " / " + row.variant;
    if (!groups.has(name)) groups.set(name, { x: [], y: [], name, mode: "lines+markers" });
    groups.get(name).x.push(row.bucket);
    groups.get(name).y.push(row[key]);
  }
  return [...groups.values()];
}

async function showKpis() {
  const query = "?window_s=" + $("window").value + "&bucket_s=" + $("bucket").value;
  const doc = await getJson("/v1/dashboard/kpis" + query);
  if (!doc.available) {
    $("kpi-note").textContent = doc.reason;
    return;
  }
  $("kpi-note").textContent = doc.events + " events read; lists attributed within " +
    doc.attribution_s + " s";
  const end = Date.parse(doc.generated_at);
  const range = [new Date(end - doc.window_s * 1000).toISOString(), doc.generated_at];
  const share = { tickformat: ".0%" };
  plot("chart-ctr", "CTR (clicks / lists)", kpiTraces(doc.series, "ctr"), share, range);
  plot("chart-conversion", "conversion (buyers / visitors)", kpiTraces(doc.series, "conversion"),
    share, range);
  plot("chart-aov", "average order value", kpiTraces(doc.series, "aov"), {}, range);
  plot("chart-revenue", "revenue", kpiTraces(doc.series, "revenue"), {}, range);
  table("placements", [["placement", "placement"], ...KPI_COLUMNS], doc.placements,
    (row) => "placement:" + row.placement);
  table("variants", [["experiment:variant", "variant"], ...KPI_COLUMNS], doc.variants,
    (row) => "variant:" + row.variant);
}

async function showService() {
  const doc = await getJson("/v1/dashboard/service");
  const s = doc.series;
  const x = s.map((r) => r.time);
  plot("chart-rates", "fallback rate and cache hit ratio (per " + doc.interval_s + " s)", [
    { x, y: s.map((r) => r.fallback_rate), name: "fallback rate", mode: "lines" },
    { x, y: s.map((r) => r.cache_hit_ratio), name: "cache hit ratio", mode: "lines" },
  ], { tickformat: ".0%", range: [0, 1] });
  plot("chart-latency", "recommendation latency (ms)", ["p50_ms", "p95_ms", "p99_ms"].map(
    (k) => ({ x, y: s.map((r) => r[k]), name: k.replace("_ms", ""), mode: "lines" })), {});
  const lag = doc.event_lag;
  $("service-note").textContent = "process " + doc.pid +
    (doc.event_lag_reason ? "; event lag: " + doc.event_lag_reason : "") +
    (lag && !lag.consumer_seen ? "; no consumer (" + lag.consumer + ") has read the log yet" : "");
  table("service-totals", [["since start", "label"], ["lists answered", "requests", "int"],
    ["fallback rate", "fallback_rate", "pct"], ["cache hit ratio", "cache_hit_ratio", "pct"],
    ["p50", "p50_ms", "ms"], ["p95", "p95_ms", "ms"], ["p99", "p99_ms", "ms"],
    ["events waiting", "events", "int"], ["oldest waiting", "oldest_waiting_s", "s"],
    ["newest event", "newest_event_s", "s"]],
  [{
    label: "this process",
    ...pick(doc.since_start, ["requests", "fallback_rate", "cache_hit_ratio", "p50_ms",
      "p95_ms", "p99_ms"]),
    ...pick(doc.event_lag, ["events", "oldest_waiting_s", "newest_event_s"]),
  }], () => "service");
}

// the given keys of obj (null where obj lacks one)
function pick(obj, keys) {
  return Object.fromEntries(keys.map((k) => [k, obj && k in obj ? obj[k] : null]));
}

async function showModel() {
  const doc = await getJson("/v1/dashboard/model");
  $("active-version").textContent = doc.active || "none";
  $("active-model").textContent = doc.model || "no model";
  const metrics = Object.entries(doc.metrics).map(([name, value]) => ({ name, value }));
  table("model-metrics", [["offline metric", "name"], ["value", "value", "num"]], metrics,
    (row) => "metric:" + row.name);
  table("versions", [["version", "version"], ["model", "model"], ["created", "created_at"]],
    doc.versions.map((v) => ({ ...v, model: v.model || "?", created_at: v.created_at || "?" })),
    (row) => "version:" + row.version);
  $("history").replaceChildren(...doc.history.map((v) => cell("li", v)));
}

// an estimate with its 95 % interval, 3 significant digits: "0.5 [0.173, 0.827]"
const sig3 = (v) => (v === null ? "–" : String(Number(v.toPrecision(3))));
const interval = (e) => sig3(e.value) + " [" + sig3(e.low) + ", " + sig3(e.high) + "]";

async function showExperiments() {
  const doc = await getJson("/v1/dashboard/experiments");
  $("ab-note").textContent = doc.reason || "";
  const blocks = doc.experiments.map((exp) => {
    const div = document.createElement("div");
    const h = document.createElement("h3");
    h.textContent = exp.experiment + " (primary metric: " + exp.primary_metric + ")";
    div.appendChild(h);
    const note = document.createElement("p");
    if (exp.error) {
      note.textContent = exp.error;
      div.appendChild(note);
      return div;
    }
    note.textContent = "sample ratio p = " + fmt.num(exp.srm.p_value) +
      (exp.srm.alarm ? " (MISMATCH: check the assignment)" : "") + ". " + exp.notes.join(" ");
    div.appendChild(note);
    const t = div.appendChild(document.createElement("table"));
    const rows = exp.variants.map((v) => ({
      ...v, ctr_ci: interval(v.ctr), conversion_ci: interval(v.conversion),
      aov_ci: interval(v.aov), rpv_ci: interval(v.rpv), verdict: v.verdict || "control",
    }));
    table(t, [["variant", "variant"], ["visitors", "visitors", "int"],
      ["lists", "lists", "int"], ["CTR [95 %]", "ctr_ci"], ["conversion", "conversion_ci"],
      ["AOV", "aov_ci"], ["revenue / visitor", "rpv_ci"], ["verdict", "verdict"]],
    rows, (row) => "experiment:" + exp.experiment + ":" + row.variant);
    return div;
  });
  $("experiments").replaceChildren(...blocks);
}

async function refresh() {
  const results = await Promise.allSettled([showModel(), showKpis(), showService(),
    showExperiments()]);
  const failed = results.filter((r) => r.status === "rejected");
  $("status").className = failed.length ? "error" : "";
  $("status").textContent = failed.length
    ? failed.map((r) => r.reason.message).join("; ")
    : "updated " + new Date().toLocaleTimeString();
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

$("key-save").addEventListener("click", () => {
  sessionStorage.setItem("tailor-key", $("key").value);
  $("auth").hidden = true;
  refresh();
});
$("window").addEventListener("change", refresh);
$("bucket").addEventListener("change", refresh);
refresh();
setInterval(refresh, REFRESH_MS);
