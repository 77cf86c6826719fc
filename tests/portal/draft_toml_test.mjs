// The drafting form's task file (actors/node/portal/draft_toml.js) and deadlines (draft_dates.js),
// without a browser: every text a person may type is written as a TOML string that means exactly
// that text: the escapes checked character by character, and, when the joconde CLI is built, read
// back by the node's own parser (`joconde task show`, toml++) and compared.
//
// Run: cd tests/portal && node draft_toml_test.mjs [--build BUILD_DIR]
// (BUILD_DIR defaults to $JOCONDE_BUILD_DIR or ../../build; without bin/joconde there the round
// trip is skipped and says so; with --build it must be there.)

import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {test} from 'node:test';
import {fileURLToPath} from 'node:url';

import {defaultDeadlines, instantOf, localValue} from '../../actors/node/portal/draft_dates.js';
import {basicString, multiLineString, placeInForm, taskFile, taskToml} from '../../actors/node/portal/draft_toml.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--build');
const buildDir = i > 0 ? path.resolve(process.argv[i + 1]) : path.resolve(process.env.JOCONDE_BUILD_DIR
  ?? path.join(here, '..', '..', 'build'));
const joconde = path.join(buildDir, 'bin', 'joconde');

/// Titles a person might type, or an attacker: markup, quotes, TOML's own delimiters, controls.
const HOSTILE = [
  'Income by region <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">',
  'a "quoted" \\ back\\slash \\n not a newline \\u0041 not an escape',
  '""" \'\'\' " \' closing quotes, and a title that ends with a quote"',
  'title = "x"\n[deadlines]\napproval = "P1D"\n# a newline that must not start a new key',
  'controls \u0000 \u0001 \b \t \n \f \r \u001b \u001f \u007f end',
  'non-ASCII kept: é ß 中文 € 😀 \u2028 \u00a0 \ufeff',
];

test('basic strings escape the backslash, the quote and every control character, nothing else', () => {
  assert.equal(basicString('plain'), '"plain"');
  assert.equal(basicString('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(basicString('\b\t\n\f\r'), '"\\b\\t\\n\\f\\r"');
  assert.equal(basicString('\u0000\u0001\u001b\u001f\u007f'), '"\\u0000\\u0001\\u001B\\u001F\\u007F"');
  assert.equal(basicString('é 中 😀 \u2028'), '"é 中 😀 \u2028"');
  assert.equal(basicString(HOSTILE[0]),
    '"Income by region <script>window.__pwned=1</script><img src=x onerror=\\"window.__pwned=2\\">"');
  assert.equal(basicString('"""'), '"\\"\\"\\""');
  assert.equal(basicString('\\u0041'), '"\\\\u0041"');
});

test('a UTF-16 surrogate without its pair becomes U+FFFD (what the browser sends); a pair is kept', () => {
  assert.equal(basicString('a\ud800b'), '"a\\uFFFDb"');
  assert.equal(basicString('a\udc00b'), '"a\\uFFFDb"');
  assert.equal(basicString('\ud83d\ude00'), '"\ud83d\ude00"');
});

test('multi-line strings keep line breaks and tabs, escape the rest, and start on the next line', () => {
  assert.equal(multiLineString('SELECT 1;\n\tFROM t'), '"""\nSELECT 1;\n\tFROM t"""');
  assert.equal(multiLineString('"""'), '"""\n\\"\\"\\""""');
  assert.equal(multiLineString('ends with a quote"'), '"""\nends with a quote\\""""');
  assert.equal(multiLineString('ends with a backslash\\'), '"""\nends with a backslash\\\\"""');
  assert.equal(multiLineString('\nstarts with a line break'), '"""\n\nstarts with a line break"""');
  assert.equal(multiLineString('cr\r\nlf'), '"""\ncr\\r\nlf"""');
  assert.equal(multiLineString(''), '"""\n"""');
});

/// A small task with `title`, whose texts are as hostile as the titles.
function hostileTask(title) {
  return {
    title,
    description: `${title}\nsecond line """ \\`,
    computingParties: ['cp1.joconde.test', 'cp2.joconde.test', 'cp3.joconde.test'],
    deadlines: {approval: '2031-01-01T10:00:00Z', input: '2031-01-08T10:00:00Z', execution: '2031-01-09T10:00:00Z',
      output: '2031-02-08T10:00:00Z'},
    retentionDays: '30',
    inputs: [{peer: 'client-a.joconde.test', maxRows: '1000', check: '',
      table: 'CREATE TABLE persons (\n  id KEY,\n  region CATEGORY (\'north\', \'o\'\'brien "x" \\\')\n)'},
    {peer: 'client-b.joconde.test', maxRows: '', check: 'CHECK COUNT(*) >= 1;',
      table: 'CREATE TABLE income (id KEY, income INTEGER RANGE [0, 500000])'}],
    outputs: [{readers: ['client-a.joconde.test', 'client-b.joconde.test'],
      table: 'CREATE TABLE out (region CATEGORY (\'north\', \'o\'\'brien "x" \\\'), persons INTEGER)'}],
    algorithm: 'INSERT INTO out\nSELECT region, COUNT(*) AS persons\nFROM persons JOIN income ON persons.id = income.id\n'
      + 'GROUP BY region;\n',
  };
}

test('the task file: one line per key, blank optional fields left out, numbers checked', () => {
  const text = taskToml(hostileTask('T'));
  assert.match(text, /^title = "T"$/m);
  assert.match(text, /^computing_parties = \["cp1.joconde.test", "cp2.joconde.test", "cp3.joconde.test"\]$/m);
  assert.match(text, /^approval = "2031-01-01T10:00:00Z"$/m);
  assert.match(text, /^retention = "P30D"$/m);
  assert.match(text, /^max_rows = 1000$/m);
  assert.equal(text.match(/^max_rows/gm).length, 1);
  assert.equal(text.match(/^check = """$/gm).length, 1);
  assert.match(text, /^parameters = \{ ring_bits = 64 \}$/m);
  assert.doesNotMatch(text, /\[peers\]|\[\[tee\]\]/);
  const odd = taskToml({...hostileTask('T'), inputs: [{peer: 'x.example', table: 't', maxRows: '007'},
    {peer: 'y.example', table: 'u', maxRows: '1e5"'}]});
  assert.match(odd, /^max_rows = 7$/m);
  assert.match(odd, /^max_rows = "1e5\\""$/m);
});

test('a place the node names in the task file is found in the form', () => {
  const {text, fields} = taskFile(hostileTask('T'));
  const lines = text.split('\n');
  const sourceLine = lines.indexOf('source = """') + 1;
  assert.deepEqual(placeInForm(`main algorithm: task:${sourceLine + 2}:5: expected SELECT`, fields),
    {key: 'algorithm', line: 2, column: 5});
  const table = lines.findIndex((l) => l.startsWith('CREATE TABLE income (')) + 1;
  assert.deepEqual(placeInForm(`task:${table}:30: bad`, fields), {key: 'input.1.table', line: 1, column: 30});
  assert.deepEqual(placeInForm('task:2:9: no', fields), {key: 'title'});
  assert.equal(placeInForm('task:1:1: the task needs a [deadlines] section', fields), null);
  assert.equal(placeInForm('no place at all', fields), null);
});

test('deadlines: the next full hour, then 14, 7, 1 and 30 days, the same hour across summer time; sent in UTC', () => {
  process.env.TZ = 'Europe/Paris';
  const d = defaultDeadlines(new Date('2026-10-10T17:45:12Z'));
  assert.deepEqual(d, {approval: '2026-10-24T20:00', input: '2026-10-31T20:00', execution: '2026-11-01T20:00',
    output: '2026-12-01T20:00'});
  assert.equal(instantOf(d.approval), '2026-10-24T18:00:00Z');
  assert.equal(instantOf(d.execution), '2026-11-01T19:00:00Z');
  assert.equal(localValue(new Date('2031-01-31T16:00:00Z')), '2031-01-31T17:00');
  assert.equal(instantOf(''), '');
  assert.equal(instantOf('2031-01-31'), '');
  assert.equal(instantOf('2031-02-30T10:00x'), '');
});

test('the node\'s parser reads back every hostile text as typed (joconde task show)', (t) => {
  if (!existsSync(joconde)) {
    // Run by CTest (--build given) the parser must be there; by hand without a build it is skipped.
    assert.ok(i < 0, `${joconde} is missing`);
    t.skip(`${joconde} is not built`);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'joconde-draft-toml-'));
  try {
    for (const [n, title] of HOSTILE.entries()) {
      const task = hostileTask(title);
      const file = path.join(dir, `task-${n}.toml`);
      writeFileSync(file, taskToml(task));
      const ctsc = JSON.parse(execFileSync(joconde, ['task', 'show', file], {encoding: 'utf8'}));
      assert.equal(ctsc.title, title, `title ${n}`);
      assert.equal(ctsc.description, task.description, `description ${n}`);
      assert.equal(ctsc.main_algorithm.source, task.algorithm);
      assert.equal(ctsc.inputs[1].data_quality.source, task.inputs[1].check);
      assert.deepEqual(ctsc.inputs[0].schema[1].domain, ['north', 'o\'brien "x" \\']);
      assert.deepEqual(ctsc.outputs[0].peers, task.outputs[0].readers);
      assert.equal(ctsc.temporal.approval_deadline_ms, String(Date.parse(task.deadlines.approval)));
    }
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
});
