/* The planner's siting panel: POST /api/v1/siting, then the chosen booths on the map and coverage
   before/after per subdistrict. Every text from the answer goes in through textContent. */
(function () {
  'use strict';
  var form = document.getElementById('siting-form');
  if (!form) { return; }
  var config = JSON.parse(document.getElementById('locator-config').textContent);
  var s = config.strings;
  var status = document.getElementById('siting-status');
  var table = document.getElementById('siting-table');
  var list = document.getElementById('siting-booths');
  var map = window[config.map];
  var layer = L.layerGroup().addTo(map);
  function pct(v) { return v === null || v === undefined ? '–' : (v * 100).toFixed(1) + '%'; }
  function cell(row, text) { var td = document.createElement('td'); td.textContent = text; row.appendChild(td); }
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var data = new FormData(form);
    var body = {p: parseInt(data.get('p'), 10), threshold_m: parseFloat(data.get('threshold_m')),
                subdistrict: data.get('subdistrict') || '', crs: config.crs};
    status.textContent = s.siting_running;
    fetch(config.siting, {method: 'POST', headers: {'Content-Type': 'application/json'},
                          body: JSON.stringify(body), credentials: 'omit'})
      .then(function (r) { return r.json().then(function (j) { return {ok: r.ok, body: j}; }); })
      .then(function (res) {
        if (!res.ok) { status.textContent = s.siting_failed + (res.body.detail || res.status); return; }
        var answer = res.body;
        layer.clearLayers();
        list.textContent = '';
        answer.booths.forEach(function (b) {
          var marker = L.circleMarker([b.lat, b.lon], {radius: 9, color: '#7f3b08', weight: 3,
                                                       fillColor: '#fdb863', fillOpacity: 0.9});
          marker.bindTooltip(function () {
            var div = document.createElement('div');
            div.textContent = s.siting_booth + ' ' + b.id + ' · ' + b.address;
            return div;
          });
          layer.addLayer(marker);
          var li = document.createElement('li');
          li.textContent = b.id + ' · ' + b.address + ' (+' + Math.round(b.newly_covered_m) + ' m)';
          list.appendChild(li);
        });
        var tbody = table.tBodies[0];
        tbody.textContent = '';
        answer.by_subdistrict.forEach(function (r) {
          var tr = document.createElement('tr');
          cell(tr, r.name || r.code || '');
          cell(tr, pct(r.share_before));
          cell(tr, pct(r.share_after));
          tbody.appendChild(tr);
        });
        table.hidden = false;
        status.textContent = s.siting_done.replace('{n}', answer.booths.length)
          .replace('{quality}', String((answer.quality && (answer.quality.text || answer.quality.status)) || ''));
      })
      .catch(function (err) { status.textContent = s.siting_failed + err; });
  });
})();
