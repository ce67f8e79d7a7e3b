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
  if (!window.L || !window.LinliMap) {
    var p = document.createElement('p'); p.className = 'notice'; p.textContent = box.dataset.noMap || '';
    box.insertBefore(p, box.firstChild);
    return;
  }
  var base = window.LinliMap.baseMap(box, box.firstChild), map = base.map, kind = box.dataset.kind;
  function at(lat, lng) { return base.gcj ? window.LinliMap.toGCJ(lat, lng) : [lat, lng]; }
  function esc(s) { var d = document.createElement('div'); d.textContent = s == null ? '' : String(s); return d.innerHTML; }
  var latField = document.getElementById('proposed-lat'), lngField = document.getElementById('proposed-lng'), marker = null;
  function mark(lat, lng) {
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker(at(lat, lng), { radius: 10, className: 'circle-new', weight: 3, fillOpacity: 0.9 }).addTo(map);
  }
  map.on('click', function (e) {
    var w = base.gcj ? window.LinliMap.fromGCJ(e.latlng.lat, e.latlng.lng) : [e.latlng.lat, e.latlng.lng];
    if (latField) latField.value = w[0].toFixed(6);
    if (lngField) lngField.value = w[1].toFixed(6);
    mark(w[0], w[1]);
  });
  fetch('/api/v1/places/' + box.dataset.place + '/circle?' + box.dataset.query, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (d) {
      if (!d) return;
      var b = [];
      d.buildings.forEach(function (x) {
        if (x.lat == null || x.lng == null) return;
        var m = x.minutes[kind], cls = !x.on_network ? 'circle-off' : (m != null && m <= d.minutes ? 'circle-in' : 'circle-out');
        var c = L.circleMarker(at(x.lat, x.lng), { radius: 4 + Math.min(6, Math.sqrt(x.residents || 1) / 3), className: cls, weight: 1, fillOpacity: 0.75 });
        c.bindTooltip('<strong>' + esc(x.name) + '</strong><br>' + (x.on_network ? (m != null ? m + ' ' + esc(box.dataset.unit) : '—') : esc(box.dataset.off)) +
          '<br>' + esc(box.dataset.residents) + ' ' + x.residents);
        c.addTo(map); b.push(c.getLatLng());
      });
      d.facilities.forEach(function (f) {
        if (f.kind !== kind) return;
        L.circleMarker(at(f.lat, f.lng), { radius: 7, className: 'map-point map-' + f.kind, weight: 2 }).bindTooltip(esc(f.name) + ' · ' + esc(f.label)).addTo(map);
      });
      if (d.proposal) mark(d.proposal.lat, d.proposal.lng);
      if (b.length) map.fitBounds(L.latLngBounds(b).pad(0.1), { maxZoom: 17, animate: false });
    });
})();
"""#
}
