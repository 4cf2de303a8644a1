// The interactive HTML report's stylesheet and script, inlined into every report (no network, no CDN).
// Raw string literals: the JavaScript's backslashes reach the page unchanged.
// Rules the script keeps: untrusted data only ever goes to `textContent` or a canvas `fillText`, never to
// `innerHTML`; links are only the relative `href`s the renderer vetted.
enum HTMLAssets {
    static let css = #"""
:root{--fg:#1d1d1f;--muted:#6e6e73;--line:#e3e3e8;--bar:#e8743b;--match:#fff2a8;--sel:#ffd54f;--panel:#fafafa}
*{box-sizing:border-box}
body{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;margin:0;padding:1em 1.5em 3em;color:var(--fg);background:#fff}
h1{font-size:15px;margin:0 0 .3em}h2{font-size:13px;margin:1.2em 0 .4em}
.muted{color:var(--muted);font-weight:normal}.nav{margin:0 0 .4em}a{color:#0a58ca}
.meta{color:#444;margin:0 0 .6em;white-space:pre-wrap;font:inherit}
section{margin-bottom:.6em}
.toolbar{position:sticky;top:0;z-index:2;background:#fff;padding:.5em 0;border-bottom:1px solid var(--line);display:flex;gap:.8em;align-items:center;flex-wrap:wrap}
#search{font:inherit;width:28em;max-width:100%;padding:.25em .5em;border:1px solid #bbb;border-radius:4px}
button{font:inherit;padding:.15em .6em;border:1px solid #bbb;border-radius:4px;background:#f5f5f7;cursor:pointer}
#timeline-wrap{max-height:40vh;overflow:auto;border:1px solid var(--line);border-radius:4px;background:var(--panel)}
#timeline-wrap.empty{display:none}
#flame-wrap{max-height:45vh;overflow:auto;border:1px solid var(--line);border-radius:4px}
canvas{display:block}
#flame-crumbs{min-height:1.45em}
.tree-head{display:flex;white-space:pre;color:var(--muted);padding:0 0 .2em;border-bottom:1px solid var(--line)}
#tree{position:relative;height:60vh;overflow:auto;border:1px solid var(--line);border-radius:4px;outline:none}
#tree-spacer{position:relative}
.row{position:absolute;left:0;right:0;height:20px;line-height:20px;white-space:pre;cursor:pointer;display:flex;min-width:max-content}
.row:hover{background:#f2f2f7}
.row.match{background:var(--match)}.row.current{background:var(--sel)}
.t{display:inline-block;width:6.5em;text-align:right;flex:none}.p{display:inline-block;width:4.5em;text-align:right;color:var(--muted);flex:none}
.bar-h{display:inline-block;width:124px;flex:none}
.bar{display:inline-block;width:100px;height:8px;margin:6px 12px;background:#f0e0d6;position:relative;flex:none}
.bar i{position:absolute;left:0;top:0;bottom:0;background:var(--bar)}
.ind{display:inline-block;flex:none}.tg{display:inline-block;width:1.3em;color:#888;flex:none}
.row .name{flex:none}.row .bin,.row .loc{color:#888;margin-left:1.2em;flex:none}
.row.lib .name{color:#5b6b8c}.row.hid .name{color:#999;font-style:italic}.row.self .name{color:#777}
.row .name mark{background:#ffb300;color:inherit}
table.grid{border-collapse:collapse}table.grid td,table.grid th{padding:.1em .8em .1em 0;text-align:left;white-space:nowrap}
table.grid th{color:var(--muted);font-weight:normal;border-bottom:1px solid var(--line)}
.num{text-align:right!important}#functions,#routes{overflow-x:auto}#function-table td.fn{cursor:pointer;max-width:75vw;overflow:hidden;text-overflow:ellipsis}#function-table tr:hover td{background:#f2f2f7}
#tip{position:fixed;z-index:10;pointer-events:none;background:#1d1d1f;color:#fff;padding:.35em .6em;border-radius:4px;white-space:pre;max-width:80vw;overflow:hidden;font-size:12px}
"""#

    static let script = #"""
(function () {
'use strict';
var D = JSON.parse(document.getElementById('profd-data').textContent);
var S = D.strings, STRIDE = D.stride, TOTAL = D.samples, PERIOD = D.periodNs;
var KIND = 0, FN = 1, BIN = 2, LOC = 3, TOT = 4, SELF = 5, SIZE = 6;
var KIND_APP = 0, KIND_LIB = 1, KIND_HIDDEN = 2, KIND_ROOT = 3;
var ROW_H = 20, FLAME_H = 18;
var api = window.profd = { data: D };

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
function secs(samples) { return (samples * PERIOD / 1e9).toFixed(3) + 's'; }
function share(samples) { return (TOTAL > 0 ? samples * 100 / TOTAL : 0).toFixed(1) + '%'; }
function ms(ns) { return (ns / 1e6).toFixed(2) + 'ms'; }
var tip = document.getElementById('tip');
function showTip(text, x, y) {
  tip.textContent = text;
  tip.hidden = false;
  var w = tip.offsetWidth, h = tip.offsetHeight;
  tip.style.left = Math.max(4, Math.min(x + 14, window.innerWidth - w - 4)) + 'px';
  tip.style.top = (y + 18 + h > window.innerHeight ? y - h - 8 : y + 18) + 'px';
}
function hideTip() { tip.hidden = true; }
window.addEventListener('scroll', hideTip, {passive: true});

// ---------------------------------------------------------------- tree model
function Tree(a) { this.a = a; this.n = a.length / STRIDE; this.parentOf = null; }
Tree.prototype.kind = function (i) { return this.a[i * STRIDE + KIND]; };
Tree.prototype.fn = function (i) { return this.a[i * STRIDE + FN]; };
Tree.prototype.name = function (i) { return S[this.a[i * STRIDE + FN]]; };
Tree.prototype.bin = function (i) { return S[this.a[i * STRIDE + BIN]]; };
Tree.prototype.loc = function (i) { return S[this.a[i * STRIDE + LOC]]; };
Tree.prototype.tot = function (i) { return this.a[i * STRIDE + TOT]; };
Tree.prototype.self = function (i) { return this.a[i * STRIDE + SELF]; };
Tree.prototype.size = function (i) { return this.a[i * STRIDE + SIZE]; };
Tree.prototype.children = function (i) {
  var out = [], a = this.a, j = i + 1, end = i + a[i * STRIDE + SIZE];
  while (j < end) { out.push(j); j += a[j * STRIDE + SIZE]; }
  return out;
};
Tree.prototype.hasSelfRow = function (i) {
  var k = this.kind(i);
  return (k === KIND_APP || k === KIND_LIB) && this.size(i) > 1 && this.self(i) > 0;
};
Tree.prototype.parents = function () {
  if (this.parentOf) return this.parentOf;
  var n = this.n, a = this.a, p = new Int32Array(n), stack = [0], ends = [n];
  p[0] = -1;
  for (var i = 1; i < n; i++) {
    while (i >= ends[ends.length - 1]) { stack.pop(); ends.pop(); }
    p[i] = stack[stack.length - 1];
    stack.push(i); ends.push(i + a[i * STRIDE + SIZE]);
  }
  return (this.parentOf = p);
};
Tree.prototype.depthOf = function (i) {
  var p = this.parents(), d = 0;
  while (p[i] >= 0) { i = p[i]; d++; }
  return d;
};
Tree.prototype.label = function (i) {
  var k = this.kind(i), name = this.name(i);
  if (k === KIND_HIDDEN) return name + '  ' + this.bin(i);
  return name;
};

var trees = { folded: new Tree(D.folded), full: new Tree(D.full) };
var state = { tree: trees.folded, expanded: null, rows: [], depths: [], matches: null, matchList: [], current: -1, zoom: 0 };
api.state = state;

// ---------------------------------------------------------------- timeline
// items: [{route, beginNs, wallNs, status, href?, startedAt?, id?}], beginNs relative to the first request.
function Timeline(canvas, wrap, items) {
  this.canvas = canvas; this.wrap = wrap; this.items = items || []; this.rects = [];
  var lanes = [], laneOf = {};
  for (var i = 0; i < this.items.length; i++) {
    var r = this.items[i].route;
    if (!Object.prototype.hasOwnProperty.call(laneOf, r)) { laneOf[r] = lanes.length; lanes.push(r); }
  }
  this.lanes = lanes; this.laneOf = laneOf;
  var self = this;
  canvas.addEventListener('mousemove', function (e) {
    var hit = self.hit(e);
    if (hit < 0) { canvas.style.cursor = ''; hideTip(); return; }
    var it = self.items[hit];
    canvas.style.cursor = it.href ? 'pointer' : '';
    showTip(it.route + '\nstatus ' + it.status + ' · wall ' + ms(it.wallNs) +
      (it.startedAt ? '\nbegan ' + it.startedAt : '') + (it.href ? '\nclick to open its report' : ''), e.clientX, e.clientY);
  });
  canvas.addEventListener('mouseleave', hideTip);
  canvas.addEventListener('click', function (e) {
    var hit = self.hit(e);
    hideTip();
    if (hit >= 0) self.open(hit);
  });
}
Timeline.LANE = 18; Timeline.AXIS = 20;
Timeline.prototype.open = function (i) {
  var it = this.items[i];
  if (it && typeof it.href === 'string' && /^[A-Za-z0-9_%][A-Za-z0-9._%\/-]*$/.test(it.href)) window.location.href = it.href;
};
Timeline.prototype.draw = function () {
  var items = this.items, c = this.canvas;
  if (!items.length) { this.wrap.classList.add('empty'); return; }
  var dpr = window.devicePixelRatio || 1, W = Math.max(200, this.wrap.clientWidth);
  var H = Timeline.AXIS + this.lanes.length * Timeline.LANE + 4;
  c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
  c.style.width = W + 'px'; c.style.height = H + 'px';
  var g = c.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.font = '11px ui-monospace, Menlo, Consolas, monospace';
  var labelW = 0;
  for (var l = 0; l < this.lanes.length; l++) labelW = Math.max(labelW, g.measureText(this.lanes[l]).width);
  labelW = Math.min(Math.ceil(labelW) + 12, Math.floor(W * 0.3));
  var end = 0;
  for (var i = 0; i < items.length; i++) end = Math.max(end, items[i].beginNs + items[i].wallNs);
  end = Math.max(end, 1);
  var x0 = labelW, span = W - labelW - 8, scale = span / end;
  this.x0 = x0; this.scale = scale;
  g.fillStyle = '#fafafa'; g.fillRect(0, 0, W, H);
  // axis
  var step = niceStep(end / Math.max(2, Math.floor(span / 90)));
  g.fillStyle = '#6e6e73'; g.strokeStyle = '#e3e3e8'; g.textBaseline = 'middle';
  for (var t = 0; t <= end; t += step) {
    var x = Math.round(x0 + t * scale) + 0.5;
    g.beginPath(); g.moveTo(x, Timeline.AXIS - 4); g.lineTo(x, H); g.stroke();
    g.fillText(fmtTime(t, step), x + 2, 8);
  }
  for (l = 0; l < this.lanes.length; l++) {
    g.fillStyle = '#1d1d1f';
    g.fillText(clip(g, this.lanes[l], labelW - 8), 4, Timeline.AXIS + l * Timeline.LANE + Timeline.LANE / 2);
  }
  this.rects = new Array(items.length);
  for (i = 0; i < items.length; i++) {
    var it = items[i], lane = this.laneOf[it.route];
    var bx = x0 + it.beginNs * scale, bw = Math.max(2, it.wallNs * scale);
    var by = Timeline.AXIS + lane * Timeline.LANE + 3;
    g.fillStyle = statusColor(it.status);
    g.fillRect(bx, by, bw, Timeline.LANE - 6);
    this.rects[i] = { x: bx, y: by, w: bw, h: Timeline.LANE - 6 };
  }
};
Timeline.prototype.hit = function (e) {
  var r = this.canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top, best = -1, bestD = 1e9;
  for (var i = 0; i < this.rects.length; i++) {
    var b = this.rects[i];
    if (!b || y < b.y - 2 || y > b.y + b.h + 2) continue;
    var d = x < b.x ? b.x - x : (x > b.x + b.w ? x - b.x - b.w : 0);
    if (d < bestD) { bestD = d; best = i; }
  }
  return bestD <= 3 ? best : -1;
};
function statusColor(s) {
  if (s >= 500) return '#d93025';
  if (s >= 400) return '#f29900';
  if (s >= 200 && s < 400) return '#1a73e8';
  return '#9aa0a6';
}
function niceStep(raw) {
  var p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  var m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}
function fmtTime(ns, step) {
  if (step >= 1e9) return (ns / 1e9).toFixed(step >= 1e10 ? 0 : 1) + 's';
  if (step >= 1e6) return (ns / 1e6).toFixed(step >= 1e7 ? 0 : 1) + 'ms';
  if (step >= 1e3) return (ns / 1e3).toFixed(0) + 'µs';
  return ns + 'ns';
}
function clip(g, text, width) {
  if (g.measureText(text).width <= width) return text;
  var lo = 0, hi = text.length;
  while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (g.measureText(text.slice(0, mid) + '…').width <= width) lo = mid; else hi = mid - 1; }
  return lo > 0 ? text.slice(0, lo) + '…' : '';
}
api.Timeline = Timeline;

// ---------------------------------------------------------------- call tree (virtual list)
var treeBox = document.getElementById('tree');
var spacer = document.getElementById('tree-spacer');
var pool = [];

function expandHot() {
  var t = state.tree, ex = new Uint8Array(t.n), budget = 1500, queue = [0], rows = 1;
  ex[0] = 1;
  var threshold = t.tot(0) * 0.05;
  while (queue.length && rows < budget) {
    var i = queue.shift(), kids = t.children(i);
    for (var k = 0; k < kids.length; k++) {
      var c = kids[k];
      rows++;
      if (t.size(c) > 1 && t.tot(c) >= threshold && rows < budget) { ex[c] = 1; queue.push(c); }
    }
  }
  state.expanded = ex;
}

function rebuildRows() {
  var t = state.tree, ex = state.expanded, rows = [], depths = [], stack = [0, 0];
  while (stack.length) {
    var d = stack.pop(), i = stack.pop();
    rows.push(i); depths.push(d);
    if (i < 0) continue;
    if (ex[i]) {
      var kids = t.children(i);
      if (t.hasSelfRow(i)) stack.push(-(i + 1), d + 1);
      for (var k = kids.length - 1; k >= 0; k--) stack.push(kids[k], d + 1);
    }
  }
  state.rows = rows; state.depths = depths;
  spacer.style.height = rows.length * ROW_H + 'px';
  // The panel grows with its rows up to 60% of the window, then scrolls.
  treeBox.style.height = Math.max(6 * ROW_H, Math.min(rows.length * ROW_H + 20, Math.round(window.innerHeight * 0.6))) + 'px';
  renderRows();
}

function makeRow() {
  var r = el('div', 'row');
  r.t = el('span', 't'); r.p = el('span', 'p'); r.s = el('span', 't');
  r.bar = el('span', 'bar'); r.fill = el('i'); r.bar.appendChild(r.fill);
  r.ind = el('span', 'ind'); r.tg = el('span', 'tg'); r.nm = el('span', 'name');
  r.bn = el('span', 'bin'); r.lc = el('span', 'loc');
  [r.t, r.p, r.s, r.bar, r.ind, r.tg, r.nm, r.bn, r.lc].forEach(function (x) { r.appendChild(x); });
  r.addEventListener('click', function () { if (r.node >= 0) toggle(r.node); });
  spacer.appendChild(r);
  return r;
}

function setName(r, text) {
  // Highlights the search term inside the name, with text nodes only.
  var q = state.query;
  r.nm.textContent = '';
  if (q && r.match) {
    var at = text.toLowerCase().indexOf(q);
    if (at >= 0) {
      r.nm.appendChild(document.createTextNode(text.slice(0, at)));
      r.nm.appendChild(el('mark', null, text.slice(at, at + q.length)));
      r.nm.appendChild(document.createTextNode(text.slice(at + q.length)));
      return;
    }
  }
  r.nm.textContent = text;
}

function renderRows() {
  var t = state.tree, rows = state.rows, top = treeBox.scrollTop, h = treeBox.clientHeight || 400;
  var first = Math.max(0, Math.floor(top / ROW_H) - 5), last = Math.min(rows.length, Math.ceil((top + h) / ROW_H) + 5);
  var need = last - first;
  while (pool.length < need) pool.push(makeRow());
  var curNode = state.current >= 0 ? state.matchList[state.current] : -2;
  for (var k = 0; k < pool.length; k++) {
    var r = pool[k];
    if (k >= need) { r.style.display = 'none'; r.node = undefined; continue; }
    var idx = first + k, node = rows[idx], d = state.depths[idx];
    r.style.display = '';
    r.style.top = idx * ROW_H + 'px';
    var selfRow = node < 0, i = selfRow ? -node - 1 : node;
    var samples = selfRow ? t.self(i) : t.tot(i);
    var kind = selfRow ? -1 : t.kind(i);
    r.node = selfRow ? -1 : i;
    r.dataset.node = selfRow ? '' : String(i);
    r.match = !selfRow && state.matches !== null && state.matches[i] === 1;
    var cls = 'row';
    if (selfRow) cls += ' self'; else if (kind === KIND_LIB) cls += ' lib'; else if (kind === KIND_HIDDEN) cls += ' hid';
    if (r.match) cls += ' match';
    if (!selfRow && i === curNode) cls += ' current';
    r.className = cls;
    r.t.textContent = secs(samples);
    r.p.textContent = share(samples);
    r.s.textContent = selfRow || kind === KIND_ROOT ? '' : secs(t.self(i));
    r.fill.style.width = (TOTAL > 0 ? Math.max(samples > 0 ? 1 : 0, Math.round(100 * samples / TOTAL)) : 0) + 'px';
    r.ind.style.width = (d * 1.3) + 'em';
    r.tg.textContent = selfRow || t.size(i) === 1 ? '' : (state.expanded[i] ? '▾' : '▸');
    setName(r, selfRow ? '[self]' : (kind === KIND_HIDDEN ? t.name(i) : t.name(i)));
    r.bn.textContent = selfRow ? '' : t.bin(i);
    r.lc.textContent = selfRow ? '' : t.loc(i);
  }
}
if (treeBox) treeBox.addEventListener('scroll', function () { window.requestAnimationFrame(renderRows); });

function toggle(i) {
  if (state.tree.size(i) === 1) return;
  state.expanded[i] = state.expanded[i] ? 0 : 1;
  rebuildRows();
}

function reveal(i, select) {
  var t = state.tree, p = t.parents(), j = p[i];
  while (j >= 0) { state.expanded[j] = 1; j = p[j]; }
  rebuildRows();
  scrollToNode(i);
}
function scrollToNode(i) {
  var row = state.rows.indexOf(i);
  if (row < 0) return;
  var top = row * ROW_H, h = treeBox.clientHeight;
  if (top < treeBox.scrollTop || top + ROW_H > treeBox.scrollTop + h) treeBox.scrollTop = Math.max(0, top - h / 3);
  renderRows();
}
api.reveal = reveal;
api.toggle = toggle;

// ---------------------------------------------------------------- flame graph (icicle, canvas)
var flame = document.getElementById('flame'), flameWrap = document.getElementById('flame-wrap');
var crumbs = document.getElementById('flame-crumbs');
var flameRects = [];   // by depth: arrays of [x, w, node]
var charW = 7;

function hashHue(s) {
  var h = 0;
  for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(h);
}
function frameColor(t, i, dim) {
  var k = t.kind(i);
  if (state.matches !== null) {
    if (state.matches[i] === 1) return '#e040fb';
    dim = true;
  }
  if (k === KIND_ROOT) return dim ? '#d6d6d6' : '#8e8e93';
  if (k === KIND_HIDDEN) return dim ? '#eeeeee' : '#c7c7cc';
  var h = hashHue(t.name(i));
  if (k === KIND_LIB) return 'hsl(' + (200 + h % 40) + ',' + (dim ? 12 : 35) + '%,' + (dim ? 88 : 72) + '%)';
  return 'hsl(' + (12 + h % 38) + ',' + (dim ? 20 : 78) + '%,' + (dim ? 88 : 62 + h % 12) + '%)';
}

function drawFlame() {
  if (!flame) return;
  var t = state.tree, z = state.zoom, dpr = window.devicePixelRatio || 1;
  var W = Math.max(200, flameWrap.clientWidth - 2);
  var p = t.parents(), chain = [];
  for (var j = z; j >= 0; j = p[j]) chain.unshift(j);
  var rects = [], maxDepth = 0, MAXROWS = 900;
  for (var d = 0; d < chain.length; d++) rects.push([[0, W, chain[d]]]);
  var scale = W / Math.max(1, t.tot(z));
  var stack = [z, 0, chain.length - 1];
  maxDepth = chain.length - 1;
  while (stack.length) {
    var depth = stack.pop(), x = stack.pop(), i = stack.pop();
    if (depth + 1 >= MAXROWS) continue;
    var kids = t.children(i);
    for (var k = 0; k < kids.length; k++) {
      var c = kids[k], w = t.tot(c) * scale;
      if (w < 0.4) break;    // heaviest first: the rest are narrower still
      if (!rects[depth + 1]) rects[depth + 1] = [];
      rects[depth + 1].push([x, w, c]);
      if (depth + 1 > maxDepth) maxDepth = depth + 1;
      stack.push(c, x, depth + 1);
      x += w;
    }
  }
  flameRects = rects;
  var H = (maxDepth + 1) * FLAME_H;
  flame.width = Math.round(W * dpr); flame.height = Math.round(H * dpr);
  flame.style.width = W + 'px'; flame.style.height = H + 'px';
  var g = flame.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.font = '11px ui-monospace, Menlo, Consolas, monospace';
  g.textBaseline = 'middle';
  charW = g.measureText('M').width || 7;
  g.clearRect(0, 0, W, H);
  for (d = 0; d < rects.length; d++) {
    var row = rects[d];
    if (!row) continue;
    var y = d * FLAME_H;
    for (k = 0; k < row.length; k++) {
      var r = row[k], n = r[2], dim = d < chain.length - 1;
      g.fillStyle = frameColor(t, n, dim);
      g.fillRect(r[0], y, Math.max(r[1] - (r[1] > 2 ? 1 : 0), 0.4), FLAME_H - 1);
      if (r[1] > charW * 3 + 6) {
        var max = Math.floor((r[1] - 6) / charW), label = t.label(n);
        if (label.length > max) label = label.slice(0, Math.max(1, max - 1)) + '…';
        g.fillStyle = dim ? '#777' : '#1d1d1f';
        g.fillText(label, r[0] + 3, y + FLAME_H / 2);
      }
    }
  }
  crumbs.textContent = '';
  if (z !== 0) {
    crumbs.appendChild(document.createTextNode('zoomed to ' + t.label(z) + ' · ' + secs(t.tot(z)) + ' '));
    var b = el('button', null, 'reset zoom');
    b.type = 'button';
    b.addEventListener('click', function () { state.zoom = 0; drawFlame(); });
    crumbs.appendChild(b);
  }
}
function flameHit(e) {
  var r = flame.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
  var row = flameRects[Math.floor(y / FLAME_H)];
  if (!row) return -1;
  for (var k = 0; k < row.length; k++) if (x >= row[k][0] && x < row[k][0] + Math.max(row[k][1], 1)) return row[k][2];
  return -1;
}
if (flame) {
  flame.addEventListener('mousemove', function (e) {
    var n = flameHit(e), t = state.tree;
    if (n < 0) { hideTip(); flame.style.cursor = ''; return; }
    flame.style.cursor = 'pointer';
    var text = t.label(n) + (t.bin(n) && t.kind(n) !== KIND_HIDDEN ? '  ' + t.bin(n) : '') + '\n' +
      secs(t.tot(n)) + ' ' + share(t.tot(n)) + ' · self ' + secs(t.self(n));
    showTip(text, e.clientX, e.clientY);
  });
  flame.addEventListener('mouseleave', hideTip);
  flame.addEventListener('click', function (e) {
    var n = flameHit(e);
    hideTip();
    if (n < 0) return;
    state.zoom = n;
    drawFlame();
    if (n !== 0) reveal(n);
  });
}
api.zoom = function (n) { state.zoom = n; drawFlame(); };

// ---------------------------------------------------------------- search
var search = document.getElementById('search'), info = document.getElementById('search-info');
var lowered = null, searchTimer = 0;
function runSearch(q) {
  var t = state.tree;
  q = (q || '').trim().toLowerCase();
  state.query = q;
  state.current = -1;
  if (!q) {
    state.matches = null; state.matchList = [];
    if (info) info.textContent = '';
    rebuildRows(); drawFlame();
    return;
  }
  if (!lowered) lowered = S.map(function (s) { return s.toLowerCase(); });
  var hitStr = new Uint8Array(S.length);
  for (var s = 0; s < S.length; s++) if (lowered[s].indexOf(q) >= 0) hitStr[s] = 1;
  var m = new Uint8Array(t.n), list = [], sum = 0, skipEnd = 0;
  for (var i = 1; i < t.n; i++) {
    if (hitStr[t.fn(i)] && t.kind(i) !== KIND_HIDDEN) {
      m[i] = 1; list.push(i);
      if (i >= skipEnd) { sum += t.tot(i); skipEnd = i + t.size(i); }
    }
  }
  state.matches = m; state.matchList = list;
  var p = t.parents(), seen = new Uint8Array(t.n);
  for (var k = 0; k < list.length && k < 5000; k++) {
    for (var j = p[list[k]]; j >= 0 && !seen[j]; j = p[j]) { seen[j] = 1; state.expanded[j] = 1; }
  }
  if (info) info.textContent = list.length ? list.length + ' match' + (list.length === 1 ? '' : 'es') + ' · ' + secs(sum) + ' ' + share(sum) : 'no match';
  rebuildRows();
  drawFlame();
  if (list.length) { state.current = 0; scrollToNode(list[0]); }
}
function nextMatch(step) {
  if (!state.matchList.length) return;
  state.current = (state.current + step + state.matchList.length) % state.matchList.length;
  reveal(state.matchList[state.current]);
}
if (search) {
  search.addEventListener('input', function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { runSearch(search.value); }, 120);
  });
  search.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { clearTimeout(searchTimer); if (state.query !== search.value.trim().toLowerCase()) runSearch(search.value); else nextMatch(e.shiftKey ? -1 : 1); e.preventDefault(); }
    if (e.key === 'Escape') { search.value = ''; runSearch(''); }
  });
}
api.search = function (q) { if (search) search.value = q; runSearch(q); return state.matchList.length; };

var table = document.getElementById('function-table');
if (table) table.addEventListener('click', function (e) {
  var row = e.target.closest('tr'), cell = row && row.querySelector('td.fn');
  if (cell) api.search(cell.textContent);
});

// ---------------------------------------------------------------- library toggle and buttons
function useTree(full) {
  state.tree = full ? trees.full : trees.folded;
  state.zoom = 0;
  expandHot();
  clearTimeout(searchTimer);
  var q = search ? search.value : state.query;
  if (q && q.trim()) runSearch(q); else { state.query = ''; state.matches = null; state.matchList = []; rebuildRows(); drawFlame(); }
}
var libBox = document.getElementById('show-lib');
if (libBox) libBox.addEventListener('change', function () { useTree(libBox.checked); });
api.showLibraryFrames = function (on) { if (libBox) libBox.checked = !!on; useTree(!!on); };
var hot = document.getElementById('expand-hot');
if (hot) hot.addEventListener('click', function () { expandHot(); rebuildRows(); });
var collapse = document.getElementById('collapse-all');
if (collapse) collapse.addEventListener('click', function () {
  state.expanded = new Uint8Array(state.tree.n); state.expanded[0] = 1; rebuildRows(); treeBox.scrollTop = 0;
});

// ---------------------------------------------------------------- start
var timeline = new Timeline(document.getElementById('timeline'), document.getElementById('timeline-wrap'), D.timeline.requests);
api.timeline = timeline;
timeline.draw();
if (TOTAL > 0 && treeBox) {
  expandHot();
  rebuildRows();
  drawFlame();
}
var resizeTimer = 0;
window.addEventListener('resize', function () {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(function () { timeline.draw(); if (TOTAL > 0) { drawFlame(); renderRows(); } }, 100);
});
api.readyMs = performance.now();
document.documentElement.setAttribute('data-ready', '1');
})();
"""#
}
