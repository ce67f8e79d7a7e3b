import Foundation
import LinliCore
import LinliStore

/// The console's scripts, served from the app itself as files: the Content-Security-Policy allows
/// no inline script (`script-src 'self'`), so nothing a template writes can run as code.
enum Scripts {
    /// Small page helpers: print buttons and "back" links (formerly inline handlers).
    static let app = """
    (function () {
      document.querySelectorAll('[data-print]').forEach(function (b) { b.addEventListener('click', function () { window.print(); }); });
      document.querySelectorAll('a[data-back]').forEach(function (a) {
        if (history.length > 1) a.addEventListener('click', function (e) { e.preventDefault(); history.back(); });
      });
      // Tables turn into cards on a narrow screen: each cell carries its column's name.
      document.querySelectorAll('table').forEach(function (table) {
        var heads = table.querySelectorAll('thead th');
        if (!heads.length) return;
        table.classList.add('cards');
        table.querySelectorAll('tbody tr').forEach(function (tr) {
          Array.prototype.forEach.call(tr.children, function (td, i) {
            if (heads[i] && !td.hasAttribute('data-label')) td.setAttribute('data-label', heads[i].textContent.trim());
          });
        });
      });
      // Parts of a form that apply to one choice only (data-when="kind=care", a radio; or
      // data-when="tags=disabled", one box of several) stay hidden until it is made; without
      // script they all show, each labelled.
      var dependents = document.querySelectorAll('[data-when]');
      function syncWhen() {
        dependents.forEach(function (el) {
          var p = el.getAttribute('data-when').split('=');
          el.hidden = !document.querySelector('input[name="' + p[0] + '"][value="' + p[1] + '"]:checked');
        });
      }
      if (dependents.length) { document.addEventListener('change', syncWhen); syncWhen(); }
      // On a desk the menu is simply open; on a phone it folds behind one button.
      var menu = document.querySelector('details.menu');
      if (menu && window.matchMedia('(min-width: 64em)').matches) menu.open = true;
      // Anything that cannot be undone asks first and says what will happen.
      document.addEventListener('submit', function (e) {
        var f = e.target, q = f.getAttribute && f.getAttribute('data-confirm');
        var b = e.submitter, qb = b && b.getAttribute('data-confirm');
        if ((qb || q) && !window.confirm(qb || q)) e.preventDefault();
      }, true);
      // After a refused form the problems are listed at the top, where the eye is, each linking
      // to its field; focus goes to the list so a screen reader reads it first.
      var main = document.getElementById('main');
      var errors = Array.prototype.slice.call(document.querySelectorAll('.field-error, p.error[role=alert]'))
        .filter(function (e) { return e.textContent.trim() !== '' && e.offsetParent !== null; });
      if (main && errors.length && !document.querySelector('.error-summary')) {
        var box = document.createElement('div');
        box.className = 'error-summary'; box.setAttribute('role', 'alert'); box.tabIndex = -1;
        var list = document.createElement('ul');
        errors.forEach(function (e) {
          var li = document.createElement('li'), field = e.id && document.querySelector('[aria-describedby~="' + e.id + '"]');
          if (!field) { var prev = e.previousElementSibling; if (prev && /INPUT|SELECT|TEXTAREA/.test(prev.tagName)) field = prev; }
          var label = field && field.id && document.querySelector('label[for="' + field.id + '"]');
          var text = (label ? label.textContent.trim() + '：' : '') + e.textContent.trim();
          if (field && field.id) { var a = document.createElement('a'); a.href = '#' + field.id; a.textContent = text; li.appendChild(a); }
          else { li.textContent = text; }
          list.appendChild(li);
        });
        box.appendChild(list);
        main.insertBefore(box, main.firstChild);
        box.focus();
        window.scrollTo(0, 0);
      } else {
        // A form that sends the page back to its own section (#contact) finds the message there,
        // where the page opens, rather than at the top of a page scrolled past it.
        var flash = document.getElementById('flash');
        var target = flash && location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
        if (target && target !== main && !flash.contains(target)) target.parentNode.insertBefore(flash, target);
        // After the load, or the browser's own jump to the fragment comes after ours.
        if (flash) window.addEventListener('load', function () { flash.scrollIntoView({ block: 'start' }); flash.focus({ preventScroll: true }); });
      }
    })();

    """

    /// Search-as-you-type for a field that takes an internal number (a household, a resident, a
    /// place): the number field becomes hidden behind a search box that asks
    /// `/api/v1/pick/{kind}?q=` and fills the number from the choice. Without script the number
    /// field works as before; typing a number into the box still works.
    static let picker = """
    (function () {
      // Once per field, even if a page loads this script a second time.
      document.querySelectorAll('input[data-pick]:not([data-picking])').forEach(function (field) {
        field.setAttribute('data-picking', '');
        var kind = field.getAttribute('data-pick');
        var box = document.createElement('input');
        box.type = 'search'; box.id = field.id; field.id = field.id + '-value';
        box.setAttribute('role', 'combobox'); box.setAttribute('aria-autocomplete', 'list'); box.setAttribute('aria-expanded', 'false');
        box.placeholder = field.getAttribute('data-pick-hint') || '';
        if (field.getAttribute('aria-describedby')) box.setAttribute('aria-describedby', field.getAttribute('aria-describedby'));
        if (field.getAttribute('aria-invalid')) box.setAttribute('aria-invalid', field.getAttribute('aria-invalid'));
        // A place already chosen shows by its name (the page says it); typing a number still works.
        box.value = field.getAttribute('data-pick-label') || field.value;
        field.type = 'hidden';
        var list = document.createElement('ul');
        list.id = box.id + '-options'; list.className = 'pick-list'; list.setAttribute('role', 'listbox'); list.hidden = true;
        box.setAttribute('aria-controls', list.id);
        field.parentNode.insertBefore(box, field);
        field.parentNode.insertBefore(list, field.nextSibling);
        var timer = null, seq = 0;
        function close() { list.hidden = true; box.setAttribute('aria-expanded', 'false'); }
        function search() {
          var q = box.value.trim(), mine = ++seq;
          if (!q) { close(); return; }
          var within = field.getAttribute('data-pick-within');
          fetch('/api/v1/pick/' + kind + '?q=' + encodeURIComponent(q) + (within ? '&within=' + encodeURIComponent(within) : ''),
                { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
            .then(function (r) { return r.ok ? r.json() : []; })
            .then(function (items) {
              if (mine !== seq) return;
              list.textContent = '';
              items.forEach(function (it) {
                var li = document.createElement('li'); li.setAttribute('role', 'option');
                var b = document.createElement('button'); b.type = 'button'; b.className = 'pick-option'; b.textContent = it.label;
                if (it.hint) { var h = document.createElement('span'); h.className = 'meta'; h.textContent = ' ' + it.hint; b.appendChild(h); }
                b.addEventListener('click', function () { field.value = it.id; box.value = it.label; close(); box.focus(); });
                li.appendChild(b); list.appendChild(li);
              });
              if (!items.length) { var li = document.createElement('li'); li.className = 'meta'; li.textContent = field.getAttribute('data-pick-none') || '—'; list.appendChild(li); }
              list.hidden = false; box.setAttribute('aria-expanded', 'true');
            });
        }
        box.addEventListener('input', function () {
          var t = box.value.trim();
          field.value = /^[0-9]+$/.test(t) && kind !== 'households' ? t : (/^#[0-9]+$/.test(t) ? t.slice(1) : '');
          clearTimeout(timer); timer = setTimeout(search, 200);
        });
        box.addEventListener('keydown', function (e) { if (e.key === 'Escape') close(); });
      });
    })();

    """

    /// The request form: the chosen category's extra fields, look-alikes before sending, the map.
    static let requestForm = """
// Show only the chosen category's extra fields (without script they all show, labelled).
(function () {
  var select = document.getElementById('category');
  function sync() {
    document.querySelectorAll('fieldset.attributes').forEach(function (f) { f.hidden = f.dataset.category !== select.value; });
  }
  select.addEventListener('change', sync); sync();
  // Before sending: ask whether neighbours already reported the same thing.
  var form = document.getElementById('request-form'), box = document.getElementById('similar-before');
  function suggest() {
    var loc = form.location.value, body = { category: select.value, description: form.description.value };
    if (!body.category || !body.description || !loc) return;
    if (loc.indexOf('household:') === 0) body.household_id = +loc.slice(10); else body.place_id = +loc.slice(6);
    fetch('/api/v1/requests/similar', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': form._csrf.value }, body: JSON.stringify(body) })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (list) {
        var ul = box.querySelector('ul'); ul.textContent = '';
        list.forEach(function (s) {
          // Text only: someone else's request is not the resident's to open.
          var li = document.createElement('li');
          li.textContent = '#' + s.id + ' ' + s.category_name + ' · ' + s.address + ' · ' + s.created_text;
          ul.appendChild(li);
        });
        box.hidden = list.length === 0;
      });
  }
  form.description.addEventListener('change', suggest); form.location.addEventListener('change', suggest);
  // The map shows the community of the chosen place.
  var map = window.LinliMap && window.LinliMap.attach(document.getElementById('request-map'));
  function showMap() {
    var loc = form.location.value;
    if (map) map.load(loc.indexOf('household:') === 0 ? 'household_id=' + loc.slice(10) : (loc ? 'place_id=' + loc.slice(6) : ''));
  }
  form.location.addEventListener('change', showMap); showMap();
  document.getElementById('request-form').addEventListener('submit', function () {
    document.getElementById('request-submit').disabled = true;
  });
})();
"""

    /// Scanning a household's printed code with the phone camera (a meeting's sign-in, a visit):
    /// the button names the field it fills (`data-field`), and its form is sent.
    static let scan = """
// Only where the browser can read QR codes itself (BarcodeDetector); elsewhere typing or a
// hand-held scanner (which types) still works.
(function () {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var button = document.getElementById("scan-code"), video = document.getElementById("scan-video");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-field")), form = button.form;
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream; video.hidden = false; video.play();
      var tick = function () {
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            stream.getTracks().forEach(function (t) { t.stop(); });
            field.value = codes[0].rawValue;
            // A form that needs more than the code (代办 asks a reason) is filled, not sent.
            if (button.getAttribute("data-then")) { video.hidden = true; document.getElementById(button.getAttribute("data-then")).focus(); }
            else { form.submit(); }
          } else { requestAnimationFrame(tick); }
        }).catch(function () { requestAnimationFrame(tick); });
      };
      tick();
    }).catch(function () { button.hidden = true; });
  });
})();
"""

    /// Visits typed in a stairwell and patrols walked through a basement garage, without signal:
    /// the form is sent as JSON; when the network fails it is kept in this browser
    /// (localStorage) with its client key and sent again when the signal returns, on any page
    /// that loads this script. The server stores a key once, so a resend after a lost answer is
    /// harmless. Refused input (422) falls back to the plain form post, which shows each message
    /// beside its field. Photos are made smaller on the phone first (smaller still when kept).
    static let visits = """
(function () {
  // One queue per account and kind: a shared office tablet never sends one worker's records
  // under another's session, nor shows them.
  var owner = document.body.getAttribute('data-user') || '';
  var KINDS = {
    visit: { key: 'linli.visits.pending.' + owner, api: '/api/v1/visits' },
    patrol: { key: 'linli.patrols.pending.' + owner, api: '/api/v1/patrols' },
    // A task's door: each record names its own address (the task and the household).
    mark: { key: 'linli.taskmarks.pending.' + owner, api: null }
  };
  var ALL = ['visit', 'patrol', 'mark'];
  // A record's identity in its queue: a visit's or patrol's key; a door's task and household
  // (a later mark of the same door replaces one not yet sent).
  function keyOf(v) { return v.key || v.body.client_key; }
  var REFUSED = 'linli.outbox.refused.' + owner;
  function read(key) { try { return JSON.parse(localStorage.getItem(key) || '[]'); } catch (e) { return []; } }
  function load(kind) { return read(KINDS[kind].key); }
  function store(kind, list) { localStorage.setItem(KINDS[kind].key, JSON.stringify(list)); show(); }
  // Records kept before queues were per account: the first account to open a page sends them.
  if (owner) ['visit', 'patrol'].forEach(function (kind) {
    var legacy = 'linli.' + kind + 's.pending';
    if (!localStorage.getItem(legacy)) return;
    try { localStorage.setItem(KINDS[kind].key, JSON.stringify(load(kind).concat(read(legacy)))); localStorage.removeItem(legacy); } catch (e) { /* kept where it was */ }
  });
  // What the server said was wrong (its problem document: `detail`, and each field's `detail`).
  function reason(r) {
    return r.json().then(function (e) {
      return (e && e.errors && e.errors.length ? e.errors.map(function (x) { return x.detail; }).join('；') : (e && (e.detail || e.title))) || String(r.status);
    }, function () { return String(r.status); });
  }
  // Signed out, or a page left open past its session: the worker signs in again and it goes.
  function signIn(r) {
    if (r.status === 401) return Promise.resolve(true);
    if (r.status !== 403) return Promise.resolve(false);
    return r.clone().json().then(function (e) { return !!e && (e.code === 'csrf' || e.code === 'cross_origin'); }, function () { return false; });
  }
  function csrf() { var f = document.querySelector('input[name=_csrf]'); return f && f.value; }
  var box = document.getElementById('visit-queue'), login = false;
  function show() {
    if (!box) return;
    var names = ALL.reduce(function (all, k) { return all.concat(load(k)); }, []).map(function (v) { return v.address; });
    var refused = read(REFUSED);
    box.hidden = names.length === 0 && refused.length === 0;
    box.textContent = names.length ? box.getAttribute('data-label') + names.join('、') + (login ? ' ' + box.getAttribute('data-login') : '') : '';
    // Refused when sent (the household left the grid, a point unanswered): said, never dropped unseen.
    if (refused.length) {
      var p = document.createElement('span');
      p.className = 'error';
      p.textContent = ' ' + box.getAttribute('data-refused') + refused.map(function (r) { return r.address + '（' + r.message + '）'; }).join('；') + ' ';
      var clear = document.createElement('button');
      clear.type = 'button'; clear.className = 'secondary'; clear.textContent = box.getAttribute('data-dismiss');
      clear.addEventListener('click', function () { localStorage.removeItem(REFUSED); show(); });
      box.appendChild(p); box.appendChild(clear);
    }
  }
  function photos(inputs, side) {
    var files = [];
    inputs.forEach(function (input) { if (input && input.files) files = files.concat(Array.prototype.slice.call(input.files)); });
    return Promise.all(files.map(function (file) {
      return new Promise(function (done) {
        var img = new Image(), url = URL.createObjectURL(file);
        img.onload = function () {
          var k = Math.min(1, side / Math.max(img.naturalWidth, img.naturalHeight));
          var c = document.createElement('canvas');
          c.width = Math.round(img.naturalWidth * k); c.height = Math.round(img.naturalHeight * k);
          c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
          URL.revokeObjectURL(url);
          done(c.toDataURL('image/jpeg', 0.8).split(',')[1]);
        };
        // Not a picture the browser can draw: sent as it is, for the server to judge.
        img.onerror = function () {
          URL.revokeObjectURL(url);
          var r = new FileReader();
          r.onload = function () { done(String(r.result).split(',')[1] || ''); };
          r.onerror = function () { done(''); };
          r.readAsDataURL(file);
        };
        img.src = url;
      });
    }));
  }
  function send(kind, body, api) {
    return fetch(api || KINDS[kind].api, { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() || '' }, body: JSON.stringify(body) });
  }
  var flushing = false;
  // Sends the oldest record of each kind in turn; a server fault on one kind leaves the other free.
  function flush() {
    if (flushing || navigator.onLine === false || !csrf()) { show(); return; }
    var kinds = ALL.filter(function (k) { return load(k).length; });
    if (!kinds.length) { show(); return; }
    flushing = true;
    (function next(i) {
      if (i >= kinds.length) { flushing = false; show(); return; }
      var kind = kinds[i], item = load(kind)[0];
      send(kind, item.body, item.api).then(function (r) {
        return signIn(r).then(function (again) {
          if (again) { login = true; flushing = false; show(); return; }
          // The server failed: keep it, try the other kind, and this one again later.
          if (r.status >= 500) { next(i + 1); return; }
          login = false;
          var drop = function () {
            store(kind, load(kind).filter(function (v) { return keyOf(v) !== keyOf(item); }));
            flushing = false; flush();
          };
          if (r.ok) { drop(); return; }
          // Refused for good (the household left the grid): it leaves the queue, and the page
          // says which and why.
          return reason(r).then(function (message) {
            var refused = read(REFUSED);
            refused.push({ address: item.address, message: message });
            try { localStorage.setItem(REFUSED, JSON.stringify(refused)); } catch (e) { /* the message is lost, not the queue */ }
            drop();
          });
        });
      }).catch(function () { flushing = false; show(); });
    })(0);
  }
  window.addEventListener('online', flush);
  setInterval(flush, 30000);
  flush();

  // The form's fields as the API's body, with the file inputs holding its photos.
  function visitBody(form) {
    var body = {};
    new FormData(form).forEach(function (v, k) { if (k !== '_csrf' && k !== 'return_grid' && k !== 'photos' && v !== '') body[k] = v; });
    body.household_id = +body.household_id;
    body.file_request = body.file_request === '1';
    body.post_need = body.post_need === '1';
    // What the server requires of these fields (GridWorkService.validate): checked before a
    // record is kept offline, where a refusal would come only when the signal returns.
    var complete = !!body.outcome && (body.kind !== 'care' || !!(body.care_given || '').trim())
      && (!body.file_request || (!!body.request_category && !!(body.note || '').trim()));
    return { body: body, slots: [{ to: body, inputs: [form.photos] }], complete: complete };
  }
  function patrolBody(form) {
    var body = { route_id: +form.route_id.value, client_key: form.client_key.value, patrolled_at: form.patrolled_at.value, checks: [] };
    try { var track = JSON.parse(form.track.value || '[]'); if (track.length) body.track = track; } catch (err) { /* no track */ }
    var slots = [], complete = true;
    form.querySelectorAll('fieldset[data-position]').forEach(function (set) {
      var n = set.getAttribute('data-position'), check = { position: +n };
      function value(name) { var f = form.elements['check.' + n + '.' + name]; return f ? f.value : ''; }
      var picked = form.querySelector('input[name="check.' + n + '.result"]:checked');
      if (picked) check.result = picked.value; else complete = false;
      if (value('finding')) check.finding = value('finding');
      check.note = value('note');
      var handled = form.elements['check.' + n + '.handled'];
      check.handled = !!(handled && handled.checked);
      if (value('category')) check.request_category = value('category');
      body.checks.push(check);
      if (check.result === 'finding') {
        // A finding says what kind and what was seen (PatrolRules.checkPoint).
        if (!check.finding || !check.note.trim()) complete = false;
        slots.push({ to: check, inputs: [form.elements['check.' + n + '.photos']] });
      }
    });
    return { body: body, slots: slots, complete: complete };
  }

  // A task's doors, marked where there is no signal: the mark is sent as JSON; with no answer
  // (or a server fault, or the session gone) it is kept on the phone and sent when the signal
  // returns. A refusal (the task closed, a feedback missing) is posted as the form, so the
  // page shows the message beside the door.
  var doors = document.getElementById('task-households');
  if (doors) {
    // After a mark is kept the page shows the door's new state: the task's own page (never the
    // form's post address, where a refused mark's page stands), once no other door's mark is
    // still on its way (a reload would cut it off).
    var inFlight = 0, reloadTo = null;
    var settle = function () {
      if (inFlight > 0 || !reloadTo) return;
      if (location.pathname + location.search === reloadTo.split('#')[0]) { history.replaceState(null, '', reloadTo); location.reload(); }
      else location.replace(reloadTo);
    };
    doors.querySelectorAll('form').forEach(function (f) {
      f.addEventListener('submit', function (e) {
        var button = e.submitter;
        if (f.dataset.plain || !button || !button.value || !window.fetch) return;
        e.preventDefault();
        var section = f.closest('section'), action = f.getAttribute('action'), api = '/api/v1' + action;
        var grid = f.elements.return_grid ? f.elements.return_grid.value : '';
        var page = action.split('/households/')[0] + (grid ? '?grid=' + grid : '') + '#' + section.id;
        var body = { outcome: button.value, feedback: f.elements.feedback.value };
        var box = f.querySelector('input[type=checkbox][name^=file_request]'), pick = document.getElementById('task-request-category');
        if (box && box.checked) { body.file_request = true; if (pick && pick.value) body.request_category = pick.value; }
        var item = { key: api, api: api, body: body, address: section.querySelector('strong').textContent };
        function say(text) {
          var note = section.querySelector('.mark-kept') || document.createElement('p');
          note.className = 'notice mark-kept'; note.setAttribute('role', 'status'); note.tabIndex = -1;
          note.textContent = text;
          if (!note.parentNode) f.parentNode.insertBefore(note, f);
          note.focus();
        }
        function keep() {
          // What the server requires (GridTaskRules.check), checked before a mark is kept: a
          // refusal would otherwise come only when the signal returns, far from the door.
          if ((body.outcome === 'problem' && !body.feedback.trim()) || (body.file_request && body.outcome !== 'problem')) {
            say(doors.getAttribute('data-incomplete')); return;
          }
          var list = load('mark').filter(function (v) { return keyOf(v) !== api; });
          list.push(item);
          try { store('mark', list); say(doors.getAttribute('data-kept')); } catch (err) { say(doors.getAttribute('data-not-kept')); }
        }
        if (navigator.onLine === false) { keep(); return; }
        inFlight++;
        send('mark', body, api).then(function (r) {
          inFlight--;
          if (r.ok) {
            // A mark of this door kept earlier and not yet sent is older than this one.
            store('mark', load('mark').filter(function (v) { return keyOf(v) !== api; }));
            reloadTo = page; settle(); return;
          }
          if (r.status >= 500) { keep(); settle(); return; }
          return signIn(r).then(function (again) {
            if (again) { login = true; keep(); settle(); return; }
            // Refused (the task closed, the feedback missing): posted as the form, so the page
            // says why beside the door.
            f.dataset.plain = '1'; f.requestSubmit(button);
          });
        }, function () { inFlight--; keep(); settle(); });
      });
    });
  }

  var form = document.getElementById('visit-form') || document.getElementById('patrol-form');
  if (!form) return;
  // A patrol's track, when the worker asks for it: a position every 10 m or 30 s while the page
  // is open, into the form's track box (sent with the patrol, or kept with it offline). A track
  // shown again after a refusal carries on from where it was.
  var toggle = document.getElementById('track-toggle'), status = document.getElementById('track-status');
  if (toggle && navigator.geolocation) {
    var watch = null, points = [];
    try { points = JSON.parse(form.track.value || '[]'); } catch (e) { points = []; }
    if (points.length) status.textContent = status.getAttribute('data-points') + points.length;
    toggle.hidden = false;
    var stop = function () {
      if (watch !== null) navigator.geolocation.clearWatch(watch);
      watch = null;
      toggle.textContent = toggle.getAttribute('data-start');
    };
    toggle.addEventListener('click', function () {
      if (watch !== null) { stop(); return; }
      toggle.textContent = toggle.getAttribute('data-stop');
      watch = navigator.geolocation.watchPosition(function (p) {
        var here = [+p.coords.latitude.toFixed(6), +p.coords.longitude.toFixed(6), Math.round(p.timestamp / 1000)], last = points[points.length - 1];
        var moved = !last || Math.abs(here[0] - last[0]) * 111000 > 10 || Math.abs(here[1] - last[1]) * 111000 * Math.cos(here[0] * Math.PI / 180) > 10;
        if (!moved && here[2] - last[2] < 30) return;
        if (points.length >= 5000) return;
        points.push(here);
        form.track.value = JSON.stringify(points);
        status.textContent = status.getAttribute('data-points') + points.length;
      }, function (err) {
        // Refused by the phone: stop and say so. No fix for a moment (a basement): keep listening.
        if (err.code === 1) { stop(); status.textContent = status.getAttribute('data-denied'); }
      }, { enableHighAccuracy: true, maximumAge: 5000 });
    });
  }
  var kind = form.id === 'visit-form' ? 'visit' : 'patrol';
  var notice = document.getElementById(kind + '-offline');
  var save = document.getElementById(kind + '-save');
  form.addEventListener('submit', function (e) {
    // China time, as typed: a record sent later still says when it happened.
    var now = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 16);
    form.elements[kind === 'visit' ? 'visited_at' : 'patrolled_at'].value = now;
    if (form.dataset.plain) return;
    e.preventDefault();
    var built = kind === 'visit' ? visitBody(form) : patrolBody(form), body = built.body;
    // More photos than a record takes: said beside the form, nothing sent, nothing dropped.
    var tooMany = built.slots.filter(function (s) { return s.inputs[0] && s.inputs[0].files && s.inputs[0].files.length > 3; });
    if (tooMany.length) {
      notice.textContent = notice.getAttribute('data-too-many');
      notice.hidden = false; notice.focus();
      return;
    }
    var title = document.querySelector(kind === 'visit' ? '.lead strong' : 'h1');
    var name = title ? title.textContent : '';
    // Refused input: the plain post shows each message beside its field, with the photos made
    // smaller as they were for the JSON (a camera's file may be more than the server takes).
    function plain() {
      if (window.DataTransfer) built.slots.forEach(function (slot) {
        var input = slot.inputs[0];
        if (!input || !slot.to.photos_base64) return;
        var dt = new DataTransfer();
        slot.to.photos_base64.forEach(function (b64) {
          var bin = atob(b64), bytes = new Uint8Array(bin.length);
          for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
          dt.items.add(new File([bytes], 'photo.jpg', { type: 'image/jpeg' }));
        });
        input.files = dt.files;
      });
      form.dataset.plain = '1'; form.submit();
    }
    function keep() {
      // Nothing the server would refuse for a missing answer is kept to be refused later:
      // without a signal the plain post cannot show it either, so the page says what is missing.
      if (!built.complete) {
        notice.textContent = notice.getAttribute('data-incomplete');
        notice.hidden = false; notice.focus();
        save.disabled = false;
        return;
      }
      var list = load(kind).filter(function (v) { return v.body.client_key !== body.client_key; });
      list.push({ body: body, address: name });
      try { store(kind, list); } catch (err) {
        // The browser's storage is full: the record is kept without its photos (and the worker is told).
        built.slots.forEach(function (s) { delete s.to.photos_base64; });
        list[list.length - 1].body = body;
        try { store(kind, list); } catch (again) {
          notice.textContent = notice.getAttribute('data-not-kept');
          notice.hidden = false; notice.focus();
          save.disabled = false;
          return;
        }
        notice.textContent = notice.getAttribute('data-no-photos');
        notice.hidden = false; notice.focus();
        save.disabled = true;
        return;
      }
      notice.textContent = notice.getAttribute('data-saved');
      notice.hidden = false; notice.focus();
      save.disabled = true;
    }
    save.disabled = true;
    // Offline, photos are kept smaller, so that several records fit on the phone.
    var side = navigator.onLine === false ? 1024 : 1600;
    Promise.all(built.slots.map(function (slot) {
      return photos(slot.inputs, side).then(function (list) { if (list.length) slot.to.photos_base64 = list; });
    })).then(function () {
      if (navigator.onLine === false) { keep(); return; }
      send(kind, body).then(function (r) {
        if (r.ok) {
          if (kind === 'visit') { location.href = form.return_grid.value ? '/visits?grid=' + form.return_grid.value : '/visits'; return; }
          return r.json().then(function (p) { location.href = '/patrols/' + p.id; });
        }
        // A server fault: kept on the phone to send again, as with no signal. Signed out: kept
        // too (the queue says to sign in), never posted to an error page with the record lost.
        if (r.status >= 500) { keep(); return; }
        return signIn(r).then(function (again) { if (again) keep(); else plain(); });
      }).catch(keep);
    });
  });
})();
"""

    /// A grid task's page: one list of request categories for the page (a list per door would
    /// make the page heavy on a phone); the choice goes with whichever household's form is sent.
    /// Without the script the request is filed as "other" for the community to sort.
    static let tasks = """
(function () {
  var pick = document.getElementById('task-request-category');
  if (!pick) return;
  document.querySelectorAll('#task-households form').forEach(function (form) {
    form.addEventListener('submit', function () {
      var f = form.querySelector('input[name=request_category]');
      if (f) f.value = pick.value;
    });
  });
})();
"""

    /// Charts: each `<canvas data-chart>` carries its figures as JSON and sits beside a table of
    /// the same numbers (the text alternative, for screen readers and for anyone). Without
    /// Chart.js (the package missing) the canvas goes and the table stays. No animation; text as
    /// large as the page's, so large print stays large.
    static let charts = """
(function () {
  if (!window.Chart) {
    document.querySelectorAll('canvas[data-chart]').forEach(function (c) { c.hidden = true; });
    return;
  }
  var size = parseFloat(getComputedStyle(document.body).fontSize) || 16;
  Chart.defaults.font.size = Math.round(size * 0.9);
  Chart.defaults.color = '#111';
  var colours = ['#1565c0', '#2e7d32', '#c62828', '#6a1b9a', '#ef6c00'];
  document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
    var spec;
    try { spec = JSON.parse(canvas.getAttribute('data-chart')); } catch (e) { canvas.hidden = true; return; }
    var scales = {}, hasPct = false;
    var datasets = spec.datasets.map(function (d, i) {
      var pct = d.axis === 'pct';
      hasPct = hasPct || pct;
      var set = { type: d.kind || spec.type, label: d.label, data: d.data,
                  backgroundColor: colours[i % colours.length], borderColor: colours[i % colours.length], borderWidth: 3,
                  pointRadius: 4, spanGaps: true, axisName: pct ? 'pct' : 'count' };
      if (spec.horizontal) { set.xAxisID = set.axisName; } else { set.yAxisID = set.axisName; }
      return set;
    });
    var valueAxis = spec.horizontal ? 'x' : 'y';
    if (datasets.some(function (d) { return d.axisName === 'count'; })) {
      scales.count = { axis: valueAxis, position: spec.horizontal ? 'bottom' : 'left', beginAtZero: true, ticks: { precision: 0 } };
    }
    if (spec.stacked && scales.count) {
      scales.count.stacked = true;
      scales[spec.horizontal ? 'y' : 'x'] = { stacked: true };
    }
    if (hasPct) {
      scales.pct = { axis: valueAxis, position: spec.horizontal ? 'top' : 'right', min: 0, max: 100,
                     ticks: { callback: function (v) { return v + '%'; } }, grid: { drawOnChartArea: !scales.count } };
    }
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false, indexAxis: spec.horizontal ? 'y' : 'x',
                 scales: scales, plugins: { legend: { position: 'bottom' } } }
    });
  });
})();
"""
}
