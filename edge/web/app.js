/*
 * opensoc web front end: the page of `opensoc serve`.
 *
 * Three views: analyze pasted log lines (POST /api/analyze), analyze an uploaded
 * file with live progress (POST /api/batch + server-sent events), and browse the
 * verdict store with filters, charts, a detail panel and a live stream
 * (/api/verdicts, /api/report, /api/verdicts/stream). A 401 from any call shows
 * the login form; after a successful login the interrupted actions run again.
 *
 * SECURITY RULE: everything shown on this page (log lines, verdict fields, file
 * names, server messages) may be written by an attacker. The DOM is built only
 * with createElement / createElementNS and text is set only with textContent.
 * Never parse HTML strings (no inner/outer HTML setters, no HTML insertion
 * methods, no writing of markup into the document, no eval, no event-handler
 * attributes). Links we build only point at same-origin /api/ paths whose
 * variable parts go through encodeURIComponent. Class names built from data use whitelisted values only.
 * The Content-Security-Policy forbids inline scripts and styles anyway.
 */
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SEVERITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]; // ascending
  const HISTORY_SHOWN = 100;
  const EMPTY = "—";
  const CSV_COLUMNS = [
    "time", "source", "threat_type", "mitre_technique", "mitre_tactic", "severity",
    "risk_score", "evidence", "impact", "recommendation", "input",
  ];
  const FILTER_NAMES = ["since", "until", "min_severity", "category", "source", "agent", "limit"];

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  // ------------------------------------------------------------------ DOM helpers

  /** A new element with an optional (static) class name and text. */
  function h(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** A new SVG element with attributes (values become plain attribute text). */
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, String(value));
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(node, visible) {
    node.classList.toggle("hidden", !visible);
  }

  /** Text for a possibly missing value. */
  function display(value) {
    if (value === null || value === undefined || value === "") return EMPTY;
    return String(value);
  }

  /** One line, at most `max` characters. */
  function excerpt(text, max) {
    const flat = String(text === null || text === undefined ? "" : text).replace(/\s+/g, " ").trim();
    return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
  }

  /** "2026-12-06T10:00:00.123Z" → "2026-12-06 10:00:00Z". */
  function shortTime(iso) {
    if (!iso) return EMPTY;
    return String(iso).replace("T", " ").replace(/\.\d+/, "");
  }

  function formatBytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MiB";
    if (n >= 1024) return (n / 1024).toFixed(1) + " KiB";
    return n + " bytes";
  }

  function clampPercent(p) {
    const n = Math.round(Number(p));
    return Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : 0;
  }

  // ------------------------------------------------------------------ severities

  /** The canonical severity name, or null when unknown. */
  function normSeverity(s) {
    const upper = String(s === null || s === undefined ? "" : s).trim().toUpperCase();
    return SEVERITIES.includes(upper) ? upper : null;
  }

  function severityRank(s) {
    return SEVERITIES.indexOf(normSeverity(s)); // -1 when unknown
  }

  function isCriticalOrHigh(s) {
    return severityRank(s) >= severityRank("HIGH");
  }

  /** span.sev.sev-LEVEL with the level as text. */
  function sevBadge(s) {
    const level = normSeverity(s);
    const span = h("span", "sev");
    span.classList.add(level ? "sev-" + level : "sev-NONE");
    span.textContent = level || display(s);
    return span;
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  function isAuthError(err) {
    return err instanceof ApiError && err.status === 401;
  }

  /** The message of an error answer: `{"error": "..."}`, else its text. */
  async function readError(res) {
    let message = "";
    try {
      const text = await res.text();
      try {
        const body = JSON.parse(text);
        if (body && typeof body.error === "string") message = body.error;
      } catch (_) {
        message = excerpt(text, 300);
      }
    } catch (_) {
      // no body
    }
    return message || ("HTTP " + res.status + " " + (res.statusText || "")).trim();
  }

  /** fetch with the session cookie; throws ApiError for non-2xx, shows the login on 401. */
  async function api(path, init) {
    const options = Object.assign({ credentials: "same-origin" }, init || {});
    let res;
    try {
      res = await fetch(path, options);
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError("cannot reach the server (" + (err && err.message) + ")", 0);
    }
    if (res.status === 401) {
      showLogin();
      throw new ApiError("login required", 401);
    }
    if (!res.ok) throw new ApiError(await readError(res), res.status);
    return res;
  }

  async function apiJson(path, init) {
    const res = await api(path, init);
    if (res.status === 204) return null;
    try {
      return await res.json();
    } catch (_) {
      throw new ApiError("the server sent an unreadable answer", res.status);
    }
  }

  function postJson(path, body) {
    return apiJson(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  /** The JSON data of a server-sent event, or null. */
  function eventData(ev) {
    try {
      return JSON.parse(ev.data);
    } catch (_) {
      return null;
    }
  }

  // ------------------------------------------------------------------ login

  const afterLoginJobs = new Map(); // key → function, run once after a login

  function afterLogin(key, job) {
    afterLoginJobs.set(key, job);
  }

  function showLogin() {
    const form = $("login");
    if (form.classList.contains("hidden")) {
      show(form, true);
      $("login-error").textContent = "";
      $("token").focus();
    }
  }

  async function submitLogin(ev) {
    ev.preventDefault();
    const button = $("login-submit");
    const error = $("login-error");
    error.textContent = "";
    button.disabled = true;
    try {
      const res = await fetch("/api/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: $("token").value }),
      });
      if (res.ok) {
        $("token").value = "";
        show($("login"), false);
        runAfterLoginJobs();
      } else if (res.status === 401) {
        error.textContent = "wrong token";
      } else {
        error.textContent = await readError(res);
      }
    } catch (_) {
      error.textContent = "cannot reach the server";
    } finally {
      button.disabled = false;
    }
  }

  function runAfterLoginJobs() {
    const jobs = Array.from(afterLoginJobs.values());
    afterLoginJobs.clear();
    if (!jobs.length) jobs.push(loadStatus);
    for (const job of jobs) job();
  }

  // ------------------------------------------------------------------ header

  let serverStatus = null;

  async function loadStatus() {
    const line = $("status-line");
    try {
      const s = await apiJson("/api/status");
      serverStatus = s || {};
      let text = "model: " + display(serverStatus.model) +
        " · adapter: " + display(serverStatus.adapter) +
        " · db: " + display(serverStatus.db);
      if (serverStatus.db_exists === false) text += " (no verdicts stored yet)";
      if (serverStatus.fleet === true) setFleet();
      line.textContent = text;
      line.title = "opensoc " + display(serverStatus.version);
    } catch (err) {
      if (isAuthError(err)) afterLogin("status", loadStatus);
      line.textContent = "status unavailable: " + err.message;
    }
  }

  const TABS = ["single", "batch", "store"];

  function showTab(name) {
    for (const tab of TABS) {
      const active = tab === name;
      const button = $("tab-" + tab);
      button.classList.toggle("active", active);
      button.setAttribute("aria-selected", active ? "true" : "false");
      show($("view-" + tab), active);
    }
    if (name === "store") startStore();
  }

  // ------------------------------------------------------------------ verdict fields

  function techniqueText(v) {
    const id = v.mitre_technique;
    const name = v.technique_name || v.mitre_technique_name;
    if (!id) return name || null;
    return name ? id + " (" + name + ")" : id;
  }

  function readFromText(list) {
    if (!Array.isArray(list) || !list.length) return null;
    return list
      .map((r) => display(r && r.path) + " [" + display(r && r.start) + "–" + display(r && r.end) + "]")
      .join("\n");
  }

  function fieldValue(v, name) {
    if (name === "agent_label") return v.agent ? agentLabel(v) : null;
    if (name === "mitre_technique") return techniqueText(v);
    if (name === "read_from") return readFromText(v.read_from);
    if (name === "first_time" || name === "last_time" || name === "created_at") {
      return v[name] ? shortTime(v[name]) : null;
    }
    return v[name];
  }

  /** Fills every [data-field] element under `container` from verdict `v`. */
  function renderFields(container, v) {
    for (const slot of container.querySelectorAll("[data-field]")) {
      const name = slot.dataset.field;
      slot.replaceChildren();
      if (name === "severity") {
        // No badge at all while there is no verdict (or the model gave none).
        const missing = v.severity === null || v.severity === undefined || v.severity === "";
        if (!missing) slot.appendChild(sevBadge(v.severity));
        slot.classList.toggle("empty", missing);
        continue;
      }
      const value = fieldValue(v, name);
      const text = value !== null && typeof value === "object" ? JSON.stringify(value) : display(value);
      slot.textContent = text;
      slot.classList.toggle("empty", text === EMPTY);
    }
  }

  // ------------------------------------------------------------------ history

  const historyEntries = []; // oldest first
  let criticalHighCount = 0;

  function historyEntry(v, source, input) {
    const level = normSeverity(v.severity);
    return {
      time: new Date().toISOString(),
      source: source,
      threat_type: v.threat_type,
      mitre_technique: v.mitre_technique,
      mitre_tactic: v.mitre_tactic,
      severity: level || v.severity,
      risk_score: v.risk_score,
      evidence: v.evidence,
      impact: v.impact,
      recommendation: v.recommendation,
      input: input,
    };
  }

  function addHistory(entry) {
    historyEntries.push(entry);
    if (isCriticalOrHigh(entry.severity)) criticalHighCount += 1;
    prependHistoryItem(entry);
    $("count-total").textContent = String(historyEntries.length);
    $("count-critical-high").textContent = String(criticalHighCount);
  }

  function prependHistoryItem(entry) {
    const list = $("history");
    const li = h("li", "history-item");
    const time = h("time", "h-time", new Date(entry.time).toLocaleTimeString());
    time.setAttribute("datetime", entry.time);
    li.append(
      time,
      sevBadge(entry.severity),
      h("span", "h-threat", display(entry.threat_type)),
      h("span", "h-excerpt", excerpt(entry.input, 90)),
    );
    list.prepend(li);
    while (list.children.length > HISTORY_SHOWN) list.lastElementChild.remove();
  }

  /** One CSV field: formula-injection guard, then RFC 4180 quoting. */
  function csvField(value) {
    let s = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    if (/[",\r\n]/.test(s)) s = '"' + s.replace(/"/g, '""') + '"';
    return s;
  }

  function historyCsv() {
    const lines = [CSV_COLUMNS.join(",")];
    for (let i = historyEntries.length - 1; i >= 0; i -= 1) {
      lines.push(CSV_COLUMNS.map((c) => csvField(historyEntries[i][c])).join(","));
    }
    return lines.join("\r\n") + "\r\n";
  }

  /** Saves `text` as a file through a temporary object URL. */
  function downloadText(text, filename) {
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    a.classList.add("hidden");
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ------------------------------------------------------------------ single analysis

  function setCardState(state) {
    $("verdict-card").setAttribute("data-state", state);
  }

  function showSingleError(message) {
    const error = $("single-error");
    error.textContent = message;
    show(error, Boolean(message));
  }

  async function runAnalyze() {
    const text = $("log-input").value;
    const button = $("analyze");
    if (button.disabled) return;
    if (!text.trim()) {
      setCardState("error");
      showSingleError("paste some log lines first");
      return;
    }
    button.disabled = true;
    setCardState("running");
    showSingleError("");
    renderFields($("verdict-card"), {});
    $("verdict-latency").textContent = "";
    try {
      const v = await postJson("/api/analyze", { text: text, mode: $("mode").value });
      const verdict = v || {};
      renderFields($("verdict-card"), verdict);
      const latency = verdict.latency_ms;
      $("verdict-latency").textContent =
        latency === null || latency === undefined ? "" : String(latency) + " ms";
      setCardState("done");
      addHistory(historyEntry(verdict, "single", text));
    } catch (err) {
      if (isAuthError(err)) afterLogin("analyze", runAnalyze);
      setCardState("error");
      showSingleError(err.message);
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ batch

  const batch = {
    id: null, // server id of the running / last batch
    name: "", // the uploaded file's name
    running: false,
    upload: null, // AbortController while uploading
    events: null, // EventSource while running
    seen: new Set(), // verdict keys already in the table
    count: 0,
  };

  function setBatchRunning(running) {
    batch.running = running;
    $("batch-start").disabled = running;
    $("batch-cancel").disabled = !running;
  }

  function setBatchStatus(text) {
    $("batch-status").textContent = text;
  }

  function setBatchProgress(percent) {
    const p = clampPercent(percent);
    $("batch-progress").value = p;
    $("batch-percent").textContent = p + "%";
  }

  function summaryText(d) {
    const seconds = Number(d.elapsed_s);
    return display(d.lines) + " lines · " + display(d.windows) + " windows · " +
      display(d.findings) + " findings · " +
      (Number.isFinite(seconds) ? seconds.toFixed(1) : EMPTY) + " seconds";
  }

  function resetBatchView() {
    $("batch-results").tBodies[0].replaceChildren();
    show($("batch-empty"), true);
    batch.seen.clear();
    batch.count = 0;
    setBatchProgress(0);
    $("batch-summary").textContent = "";
    const csv = $("batch-csv");
    csv.removeAttribute("href");
    show(csv, false);
  }

  function closeBatchEvents() {
    if (batch.events) batch.events.close();
    batch.events = null;
  }

  async function startBatch() {
    if (batch.running) return;
    const input = $("batch-file");
    const file = input.files && input.files[0];
    if (!file) {
      setBatchStatus("error: choose a log file first");
      return;
    }
    const limit = serverStatus && Number(serverStatus.max_upload_bytes);
    if (limit > 0 && file.size > limit) {
      setBatchStatus("error: the file is too large (" + formatBytes(file.size) +
        "; the server accepts at most " + formatBytes(limit) + ")");
      return;
    }
    closeBatchEvents();
    resetBatchView();
    batch.id = null;
    batch.name = file.name;
    setBatchRunning(true);
    setBatchStatus("running");
    $("batch-summary").textContent = "uploading " + file.name + " (" + formatBytes(file.size) + ")…";
    const controller = new AbortController();
    batch.upload = controller;
    const url = "/api/batch?mode=" + enc($("batch-mode").value) + "&name=" + enc(file.name);
    try {
      const res = await apiJson(url, {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream" },
        body: file,
        signal: controller.signal,
      });
      batch.upload = null;
      if (!res || res.id === null || res.id === undefined) {
        throw new ApiError("the server returned no batch id", 0);
      }
      batch.id = String(res.id);
      $("batch-summary").textContent = display(res.lines) + " lines queued";
      openBatchEvents(batch.id);
    } catch (err) {
      batch.upload = null;
      if (err && err.name === "AbortError") {
        setBatchStatus("cancelled");
        $("batch-summary").textContent = "upload cancelled";
      } else {
        if (isAuthError(err)) afterLogin("batch", startBatch);
        setBatchStatus("error: " + err.message);
        $("batch-summary").textContent = "";
      }
      setBatchRunning(false);
    }
  }

  function openBatchEvents(id) {
    const es = new EventSource("/api/batch/" + enc(id) + "/events");
    batch.events = es;
    const listen = (type, handler) =>
      es.addEventListener(type, (ev) => {
        if (es === batch.events) handler(ev);
      });
    listen("progress", (ev) => {
      const d = eventData(ev);
      if (!d) return;
      setBatchProgress(d.percent);
      $("batch-summary").textContent = display(d.lines_read) + " / " + display(d.total_lines) +
        " lines read · " + display(d.windows) + " windows";
    });
    listen("verdict", (ev) => {
      const v = eventData(ev);
      if (v && typeof v === "object") addBatchVerdict(v);
    });
    listen("done", (ev) => finishBatch("done", eventData(ev)));
    listen("cancelled", (ev) => finishBatch("cancelled", eventData(ev)));
    listen("failed", (ev) => {
      const d = eventData(ev) || {};
      finishBatch("error: " + (d.error || "the batch failed"), null);
    });
    listen("error", () => {
      // CONNECTING: the browser retries by itself; CLOSED: it gave up.
      if (es.readyState === EventSource.CLOSED) {
        finishBatch("error: lost the connection to the server", null);
      }
    });
  }

  function finishBatch(status, data) {
    closeBatchEvents();
    if (data && typeof data === "object") {
      $("batch-summary").textContent = summaryText(data);
      if (data.percent !== undefined) setBatchProgress(data.percent);
    }
    if (status === "done") {
      setBatchProgress(100);
      const csv = $("batch-csv");
      csv.href = "/api/batch/" + enc(batch.id) + "/csv";
      show(csv, true);
    }
    setBatchStatus(status);
    setBatchRunning(false);
    loadStatus(); // the store may exist now
  }

  async function cancelBatch() {
    if (!batch.running) return;
    $("batch-cancel").disabled = true;
    if (batch.upload) {
      batch.upload.abort();
      return;
    }
    if (batch.id === null) return;
    try {
      await api("/api/batch/" + enc(batch.id), { method: "DELETE" });
      // the event stream now sends `cancelled`
    } catch (err) {
      if (!batch.running) return;
      $("batch-cancel").disabled = false;
      if (isAuthError(err)) afterLogin("cancel", cancelBatch);
      setBatchStatus("error: could not cancel: " + err.message);
    }
  }

  function addBatchVerdict(v) {
    batch.count += 1;
    const key = v.id === null || v.id === undefined ? "w" + batch.count : String(v.id);
    if (batch.seen.has(key)) return;
    batch.seen.add(key);
    const tr = h("tr");
    tr.dataset.id = key;
    const sevCell = h("td");
    sevCell.appendChild(sevBadge(v.severity));
    const evidence = h("td", "cell-wrap", excerpt(v.evidence, 160) || EMPTY);
    if (v.evidence) evidence.title = String(v.evidence);
    tr.append(
      sevCell,
      h("td", "cell-wrap", display(v.threat_type)),
      h("td", "cell-wrap", display(v.entity)),
      h("td", "num", display(v.lines)),
      h("td", "nowrap", shortTime(v.first_time)),
      evidence,
    );
    $("batch-results").tBodies[0].appendChild(tr);
    show($("batch-empty"), false);
    addHistory(historyEntry(v, v.source || batch.name || "batch", v.input));
  }

  // ------------------------------------------------------------------ store

  const store = {
    started: false,
    generation: 0, // bumps on every reload; stale answers are dropped
    detailGeneration: 0,
    fleet: false, // reading the fleet database: rows carry their agent
    filters: null, // the filters of the table shown
    ids: new Set(), // keys of the rows shown (rowKey)
    maxId: 0, // highest id (fleet: seq) shown or streamed
    live: null, // EventSource
    retryTimer: 0,
    retryDelay: 2000,
  };

  function readFilters() {
    const limit = $("f-limit").value.trim();
    return {
      since: $("f-since").value.trim(),
      until: $("f-until").value.trim(),
      min_severity: $("f-min-severity").value,
      category: $("f-category").value.trim(),
      source: $("f-source").value.trim(),
      agent: store.fleet ? $("f-agent").value.trim() : "",
      limit: limit === "" ? "100" : limit,
    };
  }

  /** "since=..&limit=100": empty filters left out, limit always there. */
  function filterQuery(filters) {
    const parts = [];
    for (const name of FILTER_NAMES) {
      const value = filters[name];
      if (value !== "" && value !== null && value !== undefined) parts.push(name + "=" + enc(value));
    }
    return parts.join("&");
  }

  function updateStoreCsvLink() {
    $("store-csv").href = "/api/verdicts?format=csv&" + filterQuery(readFilters());
  }

  function showStoreError(message) {
    const error = $("store-error");
    error.textContent = message;
    show(error, Boolean(message));
  }

  function startStore() {
    if (store.started) return;
    store.started = true;
    loadStore();
  }

  async function loadStore() {
    const generation = ++store.generation;
    const filters = readFilters();
    const query = filterQuery(filters);
    updateStoreCsvLink();
    showStoreError("");
    closeLive();
    setLive("off");
    $("f-apply").disabled = true;
    const [list, report] = await Promise.allSettled([
      apiJson("/api/verdicts?" + query),
      apiJson("/api/report?" + query),
    ]);
    if (generation !== store.generation) return;
    $("f-apply").disabled = false;
    store.filters = filters;
    const errors = [];
    if (list.status === "fulfilled") {
      renderStoreTable(Array.isArray(list.value) ? list.value : []);
    } else {
      errors.push(list.reason);
      renderStoreTable([]);
    }
    if (report.status === "fulfilled") {
      renderReport(report.value || {});
    } else {
      errors.push(report.reason);
      renderReport({});
    }
    if (errors.length) {
      if (errors.some(isAuthError)) afterLogin("store", loadStore);
      showStoreError(errors.map((e) => e.message).filter((m, i, all) => all.indexOf(m) === i).join("; "));
    }
    if (list.status === "fulfilled") openLive();
  }

  /** Shows the agent column and filter: the server reads the fleet database. */
  function setFleet() {
    if (store.fleet) return;
    store.fleet = true;
    show($("f-agent-box"), true);
    show($("th-agent"), true);
  }

  /** "web1 (3f2a9c1d)": the host and the start of the agent's id, as `opensoc verdicts`. */
  function agentLabel(v) {
    return display(v.host) + " (" + String(v.agent).slice(0, 8) + ")";
  }

  /** Fleet verdict ids are each agent's own: the agent and the id name a row. */
  function rowKey(v) {
    return v.agent ? String(v.agent) + " " + String(v.id) : String(v.id);
  }

  /** The stream resumes after the local id, or after the fleet's arrival number. */
  function noteId(v) {
    const n = Number(v.seq !== undefined && v.seq !== null ? v.seq : v.id);
    if (Number.isFinite(n) && n > store.maxId) store.maxId = n;
  }

  function renderStoreTable(rows) {
    const body = $("store-table").tBodies[0];
    body.replaceChildren();
    store.ids.clear();
    store.maxId = 0;
    if (rows.some((v) => v && typeof v === "object" && v.agent)) setFleet();
    for (const v of rows) {
      if (!v || typeof v !== "object") continue;
      body.appendChild(storeRow(v));
      store.ids.add(rowKey(v));
      noteId(v);
    }
    show($("store-empty"), body.rows.length === 0);
  }

  function storeRow(v) {
    const tr = h("tr");
    const id = String(v.id);
    tr.dataset.id = id;
    if (v.agent) tr.dataset.agent = String(v.agent);
    tr.tabIndex = 0;
    const sevCell = h("td");
    sevCell.appendChild(sevBadge(v.severity));
    tr.append(h("td", "num", display(v.id)));
    if (store.fleet) {
      const agentCell = h("td", "nowrap", v.agent ? agentLabel(v) : EMPTY);
      if (v.agent) agentCell.title = String(v.agent);
      tr.append(agentCell);
    }
    tr.append(
      h("td", "nowrap", shortTime(v.first_time || v.created_at)),
      sevCell,
      h("td", "cell-wrap", display(v.threat_type)),
      h("td", "cell-wrap", display(v.entity)),
      h("td", "cell-wrap", display(v.source)),
      h("td", "num", display(v.lines)),
    );
    return tr;
  }

  function onStoreRowActivate(ev) {
    if (ev.type === "keydown" && ev.key !== "Enter" && ev.key !== " ") return;
    const tr = ev.target.closest("tr[data-id]");
    if (!tr || !tr.parentElement || tr.parentElement.tagName !== "TBODY") return;
    if (ev.type === "keydown") ev.preventDefault();
    for (const row of $("store-table").querySelectorAll("tr.selected")) row.classList.remove("selected");
    tr.classList.add("selected");
    showDetail(tr.dataset.id, tr.dataset.agent);
  }

  async function showDetail(id, agent) {
    const generation = ++store.detailGeneration;
    const detail = $("detail");
    detail.setAttribute("data-state", "loading");
    try {
      const v = await apiJson("/api/verdicts/" + enc(id) + (agent ? "?agent=" + enc(agent) : ""));
      if (generation !== store.detailGeneration) return;
      fillDetail(v || {});
    } catch (err) {
      if (generation !== store.detailGeneration) return;
      detail.setAttribute("data-state", "error");
      if (isAuthError(err)) afterLogin("detail", () => showDetail(id, agent));
      showStoreError(err.message);
    }
  }

  function fillDetail(v) {
    const detail = $("detail");
    renderFields(detail, v);
    show($("detail-agent"), Boolean(v.agent));
    $("detail-id").textContent = "#" + display(v.id);
    $("detail-lines").textContent = v.input === null || v.input === undefined ? "" : String(v.input);
    detail.setAttribute("data-state", "done");
    show(detail, true);
    detail.scrollIntoView({ block: "nearest" });
  }

  // ---------------------------------------------------------------- store: live stream

  function setLive(text) {
    $("live-status").textContent = text;
  }

  function closeLive() {
    clearTimeout(store.retryTimer);
    if (store.live) store.live.close();
    store.live = null;
  }

  function openLive() {
    closeLive();
    // A fleet view with nothing shown yet streams what arrives from now on, not the
    // whole fleet's history.
    const after = store.fleet && store.maxId === 0 ? "" : "?after=" + enc(String(store.maxId));
    const es = new EventSource("/api/verdicts/stream" + after);
    store.live = es;
    setLive("connecting");
    es.addEventListener("open", () => {
      if (es !== store.live) return;
      store.retryDelay = 2000;
      setLive("live");
    });
    es.addEventListener("verdict", (ev) => {
      if (es !== store.live) return;
      const v = eventData(ev);
      if (v && typeof v === "object") onLiveVerdict(v);
    });
    es.addEventListener("error", () => {
      if (es !== store.live) return;
      // Reopen ourselves so that `after` is the newest id we have seen.
      es.close();
      store.live = null;
      setLive("reconnecting");
      scheduleLiveReconnect();
    });
  }

  function scheduleLiveReconnect() {
    clearTimeout(store.retryTimer);
    const delay = store.retryDelay;
    store.retryDelay = Math.min(delay * 2, 30000);
    store.retryTimer = setTimeout(reconnectLive, delay);
  }

  /** Probes the API first, so that an expired login shows the login form. */
  async function reconnectLive() {
    const generation = store.generation;
    try {
      await api("/api/verdicts?limit=1");
    } catch (err) {
      if (generation !== store.generation) return;
      if (isAuthError(err)) afterLogin("live", openLive);
      else scheduleLiveReconnect();
      return;
    }
    if (generation === store.generation) openLive();
  }

  /** Whether a live verdict passes the filters the table shows (as the server applies them:
   *  severity at or above, category equal ignoring case, source containing the text). */
  function passesFilters(v) {
    const f = store.filters || {};
    if (f.min_severity && severityRank(v.severity) < severityRank(f.min_severity)) return false;
    if (f.category && String(v.category || "").toLowerCase() !== f.category.toLowerCase()) return false;
    if (f.source && !String(v.source || "").includes(f.source)) return false;
    if (f.agent) {
      const want = f.agent.toLowerCase();
      const host = String(v.host || "").toLowerCase();
      if (host !== want && !String(v.agent || "").startsWith(want)) return false;
    }
    return true;
  }

  function onLiveVerdict(v) {
    noteId(v);
    const key = rowKey(v);
    if (store.ids.has(key) || !passesFilters(v)) return;
    if (v.agent) setFleet();
    const tr = storeRow(v);
    tr.classList.add("new");
    $("store-table").tBodies[0].prepend(tr);
    store.ids.add(key);
    show($("store-empty"), false);
  }

  // ---------------------------------------------------------------- store: report and charts

  function renderReport(report) {
    const total = Number(report.verdicts);
    $("report-summary").textContent = Number.isFinite(total) ? total + " verdicts" : "";
    drawSeverityChart(report.by_severity || {});
    drawTimeline(Array.isArray(report.timeline) ? report.timeline : []);
    renderTopSources(Array.isArray(report.top_sources) ? report.top_sources : []);
    renderCategories(Array.isArray(report.by_category) ? report.by_category : []);
  }

  function count(value) {
    const n = Number(value);
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  /** One horizontal bar per severity, its count written after the bar. */
  function drawSeverityChart(bySeverity) {
    const chart = $("chart-severity");
    chart.replaceChildren();
    const order = SEVERITIES.slice().reverse(); // CRITICAL first
    const width = 320;
    const rowHeight = 26;
    const labelWidth = 74;
    const barMax = width - labelWidth - 50;
    const height = rowHeight * order.length + 4;
    chart.setAttribute("viewBox", "0 0 " + width + " " + height);
    const values = order.map((level) => count(bySeverity[level]));
    const max = Math.max(1, ...values);
    order.forEach((level, i) => {
      const y = 2 + i * rowHeight;
      const mid = y + rowHeight / 2;
      const barWidth = values[i] ? Math.max(2, (values[i] / max) * barMax) : 0;
      const group = svg("g", { class: "sev-row", "data-severity": level });
      group.append(
        svg("title", {}, level + ": " + values[i]),
        svg("text", { x: 0, y: mid, class: "chart-label", "dominant-baseline": "middle" }, level),
        svg("rect", {
          x: labelWidth, y: y + 4, width: barWidth.toFixed(1), height: rowHeight - 8,
          rx: 2, class: "bar sev-fill-" + level,
        }),
        svg("text", {
          x: (labelWidth + barWidth + 6).toFixed(1), y: mid, class: "chart-count",
          "dominant-baseline": "middle",
        }, String(values[i])),
      );
      chart.appendChild(group);
    });
  }

  /** One bar per day: all verdicts (light) with the findings (dark) over it. */
  function drawTimeline(timeline) {
    const chart = $("chart-timeline");
    chart.replaceChildren();
    const width = 320;
    const height = 140;
    const left = 30;
    const right = 4;
    const top = 8;
    const bottom = 20;
    chart.setAttribute("viewBox", "0 0 " + width + " " + height);
    const days = timeline
      .filter((d) => d && typeof d === "object")
      .slice()
      .sort((a, b) => String(a.day).localeCompare(String(b.day)));
    if (!days.length) {
      chart.appendChild(svg("text", {
        x: width / 2, y: height / 2, class: "chart-empty", "text-anchor": "middle",
      }, "no verdicts in this range"));
      return;
    }
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const baseline = top + plotHeight;
    const max = Math.max(1, ...days.map((d) => Math.max(count(d.verdicts), count(d.findings))));
    const slot = plotWidth / days.length;
    const barWidth = slot >= 3 ? slot * 0.8 : slot;
    const barHeight = (n) => (count(n) / max) * plotHeight;

    days.forEach((d, i) => {
      const x = left + i * slot + (slot - barWidth) / 2;
      const totalHeight = barHeight(d.verdicts);
      const findingsHeight = barHeight(d.findings);
      const group = svg("g", { class: "day", "data-day": String(d.day) });
      group.append(
        svg("title", {}, String(d.day) + ": " + count(d.verdicts) + " verdicts, " +
          count(d.findings) + " findings"),
        svg("rect", {
          x: x.toFixed(2), y: (baseline - totalHeight).toFixed(2),
          width: barWidth.toFixed(2), height: totalHeight.toFixed(2), class: "bar-total",
        }),
        svg("rect", {
          x: x.toFixed(2), y: (baseline - findingsHeight).toFixed(2),
          width: barWidth.toFixed(2), height: findingsHeight.toFixed(2), class: "bar-findings",
        }),
      );
      chart.appendChild(group);
    });

    chart.append(
      svg("line", { x1: left, y1: baseline, x2: width - right, y2: baseline, class: "axis" }),
      svg("text", { x: left - 4, y: top + 4, class: "chart-axis", "text-anchor": "end" }, String(max)),
      svg("text", { x: left - 4, y: baseline, class: "chart-axis", "text-anchor": "end" }, "0"),
    );
    const labelY = height - 5;
    const first = String(days[0].day);
    const last = String(days[days.length - 1].day);
    if (days.length === 1) {
      chart.appendChild(svg("text", {
        x: left + plotWidth / 2, y: labelY, class: "chart-axis", "text-anchor": "middle",
      }, first));
    } else {
      chart.append(
        svg("text", { x: left, y: labelY, class: "chart-axis", "text-anchor": "start" }, first),
        svg("text", { x: width - right, y: labelY, class: "chart-axis", "text-anchor": "end" }, last),
      );
    }
  }

  function renderTopSources(sources) {
    const list = $("top-sources");
    list.replaceChildren();
    for (const s of sources) {
      if (!s || typeof s !== "object") continue;
      const li = h("li");
      li.append(
        sevBadge(s.worst),
        h("span", "src-name", display(s.source)),
        h("span", "muted", count(s.findings) + " findings"),
      );
      list.appendChild(li);
    }
  }

  function renderCategories(categories) {
    const list = $("categories");
    list.replaceChildren();
    for (const c of categories) {
      if (!c || typeof c !== "object") continue;
      const li = h("li");
      li.append(h("span", "src-name", display(c.category)), h("span", "muted", String(count(c.verdicts))));
      list.appendChild(li);
    }
  }

  // ------------------------------------------------------------------ wiring

  function init() {
    for (const tab of TABS) $("tab-" + tab).addEventListener("click", () => showTab(tab));

    $("login").addEventListener("submit", submitLogin);

    $("analyze").addEventListener("click", runAnalyze);
    $("log-input").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        runAnalyze();
      }
    });
    $("history-csv").addEventListener("click", () => downloadText(historyCsv(), "opensoc-history.csv"));

    $("batch-start").addEventListener("click", startBatch);
    $("batch-cancel").addEventListener("click", cancelBatch);

    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      store.started = true;
      loadStore();
    });
    $("filters").addEventListener("input", updateStoreCsvLink);
    $("filters").addEventListener("change", updateStoreCsvLink);
    $("store-table").addEventListener("click", onStoreRowActivate);
    $("store-table").addEventListener("keydown", onStoreRowActivate);
    $("detail-close").addEventListener("click", () => show($("detail"), false));

    updateStoreCsvLink();
    showTab("single");
    loadStatus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
