/// The 15-minute circle's map, served as /static/circle.js.
enum CircleScript {
    static let js = #"""
// The 15-minute circle: each building coloured by its walk to the nearest facility of the chosen
// kind (within 15 minutes, beyond, off the network), the facilities of that kind, and a proposed
// one where the office tapped. A tap fills the proposal's latitude and longitude. Without
// Leaflet the tables below carry the same figures.
(function () {
  'use strict';
  var box = document.getElementById('circle-map');
  if (!box) return;
  var base = window.LinliMap && window.LinliMap.areaMap(box);
  if (!base) return;
  var map = base.map, at = base.at, kind = box.dataset.kind;
  function esc(s) { var d = document.createElement('div'); d.textContent = s == null ? '' : String(s); return d.innerHTML; }
  var latField = document.getElementById('proposed-lat'), lngField = document.getElementById('proposed-lng'), marker = null;
  function mark(lat, lng) {
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker(at(lat, lng), { radius: 10, className: 'circle-new', weight: 3, fillOpacity: 0.9 }).addTo(map);
  }
  map.on('click', function (e) {
    var w = base.stored(e.latlng.lat, e.latlng.lng);
    if (latField) latField.value = w[0].toFixed(6);
    if (lngField) lngField.value = w[1].toFixed(6);
    mark(w[0], w[1]);
  });
  var d = {};
  try { d = JSON.parse(box.dataset.map || '{}'); } catch (e) { d = {}; }
  var b = [];
  (d.buildings || []).forEach(function (x) {
    // [lat, lng, minutes or -1, on the network 1/0, residents, name]
    var m = x[2], cls = !x[3] ? 'circle-off' : (m >= 0 && m <= d.minutes ? 'circle-in' : 'circle-out');
    var c = L.circleMarker(at(x[0], x[1]), { radius: 4 + Math.min(6, Math.sqrt(x[4] || 1) / 3), className: cls, weight: 1, fillOpacity: 0.75 });
    c.bindTooltip('<strong>' + esc(x[5]) + '</strong><br>' + (x[3] ? (m >= 0 ? m + ' ' + esc(box.dataset.unit) : '—') : esc(box.dataset.off)) +
      '<br>' + esc(box.dataset.residents) + ' ' + x[4]);
    c.addTo(map); b.push(c.getLatLng());
  });
  (d.facilities || []).forEach(function (f) {
    L.circleMarker(at(f[0], f[1]), { radius: 7, className: 'map-point map-' + kind, weight: 2 }).bindTooltip(esc(f[2]) + ' · ' + esc(f[3])).addTo(map);
  });
  if (d.proposal) mark(d.proposal[0], d.proposal[1]);
  if (b.length) map.fitBounds(L.latLngBounds(b).pad(0.1), { maxZoom: 17, animate: false });
})();
"""#
}
