// Small pieces every page uses: labelled form fields, tables, times, and the way an action shows
// that it is working, what it did, or why the node refused it.

import {h, uid} from './dom.js';

/// The message a person sees for `err` (an ApiError carries the node's own message and code).
function errorText(err) {
  if (err && err.code && err.status !== undefined)
    return `${err.message} (${err.code})`;
  return err && err.message ? err.message : String(err);
}

export function errorBox(err) {
  return h('p', {class: 'error', role: 'alert', tabindex: '-1'}, errorText(err));
}

/// A labelled control: field('Reason', 'textarea', {required: true}) → {row, input}.
export function field(label, tag = 'input', attrs = {}, hint = '') {
  const id = attrs.id ?? uid('f');
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h(tag, {...attrs, id, 'aria-describedby': hintId});
  const row = h('div', {class: 'field'},
    h('label', {for: id}, label),
    hint ? h('p', {class: 'hint', id: hintId}, hint) : null,
    input);
  return {row, input};
}

/// A region that says what an action is doing and how it ended (read out by screen readers).
export function outcome() {
  return h('div', {class: 'outcome', 'aria-live': 'polite'});
}

/// Runs `work` for `button`: disabled meanwhile, "Working…" in `out`, then the text `work` resolves
/// to (if any) or the refusal. Resolves to whether it succeeded.
/// The keyboard is not lost meanwhile: where it was on the button (or the button's disabling
/// dropped it), it lands on the message that says how the action ended (when the button is still on
/// the page; a page drawn anew puts it on its own heading).
export async function act(button, out, work, working = 'Working…') {
  const hadFocus = document.activeElement === button || button.form?.contains(document.activeElement);
  button.disabled = true;
  out.replaceChildren(h('p', {class: 'working'}, working));
  let said = null;
  try {
    const done = await work();
    said = done ? h('p', {class: 'ok', role: 'status', tabindex: '-1'}, done) : null;
    out.replaceChildren(...(said ? [said] : []));
    return true;
  } catch (e) {
    said = errorBox(e);
    out.replaceChildren(said);
    return false;
  } finally {
    button.disabled = false;
    const lost = !document.activeElement || document.activeElement === document.body
      || document.activeElement === button;
    if (hadFocus && lost && button.isConnected)
      (said && said.isConnected ? said : button).focus();
  }
}

/// A <time> for milliseconds since the epoch ("—" for 0 or nothing).
export function when(ms) {
  const n = Number(ms);
  if (!n)
    return '—';
  const d = new Date(n);
  return h('time', {datetime: d.toISOString()}, d.toLocaleString('en-GB', {timeZoneName: 'short'}));
}

/// A table with a caption, column headers and rows of cells (text or nodes).
export function table(caption, headers, rows, attrs = {}) {
  return h('table', attrs,
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c))))));
}

/// A definition list of [term, description] pairs, the empty ones left out.
export function facts(pairs) {
  return h('dl', {class: 'facts'},
    pairs.filter(([, d]) => d !== undefined && d !== null && d !== '')
      .map(([t, d]) => [h('dt', {}, t), h('dd', {}, d)]));
}

/// Offers `data` (a Blob) as a file named `name`: an <a download> the person activates.
export function downloadLink(data, name, text) {
  const url = URL.createObjectURL(data);
  return h('a', {href: url, download: name, class: 'download'}, text);
}
