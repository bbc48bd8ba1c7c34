/* Draws the compact street-coverage JSON written by locator/maps/coverage.py (compact_lines) on one canvas.
   Each feature: [band, nameIndex, minM, maxM, part, part, ...]; a part is [x0, y0, dx, dy, ...] in 1/scale
   degrees. Tooltips are built with textContent, never innerHTML: street names are user data. */
(function () {
  'use strict';
  function distanceText(data, f) {
    var t = data.text;
    if (f[2] === null || f[0] < 0) { return data.unreachable.label; }
    var range = f[2] === f[3] ? String(f[2]) : f[2] + '–' + f[3];
    return t.distance + ' ' + range + t.m;
  }
  window.locatorLines = function (data, options) {
    var renderer = L.canvas({padding: 0.5, tolerance: 5});
    var group = L.featureGroup();
    var s = data.scale;
    var weight = (options && options.weight) || 3;
    for (var k = 0; k < data.f.length; k++) {
      var f = data.f[k];
      var latlngs = [];
      for (var p = 4; p < f.length; p++) {
        var a = f[p], x = 0, y = 0, pts = new Array(a.length / 2);
        for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; pts[i / 2] = [y / s, x / s]; }
        latlngs.push(pts);
      }
      var band = f[0] < 0 ? data.unreachable : data.bands[f[0]];
      var line = L.polyline(latlngs, {renderer: renderer, color: band.color, weight: weight, opacity: 0.95,
                                      dashArray: f[0] < 0 ? '4 4' : null, smoothFactor: 1.5});
      line.bindTooltip((function (feature) {
        return function () {
          var div = document.createElement('div');
          var b = document.createElement('b');
          b.textContent = data.names[feature[1]] || data.text.unnamed;
          div.appendChild(b);
          div.appendChild(document.createElement('br'));
          div.appendChild(document.createTextNode(distanceText(data, feature)));
          return div;
        };
      })(f), {sticky: true});
      group.addLayer(line);
    }
    return group;
  };
})();
