// matcalc's page: it only sends requests to /api/ and renders the answers; KaTeX does the math.
"use strict";

const $ = (id) => document.getElementById(id);
const LAYOUTS = ["denominator", "numerator"];
const ASSUMPTIONS = ["", "symmetric", "spd", "positive", "invertible", "onehot"];
const EXAMPLE_STEPS = [
  "J = (1/N)*norm2(y - X*theta)^2",
  "  = (1/N)*(y'*y - 2*theta'*X'*y + theta'*X'*X*theta)",
  "d/dtheta J = (1/N)*(0 - 2*X'*y + d/dtheta(theta'*X'*X*theta))",
  "  = (1/N)*(-2*X'*y + (X'*X + (X'*X)')*theta)",
  "  = (1/N)*(-2*X'*y + X'*X*theta)",
  "  = (2/N)*(X'*X*theta - X'*y)",
].join("\n");

// What the user declared in the variables table (or the URL): name -> shape text / assumption.
const declared = { shapes: {}, assume: {} };
let variables = {};

// -- talking to the server -------------------------------------------------------------

async function post(endpoint, body) {
  let response;
  try {
    response = await fetch("/api/" + endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (e) {
    return { ok: false, data: { error: "the server cannot be reached: " + e.message, column: null } };
  }
  let data;
  try {
    data = await response.json();
  } catch (e) {
    data = { error: "the server answered HTTP " + response.status, column: null };
  }
  return { ok: response.ok, data };
}

function shapeSpec(text) {
  // "n,m" -> ["n", "m"]; "scalar" and "n" stay text, as the API takes them.
  const t = text.trim();
  if (!t.includes(",")) return t;
  return t.split(",").map((d) => (/^\d+$/.test(d.trim()) ? parseInt(d, 10) : d.trim()));
}

function common() {
  const shapes = {};
  for (const [k, v] of Object.entries(declared.shapes)) if (v.trim()) shapes[k] = shapeSpec(v);
  const assume = {};
  for (const [k, v] of Object.entries(declared.assume)) if (v) assume[k] = v;
  return { expr: $("expr").value, wrt: $("wrt").value, shapes, assume };
}

// -- rendering ----------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function math(latex, display) {
  const span = el("span", { class: "math" });
  span.setAttribute("data-latex", latex);
  if (window.katex) {
    window.katex.render(latex, span, { displayMode: display, throwOnError: false, strict: "ignore" });
  } else {
    span.textContent = latex;
  }
  return span;
}

function copyText(text, button) {
  const done = () => { const old = button.textContent; button.textContent = "copied"; setTimeout(() => { button.textContent = old; }, 1200); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = el("textarea", { value: text });
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  done();
}

function copyButton(label, text, what) {
  const b = el("button", { type: "button", class: "copy", textContent: label, title: "Copy the " + what });
  b.setAttribute("data-copy", what);
  b.addEventListener("click", () => copyText(text, b));
  return b;
}

function showError(box, data, source) {
  // One line from the server, and the input with the position marked when it names a column.
  box.replaceChildren(el("p", { class: "message", textContent: data.error || "request failed" }));
  const text = data.input || source;
  if (data.column && text && !text.includes("\n")) {
    const i = Math.min(data.column - 1, text.length);
    const pre = el("pre", { class: "where" }, text.slice(0, i),
      el("mark", { textContent: text.slice(i, i + 1) || " " }), text.slice(i + 1));
    pre.setAttribute("data-column", data.column);
    box.append(pre);
  }
  box.hidden = false;
}

function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}

function dimsText(dims) {
  return Object.entries(dims).map(([k, v]) => k + "=" + v).join(", ");
}

function shapeText(shape) {
  return shape.length ? shape.join("×") : "scalar";
}

function verificationReport(v) {
  const box = el("div", { class: "report" });
  box.append(el("p", { class: v.ok ? "ok" : "bad", textContent: v.ok ? "verified numerically" : "verification FAILED" }));
  const rows = [
    ["method", v.method],
    ["tolerance", String(v.tolerance)],
    ["max relative error", Number(v.max_rel_error).toExponential(2)],
    ["shapes", v.trials.map((t) => dimsText(t.dims) + " (error " + Number(t.max_rel_error).toExponential(1) + ")").join("; ")],
  ];
  if (v.explicit) rows.push(["second opinion", v.explicit]);
  box.append(el("table", {}, ...rows.map(([k, val]) => el("tr", {}, el("th", { textContent: k }), el("td", { textContent: val })))));
  return box;
}

function renderDerivative(card, layout, data) {
  const kind = data.kind.charAt(0).toUpperCase() + data.kind.slice(1);
  card.replaceChildren(
    el("h3", { textContent: kind + ", " + layout + " layout" }),
    el("p", { class: "note", textContent: "shape " + shapeText(data.shape) }),
    math(data.latex, true),
    el("p", {}, el("code", { class: "plain", textContent: data.result })),
    el("div", { class: "buttons" },
      copyButton("Copy LaTeX", data.latex, "LaTeX"),
      copyButton("Copy text", data.result, "plain text"),
      copyButton("Copy NumPy", data.numpy, "NumPy code")),
  );
  card.setAttribute("data-result", data.result);
  for (const n of data.notes) card.append(el("p", { class: "note", textContent: "note: " + n }));
  if (data.verification) card.append(verificationReport(data.verification));
  card.append(el("details", {}, el("summary", { textContent: "NumPy code" }), el("pre", { class: "code", textContent: data.numpy })));
}

// -- the variables table ----------------------------------------------------------------------

function shapeInputText(name, shape) {
  if (name in declared.shapes) return declared.shapes[name];
  if (shape.length === 0 || (shape.length === 2 && shape[0] === 1 && shape[1] === 1)) return "scalar";
  if (shape.length === 2 && shape[1] === 1) return String(shape[0]);
  return shape.join(",");
}

function renderVariables(vars) {
  variables = vars;
  const body = $("vars").querySelector("tbody");
  body.replaceChildren();
  for (const [name, info] of Object.entries(vars)) {
    const shape = el("input", { type: "text", size: 10, value: shapeInputText(name, info.shape) });
    shape.setAttribute("data-name", name);
    shape.addEventListener("change", () => { declared.shapes[name] = shape.value; });
    const assume = el("select", {});
    const current = declared.assume[name] !== undefined ? declared.assume[name] : (info.assume[0] || "");
    for (const a of ASSUMPTIONS) assume.append(el("option", { value: a, textContent: a || "none", selected: a === current }));
    assume.addEventListener("change", () => { declared.assume[name] = assume.value; });
    const row = el("tr", {}, el("td", {}, el("code", { textContent: name })), el("td", {}, shape), el("td", {}, assume));
    row.setAttribute("data-name", name);
    body.append(row);
  }
  const wrt = $("wrt");
  const chosen = wrt.value || wrt.getAttribute("data-wanted") || "";
  wrt.replaceChildren();
  const names = Object.keys(vars);
  for (const n of names) wrt.append(el("option", { value: n, textContent: n }));
  const isScalar = (n) => vars[n].shape.every((d) => d === 1);
  wrt.value = names.includes(chosen) ? chosen : (names.find((n) => !isScalar(n)) || names[0] || "");
}

// -- the shareable URL ----------------------------------------------------------------------

function writeURL() {
  const q = new URLSearchParams();
  const c = common();
  if (c.expr) q.set("expr", c.expr);
  if (c.wrt) q.set("wrt", c.wrt);
  if ($("mode").value !== "derive") q.set("mode", $("mode").value);
  for (const [k, v] of Object.entries(declared.shapes)) if (v.trim()) q.append("shape", k + "=" + v.trim());
  for (const [k, v] of Object.entries(declared.assume)) if (v) q.append("assume", k + "=" + v);
  if ($("claimed").value) q.set("claimed", $("claimed").value);
  if ($("steps").value) q.set("steps", $("steps").value);
  const url = location.pathname + (q.toString() ? "?" + q.toString() : "");
  history.replaceState(null, "", url);
  return location.origin + url;
}

function readURL() {
  const q = new URLSearchParams(location.search);
  $("expr").value = q.get("expr") || "";
  $("wrt").setAttribute("data-wanted", q.get("wrt") || "");
  if (q.get("mode") === "hessian") $("mode").value = "hessian";
  for (const item of q.getAll("shape")) { const [k, v] = item.split("="); if (k && v) declared.shapes[k.trim()] = v.trim(); }
  for (const item of q.getAll("assume")) { const [k, v] = item.split("="); if (k && v) declared.assume[k.trim()] = v.trim(); }
  $("claimed").value = q.get("claimed") || "";
  $("steps").value = q.get("steps") || "";
  return q;
}

// -- the actions ------------------------------------------------------------------------------

async function refreshVariables() {
  const c = common();
  const r = await post("variables", { expr: c.expr, shapes: c.shapes, assume: c.assume });
  if (!r.ok) {
    showError($("error"), r.data, c.expr);
    return false;
  }
  renderVariables(r.data.variables);
  return true;
}

async function derive() {
  clearError($("error"));
  if (!$("expr").value.trim()) { showError($("error"), { error: "type an expression, e.g. x'*A*x" }); return; }
  if (!(await refreshVariables())) { $("results-section").hidden = true; return; }
  writeURL();
  const c = common();
  const endpoint = $("mode").value;
  $("results-section").classList.add("busy");
  const answers = await Promise.all(LAYOUTS.map((layout) => post(endpoint, { ...c, layout })));
  $("results-section").classList.remove("busy");
  const failed = answers.find((a) => !a.ok);
  if (failed) {
    $("results-section").hidden = true;
    showError($("error"), failed.data, c.expr);
    return;
  }
  LAYOUTS.forEach((layout, i) => renderDerivative($("result-" + layout), layout, answers[i].data));
  const kind = answers[0].data.kind;
  $("results-title").textContent = kind.charAt(0).toUpperCase() + kind.slice(1) + " of f with respect to " + c.wrt;
  $("results-section").hidden = false;
}

function isPureText(chunk) {
  // "\text{...}" and nothing after it: prose the plain-text explanation already shows.
  if (!chunk.startsWith("\\text{")) return false;
  let depth = 0;
  for (let i = 5; i < chunk.length; i++) {
    const ch = chunk[i];
    if (ch === "\\") { i++; continue; }
    if (ch === "{") depth++;
    if (ch === "}" && --depth === 0) return chunk.slice(i + 1).trim() === "";
  }
  return false;
}

function explanationBlock(text, latex) {
  // The prose as paragraphs; the formulas and the derivation rendered.
  const box = el("div", { class: "explanation" });
  // the verdict, the tag and the counterexample are shown above it already
  const prose = text.split("\nDerivation:")[0].split("\n")
    .filter((s) => s.trim() && !s.startsWith("Wrong [") && !s.startsWith("Counterexample:"));
  for (const line of prose) box.append(el("p", { textContent: line }));
  for (const chunk of latex.split("\n\n")) {
    if (!isPureText(chunk)) box.append(math(chunk, true));
  }
  return box;
}

function counterexampleBlock(ce) {
  const parts = [];
  if (ce.dims) parts.push("at shapes " + dimsText(ce.dims));
  if (ce.entry) parts.push("entry " + JSON.stringify(ce.entry));
  if (ce.expected_shape && ce.claimed_shape) parts.push("expected shape " + shapeText(ce.expected_shape) + ", claimed shape " + shapeText(ce.claimed_shape));
  return el("div", { class: "counterexample" },
    el("p", {}, el("strong", { textContent: "Counterexample: " }), parts.join("; ")),
    el("details", {}, el("summary", { textContent: "the point and both values" }), el("pre", { textContent: JSON.stringify(ce, null, 1) })));
}

async function checkAnswer() {
  clearError($("check-error"));
  const box = $("verdict");
  box.hidden = true;
  if (!$("expr").value.trim() || !$("claimed").value.trim()) {
    showError($("check-error"), { error: "type the expression above and your derivative here" });
    return;
  }
  if (!(await refreshVariables())) return;
  writeURL();
  const c = common();
  const r = await post("check", { ...c, claimed: $("claimed").value, order: $("mode").value === "hessian" ? 2 : 1 });
  if (!r.ok) { showError($("check-error"), r.data, $("claimed").value); return; }
  const v = r.data;
  box.replaceChildren(
    el("p", { class: v.correct ? "ok verdict-line" : "bad verdict-line", textContent: v.correct ? "Correct" : "Wrong" },
      v.correct ? " (" + v.method + (v.layout && v.layout !== "either" ? ", " + v.layout + " layout" : "") + ")" : null),
  );
  box.setAttribute("data-correct", String(v.correct));
  if (!v.correct) {
    const tag = el("span", { id: "mistake-tag", class: "tag", textContent: v.mistake });
    tag.setAttribute("data-tag", v.mistake);
    box.append(el("p", {}, "Mistake: ", tag, " ", v.message));
    if (v.counterexample) box.append(counterexampleBlock(v.counterexample));
  }
  box.append(explanationBlock(v.explanation, v.explanation_latex));
  box.hidden = false;
}

async function checkSteps() {
  clearError($("steps-error"));
  const out = $("steps-result");
  out.hidden = true;
  const lines = $("steps").value;
  if (!lines.trim()) { showError($("steps-error"), { error: "write a derivation, one step per line" }); return; }
  writeURL();
  const body = { lines };
  if ($("wrt").value) body.wrt = $("wrt").value;
  const r = await post("steps", body);
  if (!r.ok) { showError($("steps-error"), r.data, null); return; }
  const rep = r.data;
  const summary = el("p", { id: "steps-summary", class: rep.ok ? "ok" : "bad",
    textContent: rep.ok ? "Every step follows from the one before." : "Line " + rep.first_wrong_line + " does not follow from the line before." });
  summary.setAttribute("data-first-wrong", rep.first_wrong_line === null ? "" : String(rep.first_wrong_line));
  const table = el("table", { class: "steps" }, el("tr", {}, ...["line", "step", "verdict", "why"].map((h) => el("th", { textContent: h }))));
  for (const s of rep.steps) {
    const row = el("tr", { class: "step-" + s.status },
      el("td", { textContent: String(s.line) }), el("td", {}, el("code", { textContent: s.text })),
      el("td", { textContent: { ok: "follows", wrong: "does NOT follow", start: "start", label: "label" }[s.status] || s.status }),
      el("td", { textContent: s.message + (s.mistake && s.mistake !== "wrong" ? " [" + s.mistake + "]" : "") }));
    row.setAttribute("data-line", String(s.line));
    row.setAttribute("data-status", s.status);
    table.append(row);
  }
  out.replaceChildren(summary, table);
  if (!rep.ok) out.append(el("pre", { class: "explain-text", textContent: rep.explanation }));
  out.hidden = false;
}

async function explainIt() {
  clearError($("explain-error"));
  const out = $("explanation");
  out.hidden = true;
  if (!$("expr").value.trim()) { showError($("explain-error"), { error: "type an expression above first" }); return; }
  if (!(await refreshVariables())) return;
  writeURL();
  const r = await post("explain", { ...common(), layout: "denominator" });
  if (!r.ok) { showError($("explain-error"), r.data, $("expr").value); return; }
  out.replaceChildren(math(r.data.latex, true),
    el("details", {}, el("summary", { textContent: "as plain text" }), el("pre", { textContent: r.data.text })));
  out.hidden = false;
}

function wire() {
  $("derive-form").addEventListener("submit", (e) => { e.preventDefault(); derive(); });
  $("check-form").addEventListener("submit", (e) => { e.preventDefault(); checkAnswer(); });
  $("steps-form").addEventListener("submit", (e) => { e.preventDefault(); checkSteps(); });
  $("explain").addEventListener("click", explainIt);
  $("steps-example").addEventListener("click", () => { $("steps").value = EXAMPLE_STEPS; });
  $("expr").addEventListener("change", () => { $("wrt").setAttribute("data-wanted", $("wrt").value); });
  $("share").addEventListener("click", () => {
    const url = writeURL();
    copyText(url, $("share"));
    $("share-note").textContent = url;
  });
  const q = readURL();
  if (q.get("expr")) {
    derive().then(() => {
      if (q.get("claimed")) checkAnswer();
      if (q.get("steps")) checkSteps();
    });
  } else if (q.get("steps")) {
    checkSteps();
  }
}

document.addEventListener("DOMContentLoaded", wire);
