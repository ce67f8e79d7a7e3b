import LinliCore
import LinliStore
/// One small stylesheet: readable on a phone, with a large-print mode for elderly residents.
enum Stylesheet {
    static let css = """
    :root { --fg:#1b1b1b; --muted:#555; --bg:#fff; --accent:#b3261e; --line:#ddd; --ok:#1f6f43; }
    * { box-sizing: border-box; }
    body { margin:0; font: 16px/1.6 -apple-system, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; color:var(--fg); background:var(--bg); }
    body.large { font-size: 24px; }
    body.large input, body.large select, body.large button { font-size: 24px; }
    header { background:var(--accent); color:#fff; padding:.5rem 1rem; display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:center; }
    header a, header button.link { color:#fff; }
    header .brand { font-weight:700; font-size:1.25em; text-decoration:none; margin-right:auto; }
    nav { display:flex; flex-wrap:wrap; gap:.25rem 1rem; align-items:center; }
    main { padding:1rem; max-width:60rem; margin:0 auto; }
    h1 { font-size:1.5em; margin:.5rem 0; } h2 { font-size:1.2em; margin:1.25rem 0 .5rem; border-bottom:1px solid var(--line); }
    a { color:#0b57d0; } a:focus, button:focus, input:focus, select:focus { outline:3px solid #f9a825; outline-offset:2px; }
    .crumbs { font-size:.9em; color:var(--muted); } .crumbs a { margin-right:.25rem; }
    ul.list { list-style:none; padding:0; margin:0; } ul.list li { border-bottom:1px solid var(--line); padding:.6rem 0; }
    ul.list li a { display:block; min-height:44px; }
    ul.list li a.inline { display:inline-block; min-height:44px; line-height:44px; }
    .meta { color:var(--muted); font-size:.9em; }
    dl.fields { display:grid; grid-template-columns: 9em 1fr; gap:.25rem .75rem; } dl.fields dt { color:var(--muted); } dl.fields dd { min-width:0; overflow-wrap:anywhere; }
    @media (max-width: 480px) { dl.fields { grid-template-columns: 1fr; } dl.fields dt { margin-top:.5rem; } }
    form.stack label { display:block; margin-top:.75rem; font-weight:600; }
    input[type=text], input[type=password], input[type=search], input[type=tel], input[type=url], select, textarea { width:100%; max-width:28rem; padding:.6rem; font-size:1em; border:1px solid #888; border-radius:4px; min-height:44px; }
    button, .button { display:inline-block; padding:.6rem 1.2rem; font-size:1em; border:0; border-radius:4px; background:var(--accent); color:#fff; cursor:pointer; min-height:44px; text-decoration:none; }
    button.secondary { background:#444; } button.link { background:none; padding:0; min-height:0; text-decoration:underline; } header button.link { min-height:44px; }
    /* Large print is for fingers that miss: a text button (删除, 撤回) is a full 44 px target there. */
    body.large button.link { min-height:44px; padding:0 .25rem; }
    /* The way back ("← the matter") is a finger's target too: 31 px tall in large print before. */
    body.large .crumbs a { display:inline-block; min-height:44px; line-height:44px; }
    .error { color:#b00020; font-weight:600; } .field-error { color:#b00020; display:block; margin-top:.25rem; }
    input[aria-invalid=true], select[aria-invalid=true] { border:2px solid #b00020; }
    .notice { background:#fff4e5; border-left:4px solid #f9a825; padding:.5rem .75rem; }
    .tag { display:inline-block; background:#eef; border-radius:3px; padding:0 .4rem; margin-right:.25rem; font-size:.9em; }
    table { border-collapse:collapse; width:100%; } th, td { border-bottom:1px solid var(--line); padding:.4rem; text-align:left; }
    .table-wrap { overflow-x:auto; }
    .qr svg, .qr img { width:160px; height:auto; } .card { border:2px solid #000; padding:1rem; max-width:22rem; text-align:center; }
    .card .qr svg { width:100%; }
    /* A print run of cards: as many across as fit on screen; eight to an A4 sheet (2 × 4), never cut in two. */
    .card-sheet { display:grid; grid-template-columns:repeat(auto-fill, minmax(14rem, 1fr)); gap:1rem; } .card-sheet .card { max-width:none; }
    .card-sheet .qr svg { width:9rem; } .card-address { overflow-wrap:anywhere; }
    @media print { .card-sheet { grid-template-columns:1fr 1fr; gap:4mm; } .card-sheet .card { height:60mm; box-sizing:border-box; padding:3mm; break-inside:avoid; font-size:10pt; border:1px dashed #000; } .card-sheet .qr svg { width:30mm; } .card-sheet p { margin:1mm 0; } }
    .pick-list { list-style:none; margin:.25rem 0; padding:0; max-width:28rem; border:1px solid #888; border-radius:4px; }
    .pick-list li { border-bottom:1px solid #ddd; } .pick-list li:last-child { border-bottom:0; } .pick-list li.meta { padding:.6rem; }
    button.pick-option { display:block; width:100%; text-align:left; background:#fff; color:#111; min-height:44px; padding:.5rem .6rem; border:0; border-radius:0; }
    button.pick-option:hover, button.pick-option:focus { background:#fdecea; }
    .entry { border:1px solid #888; border-radius:6px; padding:.75rem 1rem; margin:1rem 0; max-width:40rem; }
    .certificate-text p { white-space:pre-line; } .break { overflow-wrap:anywhere; }
    /* An invitation code read off paper: big, never split at its dash; the address may wrap anywhere. */
    .invite-code { display:block; font-size:min(2em, 10vw); letter-spacing:0.08em; white-space:nowrap; } .invite-url { overflow-wrap:anywhere; }
    details { margin:.75rem 0; } summary { cursor:pointer; min-height:44px; }
    .tag.danger { background:#b00020; color:#fff; } .tag.warn { background:#fff4e5; color:#5d3a00; border:1px solid #f9a825; } li.overdue { border-left:4px solid #b00020; padding-left:.5rem; }
    nav.tabs { margin:.5rem 0; gap:.5rem; } nav.tabs a { padding:.4rem .8rem; border:1px solid var(--line); border-radius:4px; text-decoration:none; min-height:44px; display:inline-flex; align-items:center; }
    nav.tabs a.current { background:var(--accent); color:#fff; border-color:var(--accent); }
    form.inline { display:inline-flex; flex-wrap:wrap; gap:.5rem; align-items:center; margin:.25rem 0; max-width:100%; }
    form.inline input[type=text], form.inline select { width:auto; max-width:100%; }
    /* A file chooser's own width grows with the font: in large print it was 454 px on a 390 px phone. */
    input[type=file] { max-width:100%; font-size:1em; min-height:44px; }
    input[type=number], input[type=date], input[type=month], input[type=time], input[type=datetime-local] { min-height:44px; padding:.4rem; font-size:1em; max-width:100%; }
    /* Boxes a finger can hit (13 px by default, whatever the print size). */
    /* In rem: a box's em is its own 13 px font, which left them 17 px. */
    input[type=checkbox], input[type=radio] { width:1.5rem; height:1.5rem; vertical-align:middle; margin-right:.4em; flex:none; }
    body.large input[type=checkbox], body.large input[type=radio] { width:2rem; height:2rem; }
    .photos { display:flex; flex-wrap:wrap; gap:.5rem; } .photos img { width:8rem; height:8rem; object-fit:cover; border-radius:4px; }
    ol.timeline { padding-left:1.25rem; } ol.timeline li { margin:.4rem 0; }
    .description { white-space:pre-wrap; } li.unread { font-weight:600; } label.rating { display:block; font-size:1.2em; }
    fieldset { border:1px solid var(--line); border-radius:4px; margin:.75rem 0; max-width:30rem; min-width:0; }
    ol.steps { display:flex; flex-wrap:wrap; gap:.25rem .5rem; list-style:none; padding:0; } ol.steps li { padding:.2rem .6rem; border-radius:1rem; border:1px solid var(--line); color:var(--muted); }
    ol.steps li.past::before { content:"✓ "; } ol.steps li.past { color:var(--ok); border-color:var(--ok); }
    ol.steps li.current { background:var(--accent); color:#fff; border-color:var(--accent); font-weight:600; }
    tr.short td:first-child { border-left:4px solid #b00020; }
    @media print { header, .no-print { display:none; } }
    .announcement-body { white-space:pre-line; margin:1rem 0; }
    .a4 h1 { font-size:2rem; text-align:center; } .a4 .announcement-body { font-size:1.35rem; line-height:1.8; } .a4-from { text-align:right; font-size:1.2rem; margin-top:2rem; } .a4-table { width:100%; border-collapse:collapse; margin:1rem 0; } .a4-table th, .a4-table td { border:1px solid #000; padding:.3rem .4rem; } .a4-outcome { font-size:1.4rem; }
    @media print { @page { size:A4; margin:20mm; } .a4 h1 { font-size:30pt; } .a4 .announcement-body { font-size:18pt; } .a4-from { font-size:16pt; } }
    .map { margin:.5rem 0; } .map-canvas { width:100%; max-width:32rem; height:auto; display:block; border:1px solid var(--line); border-radius:6px; touch-action:manipulation; cursor:crosshair; }
    .map-ground { fill:#eef3ea; } .map-point circle { fill:#0b57d0; stroke:#fff; stroke-width:1.5; } .map-point.map-compound circle, .map-point.map-villager_group circle { fill:#6d4c41; }
    .map-point text { font-size:11px; fill:#333; paint-order:stroke; stroke:#eef3ea; stroke-width:3px; }
    body.large .map-point text { font-size:15px; } .map-marker path { fill:var(--accent); stroke:#fff; stroke-width:1.5; } .map-marker-dot { fill:#fff; }
    .map-tools { display:flex; gap:.5rem; flex-wrap:wrap; }
    .map-leaflet { height:320px; max-width:40rem; border:1px solid var(--line); border-radius:6px; } body.large .map-leaflet { height:380px; }
    .map-leaflet.map-offline { background:#eef3ea; }
    .situation .map-leaflet { height:480px; max-width:none; } @media (max-width: 600px) { .situation .map-leaflet { height:360px; } }
    .leaflet-interactive.grid-area { stroke:#37474f; } .grid-area.band-low { fill:#e53935; } .grid-area.band-mid { fill:#fb8c00; }
    .grid-area.band-high { fill:#43a047; } .grid-area.band-none { fill:#9e9e9e; }
    .swatch { display:inline-block; width:1em; height:1em; border-radius:3px; vertical-align:-.15em; margin-right:.35em; border:1px solid #555; }
    .swatch.band-low { background:#e53935; } .swatch.band-mid { background:#fb8c00; } .swatch.band-high { background:#43a047; } .swatch.band-none { background:#9e9e9e; }
    .leaflet-interactive.circle-in, .swatch.circle-in { fill:#2e7d32; stroke:#1b5e20; background:#2e7d32; }
    .leaflet-interactive.circle-out, .swatch.circle-out { fill:#c62828; stroke:#8e0000; background:#c62828; }
    .leaflet-interactive.circle-off, .swatch.circle-off { fill:#9e9e9e; stroke:#424242; background:#9e9e9e; }
    .leaflet-interactive.circle-path { stroke:#607d8b; fill:none; } .leaflet-interactive.circle-new { fill:#f9a825; stroke:#5d4037; }
    .leaflet-interactive.block-point { fill:#9e9e9e; stroke:#424242; } .leaflet-interactive.block-point.has-tag { fill:#6a1b9a; stroke:#4a148c; }
    .leaflet-interactive.hotspot { fill:#d32f2f; stroke:#b71c1c; } .leaflet-interactive.uncovered { fill:#ff6f00; stroke:#e65100; stroke-dasharray:5 3; }
    .legend { list-style:none; display:flex; flex-wrap:wrap; gap:.5rem 1.25rem; padding:0; margin:.5rem 0; }
    fieldset.picks { max-height:26rem; overflow-y:auto; } fieldset.picks label.check { font-weight:normal; margin-top:0; padding:.5rem 0; min-height:44px; border-bottom:1px solid var(--line); }
    fieldset.layers { border:1px solid var(--line); border-radius:6px; margin:.75rem 0; } fieldset.layers label.check { display:inline-block; margin-right:1.25rem; }
    .leaflet-interactive.map-point { fill:#0b57d0; fill-opacity:.9; stroke:#fff; } .leaflet-interactive.map-compound, .leaflet-interactive.map-villager_group { fill:#6d4c41; }
    .leaflet-interactive.patrol-track { stroke:#6a1b9a; fill:none; } .leaflet-interactive.patrol-track-start { fill:#fff; fill-opacity:1; stroke:#6a1b9a; } .leaflet-interactive.patrol-track-end { fill:#6a1b9a; fill-opacity:1; stroke:#fff; }
    .leaflet-interactive.grid-boundary { stroke:#1565c0; fill:#1565c0; } .leaflet-interactive.grid-boundary-point { fill:#fff; fill-opacity:1; stroke:#1565c0; }
    .leaflet-tooltip { font-size:14px; } body.large .leaflet-tooltip { font-size:18px; white-space:normal; width:max-content; max-width:260px; }
    .leaflet-interactive.map-pick { fill:#fff; fill-opacity:1; stroke:#0b57d0; stroke-width:3; } .leaflet-interactive.map-pick-on { fill:#0b57d0; }
    .leaflet-interactive.map-pick-here { fill:#9e9e9e; stroke:#616161; }
    .leaflet-interactive.map-pin { fill:#f9a825; fill-opacity:1; stroke:#5d4037; } .leaflet-interactive.map-marker { fill:var(--accent); fill-opacity:1; stroke:#fff; }
    /* Leaflet's own sheet loads after this one and sets its zoom buttons to 30 px: outrank it. */
    .leaflet-touch .leaflet-bar a.leaflet-control-zoom-in, .leaflet-touch .leaflet-bar a.leaflet-control-zoom-out { width:44px; height:44px; line-height:44px; font-size:24px; }
    /* The menu folds into one "菜单" button on a phone (it took 28 % of the first screen); on a
       desk app.js opens it and the button hides. */
    .skip { position:absolute; left:-999px; } .skip:focus { left:.5rem; top:.5rem; background:#fff; color:#000; padding:.5rem; z-index:10; }
    header .quick { min-height:44px; display:inline-flex; align-items:center; }
    details.menu { margin:0; } details.menu > summary { list-style:none; min-height:44px; min-width:44px; display:inline-flex; align-items:center;
      padding:0 .9rem; border:2px solid #fff; border-radius:6px; font-weight:600; }
    details.menu > summary::-webkit-details-marker { display:none; }
    details.menu[open] > summary { background:#fff; color:var(--accent); }
    details.menu nav { flex-basis:100%; padding:.5rem 0; }
    details.menu nav a, details.menu nav .who { min-height:44px; display:inline-flex; align-items:center; }
    header:has(details.menu[open]) { flex-wrap:wrap; } header details.menu[open] { flex-basis:100%; order:3; }
    @media (min-width: 64em) { details.menu > summary { display:none; } header details.menu { flex-basis:auto; order:0; } details.menu nav { padding:0; } }
    .who { color:#fff; } form.logout { display:inline; }
    .lead { font-size:1.15em; }
    /* Tiles: what a resident came to do, each a big target (at least 60 px high in large print). */
    .tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(14rem, 1fr)); gap:.75rem; margin:1rem 0; }
    .tiles.two { grid-template-columns:repeat(auto-fill, minmax(12rem, 1fr)); }
    a.tile { display:flex; flex-direction:column; justify-content:center; min-height:88px; padding:1rem; border:2px solid var(--accent);
      border-radius:10px; text-decoration:none; color:var(--fg); background:#fff; }
    a.tile strong { font-size:1.2em; color:var(--accent); } a.tile span { color:var(--muted); overflow-wrap:anywhere; }
    a.tile.primary { background:var(--accent); } a.tile.primary strong, a.tile.primary span { color:#fff; }
    a.button.call, button.call { background:var(--ok); max-width:100%; overflow-wrap:anywhere; }
    /* Charts keep a height of their own; their numbers are in the table beside them. */
    .chart { position:relative; height:18rem; max-width:48rem; margin:.5rem 0 1rem; } .chart.tall { height:24rem; } .chart.chart-short { height:12rem; } body.large .chart.chart-short { height:20rem; }
    /* A grid worker's day: late items stand out; the buttons wrap under each other on a phone. */
    .entry.late { border:2px solid #b00020; } .entry p { margin:.35rem 0; }
    .row-actions { display:flex; flex-wrap:wrap; gap:.5rem; align-items:center; } .row-actions form { margin:0; }
    /* Two columns of label and value leave a value four characters wide in large print on a phone. */
    @media (max-width: 64em) { body.large dl.fields { grid-template-columns:1fr; } body.large dl.fields dt { margin-top:.5rem; } }
    ul.contacts li { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:center; justify-content:space-between; }
    body.large a.tile { min-height:120px; }
    /* Messages after a form, at the top where the eye is. */
    .flash { background:#e8f5e9; border-left:6px solid var(--ok); padding:.75rem 1rem; font-weight:600; margin:.5rem 0 1rem; }
    .error-summary { background:#fdecea; border-left:6px solid #b00020; padding:.75rem 1rem; margin:.5rem 0 1rem; }
    .error-summary a { color:#b00020; font-weight:600; }
    /* Acting for a resident (代办): on every page, impossible to miss, with the way out. */
    .acting-bar { background:#fff4e5; border-bottom:4px solid #f9a825; padding:.5rem 1rem; display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:center; }
    .acting-bar p { margin:0; font-weight:600; } .acting-bar form { display:inline; }
    """ + cards("@media (max-width: 40em)", "") + cards("@media (max-width: 64em)", "body.large ")

    /// Below a width a table becomes one card per row, each value beside its column's name
    /// (app.js copies the header into `data-label`): eight columns on a phone left one
    /// character per line. Narrow screens always; large print already on a tablet.
    static func cards(_ media: String, _ scope: String) -> String {
        let t = scope + "table.cards"
        return """
        \(media) {
          \(t) thead { position:absolute; left:-9999px; }
          \(t), \(t) tbody, \(t) tr, \(t) td { display:block; width:100%; }
          \(t) tr { border:1px solid var(--line); border-radius:8px; margin:.5rem 0; padding:.5rem .75rem; }
          \(t) td { border:0; padding:.15rem 0; display:flex; flex-wrap:wrap; gap:0 1rem; justify-content:space-between; overflow-wrap:anywhere; }
          \(t) td::before { content:attr(data-label); color:var(--muted); }
          \(t) td:first-child { font-weight:600; }
        }

        """
    }
}
