/* Sorts the planner table by the clicked column (numbers by data-value, text by locale). */
(function () {
  'use strict';
  var table = document.getElementById('coverage-table');
  if (!table) { return; }
  var config = JSON.parse(document.getElementById('locator-config').textContent);
  var collator = new Intl.Collator(config.lang === 'en' ? 'en' : 'zh-CN');
  var heads = table.querySelectorAll('th[data-sort]');
  heads.forEach(function (th) {
    th.querySelector('button').addEventListener('click', function () {
      var index = Array.prototype.indexOf.call(th.parentNode.children, th);
      var numeric = th.dataset.sort === 'number';
      var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
      heads.forEach(function (h) { h.setAttribute('aria-sort', 'none'); });
      th.setAttribute('aria-sort', dir);
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[index].dataset.value, y = b.cells[index].dataset.value;
        var c = numeric ? parseFloat(x) - parseFloat(y) : collator.compare(x, y);
        return dir === 'ascending' ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
