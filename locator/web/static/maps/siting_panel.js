/* The planner's siting panel: POST /api/v1/siting into scenario A or B, shown side by side. Each scenario's
   chosen booths are pins on the map (labelled A or B), with covered share before/after in total and per
   subdistrict; each exports as CSV or GeoJSON, and the two as one comparison CSV (per subdistrict).
   Every text from the answer goes in through textContent; CSV cells that a spreadsheet would read as a formula
   are kept as text. Coordinates are in the page's system (config.crs), as the API answered them. */
(function () {
  'use strict';
  var form = document.getElementById('siting-form');
  if (!form) { return; }
  var config = JSON.parse(document.getElementById('locator-config').textContent);
  var s = config.strings;
  var status = document.getElementById('siting-status');
  var compare = document.getElementById('siting-compare');
  var map = window[config.map];
  var PIN_SHIFT_PX = 9;
  var slots = {};
  ['a', 'b'].forEach(function (slot) {
    slots[slot] = {el: document.getElementById('scenario-' + slot), layer: L.layerGroup().addTo(map), answer: null,
                   request: null};
  });

  function pct(v) { return v === null || v === undefined ? '–' : (v * 100).toFixed(1) + '%'; }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, key) { return key in values ? String(values[key]) : m; });
  }
  function cell(row, text) { var td = document.createElement('td'); td.textContent = text; row.appendChild(td); }
  function areaName(code) {
    if (!code) { return s.siting_all; }
    var option = form.querySelector('select[name=subdistrict] option[value="' + CSS.escape(code) + '"]');
    return option ? option.textContent : code;
  }

  function pin(slot, booth) {
    var span = document.createElement('span');
    span.className = 'sc-pin sc-pin-' + slot;
    span.textContent = slot.toUpperCase();
    span.setAttribute('role', 'img');
    span.setAttribute('aria-label', s.siting_scenario + ' ' + slot.toUpperCase() + ' · ' + s.siting_booth + ' ' +
                      booth.id + ' · ' + booth.address);
    span.dataset.booth = booth.id;
    var marker = L.marker([booth.lat, booth.lon], {
      // A a little left of the booth, B a little right: a booth both choose shows both badges
      icon: L.divIcon({html: span, className: 'siting-pin siting-pin-' + slot, iconSize: [24, 24],
                       iconAnchor: [slot === 'a' ? 12 + PIN_SHIFT_PX : 12 - PIN_SHIFT_PX, 12]}),
      keyboard: false, zIndexOffset: 1000});
    marker.bindTooltip(function () {
      var div = document.createElement('div');
      div.textContent = span.getAttribute('aria-label') + ' (+' + Math.round(booth.newly_covered_m) + ' m)';
      return div;
    });
    return marker;
  }

  function show(slot, request, answer) {
    var entry = slots[slot], el = entry.el;
    entry.answer = answer;
    entry.request = request;
    entry.layer.clearLayers();
    answer.booths.forEach(function (b) { entry.layer.addLayer(pin(slot, b)); });
    el.querySelector('.sc-params').textContent = fill(s.siting_params, {
      p: request.p, threshold: request.threshold_m, area: areaName(request.subdistrict)});
    var totals = answer.totals, totalsEl = el.querySelector('.sc-totals');
    totalsEl.textContent = fill(s.siting_totals, {
      before: pct(totals.share_before), after: pct(totals.share_after),
      km: ((totals.covered_after_m - totals.covered_before_m) / 1000).toFixed(1)});
    totalsEl.dataset.before = totals.share_before;
    totalsEl.dataset.after = totals.share_after;
    var tbody = el.querySelector('.sc-table').tBodies[0];
    tbody.textContent = '';
    answer.by_subdistrict.forEach(function (r) {
      var tr = document.createElement('tr');
      tr.dataset.code = r.code || '';
      cell(tr, r.name || r.code || '');
      cell(tr, pct(r.share_before));
      cell(tr, pct(r.share_after));
      tbody.appendChild(tr);
    });
    var list = el.querySelector('.sc-booths');
    list.textContent = '';
    answer.booths.forEach(function (b) {
      var li = document.createElement('li');
      li.dataset.booth = b.id;
      li.textContent = b.id + ' · ' + b.address + ' (+' + Math.round(b.newly_covered_m) + ' m)';
      list.appendChild(li);
    });
    el.hidden = false;
    compare.hidden = !(slots.a.answer && slots.b.answer);
    fitToPins();
  }

  function fitToPins() {
    // The map's opening zoom may still be animating (the answer can arrive that fast): when that
    // animation ends Leaflet moves to ITS target, undoing our view. Fit once it has ended.
    if (map._animatingZoom) { map.once('zoomend', fitToPins); return; }
    var points = [];
    Object.keys(slots).forEach(function (k) {
      slots[k].layer.eachLayer(function (m) { points.push(m.getLatLng()); });
    });
    // The page's layout may have changed since Leaflet measured the map (styles, the panel opening):
    // measure again, or the fit is computed for a box of another size and the pins land off-screen.
    map.invalidateSize({pan: false});
    // no animation: the pins are where they belong as soon as the answer shows
    if (points.length === 1) { map.setView(points[0], Math.max(map.getZoom(), 14), {animate: false}); }
    if (points.length > 1) {
      map.fitBounds(L.latLngBounds(points), {padding: [40, 40], maxZoom: 16, animate: false});
    }
  }

  // ---- export --------------------------------------------------------------------------------------------
  function csvCell(value) {
    var text = value === null || value === undefined ? '' : String(value);
    if (/^[=+\-@]/.test(text)) { text = "'" + text; }  // a formula to a spreadsheet: keep user text as text
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function csv(rows) {
    // UTF-8 with BOM: Excel on Chinese Windows reads it as UTF-8 rather than GBK
    return '\ufeff' + rows.map(function (r) { return r.map(csvCell).join(','); }).join('\r\n') + '\r\n';
  }
  function download(name, type, text) {
    var url = URL.createObjectURL(new Blob([text], {type: type}));
    var a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }
  function boothsCsv(slot) {
    var entry = slots[slot], req = entry.request, answer = entry.answer;
    var rows = [['scenario', 'booth_id', 'address', 'subdistrict', 'status', 'lon', 'lat', 'crs', 'newly_covered_m',
                 'p', 'threshold_m', 'area', 'share_before', 'share_after', 'quality', 'data_version']];
    answer.booths.forEach(function (b) {
      rows.push([slot.toUpperCase(), b.id, b.address, b.subdistrict, b.status, b.lon, b.lat, answer.crs,
                 b.newly_covered_m, req.p, req.threshold_m, req.subdistrict, answer.totals.share_before,
                 answer.totals.share_after, answer.quality.text || answer.quality.status, answer.data_version]);
    });
    return csv(rows);
  }
  function boothsGeojson(slot) {
    var entry = slots[slot], answer = entry.answer;
    return JSON.stringify({
      type: 'FeatureCollection', crs_system: answer.crs,
      scenario: {slot: slot.toUpperCase(), request: entry.request, totals: answer.totals, quality: answer.quality,
                 data_version: answer.data_version},
      features: answer.booths.map(function (b) {
        return {type: 'Feature', geometry: {type: 'Point', coordinates: [b.lon, b.lat]},
                properties: {id: b.id, address: b.address, subdistrict: b.subdistrict, status: b.status,
                             newly_covered_m: b.newly_covered_m}};
      })}, null, 1);
  }
  function compareCsv() {
    var a = slots.a.answer, b = slots.b.answer, codes = [], rows = {};
    [a, b].forEach(function (answer, i) {
      answer.by_subdistrict.forEach(function (r) {
        var key = r.code || '';
        if (!(key in rows)) { codes.push(key); rows[key] = {name: r.name, length_m: r.length_m, before: r.share_before}; }
        rows[key][i ? 'after_b' : 'after_a'] = r.share_after;
      });
    });
    var out = [['code', 'name', 'length_m', 'share_before', 'share_after_A', 'share_after_B']];
    codes.forEach(function (c) {
      var r = rows[c];
      out.push([c, r.name, r.length_m, r.before, r.after_a, r.after_b]);
    });
    out.push(['', 'total', a.totals.length_m, a.totals.share_before, a.totals.share_after, b.totals.share_after]);
    out.push([]);
    out.push(['scenario', 'booths', 'p', 'threshold_m', 'area']);
    ['a', 'b'].forEach(function (k) {
      var req = slots[k].request;
      out.push([k.toUpperCase(), slots[k].answer.booths.map(function (x) { return x.id; }).join(' '), req.p,
                req.threshold_m, req.subdistrict]);
    });
    return csv(out);
  }
  ['a', 'b'].forEach(function (slot) {
    slots[slot].el.querySelector('[data-export=csv]').addEventListener('click', function () {
      download('siting-' + slot.toUpperCase() + '.csv', 'text/csv;charset=utf-8', boothsCsv(slot));
    });
    slots[slot].el.querySelector('[data-export=geojson]').addEventListener('click', function () {
      download('siting-' + slot.toUpperCase() + '.geojson', 'application/geo+json', boothsGeojson(slot));
    });
  });
  compare.querySelector('button').addEventListener('click', function () {
    download('siting-A-B.csv', 'text/csv;charset=utf-8', compareCsv());
  });

  // ---- asking ---------------------------------------------------------------------------------------------
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var data = new FormData(form);
    var slot = data.get('slot') === 'b' ? 'b' : 'a';
    var body = {p: parseInt(data.get('p'), 10), threshold_m: parseFloat(data.get('threshold_m')),
                subdistrict: data.get('subdistrict') || '', crs: config.crs};
    var label = s.siting_scenario + ' ' + slot.toUpperCase() + ': ';
    status.textContent = label + s.siting_running;
    fetch(config.siting, {method: 'POST', headers: {'Content-Type': 'application/json'},
                          body: JSON.stringify(body), credentials: 'omit'})
      .then(function (r) { return r.json().then(function (j) { return {ok: r.ok, status: r.status, body: j}; }); })
      .then(function (res) {
        if (!res.ok) { status.textContent = label + s.siting_failed + (res.body.detail || res.status); return; }
        var answer = res.body;
        show(slot, {p: body.p, threshold_m: body.threshold_m, subdistrict: body.subdistrict}, answer);
        status.textContent = label + fill(s.siting_done, {
          n: answer.booths.length,
          quality: String((answer.quality && (answer.quality.text || answer.quality.status)) || '')});
        if (slot === 'a' && !slots.b.answer) { form.elements.slot.value = 'b'; }  // the next run: the other one
      })
      .catch(function (err) { status.textContent = label + s.siting_failed + err; });
  });
})();
