// The drafting form's deadlines: shown as dates and times in the browser's time zone (an
// <input type="datetime-local"> value, YYYY-MM-DDTHH:MM), written to the task file as ISO 8601
// date-times with their zone (UTC, "…Z"), which mean the same instant at every organisation
// (docs/task-files.md §1.2). Pure: tests/portal/draft_toml_test.mjs checks it.

/// The deadlines in order, and how many days each falls after the one before by default
/// (approval: after now).
export const deadlineDays = [['approval', 14], ['input', 7], ['execution', 1], ['output', 30]];

const pad = (n) => String(n).padStart(2, '0');

/// `date` as a datetime-local value in the browser's time zone.
export function localValue(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:`
    + `${pad(date.getMinutes())}`;
}

/// The default deadlines from `now`, each a datetime-local value: the next full hour, then 14, 7, 1
/// and 30 days later (days of the calendar: the same hour on the clock across a change of summer time).
export function defaultDeadlines(now) {
  const at = new Date(now);
  at.setMinutes(60, 0, 0);
  const out = {};
  for (const [name, days] of deadlineDays) {
    at.setDate(at.getDate() + days);
    out[name] = localValue(at);
  }
  return out;
}

/// The instant a datetime-local `value` names in the browser's time zone, as an ISO 8601 date-time
/// in UTC ("2031-01-31T17:00:00Z"); '' when it names none.
export function instantOf(value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(String(value)))
    return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().replace(/\.000Z$/, 'Z');
}

/// The browser's time zone, by name ("Europe/Paris"), or '' when it tells none.
export function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone ?? '';
  } catch {
    return '';
  }
}
