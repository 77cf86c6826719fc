// The readable task file (docs/task-files.md) that the drafting form's values make. What a person
// types reaches the node's parser (actors/cli/task_file.cpp: toml++, TOML 1.0) as exactly that
// text: every string is a basic string ("...", or """...""" for SQL and the description) in which
// the backslash, the quote and every control character are escaped. Pure: no page, no calls
// (tests/portal/draft_toml_test.mjs checks it).

/// The escapes TOML 1.0 writes short.
const shortEscapes = {'\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r', '"': '\\"', '\\': '\\\\'};

/// What must be escaped in a basic string: the backslash, the quote, U+0000–U+001F, U+007F, and a
/// UTF-16 surrogate without its pair (no character: it becomes U+FFFD, as the browser would send it).
const mustEscape = /[\\"\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escaped(text, keep) {
  return String(text).replace(mustEscape, (c) => {
    if (keep.includes(c))
      return c;
    if (c in shortEscapes)
      return shortEscapes[c];
    if (c >= '\ud800' && c <= '\udfff')
      return '\\uFFFD';
    return `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  });
}

/// `text` as a TOML basic string on one line: "…".
export function basicString(text) {
  return `"${escaped(text, '')}"`;
}

/// `text` as a TOML multi-line basic string whose text starts on the next line (TOML drops the
/// line break after the opening quotes), line breaks and tabs kept, so that the node's line and
/// column in it are the person's.
export function multiLineString(text) {
  return `"""\n${escaped(text, '\n\t')}"""`;
}

/// A list of texts: ["a", "b"].
function list(texts) {
  return `[${texts.map(basicString).join(', ')}]`;
}

/// A whole number as TOML writes it when `text` is one of at most 18 digits (what the parser may
/// refuse as out of range, it says so); anything else as a string, which the parser refuses
/// naming the field.
function wholeNumber(text) {
  const t = String(text).trim();
  return /^\d{1,18}$/.test(t) ? BigInt(t).toString() : basicString(t);
}

/// The readable task file of the form's `values`, and where each field's text lies in it:
/// {text, fields: [{key, from, to, body}]}, lines counted from 1; `body` is the line where the
/// field's own text starts (after the quotes that open a multi-line string). Keys: title,
/// description, computing_parties, deadlines.NAME, retention, input.N.peer|max_rows|table|check,
/// output.N.readers|table, algorithm (N from 0).
///
/// values: {title, description, computingParties: [fqdn], deadlines: {approval, input, execution,
/// output} (ISO 8601 date-times with their zone), retentionDays, inputs: [{peer, maxRows, table,
/// check}], outputs: [{readers: [fqdn], table}], algorithm}. Blank optional fields are left out.
export function taskFile(values) {
  const lines = [];
  const fields = [];
  const put = (text) => lines.push(...text.split('\n'));
  /// `name = value` (value as TOML text), remembered as the field `key`.
  const set = (key, name, value) => {
    const from = lines.length + 1;
    put(`${name} = ${value}`);
    fields.push({key, from, to: lines.length, body: value.startsWith('"""') ? from + 1 : from});
  };
  const blank = (t) => !String(t ?? '').trim();

  put('# A Computation Task written by the joconde Service Portal\'s task form (docs/task-files.md).');
  set('title', 'title', basicString(values.title ?? ''));
  if (!blank(values.description))
    set('description', 'description', multiLineString(values.description));
  set('computing_parties', 'computing_parties', list(values.computingParties ?? []));

  put('');
  put('[deadlines]');
  for (const name of ['approval', 'input', 'execution', 'output'])
    set(`deadlines.${name}`, name, basicString(values.deadlines?.[name] ?? ''));
  set('retention', 'retention', basicString(`P${String(values.retentionDays ?? '').trim()}D`));

  put('');
  put('[engine]');
  put('name = "rss3"');
  put('version = "1.0.0"');
  put('parameters = { ring_bits = 64 }');

  (values.inputs ?? []).forEach((input, n) => {
    put('');
    put('[[input]]');
    set(`input.${n}.peer`, 'peer', basicString(input.peer ?? ''));
    if (!blank(input.maxRows))
      set(`input.${n}.max_rows`, 'max_rows', wholeNumber(input.maxRows));
    set(`input.${n}.table`, 'table', multiLineString(input.table ?? ''));
    if (!blank(input.check))
      set(`input.${n}.check`, 'check', multiLineString(input.check));
  });

  (values.outputs ?? []).forEach((output, n) => {
    put('');
    put('[[output]]');
    set(`output.${n}.readers`, 'readers', list(output.readers ?? []));
    set(`output.${n}.table`, 'table', multiLineString(output.table ?? ''));
  });

  put('');
  put('[algorithm]');
  set('algorithm', 'source', multiLineString(values.algorithm ?? ''));
  return {text: `${lines.join('\n')}\n`, fields};
}

/// The readable task file of the form's `values` (taskFile's text).
export function taskToml(values) {
  return taskFile(values).text;
}

/// Where in the form the node's error `message` points: its first "task:LINE:COLUMN" (the name the
/// node gives a task sent as text) as {key, line, column}, line and column within that field's text
/// (only {key} for a one-line field); null when it names no place or none of the form's fields.
export function placeInForm(message, fields) {
  const m = /(?:^|\s)task:(\d+):(\d+)/.exec(String(message));
  if (!m)
    return null;
  const line = Number(m[1]);
  const column = Number(m[2]);
  const f = fields.find((x) => line >= x.from && line <= x.to);
  if (!f)
    return null;
  return line < f.body || f.body === f.from ? {key: f.key} : {key: f.key, line: line - f.body + 1, column};
}
