// The Meridian dashboard. One script for every page; the route comes from
// the address: / (pools and jobs), /job/ID, /compare?ids=A,B. Each page
// polls the daemon's /api every POLL_MS and redraws in place. Everything
// the daemon sends is put into the page as text (textContent, attribute
// values), never as markup: job names are whatever their submitters chose.
'use strict';

const POLL_MS = 2000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const TOKEN_KEY = 'meridian.token';
const STATES = ['QUEUED', 'PLACED', 'RUNNING', 'RESTARTING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const COLORS = ['#2f6fd6', '#d6562f', '#238a4c', '#8e44ad', '#b87800', '#16a0a0', '#c2185b', '#5d6d7e'];

// ------------------------------------------------------------------ DOM

function fill(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}
function el(tag, attrs, ...children) { return fill(document.createElement(tag), attrs, children); }
function svg(tag, attrs, ...children) { return fill(document.createElementNS(SVG_NS, tag), attrs, children); }
function $(id) { return document.getElementById(id); }

// ------------------------------------------------------------ formatting

function fmtNum(x, digits) {
  if (x === undefined || x === null || Number.isNaN(x)) return '';
  return Number(x).toFixed(digits);
}
function fmtRate(x) {
  if (!x) return '';
  if (x >= 1e6) return (x / 1e6).toFixed(2) + 'M';
  if (x >= 1e4) return (x / 1e3).toFixed(1) + 'k';
  return Math.round(x).toString();
}
function fmtAge(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}
function fmtTime(unix) {
  if (!unix) return '';
  return new Date(unix * 1000).toLocaleString();
}
function badge(state) { return el('span', {class: 'badge', 'data-state': state, text: state}); }

// ------------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function token() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
}

// GET an /api path as JSON. 401 and 403 bring up the token form.
async function api(path) {
  const headers = {};
  const t = token();
  if (t) headers['Authorization'] = 'Bearer ' + t;
  const r = await fetch(path, {headers, cache: 'no-store'});
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (r.status === 401 || r.status === 403) {
    showTokenForm(r.status === 401
      ? (t ? 'The daemon did not accept this token.' : 'This daemon wants a token.')
      : 'This token may not read the cluster.');
    throw new ApiError(r.status, (body && body.error) || 'not authorized');
  }
  if (!r.ok) throw new ApiError(r.status, (body && body.error) || ('HTTP ' + r.status));
  $('token-form').hidden = true;
  return body;
}

function showTokenForm(reason) {
  $('token-reason').textContent = reason;
  $('token-forget').hidden = !token();
  $('token-form').hidden = false;
}

function setStatus(kind, text) {
  const s = $('status');
  s.dataset.status = kind;
  s.textContent = text;
}

// Calls refresh() now and POLL_MS after each call ends (never two at
// once, however slow the daemon answers). refresh returns false to stop.
let pokeNow = null;
function poll(refresh) {
  let timer = null;
  const tick = async () => {
    timer = null;
    let again = true;
    try {
      again = (await refresh()) !== false;
      setStatus('ok', 'updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      setStatus('error', e.message);
    }
    if (again) timer = setTimeout(tick, POLL_MS);
  };
  pokeNow = () => { if (timer !== null) { clearTimeout(timer); tick(); } };
  tick();
}

// --------------------------------------------------------------- charts

// Ticks at 1, 2 or 5 times a power of ten covering [lo, hi].
function niceTicks(lo, hi, count) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / count;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * p).find(s => s >= raw) || 10 * p;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(t);
  return {ticks, step};
}
function tickLabel(t, step) {
  if (Math.abs(t) >= 1e4) return fmtRate(t);
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return t.toFixed(Math.min(digits, 6));
}

// Exponential moving average of the y values (TensorBoard's smoothing):
// what a noisy loss curve trends to.
function smoothed(points, weight) {
  let last = null;
  return points.map(([x, y]) => {
    last = last === null ? y : last * weight + (1 - weight) * y;
    return [x, last];
  });
}

// Draws series [{name, label, points: [[x, y]], color, eval, jobId}] as
// one SVG line chart into `box`. Each series is a polyline with
// data-series, data-points (its number of points) and data-job-id.
// opts.smooth (0..1): draws the EMA of each non-eval series instead.
function lineChart(box, series, opts) {
  const W = opts.width || 640, H = opts.height || 260, L = 56, R = 14, T = 12, B = 34;
  const all = series.flatMap(s => s.points);
  const root = svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opts.title || 'chart',
                           'data-chart': opts.name || ''});
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of all) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const empty = !(x1 >= x0);
  if (empty) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  if (opts.zeroBased && y0 > 0) y0 = 0;
  const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const sy = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);

  const yt = niceTicks(y0, y1, 8), xt = niceTicks(x0, x1, 8);
  for (const t of yt.ticks) {
    root.append(svg('line', {class: 'grid', x1: L, x2: W - R, y1: sy(t), y2: sy(t)}));
    root.append(svg('text', {class: 'tick', x: L - 6, y: sy(t) + 4, 'text-anchor': 'end', text: tickLabel(t, yt.step)}));
  }
  for (const t of xt.ticks) {
    root.append(svg('text', {class: 'tick', x: sx(t), y: H - B + 16, 'text-anchor': 'middle', text: tickLabel(t, xt.step)}));
  }
  root.append(svg('line', {class: 'axis', x1: L, x2: L, y1: T, y2: H - B}));
  root.append(svg('line', {class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B}));
  root.append(svg('text', {class: 'tick', x: W - R, y: H - 4, 'text-anchor': 'end', text: opts.xLabel || 'step'}));

  for (const s of series) {
    const shown = opts.smooth && !s.eval ? smoothed(s.points, opts.smooth) : s.points;
    // At most ~1500 vertices drawn; the last point always.
    const stride = Math.max(1, Math.ceil(shown.length / 1500));
    const drawn = [];
    for (let i = 0; i < shown.length; i += stride) drawn.push(shown[i]);
    if (shown.length && drawn[drawn.length - 1] !== shown[shown.length - 1]) drawn.push(shown[shown.length - 1]);
    const pts = drawn.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
                     .map(([x, y]) => sx(x).toFixed(1) + ',' + sy(y).toFixed(1)).join(' ');
    root.append(svg('polyline', {class: 'series' + (s.eval ? ' eval' : ''), points: pts, stroke: s.color,
                                 'data-series': s.name, 'data-points': s.points.length, 'data-job-id': s.jobId}));
    if (s.eval && s.points.length <= 200) {
      for (const [x, y] of drawn) root.append(svg('circle', {cx: sx(x), cy: sy(y), r: 2.6, fill: s.color}));
    }
  }
  if (empty) root.append(svg('text', {class: 'chart-empty', x: W / 2, y: H / 2, 'text-anchor': 'middle', text: 'no data yet'}));

  const legend = el('div', {class: 'legend'});
  for (const s of series) {
    const sw = el('span', {class: 'swatch'});
    sw.style.background = s.color;
    legend.append(el('span', {class: 'legend-item'}, sw, s.label || s.name));
  }
  box.replaceChildren(root, legend);
}

// A job's metrics series, fetched incrementally (?since=).
class JobSeries {
  constructor(id) { this.id = id; this.since = -1; this.offset = 0; this.loss = []; this.eval = []; this.tps = []; }
  async update() {
    for (let page = 0; page < 20; ++page) {  // a long job's history arrives over a few polls
      const m = await api('/api/jobs/' + encodeURIComponent(this.id) + '/metrics?since=' + this.since +
                          '&offset=' + this.offset);
      for (const r of m.records) {
        if (typeof r.loss === 'number') this.loss.push([r.step, r.loss]);
        if (typeof r.eval_loss === 'number') this.eval.push([r.step, r.eval_loss]);
        if (typeof r.tokens_per_s === 'number') this.tps.push([r.step, r.tokens_per_s]);
      }
      this.since = m.next_since;
      this.offset = m.next_offset;
      if (!m.more) return m;
    }
  }
}

// ------------------------------------------------------------- overview

// What a placement adds for a job across data centers: the contact windows
// its exchanges wait for (each link's for a job of one world per data
// center), and the DiLoCo settings the scheduler tuned for its links.
function placementExtras(p, item) {
  if (!p) return [];
  const out = [];
  const windows = (p.link_windows || []).map(w => `${w.a} ↔ ${w.b}: ${w.schedule}`);
  if (!windows.length && p.wan_window) windows.push(p.wan_window);
  if (windows.length) out.push(item('contact windows', windows.join('; '), 'windows'));
  const t = p.tuned_diloco;
  if (t && t.outer_compress) {
    out.push(item('tuned DiLoCo', `${t.outer_compress}, ${t.fragments} fragment(s), overlap ${t.overlap}`, 'tuned-diloco'));
  }
  return out;
}

function poolsGraph(cluster) {
  const dcs = cluster.data_centers;
  const BOX_W = 290, GAP = 70, ROW = 22, HEAD = 46, MAX_NODES = 40;
  const index = new Map(dcs.map((d, i) => [d.data_center, i]));
  // Links arc above the boxes, higher the farther apart, so none crosses a box.
  let arcTop = 20;
  for (const l of cluster.links) {
    if (!index.has(l.a) || !index.has(l.b)) continue;
    arcTop = Math.max(arcTop, 34 + 26 * Math.abs(index.get(l.a) - index.get(l.b)));
  }
  const boxTop = arcTop + 16;
  const heights = dcs.map(d => HEAD + ROW * Math.min(d.nodes.length, MAX_NODES) + (d.nodes.length > MAX_NODES ? ROW : 0) + 8);
  const W = Math.max(1, dcs.length) * (BOX_W + GAP) - GAP + 20;
  const H = boxTop + Math.max(60, ...heights) + 10;
  const root = svg('svg', {id: 'pools-graph', width: W, height: H, viewBox: `0 0 ${W} ${H}`});
  const cx = i => 10 + i * (BOX_W + GAP) + BOX_W / 2;

  const links = svg('g', {class: 'links'});
  for (const l of cluster.links) {
    if (!index.has(l.a) || !index.has(l.b)) continue;
    const ia = index.get(l.a), ib = index.get(l.b);
    const xa = cx(ia) + (ia < ib ? 40 : -40), xb = cx(ib) + (ia < ib ? -40 : 40);
    const lift = 34 + 26 * Math.abs(ia - ib);
    const ctrlY = boxTop - 2 * lift + 4;
    // A link in contact windows says how much of the time it is up.
    const duty = l.duty_cycle > 0 ? l.duty_cycle : 1;
    const label = `${l.gbps} Gbps · ${l.latency_ms} ms` + (duty < 1 ? ` · up ${Math.round(duty * 100)}%` : '');
    links.append(svg('path', {class: duty < 1 ? 'link windowed' : 'link',
                              d: `M ${xa} ${boxTop} Q ${(xa + xb) / 2} ${ctrlY} ${xb} ${boxTop}`,
                              'data-a': l.a, 'data-b': l.b, 'data-gbps': l.gbps, 'data-latency-ms': l.latency_ms,
                              'data-duty-cycle': duty},
                     svg('title', {text: `${l.a} ↔ ${l.b}: ${label}` + (duty < 1 ? ` (${l.schedule})` : '')})));
    const mx = (xa + xb) / 2, my = boxTop - lift + 4, half = Math.max(58, label.length * 3.4);
    links.append(svg('rect', {class: 'link-label-bg', x: mx - half, y: my - 12, width: 2 * half, height: 16, rx: 3}));
    links.append(svg('text', {class: 'link-label', x: mx, y: my, 'text-anchor': 'middle', text: label}));
  }
  root.append(links);

  dcs.forEach((d, i) => {
    const x = 10 + i * (BOX_W + GAP), y = boxTop;
    const g = svg('g', {class: 'dc', 'data-dc': d.data_center, 'data-free-gpus': d.free_gpus,
                        'data-total-gpus': d.total_gpus, 'data-used-gpus': d.used_gpus});
    g.append(svg('rect', {class: 'dc-box', x, y, width: BOX_W, height: heights[i], rx: 8}));
    g.append(svg('text', {class: 'dc-title', x: x + 12, y: y + 19, text: d.data_center}));
    g.append(svg('text', {class: 'dc-sub', x: x + 12, y: y + 35,
                          text: `${d.free_gpus} of ${d.total_gpus} GPUs free · fabric ${d.fabric_gbps} Gbps · ${d.launcher}`}));
    d.nodes.slice(0, MAX_NODES).forEach((n, k) => {
      const ny = y + HEAD + k * ROW;
      const ng = svg('g', {class: 'node', 'data-node': n.name, 'data-alive': n.alive ? 'true' : 'false',
                           'data-free-gpus': n.free_gpus, 'data-used-gpus': n.used_gpus});
      ng.append(svg('text', {class: 'node-name', x: x + 12, y: ny + 12, text: n.name},
                    svg('title', {text: `${n.name} (${n.host})${n.alive ? '' : ' — dead'}`})));
      const gpus = n.gpus.slice(0, 16);
      gpus.forEach((gpu, j) => {
        const used = !!gpu.job_id;
        ng.append(svg('rect', {class: 'gpu ' + (!n.alive ? 'dead' : used ? 'used' : 'free'),
                               x: x + 120 + j * 11, y: ny + 2, width: 10, height: 12, rx: 2,
                               'data-gpu': gpu.index, 'data-job-id': gpu.job_id || null},
                           svg('title', {text: `GPU ${gpu.index} ${gpu.model}` + (used ? ` — ${gpu.job_id}` : ' — free')})));
      });
      ng.append(svg('text', {class: 'node-free', x: x + BOX_W - 10, y: ny + 12, 'text-anchor': 'end',
                             text: n.alive ? `${n.free_gpus}/${n.gpus.length} free` : 'dead'}));
      g.append(ng);
    });
    if (d.nodes.length > MAX_NODES) {
      g.append(svg('text', {class: 'dc-sub', x: x + 12, y: y + HEAD + MAX_NODES * ROW + 12,
                            text: `… ${d.nodes.length - MAX_NODES} more nodes`}));
    }
    root.append(g);
  });
  return root;
}

function overviewPage() {
  const params = new URLSearchParams(location.search);
  const selected = new Set();
  const filter = el('select', {id: 'state-filter'}, el('option', {value: '', text: 'all'}),
                    ...STATES.map(s => el('option', {value: s, text: s})));
  filter.value = STATES.includes((params.get('state') || '').toUpperCase()) ? params.get('state').toUpperCase() : '';
  const compareButton = el('button', {id: 'compare-selected', type: 'button', disabled: true, text: 'Compare selected'});
  compareButton.addEventListener('click', () => {
    location.href = '/compare?ids=' + [...selected].map(encodeURIComponent).join(',');
  });
  filter.addEventListener('change', () => {
    const q = filter.value ? '?state=' + filter.value : '';
    history.replaceState(null, '', '/' + q);
    if (pokeNow) pokeNow();
  });
  const head = el('tr', {}, ...['', 'ID', 'Name', 'State', 'Layout', 'Placement', 'Step', 'Loss', 'Eval loss',
                                'Tokens/s', 'Restarts', 'Submitted', 'Age']
    .map(h => el('th', {class: ['Step', 'Loss', 'Eval loss', 'Tokens/s', 'Restarts'].includes(h) ? 'num' : null, text: h})));
  const body = el('tbody', {id: 'jobs-body'});
  const count = el('span', {id: 'jobs-count', class: 'muted'});
  $('main').replaceChildren(
    el('section', {id: 'pools-section'}, el('h2', {text: 'Pools'}), el('div', {id: 'pools'}, el('p', {class: 'empty', text: 'loading'}))),
    el('section', {id: 'jobs-section'}, el('h2', {text: 'Jobs'}),
       el('div', {class: 'toolbar'}, el('label', {}, 'State ', filter), compareButton, count),
       el('table', {id: 'jobs-table'}, el('thead', {}, head), body),
       el('p', {id: 'jobs-empty', class: 'empty', hidden: true, text: 'No jobs.'})));

  const row = (j, now) => {
    const box = el('input', {type: 'checkbox', class: 'compare-pick', 'data-job-id': j.id, checked: selected.has(j.id)});
    box.addEventListener('change', () => {
      box.checked ? selected.add(j.id) : selected.delete(j.id);
      compareButton.disabled = selected.size === 0;
    });
    return el('tr', {class: 'job-row', 'data-job-id': j.id, 'data-state': j.state},
      el('td', {}, box),
      el('td', {class: 'id'}, el('a', {href: '/job/' + encodeURIComponent(j.id), text: j.id})),
      el('td', {class: 'name', text: j.name}),
      el('td', {class: 'state'}, badge(j.state)),
      el('td', {class: 'layout', text: j.layout}),
      el('td', {class: 'placement', text: j.placement || '—'}),
      el('td', {class: 'num step', text: j.total_steps ? `${j.step}/${j.total_steps}` : j.step}),
      el('td', {class: 'num loss', text: j.step ? fmtNum(j.loss, 4) : ''}),
      el('td', {class: 'num eval-loss', text: j.eval_loss ? fmtNum(j.eval_loss, 4) : ''}),
      el('td', {class: 'num tps', text: fmtRate(j.tokens_per_s)}),
      el('td', {class: 'num restarts', text: j.restarts}),
      el('td', {class: 'submitted', text: fmtTime(j.submitted_unix_s)}),
      el('td', {class: 'age', title: j.finished_unix_s ? 'ended ' + fmtTime(j.finished_unix_s) : null,
                text: fmtAge(now - j.submitted_unix_s)}));
  };

  poll(async () => {
    const [cluster, jobs] = await Promise.all([
      api('/api/cluster'),
      api('/api/jobs' + (filter.value ? '?state=' + filter.value : ''))]);
    $('pools').replaceChildren(cluster.data_centers.length ? poolsGraph(cluster) : el('p', {class: 'empty', text: 'No data centers.'}));
    // Newest first.
    body.replaceChildren(...jobs.jobs.slice().reverse().map(j => row(j, jobs.now_unix_s)));
    $('jobs-empty').hidden = jobs.jobs.length > 0;
    count.textContent = jobs.total > jobs.shown ? `newest ${jobs.shown} of ${jobs.total}` : `${jobs.total} job${jobs.total === 1 ? '' : 's'}`;
  });
}

// ------------------------------------------------------------- job page

function jobPage(id) {
  document.title = id + ' · Meridian';
  const title = el('h1', {id: 'job-title', 'data-job-id': id}, el('span', {text: id}));
  const summary = el('dl', {id: 'job-summary', class: 'summary'});
  const message = el('p', {id: 'job-message', class: 'muted', hidden: true});
  const placement = el('tbody', {id: 'placement-body'});
  const events = el('ol', {id: 'events'});
  const worlds = el('tbody', {id: 'worlds-body'});
  const log = el('pre', {id: 'log-tail', text: ''});
  const logInfo = el('span', {id: 'log-info', class: 'muted'});
  $('main').replaceChildren(
    el('section', {id: 'job-header'}, title, message, summary,
       el('p', {}, el('a', {href: '/compare?ids=' + encodeURIComponent(id), text: 'compare with other jobs'}))),
    el('div', {class: 'charts'},
       el('div', {}, el('h2', {text: 'Loss'}), el('div', {id: 'loss-chart', class: 'chart'})),
       el('div', {}, el('h2', {text: 'Tokens/s'}), el('div', {id: 'tps-chart', class: 'chart'}))),
    el('section', {id: 'placement-section'}, el('h2', {text: 'Placement'}),
       el('table', {id: 'placement-table'},
          el('thead', {}, el('tr', {}, ...['Rank', 'Data center', 'Node', 'Host', 'GPU', 'DP index', 'Stage', 'Layers']
            .map(h => el('th', {text: h})))), placement),
       el('p', {id: 'placement-empty', class: 'empty', text: 'Not placed.'})),
    el('section', {id: 'worlds-section', hidden: true}, el('h2', {text: 'Worlds'}),
       el('p', {class: 'muted', text: 'One world per data center: each trains on while another is lost, and rejoins when relaunched.'}),
       el('table', {id: 'worlds-table'},
          el('thead', {}, el('tr', {}, ...['Data center', 'State', 'Step', 'Loss', 'Last report']
            .map(h => el('th', {text: h})))), worlds)),
    el('section', {id: 'events-section'}, el('h2', {text: 'Events'}), events),
    el('section', {id: 'log-section'}, el('h2', {}, 'Log ', logInfo), log));

  const series = new JobSeries(id);
  let finalRound = false;
  poll(async () => {
    let detail;
    try {
      detail = await api('/api/jobs/' + encodeURIComponent(id));
    } catch (e) {
      if (e.status === 404) {
        $('main').replaceChildren(el('p', {id: 'error', class: 'error', 'data-status': '404', text: e.message}));
        return false;
      }
      throw e;
    }
    const job = detail.job, r = detail.row;
    title.dataset.state = job.state;
    title.replaceChildren(el('span', {text: `${id} · ${r.name}`}), badge(job.state));
    message.textContent = job.message;
    message.hidden = !job.message;
    // The API speaks enum names (DP_SYNC_DILOCO); people read the job file's word.
    const syncWord = (name) => String(name).replace(/^DP_SYNC_/, '').toLowerCase();
    const item = (k, v, cls) => el('div', {class: cls}, el('dt', {text: k}), el('dd', {text: v}));
    summary.replaceChildren(
      item('state', job.state, 'state'),
      item('layout', `dp ${r.dp} × pp ${r.pp}` + (job.placement ? ` · ${syncWord(job.placement.dp_sync)}` : ''), 'layout'),
      item('step', r.total_steps ? `${r.step} / ${r.total_steps}` : r.step, 'step'),
      item('loss', r.step ? fmtNum(r.loss, 4) : '—', 'loss'),
      item('eval loss', r.eval_loss ? fmtNum(r.eval_loss, 4) : '—', 'eval-loss'),
      item('tokens/s', fmtRate(r.tokens_per_s) || '—', 'tps'),
      item('restarts', `${r.restarts} (launches ${r.launches})`, 'restarts'),
      item('submitted', fmtTime(r.submitted_unix_s), 'submitted'),
      item(r.finished_unix_s ? 'ran for' : 'age', fmtAge((r.finished_unix_s || Date.now() / 1000) - r.submitted_unix_s), 'age'),
      item('placement', r.placement || '—', 'placement'),
      item('predicted step', job.placement ? fmtNum(job.placement.predicted_step_s * 1000, 1) + ' ms' : '—', 'predicted'),
      item('owner', r.owner || '—', 'owner'),
      ...placementExtras(job.placement, item));

    placement.replaceChildren(...detail.ranks.map(a => el('tr', {class: 'rank-row', 'data-rank': a.rank},
      el('td', {text: a.rank}), el('td', {text: a.data_center}), el('td', {text: a.node}), el('td', {text: a.host}),
      el('td', {text: a.gpu}), el('td', {text: a.dp_index}), el('td', {text: a.stage}),
      el('td', {text: `${a.layer_begin}–${a.layer_end}`}))));
    $('placement-empty').hidden = detail.ranks.length > 0;

    // A world silent for a while, while the job runs, is lost or relaunching.
    const now = Date.now() / 1000;
    const running = job.state === 'RUNNING';
    $('worlds-section').hidden = !(job.worlds && job.worlds.length);
    worlds.replaceChildren(...(job.worlds || []).map(w => {
      const silent = now - (w.unix_s || 0);
      const state = !running ? 'ended' : silent < 15 ? 'training' : 'silent';
      return el('tr', {class: 'world-row', 'data-world': w.world, 'data-state': state},
        el('td', {text: w.world}), el('td', {class: 'world-state', text: state}), el('td', {class: 'num', text: w.step}),
        el('td', {class: 'num', text: fmtNum(w.loss, 4)}), el('td', {text: fmtAge(silent) + ' ago'}));
    }));

    events.replaceChildren(...detail.events.map(e => el('li', {class: 'event', 'data-sequence': e.sequence, 'data-state': e.state},
      el('span', {class: 'when', text: new Date(e.unix_s * 1000).toLocaleTimeString()}), badge(e.state), ' ', e.message)));

    await series.update();
    lineChart($('loss-chart'), [
      {name: 'loss', label: 'train loss', points: series.loss, color: COLORS[0]},
      {name: 'eval_loss', label: 'eval loss', points: series.eval, color: COLORS[1], eval: true}], {name: 'loss', title: 'loss by step'});
    lineChart($('tps-chart'), [{name: 'tokens_per_s', label: 'tokens/s', points: series.tps, color: COLORS[2]}],
              {name: 'tokens_per_s', title: 'tokens/s by step', zeroBased: true});

    const tail = await api('/api/jobs/' + encodeURIComponent(id) + '/log?tail=200');
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = tail.text || '(no output yet)';
    if (atBottom) log.scrollTop = log.scrollHeight;
    logInfo.textContent = tail.log_path ? `${tail.log_path} · last ${tail.lines} lines of ${tail.size} bytes` : '';
    // An ended job changes no more: one last round after it ended, then stop.
    if (TERMINAL.has(job.state)) {
      if (finalRound) return false;
      finalRound = true;
    }
    return true;
  });
}

// --------------------------------------------------------- compare page

function comparePage() {
  document.title = 'Compare · Meridian';
  const params = new URLSearchParams(location.search);
  const ids = (params.get('ids') || '').split(',').map(s => s.trim()).filter(Boolean).slice(0, COLORS.length * 2);
  const input = el('input', {id: 'compare-ids', name: 'ids', value: ids.join(','), placeholder: 'job-000001,job-000002'});
  const rows = el('tbody', {id: 'compare-body'});
  const smooth = el('input', {id: 'compare-smooth', type: 'checkbox', checked: params.get('smooth') !== '0'});
  $('main').replaceChildren(
    el('section', {id: 'compare-section'}, el('h2', {text: 'Compare loss curves'}),
       el('form', {id: 'compare-form', method: 'get', action: '/compare', class: 'toolbar'},
          el('label', {}, 'Jobs ', input), el('button', {type: 'submit', text: 'Show'}),
          el('label', {}, smooth, ' smooth the training loss')),
       el('div', {id: 'compare-chart', class: 'chart'}),
       el('table', {id: 'compare-table'}, el('thead', {}, el('tr', {}, ...['', 'ID', 'Name', 'State', 'Layout', 'Step', 'Loss', 'Eval loss', 'Tokens/s']
         .map(h => el('th', {text: h})))), rows)));
  if (!ids.length) {
    $('compare-chart').replaceChildren(el('p', {class: 'empty', text: 'Pick jobs on the jobs table, or list their ids above.'}));
    setStatus('ok', '');
    return;
  }
  const series = ids.map(id => new JobSeries(id));
  const info = new Map();
  let draw = () => {};
  smooth.addEventListener('change', () => draw());
  const ended = new Set();  // read to the end after they ended: nothing more comes
  poll(async () => {
    await Promise.all(ids.map(async (id, k) => {
      try {
        const d = await api('/api/jobs/' + encodeURIComponent(id));
        info.set(id, d.row);
        if (!ended.has(id)) await series[k].update();
        if (TERMINAL.has(d.row.state)) ended.add(id);
      } catch (e) {
        if (e.status !== 404) throw e;
        info.set(id, {id, missing: true, error: e.message});
      }
    }));
    const lines = [];
    ids.forEach((id, k) => {
      if ((info.get(id) || {}).missing) return;
      const color = COLORS[k % COLORS.length];
      lines.push({name: 'loss', label: id + ' loss', points: series[k].loss, color, jobId: id});
      if (series[k].eval.length) lines.push({name: 'eval_loss', label: id + ' eval', points: series[k].eval, color, jobId: id, eval: true});
    });
    draw = () => lineChart($('compare-chart'), lines, {name: 'compare', title: 'loss by step', width: 1100, height: 420,
                                                       smooth: smooth.checked ? 0.9 : 0});
    draw();
    rows.replaceChildren(...ids.map((id, k) => {
      const r = info.get(id) || {};
      const sw = el('span', {class: 'swatch'});
      sw.style.background = COLORS[k % COLORS.length];
      if (r.missing) return el('tr', {class: 'compare-row', 'data-job-id': id, 'data-state': 'NOT_FOUND'},
                               el('td', {}, sw), el('td', {text: id}), el('td', {class: 'error', colspan: 7, text: r.error}));
      return el('tr', {class: 'compare-row', 'data-job-id': id, 'data-state': r.state},
        el('td', {}, sw), el('td', {}, el('a', {href: '/job/' + encodeURIComponent(id), text: id})),
        el('td', {text: r.name}), el('td', {}, badge(r.state)), el('td', {text: r.layout}),
        el('td', {class: 'num', text: r.step}), el('td', {class: 'num', text: r.step ? fmtNum(r.loss, 4) : ''}),
        el('td', {class: 'num', text: r.eval_loss ? fmtNum(r.eval_loss, 4) : ''}),
        el('td', {class: 'num', text: fmtRate(r.tokens_per_s)}));
    }));
  });
}

// ----------------------------------------------------------------- start

function start() {
  $('token-form').addEventListener('submit', ev => {
    ev.preventDefault();
    try { localStorage.setItem(TOKEN_KEY, $('token-input').value.trim()); } catch (e) { /* private mode */ }
    $('token-input').value = '';
    $('token-form').hidden = true;
    if (pokeNow) pokeNow(); else route();
  });
  $('token-forget').addEventListener('click', () => {
    try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    $('token-forget').hidden = true;
  });
  route();
}

function route() {
  const path = location.pathname;
  const job = path.match(/^\/job\/([^/]+)$/);
  if (job) return jobPage(decodeURIComponent(job[1]));
  if (path === '/compare') return comparePage();
  return overviewPage();
}

start();
