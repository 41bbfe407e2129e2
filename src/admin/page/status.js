// hookguard's status page: fetches the admin listener's JSON endpoints every
// few seconds and renders them. Served by hookguard itself (no library, no
// CDN); the page's policy forbids inline script and foreign origins.
//
// Everything shown comes from the server and is written with textContent or
// setAttribute: never parsed as markup. The admin token (when the listener
// has one) lives in this tab's sessionStorage and goes out only as
// `Authorization: Bearer` on this page's own requests to its own origin.
'use strict';

(function () {
  const TOKEN_KEY = 'hookguard.admin-token';
  const REFRESH_MS = 5000;
  const OUTCOMES = ['forwarded', 'queued', 'duplicate', 'handshake', 'rejected'];
  const SVG_NS = 'http://www.w3.org/2000/svg';

  let timer = null;
  let busy = false;

  class Unauthorized extends Error {}

  // --- token --------------------------------------------------------------

  // `/#token=...` is taken once, kept in this tab, and removed from the
  // address bar and history.
  function takeTokenFromFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const token = params.get('token');
    if (token !== null) {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      history.replaceState(null, '', location.pathname + location.search);
    }
  }

  function authHeaders(extra) {
    const headers = new Headers(extra || {});
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.set('Authorization', 'Bearer ' + token);
    return headers;
  }

  // One JSON document from this listener. `sync` (the first load only)
  // reads it before the page's load event, so the first view, and anything
  // that reads the page once loaded, has the data; later refreshes never
  // block.
  async function api(path, init, sync) {
    const options = Object.assign({ cache: 'no-store', credentials: 'omit' }, init || {});
    options.headers = authHeaders(options.headers);
    const [status, text] = sync ? fetchNow(path, options) : await fetchLater(path, options);
    if (status === 401) throw new Unauthorized('unauthorized');
    if (status < 200 || status > 299) throw new Error(path.split('?')[0] + ' answered ' + status);
    return JSON.parse(text);
  }

  async function fetchLater(path, options) {
    const resp = await fetch(path, options);
    return [resp.status, await resp.text()];
  }

  function fetchNow(path, options) {
    const xhr = new XMLHttpRequest();
    xhr.open(options.method || 'GET', path, false);
    options.headers.forEach((value, name) => xhr.setRequestHeader(name, value));
    xhr.send();
    return [xhr.status, xhr.responseText];
  }

  // --- DOM helpers: text only --------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    return node;
  }

  function row(cells) {
    const tr = document.createElement('tr');
    for (const cell of cells) tr.appendChild(cell);
    return tr;
  }

  function td(text, className) {
    return el('td', className, text);
  }

  function fill(id, rows) {
    $(id).replaceChildren(...rows);
  }

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  // --- formatting ----------------------------------------------------------

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  // Local time as 2026-12-05 10:41:07: the same everywhere, sortable.
  function time(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + clock(iso);
  }

  function clock(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    const s = Math.abs(Math.round(seconds));
    let text;
    if (s < 120) text = s + ' s';
    else if (s < 7200) text = Math.round(s / 60) + ' min';
    else if (s < 172800) text = Math.round(s / 3600) + ' h';
    else text = Math.round(s / 86400) + ' days';
    return seconds < 0 ? text + ' ago' : text;
  }

  function ms(value) {
    return value === null || value === undefined ? '—' : value.toFixed(value < 10 ? 2 : 0) + ' ms';
  }

  function count(n) {
    return n ? String(n) : '0';
  }

  // --- panels --------------------------------------------------------------

  function renderSummary(status, report) {
    const t = report.totals;
    const rate = (report.success_rate * 100).toFixed(1);
    $('summary').textContent =
      t.total + ' requests since start · ' + rate + ' % not rejected · ' +
      (status.ready ? 'ready' : 'draining') + ' · version ' + status.version +
      ' · up ' + duration(status.uptime_s);
    $('updated').textContent = 'updated ' + clock(new Date().toISOString());
  }

  // Requests per minute by outcome, stacked bars, oldest minute on the left.
  function renderChart(minutely) {
    // Drawn at the width it is shown at, so text keeps its size.
    const width = Math.max(360, Math.round($('chart').clientWidth || 720));
    const height = 180, left = 36, bottom = 22, top = 8;
    const plotH = height - bottom - top;
    const slot = (width - left) / Math.max(minutely.length, 1);
    const peak = Math.max(1, ...minutely.map((m) => m.counts.total));
    const scale = niceCeiling(peak);
    const chart = svg('svg', {
      viewBox: '0 0 ' + width + ' ' + height,
      role: 'img',
      'aria-label': 'requests per minute by outcome, last hour',
      class: 'minutes',
      'data-total': minutely.reduce((sum, m) => sum + m.counts.total, 0),
    });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotH * (1 - fraction);
      chart.appendChild(svg('line', { x1: left, x2: width, y1: y, y2: y, class: 'grid' }));
      const label = svg('text', { x: left - 4, y: y + 4, class: 'axis', 'text-anchor': 'end' });
      label.textContent = String(Math.round(scale * fraction));
      chart.appendChild(label);
    }
    minutely.forEach((m, i) => {
      const x = left + i * slot;
      let y = top + plotH;
      const parts = [];
      for (const outcome of OUTCOMES) {
        const n = m.counts[outcome] || 0;
        if (!n) continue;
        parts.push(outcome + ' ' + n);
        const h = (n / scale) * plotH;
        y -= h;
        const bar = svg('rect', {
          x: x + 1, y: y, width: Math.max(slot - 2, 1), height: h,
          class: 'bar ' + outcome, 'data-count': n,
        });
        chart.appendChild(bar);
      }
      const hit = svg('rect', { x: x, y: top, width: slot, height: plotH, class: 'hit' });
      const title = svg('title');
      title.textContent = clock(m.minute) + ': ' + (parts.length ? parts.join(', ') : 'no requests');
      hit.appendChild(title);
      chart.appendChild(hit);
      if (i % 10 === 0 || i === minutely.length - 1) {
        const last = i === minutely.length - 1;
        const label = svg('text', {
          x: last ? width : x + slot / 2, y: height - 6, class: 'axis', 'text-anchor': last ? 'end' : 'middle',
        });
        label.textContent = clock(m.minute).slice(0, 5);
        chart.appendChild(label);
      }
    });
    $('chart').replaceChildren(chart);
    const totals = {};
    for (const m of minutely) for (const o of OUTCOMES) totals[o] = (totals[o] || 0) + (m.counts[o] || 0);
    fill('legend', OUTCOMES.map((o) => {
      const item = el('li', 'legend-' + o);
      item.appendChild(el('span', 'swatch ' + o));
      item.appendChild(document.createTextNode(o + ' ' + totals[o]));
      return item;
    }));
  }

  // The axis top: 2, 4 or 10 times a power of ten, so its half is whole.
  function niceCeiling(n) {
    const power = Math.pow(10, Math.floor(Math.log10(n)));
    for (const step of [2, 4, 10]) if (step * power >= n) return step * power;
    return 20 * power;
  }

  function renderRoutes(status, report) {
    const rows = status.routes.map((route) => {
      const stats = report.routes[route.path] || { counts: {}, failures_by_code: {}, latency_ms: {} };
      const c = stats.counts;
      const codes = el('td', 'codes');
      const entries = Object.entries(stats.failures_by_code || {});
      if (!entries.length) codes.textContent = '0';
      for (const [code, n] of entries) codes.appendChild(el('span', 'code', code + ' ' + n));
      const path = el('td', 'path', route.path);
      if (route.delivery === 'queue') path.appendChild(el('span', 'tag', 'queue'));
      return row([
        path, td(route.provider), td(count(c.forwarded), 'num'), td(count(c.queued), 'num'),
        td(count(c.duplicate), 'num'), codes,
        td(count(stats.upstream_errors), stats.upstream_errors ? 'num bad' : 'num'),
        td(ms(stats.latency_ms && stats.latency_ms.p50), 'num'),
        td(ms(stats.latency_ms && stats.latency_ms.p99), 'num'),
      ]);
    });
    const unmatched = report.failures_by_code.no_route;
    if (unmatched) {
      const codes = el('td', 'codes');
      codes.appendChild(el('span', 'code', 'no_route ' + unmatched));
      rows.push(row([el('td', 'path muted', '(no route)'), td('—'), td('0', 'num'), td('0', 'num'),
        td('0', 'num'), codes, td('0', 'num'), td('—', 'num'), td('—', 'num')]));
    }
    fill('routes-body', rows);
  }

  // Keeps a <select>'s options in step with `values`, and its choice.
  function syncOptions(id, values) {
    const select = $(id);
    const chosen = select.value;
    const options = [el('option', null, 'all')];
    options[0].value = '';
    for (const v of values) {
      const option = el('option', null, v);
      option.value = v;
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = values.includes(chosen) ? chosen : '';
  }

  function recentQuery() {
    const params = new URLSearchParams({ outcome: 'rejected', limit: '100' });
    const route = $('filter-route').value;
    const code = $('filter-code').value;
    if (route) params.set('route', route);
    if (code) params.set('code', code);
    return '/audit/recent?' + params.toString();
  }

  function renderRejections(recent) {
    const rows = recent.decisions.map((d) => row([
      td(clock(d.timestamp), 'time'),
      td(d.route || '(no route)', 'path'),
      td(d.error, 'code-cell'),
      td(d.status, 'num'),
      td(d.client_ip, 'ip'),
      td(d.reason || d.detail || '', 'reason'),
    ]));
    fill('rejections-body', rows);
    show('rejections-empty', rows.length === 0);
    $('rejections-note').textContent = recent.capacity
      ? 'newest first, from the last ' + recent.capacity + ' decisions kept'
      : 'none kept: [admin] recent = 0';
  }

  function renderSecrets(secrets) {
    fill('secrets-body', secrets.secrets.map((s) => {
      const expires = s.expires ? time(s.expires) + (s.expired ? ' (expired)' : '') : 'never';
      const tr = row([
        td(s.route, 'path'), td('#' + s.index, 'index'), td(s.origin, 'origin'),
        td(s.matched, 'num'), td(time(s.last_matched), 'time'),
        td(expires, s.expired ? 'time bad' : 'time'),
      ]);
      if (s.matched > 0) tr.className = 'matched';
      if (s.expired) tr.classList.add('expired');
      return tr;
    }));
  }

  function fact(term, value, state) {
    const dt = el('dt', null, term);
    const dd = el('dd', state || null, value);
    return [dt, dd];
  }

  function renderHealth(status, dead) {
    const facts = [];
    const r = status.replay;
    let store = r.store === 'redis' ? 'Redis, ' + (r.healthy ? 'answering' : 'not answering') : 'in memory';
    if (r.entries !== null && r.entries !== undefined) store += ', ' + r.entries + (r.entries === 1 ? ' key' : ' keys');
    store += ' (on error: ' + r.on_store_error + ')';
    if (r.forwarded_without_dedup) store += ', ' + r.forwarded_without_dedup + ' forwarded without de-duplication';
    facts.push(...fact('replay store', store, r.healthy ? 'ok' : 'bad'));
    facts.push(...fact('readiness', status.ready ? 'ready' : 'draining', status.ready ? 'ok' : 'bad'));
    facts.push(...fact('in flight', String(status.in_flight)));
    if (status.spool) {
      const s = status.spool;
      const pending = s.pending
        ? s.pending + ' pending, the oldest for ' + duration((s.oldest_pending_age_ms || 0) / 1000)
        : 'nothing pending';
      const deadText = s.dead === 1 ? '1 dead letter' : s.dead + ' dead letters';
      facts.push(...fact('spool', pending + '; ' + deadText, s.dead ? 'bad' : 'ok'));
    } else {
      facts.push(...fact('spool', 'not used (no queue route)'));
    }
    if (status.tls) {
      const t = status.tls;
      const soon = t.expires_in_s !== null && t.expires_in_s < 14 * 86400;
      facts.push(...fact('certificate', t.not_after
        ? 'expires ' + time(t.not_after) + ' (' + (t.expires_in_s < 0 ? 'expired ' + duration(t.expires_in_s) : 'in ' + duration(t.expires_in_s)) + ')'
        : 'expiry unreadable', soon ? 'bad' : 'ok'));
    } else {
      facts.push(...fact('certificate', 'plain HTTP listener'));
    }
    const rl = status.reloads;
    let reloads = rl.success + ' applied, ' + rl.failure + ' refused';
    if (rl.last) reloads += '; last ' + time(rl.last.at) + ': ' + (rl.last.result === 'success' ? 'applied' : 'refused (see the log)');
    facts.push(...fact('configuration reloads', reloads, rl.last && rl.last.result !== 'success' ? 'bad' : null));
    $('health-list').replaceChildren(...facts);

    show('dead', !!dead);
    if (!dead) return;
    show('dead-empty', dead.dead_letters.length === 0);
    fill('dead-body', dead.dead_letters.map((d) => {
      const retry = el('button', null, 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', () => spoolAction('/spool/retry?id=' + encodeURIComponent(d.id)));
      const last = [d.last_status, d.last_error].filter((v) => v !== null && v !== undefined).join(' ');
      return row([
        td(d.id, 'num'), td(d.route, 'path'), td(d.event_id || '—'), td(d.attempts, 'num'),
        td(last || '—'), td(time(new Date(d.received_at_ms).toISOString()), 'time'), (() => {
          const cell = el('td');
          cell.appendChild(retry);
          return cell;
        })(),
      ]);
    }));
  }

  // Retry and purge change state: a POST with X-Hookguard-Admin, which no
  // form or other site can send without a preflight this listener refuses.
  async function spoolAction(path) {
    try {
      const result = await api(path, { method: 'POST', headers: { 'X-Hookguard-Admin': '1' } });
      $('dead-result').textContent = JSON.stringify(result);
    } catch (e) {
      $('dead-result').textContent = String(e.message || e);
    }
    refresh();
  }

  // --- refresh loop --------------------------------------------------------

  async function refresh(first) {
    if (busy) return;
    busy = true;
    clearTimeout(timer);
    const get = (path) => api(path, null, first === true);
    try {
      const [status, report, secrets, recent] = await Promise.all([
        get('/status'), get('/audit/report'), get('/secrets'), get(recentQuery()),
      ]);
      const dead = status.spool ? await get('/spool/dead') : null;
      show('login', false);
      show('error', false);
      show('main', true);
      renderSummary(status, report);
      renderChart(report.minutely);
      renderRoutes(status, report);
      syncOptions('filter-route', status.routes.map((r) => r.path));
      syncOptions('filter-code', Object.keys(report.failures_by_code).sort());
      renderRejections(recent);
      renderSecrets(secrets);
      renderHealth(status, dead);
    } catch (e) {
      if (e instanceof Unauthorized) {
        const hadToken = sessionStorage.getItem(TOKEN_KEY) !== null;
        sessionStorage.removeItem(TOKEN_KEY);
        show('main', false);
        show('login', true);
        $('login-error').textContent = hadToken ? 'That token was refused.' : '';
        $('updated').textContent = 'token needed';
        busy = false;
        return; // no polling until a token is given
      }
      $('error').textContent = 'Could not refresh: ' + (e.message || e);
      show('error', true);
    }
    busy = false;
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function start() {
    takeTokenFromFragment();
    $('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('login-token').value.trim();
      $('login-token').value = '';
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      refresh();
    });
    $('filter-route').addEventListener('change', () => refresh());
    $('filter-code').addEventListener('change', () => refresh());
    $('retry-all').addEventListener('click', () => spoolAction('/spool/retry'));
    $('purge').addEventListener('click', () => {
      if (confirm('Delete every dead letter? This cannot be undone.')) spoolAction('/spool/purge');
    });
    refresh(true);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
