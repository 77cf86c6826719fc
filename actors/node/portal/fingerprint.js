// Fingerprints and measurements as people compare them out of band: hex in groups of four bytes,
// two rows for a SHA-256 fingerprint, easy to read out group by group on a call, and a button that
// copies the exact text (what `joconde-node trust confirm` takes).

import {h} from './dom.js';

/// The bytes of `text` (hex pairs with or without colons) as upper-case pairs; [] if it is no hex.
function pairsOf(text) {
  const hex = String(text ?? '').replace(/[\s:]/g, '').toUpperCase();
  if (!/^([0-9A-F]{2})+$/.test(hex))
    return [];
  return hex.match(/../g);
}

/// The canonical fingerprint: upper-case hex pairs joined by colons (as the node prints it).
export function canonicalFingerprint(text) {
  return pairsOf(text).join(':');
}

/// Copies `value` to the clipboard; where the browser refuses, selects `shown` so that Ctrl+C does.
async function copy(value, shown, said) {
  try {
    await navigator.clipboard.writeText(value);
    said.textContent = 'Copied.';
  } catch {
    const range = document.createRange();
    range.selectNodeContents(shown);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    said.textContent = 'Selected: press Ctrl+C to copy.';
  }
}

/// `text` (a fingerprint with colons, or plain hex with `colons` false) in groups of four bytes, with
/// a copy button named after `what` ("the fingerprint of cp3"). The element carries the exact text
/// in data-value.
export function groupedHex(text, what, {colons = true, copyable = true} = {}) {
  const pairs = pairsOf(text);
  if (pairs.length === 0)
    return h('code', {class: 'wrap'}, String(text ?? '—'));
  const value = colons ? pairs.join(':') : pairs.join('');
  const groups = [];
  for (let i = 0; i < pairs.length; i += 4)
    groups.push(h('span', {class: 'hex-group'}, pairs.slice(i, i + 4).join(colons ? ':' : '')));
  const shown = h('code', {class: 'hex', 'data-value': value},
    groups.flatMap((g, i) => (i ? [' ', g] : [g])));
  if (!copyable)
    return shown;
  const said = h('span', {class: 'copy-said', 'aria-live': 'polite'});
  const button = h('button', {type: 'button', class: 'secondary copy', 'aria-label': `Copy ${what}`}, 'Copy');
  button.addEventListener('click', () => copy(value, shown, said));
  return h('div', {class: 'hex-box'}, shown, h('span', {class: 'copy-row'}, button, said));
}
