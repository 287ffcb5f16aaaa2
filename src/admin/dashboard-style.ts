/**
 * The dashboard's one stylesheet, inlined with the page's nonce (the CSP
 * allows no other style). Light and dark follow the system; below 760 px
 * every table turns into stacked cards labelled from `data-label`.
 */
/** The stylesheet, inlined in a `<style nonce>` element. */
export const DASHBOARD_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f3f5f8; --card: #fff; --text: #17202b; --muted: #5f6b7a; --line: #e3e8ef; --head: #0f2a44;
  --up: #17803d; --up-bg: #e5f5ea; --down: #c4261d; --down-bg: #fde9e7; --busy: #a15c00; --busy-bg: #fff2dc;
  --chip: #eef1f6; --track: #e7ebf1; --accent: #1f6feb;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1420; --card: #161e2c; --text: #e6ebf2; --muted: #97a3b4; --line: #263145; --head: #0a111c;
    --up: #4cc476; --up-bg: #123522; --down: #ff6b5f; --down-bg: #43191a; --busy: #f0b24a; --busy-bg: #3d2d10;
    --chip: #222c3d; --track: #263145; --accent: #5b9dff;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); }
header.top { background: var(--head); color: #fff; }
header.top .bar { max-width: 1240px; margin: 0 auto; padding: 14px 20px; display: flex; align-items: center; gap: 16px; flex-wrap: wrap; }
.brand { font-weight: 700; font-size: 18px; letter-spacing: .2px; }
.brand span { font-weight: 400; opacity: .75; margin-left: 8px; font-size: 14px; }
.brand .version { margin-left: 6px; font-size: 12px; opacity: .6; }
.live { margin-left: auto; font-size: 13px; opacity: .9; display: flex; align-items: center; gap: 6px; }
.live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #4cc476; }
.live[data-state="stale"]::before { background: #ff6b5f; }
.live[data-state="paused"]::before { background: #97a3b4; }
header.top form { margin: 0; }
header.top button { background: transparent; color: #fff; border: 1px solid rgba(255,255,255,.4); border-radius: 6px; padding: 5px 12px; font: inherit; font-size: 13px; cursor: pointer; }
header.top button:hover { background: rgba(255,255,255,.12); }
main { max-width: 1240px; margin: 0 auto; padding: 20px; }
.summary { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-bottom: 20px; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; display: flex; flex-direction: column; gap: 4px; }
.stat .label { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.stat .value { font-size: 20px; font-weight: 600; }
.stat .badge { align-self: flex-start; font-size: 14px; padding: 3px 12px 3px 10px; }
.reasons { grid-column: 1 / -1; margin: 0; padding: 10px 14px 10px 32px; background: var(--down-bg); color: var(--down); border-radius: 10px; }
/* overflow-x: a long unbreakable value scrolls inside its card instead of widening the page. */
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px 8px; margin-bottom: 20px; box-shadow: 0 1px 2px rgba(15, 30, 50, .05); overflow-x: auto; }
h2 { font-size: 17px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.cluster:first-of-type h3 { margin-top: 0; }
table { width: 100%; border-collapse: collapse; margin-bottom: 8px; }
th { text-align: left; font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); padding: 8px 10px; border-bottom: 2px solid var(--line); }
td { padding: 10px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: break-word; }
tbody tr:last-child td { border-bottom: 0; }
tr[data-state="down"] td { background: var(--down-bg); }
tr[data-state="busy"] td { background: var(--busy-bg); }
td.num, td.nowrap, .nowrap { white-space: nowrap; }
td.wide { min-width: 200px; }
/* Room for a node URL on one line; the last-error column takes what is left. */
td.node-cell { min-width: 20rem; }
.muted { color: var(--muted); }
.small { font-size: 13px; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.bad { color: var(--down); }
.empty { color: var(--muted); margin: 4px 0 14px; }
.legend { margin: -6px 0 10px; }
.badge { display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px 2px 8px; border-radius: 999px; font-weight: 700; font-size: 13px; white-space: nowrap; }
.badge .dot { width: 9px; height: 9px; border-radius: 50%; background: currentColor; }
.badge[data-state="up"] { color: var(--up); background: var(--up-bg); }
.badge[data-state="down"] { color: var(--down); background: var(--down-bg); border: 1px solid var(--down); }
.badge[data-state="busy"] { color: var(--busy); background: var(--busy-bg); }
.services { list-style: none; margin: 4px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px; }
.services .badge { font-size: 12px; font-weight: 600; }
.chip { display: inline-block; padding: 0 7px; border-radius: 5px; background: var(--chip); font-size: 12px; font-weight: 600; }
.chip.bad { background: var(--down-bg); }
.timeline { display: flex; flex-direction: column; gap: 4px; }
.timeline .days { font-weight: 600; font-size: 14px; }
.timeline svg { width: 100%; height: 12px; display: block; }
.timeline .track { fill: var(--track); }
.timeline .fill { fill: var(--up); }
.timeline[data-level="warn"] .fill { fill: var(--busy); }
.timeline[data-level="crit"] .fill, .timeline[data-level="expired"] .fill { fill: var(--down); }
.timeline[data-level="expired"] .days, .timeline[data-level="crit"] .days { color: var(--down); }
.timeline .mark { stroke: var(--text); stroke-width: 1.2; vector-effect: non-scaling-stroke; opacity: .55; }
.subject { overflow-wrap: anywhere; }
/* Actions (drain, renew, roll back) and the confirmation dialog. [hidden] wins over the stacked-card display rules. */
[hidden] { display: none !important; }
button.action { font: inherit; font-size: 13px; font-weight: 600; padding: 3px 12px; border-radius: 6px; border: 1px solid var(--accent); background: transparent; color: var(--accent); cursor: pointer; white-space: nowrap; }
button.action.danger { border-color: var(--down); color: var(--down); }
button.action:hover { background: var(--chip); }
button.action:disabled { opacity: .5; cursor: progress; }
h2 .actions { float: right; display: inline-flex; gap: 6px; }
.badge[data-state="draining"] { color: var(--busy); background: var(--busy-bg); border: 1px dashed var(--busy); }
tr[data-draining="true"] td { background: var(--busy-bg); }
.traffic { display: flex; flex-direction: column; white-space: nowrap; font-variant-numeric: tabular-nums; }
.action-result { margin: 0 0 14px; padding: 8px 12px; border-radius: 8px; background: var(--up-bg); color: var(--up); }
.action-result[data-ok="false"] { background: var(--down-bg); color: var(--down); }
dialog { border: 1px solid var(--line); border-radius: 12px; background: var(--card); color: var(--text); max-width: min(480px, calc(100vw - 32px)); padding: 20px; }
dialog::backdrop { background: rgba(10, 17, 28, .55); }
dialog h2 { margin-top: 0; }
dialog input { width: 100%; padding: 8px 10px; border: 1px solid var(--line); border-radius: 8px; font: inherit; background: var(--bg); color: var(--text); margin-top: 4px; }
dialog label { display: block; font-size: 13px; font-weight: 600; margin-top: 8px; }
dialog .buttons { display: flex; justify-content: flex-end; gap: 8px; margin-top: 16px; }
dialog button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--line); background: transparent; color: var(--text); cursor: pointer; }
dialog button.primary { background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; }
/* The audit log: short columns never wrap, the free text takes what is left (no letter-by-letter columns). */
input.filter { float: right; font: inherit; font-size: 13px; font-weight: 400; padding: 4px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--text); width: min(18rem, 100%); }
table.audit td { overflow-wrap: normal; word-break: normal; }
table.audit td.subject, table.audit td:last-child { overflow-wrap: anywhere; min-width: 10rem; }
table.audit td.mono { white-space: nowrap; }
footer { max-width: 1240px; margin: 0 auto; padding: 0 20px 24px; font-size: 12px; color: var(--muted); }
.login { min-height: 100vh; display: grid; place-items: center; padding: 20px; }
.login form { width: min(380px, 100%); background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 26px; box-shadow: 0 8px 30px rgba(15, 30, 50, .12); }
.login h1 { margin: 0 0 4px; font-size: 22px; }
.login label { display: block; font-weight: 600; margin: 18px 0 6px; }
.login input { width: 100%; padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px; font: inherit; background: var(--bg); color: var(--text); }
.login input:focus { outline: 2px solid var(--accent); outline-offset: 1px; }
.login button { margin-top: 16px; width: 100%; padding: 10px; border: 0; border-radius: 8px; background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
.login .message { margin: 14px 0 0; padding: 8px 10px; border-radius: 8px; background: var(--down-bg); color: var(--down); font-size: 14px; }
@media (max-width: 760px) {
  main { padding: 12px; }
  header.top .bar { padding: 12px; gap: 10px; }
  .summary { grid-template-columns: repeat(2, 1fr); gap: 8px; }
  .stat .value { font-size: 17px; }
  .card { padding: 14px 12px 4px; border-radius: 10px; }
  table.stack thead { display: none; }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display: block; width: 100%; }
  table.stack tr { border: 1px solid var(--line); border-radius: 10px; margin-bottom: 12px; overflow: hidden; }
  /* Label and value side by side; the value is one wrapper div, so its own inline content flows as usual. */
  table.stack td { display: flex; gap: 10px; padding: 8px 10px; border-bottom: 1px solid var(--line); min-width: 0; overflow-wrap: anywhere; }
  table.stack td:last-child { border-bottom: 0; }
  table.stack td::before { content: attr(data-label); flex: 0 0 7rem; padding-top: 2px; font-size: 11.5px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
  table.stack td > .v { flex: 1 1 auto; min-width: 0; }
  table.stack .nowrap, table.stack td.num { white-space: normal; }
  tbody tr:last-child td { border-bottom: 1px solid var(--line); }
  tbody tr:last-child td:last-child { border-bottom: 0; }
  h2 .actions, input.filter { float: none; display: flex; margin-top: 8px; }
  table.audit td.subject, table.audit td:last-child { min-width: 0; }
  .traffic { flex-direction: row; flex-wrap: wrap; gap: 8px; }
}
`;
