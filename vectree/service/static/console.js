// The vectree web console: plain JS against the service's own HTTP API (no build step).
"use strict";
const $ = (id) => document.getElementById(id);
let key = localStorage.getItem("vectree-key") || "";
let current = null;      // the chosen collection's info
let lastIds = [];        // the ids of the last search's neighbours (queries of the probes sweep)

function showError(msg) { $("error").textContent = msg || ""; }

async function api(method, path, body) {
  const opts = { method, headers: { authorization: "Bearer " + key } };
  if (body !== undefined) { opts.headers["content-type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  const data = await r.json();
  if (!r.ok) throw new Error(r.status + " " + data.error.type + ": " + data.error.message);
  return data;
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

async function loadCollections() {
  showError("");
  try {
    const who = await api("GET", "/whoami");
    $("whoami").textContent = "tenant " + who.tenant + (who.admin ? " (admin)" : "") + (who.read_only ? " (read-only)" : "");
    const list = (await api("GET", "/collections")).collections;
    const sel = $("collections");
    sel.innerHTML = "";
    for (const c of list) {
      const o = document.createElement("option");
      o.value = c.name;
      o.textContent = c.name + " (" + c.rows + " rows" + (c.private ? ", private" : "") + ")";
      sel.appendChild(o);
    }
    if (list.length) await pick(list[0].name);
  } catch (e) { showError(e.message); }
}

async function pick(name) {
  current = await api("GET", "/collections/" + encodeURIComponent(name));
  const rows = [["owner", current.owner], ["private", current.private], ["rows", current.rows], ["version", current.version],
                ["dim", current.dim], ["metric", current.metric], ["bucket_size", current.bucket_size],
                ["vector_dtype", current.vector_dtype], ["apps", current.apps.join(", ") || "none"]];
  const dl = document.createElement("dl");
  for (const [k, v] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = String(v);
    dl.append(dt, dd);
  }
  $("info").replaceChildren(dl);
  $("query-text").disabled = !current.apps.includes("search_text");
  $("classify-btn").disabled = !current.apps.includes("classify");
  const versions = (await api("GET", "/collections/" + encodeURIComponent(name) + "/versions")).versions;
  const body = $("versions").querySelector("tbody");
  body.innerHTML = "";
  for (const v of versions.slice().reverse()) {
    const tr = document.createElement("tr");
    cell(tr, v.version); cell(tr, v.operation); cell(tr, v.rows); cell(tr, new Date(v.created * 1000).toLocaleString());
    body.appendChild(tr);
  }
}

function settings() {
  return { k: Number($("k").value) || 10, probes: Number($("probes").value) || 8, exact: $("exact").checked, include_metadata: true };
}

function parseId(text) {
  return current.id_type === "str" ? text : Number(text);
}

async function search() {
  showError("");
  const base = "/collections/" + encodeURIComponent(current.name);
  const text = $("query-text").value.trim(), id = $("query-id").value.trim();
  const t0 = performance.now();
  let res;
  try {
    if (id) {
      const row = await api("POST", base + "/get", { ids: [parseId(id)] });
      res = await api("POST", base + "/search", { vectors: row.vectors, ...settings() });
    } else if (text) {
      res = await api("POST", base + "/search_text", { texts: [text], ...settings() });
    } else { showError("type a text or a row id"); return; }
  } catch (e) { showError(e.message); return; }
  $("search-status").textContent = res.ids[0].filter((i) => i !== null && i !== -1).length + " neighbours in " + Math.round(performance.now() - t0) + " ms";
  const body = $("results").querySelector("tbody");
  body.innerHTML = "";
  lastIds = [];
  res.ids[0].forEach((rid, i) => {
    if (rid === null || rid === -1) return;
    lastIds.push(rid);
    const tr = document.createElement("tr");
    tr.className = "neighbour";
    cell(tr, i + 1); cell(tr, rid); cell(tr, res.labels ? String(res.labels[0][i]) : "");
    cell(tr, res.distances[0][i] === null ? "inf" : res.distances[0][i].toFixed(4));
    const meta = res.metadata && res.metadata[0][i];
    cell(tr, meta ? JSON.stringify(meta) : "", "meta");
    body.appendChild(tr);
  });
}

async function classify() {
  showError("");
  try {
    const out = await api("POST", "/collections/" + encodeURIComponent(current.name) + "/classify", { texts: [$("classify-text").value] });
    const p = out.probabilities[0];
    const order = p.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
    const div = $("classify-out");
    div.innerHTML = "";
    const head = document.createElement("p");
    head.innerHTML = "label: <b></b>";
    head.querySelector("b").textContent = String(out.labels[0]);
    head.id = "classify-label";
    div.appendChild(head);
    for (const [v, i] of order) {
      const line = document.createElement("div");
      const bar = document.createElement("span"); bar.className = "bar"; bar.style.width = Math.round(200 * v) + "px";
      line.append(bar, document.createTextNode(String(out.classes[i]) + " " + v.toFixed(3)));
      div.appendChild(line);
    }
  } catch (e) { showError(e.message); }
}

function recall(found, truth) {
  let hit = 0, total = 0;
  found.forEach((row, q) => { const t = new Set(truth[q]); total += t.size; hit += row.filter((i) => t.has(i)).length; });
  return total ? hit / total : 0;
}

async function sweep() {
  showError("");
  if (!lastIds.length) { showError("search first: the sweep uses the neighbours of the last search as queries"); return; }
  const base = "/collections/" + encodeURIComponent(current.name);
  try {
    const rows = await api("POST", base + "/get", { ids: lastIds });
    const truth = (await api("POST", base + "/search", { vectors: rows.vectors, k: 10, exact: true })).ids;
    const points = [];
    for (const probes of [1, 2, 4, 8, 16, 32, 64]) {
      const t0 = performance.now();
      const res = await api("POST", base + "/search", { vectors: rows.vectors, k: 10, probes });
      points.push({ probes, recall: recall(res.ids, truth), ms: (performance.now() - t0) / rows.vectors.length });
      $("sweep-status").textContent = "probes " + probes + "...";
    }
    $("sweep-status").textContent = rows.vectors.length + " queries";
    plot(points);
  } catch (e) { showError(e.message); }
}

function plot(points) {
  const W = 420, H = 220, L = 48, B = 34;
  const maxMs = Math.max(...points.map((p) => p.ms)) * 1.1 || 1;
  const x = (ms) => L + (W - L - 10) * ms / maxMs, y = (r) => H - B - (H - B - 10) * r;
  let svg = `<svg id="sweep-svg" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg" font-size="11">`;
  svg += `<line x1="${L}" y1="${H - B}" x2="${W - 10}" y2="${H - B}" stroke="#888"/><line x1="${L}" y1="10" x2="${L}" y2="${H - B}" stroke="#888"/>`;
  svg += `<text x="${L}" y="${H - B + 14}" text-anchor="middle">0</text><text x="${x(maxMs / 1.1)}" y="${H - B + 14}" text-anchor="middle">${(maxMs / 1.1).toFixed(1)}</text>`;
  for (const r of [0, 0.5, 1]) svg += `<text x="${L - 6}" y="${y(r) + 4}" text-anchor="end">${r}</text>`;
  svg += `<text x="${(W + L) / 2}" y="${H - 6}" text-anchor="middle">ms per query (HTTP round trip / batch)</text>`;
  svg += `<text x="12" y="${(H - B) / 2}" transform="rotate(-90 12 ${(H - B) / 2})" text-anchor="middle">recall@10</text>`;
  svg += `<polyline fill="none" stroke="#3a6ea5" stroke-width="2" points="${points.map((p) => x(p.ms) + "," + y(p.recall)).join(" ")}"/>`;
  for (const p of points) {
    svg += `<circle class="sweep-point" cx="${x(p.ms)}" cy="${y(p.recall)}" r="3.5" fill="#3a6ea5" data-probes="${p.probes}" data-recall="${p.recall.toFixed(3)}"/>`;
    svg += `<text x="${x(p.ms) + 5}" y="${y(p.recall) + 13}">${p.probes}</text>`;
  }
  $("sweep-plot").innerHTML = svg + "</svg>";
}

$("key").value = key;
$("save-key").addEventListener("click", () => { key = $("key").value.trim(); localStorage.setItem("vectree-key", key); loadCollections(); });
$("collections").addEventListener("change", (e) => pick(e.target.value).catch((err) => showError(err.message)));
$("search-btn").addEventListener("click", search);
$("query-text").addEventListener("keydown", (e) => { if (e.key === "Enter") search(); });
$("query-id").addEventListener("keydown", (e) => { if (e.key === "Enter") search(); });
$("classify-btn").addEventListener("click", classify);
$("sweep-btn").addEventListener("click", sweep);
if (key) loadCollections();
