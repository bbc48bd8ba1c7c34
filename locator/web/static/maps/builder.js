/* "Embed this map": builds the /embed URL from the form, shows the <iframe> snippet and a preview. */
(function () {
  'use strict';
  var form = document.getElementById('embed-form');
  var snippet = document.getElementById('snippet');
  var preview = document.getElementById('preview');
  function escapeAttr(s) {
    return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }
  function build() {
    var data = new FormData(form);
    var params = new URLSearchParams();
    ['center', 'zoom', 'subdistrict', 'lang', 'tiles'].forEach(function (k) {
      var v = (data.get(k) || '').trim();
      if (v) { params.set(k, v); }
    });
    var layers = data.getAll('layers');
    if (layers.length) { params.set('layers', layers.join(',')); }
    var amenity = data.getAll('amenity');
    if (amenity.length) { params.set('amenity', amenity.join(',')); }
    var url = form.dataset.embed + (params.toString() ? '?' + params.toString() : '');
    snippet.value = '<iframe src="' + escapeAttr(url) + '" width="100%" height="400" style="border:0" ' +
      'loading="lazy" title="locator"></iframe>';
    preview.src = url;
  }
  form.addEventListener('submit', function (event) { event.preventDefault(); build(); });
  build();
})();
