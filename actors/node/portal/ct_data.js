// The people who hold the data, on a CT's page: for each input this peer provides (Data
// Custodian) or output it receives (Data Analyst), their key pair for that slot — made or restored
// here, never leaving the browser — then the upload or the one download, each authorized by a slot
// authorization the key signs (pak.js).

import {api, seg, sendFile} from './api.js';
import {h} from './dom.js';
import {toBase64, toHex} from './encoding.js';
import {keyId, loadKey, saveKey} from './keystore.js';
import {parseCsv} from './csv.js';
import {createKey, restoreKey, slotAuthorization} from './pak.js';
import {has, session} from './session.js';
import {act, downloadLink, field, outcome, table} from './ui.js';

const minPassphrase = 12;

async function sha256Hex(bytes) {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/// Makes the key pair, registers its PAK for the slot and keeps the private key; onKey(node) gets
/// what to show instead of the form: the offer of the backup.
function createForm(slot, onKey) {
  const name = field('Your name in the agreement', 'input', {type: 'text', required: true, class: 'pak-name',
    value: session().user, autocomplete: 'name'});
  const pass = field('Passphrase for the backup', 'input', {type: 'password', required: true, class: 'pak-pass',
    minlength: String(minPassphrase), autocomplete: 'new-password'},
  `At least ${minPassphrase} characters. It encrypts the backup file; nobody can recover it for you.`);
  const again = field('The passphrase again', 'input', {type: 'password', required: true, class: 'pak-pass2',
    autocomplete: 'new-password'});
  const submit = h('button', {type: 'submit', class: 'create-key'}, 'Create my key');
  const out = outcome();
  const form = h('form', {class: 'create-key-form'}, name.row, pass.row, again.row,
    h('div', {class: 'actions'}, submit), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, out, async () => {
      if (pass.input.value.length < minPassphrase)
        throw new Error(`the passphrase needs at least ${minPassphrase} characters`);
      if (pass.input.value !== again.input.value)
        throw new Error('the two passphrases differ');
      const who = name.input.value.trim();
      if (!who)
        throw new Error('give your name');
      const s = session();
      const made = await createKey({...slot, name: who, user: s.user, node: s.node}, pass.input.value);
      pass.input.value = '';
      again.input.value = '';
      const keys = [slot.slot];
      const registered = await api.post(`/v1/ctas/${seg(slot.uuid)}/paks`, slot.upload
        ? {name: who, pak: toBase64(made.pak), input_keys: keys}
        : {name: who, pak: toBase64(made.pak), output_keys: keys});
      await saveKey({id: keyId(slot), privateKey: made.privateKey, pak: made.pak, name: who,
        created_at: Date.now()});
      const file = new Blob([JSON.stringify(made.backup, null, 2)], {type: 'application/json'});
      onKey(h('div', {class: 'backup', role: 'status', tabindex: '-1'},
        h('p', {}, `Your key is made and kept in this browser; its public key is registered for ${slot.slot} `
          + `(SHA-256 ${registered.pak_sha256}).`),
        h('p', {class: 'warning'}, 'Save the encrypted backup now: it is offered only this once, and without it '
          + 'and its passphrase the key cannot be used in another browser or after this one forgets it.'),
        h('p', {}, downloadLink(file, `joconde-key-${slot.uuid}-${slot.slot}.json`, 'Save the encrypted backup'))));
    }, 'Making the key (the passphrase is stretched: a few seconds)…');
  });
  return form;
}

/// Restores the slot's key from a backup file and its passphrase; onKey(node) gets what to show
/// instead of the form.
function restoreForm(slot, onKey) {
  const file = field('Backup file', 'input', {type: 'file', accept: '.json,application/json', required: true,
    class: 'restore-file'});
  const pass = field('Its passphrase', 'input', {type: 'password', required: true, class: 'restore-pass',
    autocomplete: 'current-password'});
  const submit = h('button', {type: 'submit', class: 'restore-key'}, 'Restore from backup');
  const out = outcome();
  const form = h('form', {class: 'restore-form'}, file.row, pass.row, h('div', {class: 'actions'}, submit), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, out, async () => {
      const picked = file.input.files[0];
      if (!picked)
        throw new Error('choose the backup file');
      let backup;
      try {
        backup = JSON.parse(await picked.text());
      } catch {
        throw new Error('this file is not a key backup of the portal');
      }
      const restored = await restoreKey(backup, slot, pass.input.value);
      pass.input.value = '';
      await saveKey({id: keyId(slot), privateKey: restored.privateKey, pak: restored.pak, name: restored.name,
        created_at: Date.now()});
      onKey(h('p', {class: 'ok restored', role: 'status', tabindex: '-1'},
        `Restored the key of ${restored.name}; it is kept in this browser.`));
    }, 'Opening the backup…');
  });
  return form;
}

/// The upload of a CSV file into input `slot` with the kept key.
function uploadForm(slot, key) {
  const file = field(`CSV file for ${slot.slot}`, 'input', {type: 'file', accept: '.csv,text/csv', required: true,
    class: 'upload-file'}, 'Its header must name the input\'s columns. The node checks it, shares it and sends '
    + 'one share to each Computing Party; no Computing Party sees the values.');
  const barId = `bar-${slot.slot}`;
  const bar = h('progress', {id: barId, max: '100', value: '0', class: 'upload-progress'});
  const submit = h('button', {type: 'submit', class: 'upload'}, 'Upload');
  const out = outcome();
  const form = h('form', {class: 'upload-form'}, file.row,
    h('div', {class: 'field'}, h('label', {for: barId}, 'Sent'), bar),
    h('div', {class: 'actions'}, submit), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, out, async () => {
      const picked = file.input.files[0];
      if (!picked)
        throw new Error('choose the CSV file');
      bar.value = 0;
      const auth = await slotAuthorization({...slot, privateKey: key.privateKey, pak: key.pak});
      const r = await sendFile(`/v1/ctas/${seg(slot.uuid)}/inputs/${seg(slot.slot)}?authorization=${auth}`,
        picked, 'text/csv', (sent, total) => {
          bar.value = Math.round((100 * sent) / Math.max(total, 1));
        });
      bar.value = 100;
      return h('span', {class: 'upload-result'}, `Uploaded ${r.rows} row(s) into ${slot.slot}: ready at every `
        + `Computing Party. CT phase: ${r.phase}.`
        + (r.data_quality === 'passed' ? ' Its data-quality check passed.' : '')
        + (r.simulated ? ' (CT VMs on the SIMULATED TEE platform: no memory protection.)' : ''));
    }, 'Uploading: the node checks, attests, shares and sends the file…');
  });
  return form;
}

/// The output table as received: every row, the withheld ones flagged.
function resultTable(slot, csv) {
  const [header = [], ...rows] = parseCsv(csv);
  const conf = header.indexOf('CONF_STATUS');
  const flagged = (r) => conf >= 0 && r[conf] !== 'F';
  return table(`${slot}: the rows published`, conf >= 0 ? [...header, 'Published'] : header,
    rows.map((r) => (conf >= 0 ? [...r, flagged(r) ? `withheld (${r[conf]})` : 'yes'] : r)),
    {id: 'result-table', class: 'result'});
}

/// The one download of output `slot` with the kept key.
function downloadForm(slot, key) {
  const submit = h('button', {type: 'submit', class: 'download-result'}, 'Download the result');
  const out = outcome();
  const form = h('form', {class: 'download-form'},
    h('p', {class: 'warning'}, 'The Computing Parties release this output to your organisation once. Download it '
      + 'when you can save it: the file is offered on this page only until you leave it.'),
    h('div', {class: 'actions'}, submit), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, out, async () => {
      const auth = await slotAuthorization({...slot, privateKey: key.privateKey, pak: key.pak});
      const r = await api.post(`/v1/ctas/${seg(slot.uuid)}/outputs/${seg(slot.slot)}?authorization=${auth}`);
      const file = new Blob([r.csv], {type: 'text/csv'});
      form.replaceChildren(h('div', {class: 'result-box'},
        h('p', {id: 'result-summary', role: 'status', tabindex: '-1'}, `${r.rows} row(s); ${r.suppressed} row(s) `
          + 'suppressed by the '
          + `algorithm (left out); ${r.confidential ?? 0} row(s) withheld by the confidentiality rules (marked).`
          + (r.simulated ? ' CT VMs on the SIMULATED TEE platform.' : '')),
        h('p', {class: 'warning'}, 'This result could be downloaded only once: save the file now.'),
        h('p', {}, downloadLink(file, `${slot.slot}-${slot.uuid}.csv`, `Save ${slot.slot}.csv`)),
        resultTable(slot.slot, r.csv)));
      // The form's button is gone: the keyboard goes to what came back (the file's link is next).
      form.querySelector('#result-summary').focus();
    }, 'Downloading: the node attests every CT VM and rebuilds the table…');
  });
  return form;
}

/// One slot's section: the key, then the upload or download when its phase has come.
async function slotSection(ctx, slot) {
  const section = h('section', {class: 'card action slot', 'data-slot': slot.slot,
    'aria-labelledby': `slot-${slot.slot}-h`});
  // `said`: what the last key action had to say (the backup's offer stays until the page changes).
  const draw = async (said = null) => {
    const key = await loadKey(keyId(slot));
    const phase = ctx.cta.progress?.phase;
    const parts = [h('h3', {id: `slot-${slot.slot}-h`}, `${slot.upload ? 'Input' : 'Output'} ${slot.slot}`), said];
    if (!key) {
      parts.push(h('p', {class: 'key-state'}, 'You have no key for this slot in this browser.'));
      if (ctx.cta.status === 'emerging')
        parts.push(h('h4', {}, 'Make a key'), createForm(slot, draw));
      else
        parts.push(h('p', {}, 'The agreement is settled: only a key its CTSA names works now.'));
      parts.push(h('h4', {}, 'Or restore it'), restoreForm(slot, draw));
    } else {
      const due = slot.upload ? 'input' : 'output';
      parts.push(h('p', {class: 'key-state'}, `Your key (${key.name}) is in this browser; PAK SHA-256 `,
        h('code', {class: 'wrap'}, await sha256Hex(key.pak)), '.'));
      parts.push(phase === due ? (slot.upload ? uploadForm(slot, key) : downloadForm(slot, key))
        : h('p', {}, `${slot.upload ? 'Uploading' : 'Downloading'} opens in the ${due} phase; the CT is in its `
          + `${phase} phase.`));
    }
    section.replaceChildren(...parts.filter(Boolean));
    // The form just used is gone: the keyboard goes to what it did (the backup's link, the upload
    // form come next).
    if (said)
      said.focus();
  };
  await draw();
  return section;
}

/// The slot sections of this person: inputs this peer provides (data_custodian), outputs it
/// receives (data_analyst).
export async function dataActions(ctx) {
  const self = session().node;
  const c = ctx.cta.ctsc ?? {};
  const slots = [];
  if (has('data_custodian'))
    for (const i of c.inputs ?? [])
      if (i.peer === self)
        slots.push({uuid: ctx.uuid, slot: i.key, upload: true, user: session().user});
  if (has('data_analyst'))
    for (const o of c.outputs ?? [])
      if ((o.peers ?? []).includes(self))
        slots.push({uuid: ctx.uuid, slot: o.key, upload: false, user: session().user});
  return Promise.all(slots.map((s) => slotSection(ctx, s)));
}
