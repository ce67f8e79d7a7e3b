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

  // Under a map in a form: "my position" (where the phone allows it) and "clear".
  function tools(box, map, redraw) {
    var bar = document.createElement('p');
    bar.className = 'map-tools';
    if (navigator.geolocation) {
      var here = document.createElement('button');
      here.type = 'button'; here.textContent = box.dataset.hereLabel || 'Here'; here.className = 'secondary map-here';
      here.addEventListener('click', function () {
        navigator.geolocation.getCurrentPosition(function (p) { map.set(p.coords.latitude, p.coords.longitude); },
          function () { map.note.textContent = box.dataset.noGeoLabel || ''; }, { enableHighAccuracy: true, timeout: 10000 });
      });
      bar.appendChild(here);
    }
    var clear = document.createElement('button');
    clear.type = 'button'; clear.textContent = box.dataset.clearLabel || 'Clear'; clear.className = 'secondary map-clear';
    clear.addEventListener('click', function () { map.latInput.value = ''; map.lngInput.value = ''; redraw(); });
    bar.appendChild(clear);
    box.appendChild(bar);
  }

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
      tools(box, self, function () { self.draw(); });
    }
    if (box.dataset.query) this.load(box.dataset.query);
  }

  Map.prototype.current = function () {
    if (this.latInput) return [num(this.latInput.value), num(this.lngInput.value)];
    return [num(this.box.dataset.pointLat), num(this.box.dataset.pointLng)];
  };

  // Shared by both drawings (`draw(true)`: fit the view to what is there, where that applies).
  Map.prototype.load = function (query) {
    var self = this;
    if (!query) { this.points = []; this.draw(true); return; }
    fetch('/api/v1/map-points?' + query, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : { points: [] }; })
      .then(function (d) { self.points = d.points || []; self.draw(true); })
      .catch(function () { self.points = []; self.draw(true); });
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

  // GCJ-02, the offset coordinate system of most Chinese commercial maps: Linli stores WGS-84
  // (CGCS2000 agrees with it to centimetres) and converts only to draw on such tiles, and back
  // when a tap on them picks a point. Outside China there is no offset.
  var A = 6378245.0, EE = 0.00669342162296594323;
  function outsideChina(lat, lng) { return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271; }
  function tLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
    return r + (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
  }
  function tLng(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
    return r + (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
  }
  function toGCJ(lat, lng) {
    if (outsideChina(lat, lng)) return [lat, lng];
    var dLat = tLat(lng - 105, lat - 35), dLng = tLng(lng - 105, lat - 35), rad = lat / 180 * Math.PI;
    var m = 1 - EE * Math.sin(rad) * Math.sin(rad), sq = Math.sqrt(m);
    dLat = dLat * 180 / ((A * (1 - EE)) / (m * sq) * Math.PI);
    dLng = dLng * 180 / (A / sq * Math.cos(rad) * Math.PI);
    return [lat + dLat, lng + dLng];
  }
  // The inverse has no closed form: step until the forward conversion lands on the point (well
  // under a centimetre after a few steps).
  function fromGCJ(lat, lng) {
    var w = [lat, lng];
    for (var i = 0; i < 10; i++) {
      var g = toGCJ(w[0], w[1]);
      w = [w[0] - (g[0] - lat), w[1] - (g[1] - lng)];
    }
    return w;
  }

  // A Leaflet map (from Debian's libjs-leaflet, served by Linli) in a new holder inside `box`
  // (before `before`, else at its end): on the configured tiles, or on a plain ground when no
  // tile server is set (it then works with no network). Shared with the situation map.
  function baseMap(box, before) {
    var S = window.LinliMapSettings || {};
    var holder = document.createElement('div');
    holder.className = 'map-leaflet';
    holder.setAttribute('role', 'application');
    holder.setAttribute('aria-label', box.dataset.label || '');
    box.insertBefore(holder, before || null);
    // Without a tile layer Leaflet knows no zoom limits, and fitting one point zoomed forever.
    var map = L.map(holder, { attributionControl: !!S.tiles, zoomControl: true, minZoom: 3, maxZoom: 19 });
    if (S.tiles) L.tileLayer(S.tiles, { maxZoom: 19, attribution: S.attribution || '' }).addTo(map);
    else holder.classList.add('map-offline');
    map.setView([30.25, 120.16], 13);
    return { map: map, holder: holder, gcj: !!(S.tiles && S.crs === 'gcj02') };
  }

  // The same widget on Leaflet: a real map that pans and zooms, the community's own places
  // drawn as vector layers.
  function LeafletMap(box) {
    var self = this;
    this.box = box;
    this.latInput = box.dataset.latInput ? document.getElementById(box.dataset.latInput) : null;
    this.lngInput = box.dataset.lngInput ? document.getElementById(box.dataset.lngInput) : null;
    var base = baseMap(box);
    this.map = base.map;
    this.gcj = base.gcj;
    this.note = document.createElement('p');
    this.note.className = 'meta map-note';
    box.appendChild(this.note);
    this.layer = L.layerGroup().addTo(this.map);
    this.pins = [];
    try { this.pins = JSON.parse(box.dataset.pins || '[]'); } catch (e) { this.pins = []; }
    this.points = [];
    if (this.latInput) {
      this.map.on('click', function (e) { var w = self.stored(e.latlng.lat, e.latlng.lng); self.set(w[0], w[1]); });
      [this.latInput, this.lngInput].forEach(function (i) { i.addEventListener('change', function () { self.draw(true); }); });
      tools(box, self, function () { self.draw(false); });
    }
    // A grid's boundary: shown from the page, or drawn into a box of points (one
    // "lat, lng" per line, stored coordinates) by tapping the map along it.
    this.ring = [];
    try { this.ring = JSON.parse(box.dataset.boundary || '[]'); } catch (e) { this.ring = []; }
    this.ringInput = box.dataset.boundaryInput ? document.getElementById(box.dataset.boundaryInput) : null;
    // A patrol's track walked, drawn as a line from its start (a ring) to its end (a dot).
    this.track = [];
    try { this.track = JSON.parse(box.dataset.track || '[]'); } catch (e) { this.track = []; }
    if (this.ringInput) {
      this.readRing();
      this.map.on('click', function (e) {
        var w = self.stored(e.latlng.lat, e.latlng.lng);
        self.ring.push([w[0], w[1]]);
        self.writeRing();
      });
      this.ringInput.addEventListener('input', function () { self.readRing(); self.draw(false); });
      var bar = document.createElement('p');
      bar.className = 'map-tools';
      [['undoLabel', function () { self.ring.pop(); }], ['clearLabel', function () { self.ring = []; }]].forEach(function (b) {
        var button = document.createElement('button');
        button.type = 'button'; button.className = 'secondary'; button.textContent = box.dataset[b[0]] || '';
        button.addEventListener('click', function () { b[1](); self.writeRing(); });
        bar.appendChild(button);
      });
      box.appendChild(bar);
    }
    // Places to pick (a micro-grid's buildings): a tap ticks or unticks the box of the same
    // value in the list beside it, which stays the way to pick without the map.
    this.picks = [];
    try { this.picks = JSON.parse(box.dataset.picks || '[]'); } catch (e) { this.picks = []; }
    this.pickBoxes = box.dataset.pickBoxes ? document.getElementById(box.dataset.pickBoxes) : null;
    if (this.pickBoxes) this.pickBoxes.addEventListener('change', function () { self.draw(false); });
    // A map inside a folded section has no size until it opens.
    var fold = box.closest('details');
    if (fold) fold.addEventListener('toggle', function () { self.map.invalidateSize(); self.draw(true); });
    if (box.dataset.query) this.load(box.dataset.query); else this.draw(true);
  }
  LeafletMap.prototype.shown = function (lat, lng) { return this.gcj ? toGCJ(lat, lng) : [lat, lng]; };
  LeafletMap.prototype.stored = function (lat, lng) { return this.gcj ? fromGCJ(lat, lng) : [lat, lng]; };
  LeafletMap.prototype.current = Map.prototype.current;
  LeafletMap.prototype.load = Map.prototype.load;
  LeafletMap.prototype.draw = function (fit) {
    var self = this, bounds = [], c = this.current();
    // Names stay on the map while few enough to read; with many they show on a tap.
    var named = this.points.filter(function (p) { return p.kind === 'compound' || p.kind === 'villager_group'; }).length <= 8;
    this.layer.clearLayers();
    this.points.forEach(function (p) {
      var at = self.shown(p.lat, p.lng);
      bounds.push(at);
      L.circleMarker(at, { radius: p.kind === 'compound' ? 9 : 7, className: 'map-point map-' + p.kind, weight: 2 })
        .bindTooltip(p.label || p.name, { permanent: named && (p.kind === 'compound' || p.kind === 'villager_group'), direction: 'right' }).addTo(self.layer);
    });
    this.picks.forEach(function (p) {
      var at = self.shown(p.lat, p.lng);
      bounds.push(at);
      var input = self.pickBoxes ? self.pickBoxes.querySelector('input[value="' + p.id + '"]') : null;
      var state = !input ? '' : input.disabled ? ' map-pick-here' : input.checked ? ' map-pick-on' : '';
      var m = L.circleMarker(at, { radius: 11, className: 'map-pick map-pick-' + p.id + state, weight: 2 }).addTo(self.layer);
      m.bindTooltip(p.label || '', { direction: 'top' });
      // As if ticked by hand: the list's own listeners (and this map's) hear it.
      if (input && !input.disabled) m.on('click', function () { input.checked = !input.checked; input.dispatchEvent(new Event('change', { bubbles: true })); });
    });
    this.pins.forEach(function (p) {
      var at = self.shown(p.lat, p.lng);
      bounds.push(at);
      var m = L.circleMarker(at, { radius: 9, className: 'map-pin', weight: 2 }).addTo(self.layer);
      if (p.href) m.on('click', function () { window.location = p.href; });
      m.bindTooltip(p.label || '', { direction: 'top' });
    });
    if (this.ring.length) {
      var ring = this.ring.map(function (p) { return self.shown(p[0], p[1]); });
      ring.forEach(function (at) { bounds.push(at); });
      (ring.length > 2 ? L.polygon(ring, { className: 'grid-boundary', weight: 3, fillOpacity: 0.15 }) : L.polyline(ring, { className: 'grid-boundary', weight: 3 }))
        .addTo(this.layer);
      if (this.ringInput) ring.forEach(function (at) { L.circleMarker(at, { radius: 5, className: 'grid-boundary-point', weight: 2 }).addTo(self.layer); });
    }
    if (this.track.length) {
      var line = this.track.map(function (p) { return self.shown(p[0], p[1]); });
      line.forEach(function (at) { bounds.push(at); });
      L.polyline(line, { className: 'patrol-track', weight: 4 }).addTo(this.layer);
      L.circleMarker(line[0], { radius: 7, className: 'patrol-track-start', weight: 3 }).addTo(this.layer);
      L.circleMarker(line[line.length - 1], { radius: 7, className: 'patrol-track-end', weight: 3 }).addTo(this.layer);
    }
    if (c[0] !== null && c[1] !== null) {
      var at = self.shown(c[0], c[1]);
      bounds.push(at);
      L.circleMarker(at, { radius: 12, className: 'map-marker', weight: 3 }).addTo(this.layer);
    }
    this.note.textContent = this.latInput ? (this.box.dataset.hintLabel || '') : '';
    if (!bounds.length && this.latInput) this.note.textContent = this.box.dataset.emptyLabel || '';
    // Buildings to pick stand tens of metres apart: close enough in to tap each one.
    if (fit && bounds.length) this.map.fitBounds(L.latLngBounds(bounds).pad(0.15), { maxZoom: this.picks.length ? 19 : 16, animate: false });
  };
  LeafletMap.prototype.readRing = function () {
    this.ring = this.ringInput.value.split('\n').map(function (line) {
      var p = line.trim().split(/[\s,，]+/);
      return p.length === 2 ? [num(p[0]), num(p[1])] : null;
    }).filter(function (p) { return p && p[0] !== null && p[1] !== null; });
  };
  LeafletMap.prototype.writeRing = function () {
    this.ringInput.value = this.ring.map(function (p) { return p[0].toFixed(6) + ', ' + p[1].toFixed(6); }).join('\n');
    this.draw(false);
  };
  LeafletMap.prototype.set = function (lat, lng) {
    this.latInput.value = lat.toFixed(6);
    this.lngInput.value = lng.toFixed(6);
    this.draw(false);
  };

  // A street's or community's map drawn in `box` (the situation map, the 15-minute circle),
  // with `at` (stored point to the map's) and `stored` (a tap back to a stored point). Without
  // Leaflet: the box says so from its `data-no-map`, and null (the page's tables have the figures).
  function areaMap(box) {
    if (!window.L) {
      var p = document.createElement('p'); p.className = 'notice'; p.textContent = box.dataset.noMap || '';
      box.insertBefore(p, box.firstChild);
      return null;
    }
    var base = baseMap(box, box.firstChild);
    base.at = function (lat, lng) { return base.gcj ? toGCJ(lat, lng) : [lat, lng]; };
    base.stored = function (lat, lng) { return base.gcj ? fromGCJ(lat, lng) : [lat, lng]; };
    return base;
  }

  window.LinliMap = {
    attach: function (box) {
      // Picking on a map needs the real map; without it the list beside is the way, and the
      // box and its hint are hidden.
      if (!window.L && box.dataset.picks) {
        box.hidden = true;
        var hint = document.getElementById(box.id + '-hint');
        if (hint) hint.hidden = true;
        return null;
      }
      return box.linliMap || (box.linliMap = window.L ? new LeafletMap(box) : new Map(box));
    },
    toGCJ: toGCJ, fromGCJ: fromGCJ, baseMap: baseMap, areaMap: areaMap
  };
  document.querySelectorAll('.map[data-map]').forEach(function (b) { window.LinliMap.attach(b); });
})();
"""#
}
