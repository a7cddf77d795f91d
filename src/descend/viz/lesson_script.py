"""The lesson page's script: the lesson's step in JavaScript, and the page's
markers moved to the current θ (see :mod:`descend.viz.lesson_page`).

``lessonStep`` is :func:`descend.step` written again, formula for formula:
z = wᵀx + b, a = σ(z) (the stable branch for z < 0), L from the logit as
max(z, 0)·(1 − y) + max(−z, 0)·y + log1p(e^−|z|), da = −y/a + (1 − y)/(1 − a),
dz = a − y, dz_chain = da·a(1 − a), dw = x·dz, db = dz, w − α·dw, b − α·db.
A test holds it to the library's numbers (1e-12) in a real browser.
"""

SCRIPT = r"""
(function () {
"use strict";
const D = JSON.parse(document.getElementById("lesson-data").textContent);
const n = D.X[0].length, NS = "http://www.w3.org/2000/svg";
let k = 0, row = D.row, theta = D.iterates[0].slice(), steps = 0;

function sigmoid(z) {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

function lessonStep(x, y, w, b, alpha) {
  let z = 0;
  for (let i = 0; i < x.length; i++) z += w[i] * x[i];
  z += b;
  const a = sigmoid(z);
  const loss = (1 - y) * Math.max(z, 0) + y * Math.max(-z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
  const da = -y / a + (1 - y) / (1 - a);
  const dz = a - y, dz_chain = da * a * (1 - a);
  const dw = x.map(v => v * dz);
  return {z, a, loss, da, dz, dz_chain, dw, db: dz,
          w_new: w.map((v, i) => v - alpha * dw[i]), b_new: b - alpha * dz};
}
window.lessonStep = lessonStep;

function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const m = Math.abs(v);
  if (m >= 1e-4 && m < 1e7) return String(Number(v.toPrecision(7)));
  return v.toExponential(5);
}

function set(field, v) {
  for (const e of document.querySelectorAll('[data-field="' + field + '"]')) {
    e.textContent = fmt(v);
    e.dataset.value = String(v);
  }
}

function marker(figure, id, color) {
  const svg = document.querySelector("#" + figure + " svg");
  if (!svg) return null;
  let m = svg.querySelector("#" + id);
  if (!m) {
    m = document.createElementNS(NS, id.endsWith("line") ? "line" : "circle");
    m.setAttribute("id", id);
    if (!id.endsWith("line")) { m.setAttribute("r", "5"); m.setAttribute("fill", color); }
    m.setAttribute("stroke", id.endsWith("line") ? color : "black");
    m.setAttribute("stroke-width", id.endsWith("line") ? "2.5" : "1");
    svg.appendChild(m);
  }
  return m;
}

function place(m, map, x, y) {
  const t = map.ylog ? Math.log10(y) : y;
  m.setAttribute("cx", map.ox + map.sx * x);
  m.setAttribute("cy", map.oy + map.sy * t);
}

function boundaryEnds(B, w, b) {
  // w1 x1' + w2 x2' + b = 0 with x' = (x - mean)/scale, in the file's units, clipped to the axes.
  const u = [w[0] / B.scale[0], w[1] / B.scale[1]];
  const c = b - u[0] * B.mean[0] - u[1] * B.mean[1];
  const [x0, x1] = B.xlim, [y0, y1] = B.ylim, pts = [];
  if (Math.abs(u[1]) > 1e-300) for (const x of [x0, x1]) {
    const y = -(u[0] * x + c) / u[1];
    if (y >= y0 && y <= y1) pts.push([x, y]);
  }
  if (Math.abs(u[0]) > 1e-300) for (const y of [y0, y1]) {
    const x = -(u[1] * y + c) / u[0];
    if (x >= x0 && x <= x1) pts.push([x, y]);
  }
  return pts.length >= 2 ? [pts[0], pts[pts.length - 1]] : null;
}

function drawMarkers(w, b) {
  place(marker("loss-plot", "loss-marker", "#d62728"), D.loss_plot, k, D.losses[k]);
  const P = D.descent_plot, d = theta.map((v, i) => v - P.centre[i]);
  const dot = q => q.reduce((s, v, i) => s + v * d[i], 0);
  place(marker("descent-plot", "descent-marker", "#1f77b4"), P, dot(P.basis[0]), dot(P.basis[1]));
  if (!D.boundary) return;
  const line = marker("boundary-plot", "boundary-line", "#d62728"), ends = boundaryEnds(D.boundary, w, b);
  line.style.display = ends ? "" : "none";
  if (!ends) return;
  const B = D.boundary;
  line.setAttribute("x1", B.ox + B.sx * ends[0][0]); line.setAttribute("y1", B.oy + B.sy * ends[0][1]);
  line.setAttribute("x2", B.ox + B.sx * ends[1][0]); line.setAttribute("y2", B.oy + B.sy * ends[1][1]);
}

function show() {
  const w = theta.slice(0, n), b = theta[n], x = D.X[row], y = D.y[row];
  const s = lessonStep(x, y, w, b, D.alpha);
  set("k", k); set("J", D.losses[k]); set("row", row); set("y", y); set("b", b);
  for (let i = 0; i < n; i++) {
    set("x" + i, x[i]); set("w" + i, w[i]); set("dw" + i, s.dw[i]); set("w_new" + i, s.w_new[i]);
  }
  for (const f of ["z", "a", "loss", "da", "dz", "dz_chain", "db", "b_new"]) set(f, s[f]);
  document.getElementById("k-out").textContent = String(k);
  document.getElementById("status").textContent = steps === 0
    ? "θ = θ" + k + ", the run's iterate " + k
    : "θ = θ" + k + " then " + steps + " lesson step" + (steps === 1 ? "" : "s") + " on row " + row;
  drawMarkers(w, b);
}

document.getElementById("k").addEventListener("input", e => {
  k = Number(e.target.value); theta = D.iterates[k].slice(); steps = 0; show();
});
document.getElementById("row").addEventListener("input", e => {
  const r = Number(e.target.value);
  if (Number.isInteger(r) && r >= 0 && r < D.y.length) { row = r; show(); }
});
document.getElementById("step").addEventListener("click", () => {
  const s = lessonStep(D.X[row], D.y[row], theta.slice(0, n), theta[n], D.alpha);
  theta = s.w_new.concat([s.b_new]); steps += 1; show();
});
document.getElementById("reset").addEventListener("click", () => {
  theta = D.iterates[k].slice(); steps = 0; show();
});
show();
})();
"""
