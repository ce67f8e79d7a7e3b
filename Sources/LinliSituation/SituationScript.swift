/// The situation map's script, served as /static/situation.js.
enum SituationScript {
    static let js = #"""
// The situation map (村情图): each layer fetched from /api/v1/places/{id}/situation/{layer}
// when its box is ticked and drawn on Leaflet (tiles when configured, a plain ground when not).
// Without Leaflet the page's tables carry the same figures and the map box says so.
(function () {
  'use strict';
  var box = document.getElementById('situation-map');
  if (!box) return;
  var base = window.LinliMap && window.LinliMap.areaMap(box);
  if (!base) return;
  var map = base.map, at = base.at;
  // Areas under buildings under hotspots under single points, whatever order the layers arrive in.
  [['grids', 410], ['hotspots', 420], ['blocks', 430], ['points', 440]].forEach(function (p) { map.createPane('sit-' + p[0]).style.zIndex = p[1]; });
  var api = '/api/v1/places/' + box.dataset.place + '/situation/';
  var layers = {}, data = {}, fitted = false;
  var colour = document.getElementById('situation-colour');
  function esc(s) { var d = document.createElement('div'); d.textContent = s == null ? '' : String(s); return d.innerHTML; }

  function fit() {
    if (fitted) return;
    var b = [];
    Object.keys(layers).forEach(function (k) {
      if (!map.hasLayer(layers[k])) return;
      layers[k].eachLayer(function (l) {
        if (l.getLatLng) b.push(l.getLatLng());
        else if (l.getBounds) { var bb = l.getBounds(); b.push(bb.getSouthWest(), bb.getNorthEast()); }
      });
    });
    if (b.length) { map.fitBounds(L.latLngBounds(b).pad(0.1), { maxZoom: 17, animate: false }); fitted = true; }
  }

  var draw = {
    grids: function (list) {
      var g = L.layerGroup();
      list.forEach(function (a) {
        // The boundary the community drew, else a square around each of its buildings.
        var rings = a.boundary ? [a.boundary] : a.squares;
        if (!rings.length) return;
        var poly = L.polygon(rings.map(function (sq) { return sq.map(function (p) { return at(p[0], p[1]); }); }), { pane: 'sit-grids', className: 'grid-area band-' + a.band, weight: 2, fillOpacity: 0.3 });
        poly.bindTooltip(esc(a.name) + '<br>' + esc(box.dataset.rateLabel) + ' ' + (a.rate == null ? '—' : a.rate + '%') +
          (a.overdue ? '<br>' + esc(box.dataset.overdueLabel) + ' ' + a.overdue : ''), { sticky: true });
        poly.addTo(g);
      });
      return g;
    },
    households: function (list) {
      var g = L.layerGroup(), tag = colour ? colour.value : 'elderly_alone';
      var max = 1;
      list.forEach(function (b) { b.situations.forEach(function (s) { if (s.situation === tag && s.households > max) max = s.households; }); });
      list.forEach(function (b) {
        if (b.lat == null || b.lng == null) return;
        var n = 0, lines = [];
        b.situations.forEach(function (s) { if (s.situation === tag) n = s.households; lines.push(esc(s.label) + ' ' + s.households); });
        var m = L.circleMarker(at(b.lat, b.lng), { pane: 'sit-blocks', radius: 4 + Math.min(6, Math.sqrt(b.households) / 1.5), className: 'block-point' + (n ? ' has-tag' : ''),
          weight: 1, fillOpacity: n ? 0.35 + 0.6 * n / max : 0.15 });
        m.bindTooltip('<strong>' + esc(b.name) + '</strong><br>' + esc(box.dataset.householdsLabel) + ' ' + b.households + (lines.length ? '<br>' + lines.join('<br>') : ''));
        m.addTo(g);
      });
      return g;
    },
    requests: function (d) {
      var g = L.layerGroup(), max = 1, half = d.cell / 2;
      d.cells.forEach(function (c) { if (c.count > max) max = c.count; });
      d.cells.forEach(function (c) {
        var k = Math.cos(c.lat * Math.PI / 180) || 1, hx = half / k;
        var sw = at(c.lat - half, c.lng - hx), ne = at(c.lat + half, c.lng + hx);
        var r = c.place ? L.circleMarker(at(c.lat, c.lng), { pane: 'sit-hotspots', radius: 8 + 14 * c.count / max, className: 'hotspot', weight: 1, fillOpacity: 0.2 + 0.6 * c.count / max })
                        : L.rectangle([sw, ne], { pane: 'sit-hotspots', className: 'hotspot', weight: 0, fillOpacity: 0.15 + 0.65 * c.count / max });
        r.bindTooltip((c.place ? esc(c.place) + '<br>' : '') + esc(box.dataset.requestsLabel) + ' ' + c.count);
        r.addTo(g);
      });
      return g;
    },
    facilities: function (list) {
      var g = L.layerGroup();
      list.forEach(function (f) {
        L.circleMarker(at(f.lat, f.lng), { pane: 'sit-points', radius: 6, className: 'map-point map-' + f.kind, weight: 2 }).bindTooltip(esc(f.name) + ' · ' + esc(f.label)).addTo(g);
      });
      return g;
    },
    uncovered: function (list) {
      var g = L.layerGroup();
      list.forEach(function (u) {
        if (u.lat == null || u.lng == null) return;
        L.circleMarker(at(u.lat, u.lng), { pane: 'sit-points', radius: 11, className: 'uncovered', weight: 3, fillOpacity: 0.25 })
          .bindTooltip('<strong>' + esc(u.name) + '</strong><br>' + esc(box.dataset.lacksLabel) + ' ' + u.missing.map(esc).join('、')).addTo(g);
      });
      return g;
    }
  };

  function show(name, on) {
    if (!on) { if (layers[name]) map.removeLayer(layers[name]); return; }
    if (data[name] !== undefined) {
      if (!layers[name]) layers[name] = draw[name](data[name]);
      layers[name].addTo(map); fit(); return;
    }
    var url = api + name + (name === 'requests' ? '?' + (box.dataset.query || '') : '');
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (d === null) return;
        data[name] = d; layers[name] = draw[name](d);
        var box2 = box.querySelector('input[data-layer="' + name + '"]');
        if (box2 && box2.checked) { layers[name].addTo(map); fit(); }
      })
      .catch(function () {});
  }
  box.querySelectorAll('input[data-layer]').forEach(function (i) {
    i.addEventListener('change', function () { show(i.dataset.layer, i.checked); });
    if (i.checked) show(i.dataset.layer, true);
  });
  if (colour) colour.addEventListener('change', function () {
    if (!data.households) return;
    if (layers.households) map.removeLayer(layers.households);
    layers.households = draw.households(data.households);
    if (box.querySelector('input[data-layer="households"]').checked) layers.households.addTo(map);
  });
  window.LinliSituation = { map: map, layers: layers };
})();
"""#
}
