import LinliCore
import LinliStore
/// The map widget's script, served as /static/map.js (see the comment at its top).
enum MapScript {
    static let js = #"""
// Linli's map widget: the reference points of one community (its compounds and facilities, from
// Linli's own registry, so it works on a street office's network with no map service) drawn to
// scale; in a form a tap sets the latitude and longitude fields, on a page it shows a point.
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg', W = 400, H = 300, PAD = 28;
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function num(v) { var n = parseFloat(v); return isFinite(n) ? n : null; }

  function Map(box) {
    this.box = box;
    this.latInput = box.dataset.latInput ? document.getElementById(box.dataset.latInput) : null;
    this.lngInput = box.dataset.lngInput ? document.getElementById(box.dataset.lngInput) : null;
    this.points = [];
    this.svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': box.dataset.label || '' }, null);
    this.svg.classList.add('map-canvas');
    this.note = document.createElement('p');
    this.note.className = 'meta map-note';
    box.appendChild(this.svg);
    box.appendChild(this.note);
    var self = this;
    if (this.latInput) {
      this.svg.addEventListener('click', function (ev) { self.pick(ev); });
      [this.latInput, this.lngInput].forEach(function (i) { i.addEventListener('change', function () { self.draw(); }); });
      var tools = document.createElement('p');
      tools.className = 'map-tools';
      if (navigator.geolocation) {
        var here = document.createElement('button');
        here.type = 'button'; here.textContent = box.dataset.hereLabel || 'Here'; here.className = 'secondary map-here';
        here.addEventListener('click', function () {
          navigator.geolocation.getCurrentPosition(function (p) {
            self.set(p.coords.latitude, p.coords.longitude);
          }, function () { self.note.textContent = box.dataset.noGeoLabel || ''; }, { enableHighAccuracy: true, timeout: 10000 });
        });
        tools.appendChild(here);
      }
      var clear = document.createElement('button');
      clear.type = 'button'; clear.textContent = box.dataset.clearLabel || 'Clear'; clear.className = 'secondary map-clear';
      clear.addEventListener('click', function () { self.latInput.value = ''; self.lngInput.value = ''; self.draw(); });
      tools.appendChild(clear);
      box.appendChild(tools);
    }
    if (box.dataset.query) this.load(box.dataset.query);
  }

  Map.prototype.current = function () {
    if (this.latInput) return [num(this.latInput.value), num(this.lngInput.value)];
    return [num(this.box.dataset.pointLat), num(this.box.dataset.pointLng)];
  };

  Map.prototype.load = function (query) {
    var self = this;
    if (!query) { this.points = []; this.draw(); return; }
    fetch('/api/v1/map-points?' + query, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : { points: [] }; })
      .then(function (d) { self.points = d.points || []; self.draw(); })
      .catch(function () { self.points = []; self.draw(); });
  };

  // The frame: every reference point and the chosen point, with a margin, to scale (a degree of
  // longitude is shorter than a degree of latitude by cos(latitude)).
  Map.prototype.frame = function () {
    var lats = [], lngs = [], c = this.current();
    this.points.forEach(function (p) { lats.push(p.lat); lngs.push(p.lng); });
    if (c[0] !== null && c[1] !== null) { lats.push(c[0]); lngs.push(c[1]); }
    if (!lats.length) return null;
    var minLat = Math.min.apply(null, lats), maxLat = Math.max.apply(null, lats);
    var minLng = Math.min.apply(null, lngs), maxLng = Math.max.apply(null, lngs);
    var k = Math.cos((minLat + maxLat) / 2 * Math.PI / 180);
    var spanX = Math.max((maxLng - minLng) * k, 0.002), spanY = Math.max(maxLat - minLat, 0.002);
    var scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
    var cx = (minLng + maxLng) / 2, cy = (minLat + maxLat) / 2;
    return {
      x: function (lng) { return W / 2 + (lng - cx) * k * scale; },
      y: function (lat) { return H / 2 - (lat - cy) * scale; },
      lng: function (x) { return cx + (x - W / 2) / (k * scale); },
      lat: function (y) { return cy - (y - H / 2) / scale; }
    };
  };

  Map.prototype.draw = function () {
    var svg = this.svg, f = this.frame(), c = this.current();
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    el('rect', { x: 0, y: 0, width: W, height: H, class: 'map-ground' }, svg);
    this.f = f;
    if (!f) {
      // Nothing to draw to scale yet: a blank ground that still takes a first tap.
      this.f = { x: function () { return W / 2; }, y: function () { return H / 2; },
                 lng: function () { return null; }, lat: function () { return null; } };
      this.note.textContent = this.box.dataset.emptyLabel || '';
      return;
    }
    this.note.textContent = this.latInput ? (this.box.dataset.hintLabel || '') : '';
    this.points.forEach(function (p) {
      var g = el('g', { class: 'map-point map-' + p.kind }, svg);
      el('circle', { cx: f.x(p.lng), cy: f.y(p.lat), r: p.kind === 'compound' ? 7 : 5 }, g);
      el('title', {}, g).textContent = p.name;
      var t = el('text', { x: f.x(p.lng) + 8, y: f.y(p.lat) + 4 }, g);
      t.textContent = p.label || p.name;
    });
    if (c[0] !== null && c[1] !== null) {
      var x = f.x(c[1]), y = f.y(c[0]);
      var m = el('g', { class: 'map-marker' }, svg);
      el('path', { d: 'M' + x + ' ' + y + ' l-9 -20 a10 10 0 1 1 18 0 z' }, m);
      el('circle', { cx: x, cy: y - 22, r: 4, class: 'map-marker-dot' }, m);
    }
  };

  Map.prototype.pick = function (ev) {
    if (!this.f) return;
    var pt = this.svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(this.svg.getScreenCTM().inverse());
    var lat = this.f.lat(p.y), lng = this.f.lng(p.x);
    if (lat === null) return;
    this.set(lat, lng);
  };

  Map.prototype.set = function (lat, lng) {
    this.latInput.value = lat.toFixed(6);
    this.lngInput.value = lng.toFixed(6);
    this.draw();
  };

  window.LinliMap = { attach: function (box) { return box.linliMap || (box.linliMap = new Map(box)); } };
  document.querySelectorAll('.map[data-map]').forEach(function (b) { window.LinliMap.attach(b); });
})();
"""#
}
