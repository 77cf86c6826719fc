// The node's JSON API as the portal calls it: same origin, the session cookie (HttpOnly: this code
// never sees it), and on every call that changes something the session's CSRF token in
// X-CSRF-Token (the node refuses such a call without it: 403 csrf_required). Errors are the API's
// {"error": {"code", "message"}}, thrown as ApiError with the message a person can act on.

/// A refusal or failure of a call: the HTTP status, the API's error code and its message; for a
/// 429 or 503, the seconds the node asks to wait (its Retry-After), else 0.
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let csrfToken = '';
let unauthorised = () => {};
/// When the portal last called the node's API (ms since the epoch): the session's idle time runs
/// from there.
let lastCall = Date.now();

/// When the portal last called the node's API (what keeps the session from going idle).
export function lastCallAt() {
  return lastCall;
}

/// The CSRF token of the current session ('' when there is none).
export function setCsrfToken(token) {
  csrfToken = token || '';
}

/// What to do when the node answers 401 to a call (the session ended or never was).
export function onUnauthorised(handler) {
  unauthorised = handler;
}

/// A path segment made safe for a URL (a CT's uuid, a slot key).
export function seg(text) {
  return encodeURIComponent(text);
}

/// The seconds of a Retry-After header (0 when absent or a date).
function secondsOf(header) {
  const n = Number(header);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/// The ApiError of a refused call's answer `text` (maybe empty, maybe not JSON).
function refusal(status, text, retryAfter = 0) {
  let doc = null;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: said below
  }
  const err = doc && typeof doc === 'object' ? doc.error : null;
  if (err && typeof err.message === 'string')
    return new ApiError(status, String(err.code || 'error'), err.message, retryAfter);
  return new ApiError(status, `http_${status}`, `the node answered HTTP ${status}`, retryAfter);
}

/// The JSON document of a successful answer `text` (null when empty).
function parsed(status, text) {
  if (!text)
    return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(status, 'malformed_answer', 'the node answered something that is not JSON');
  }
}

function headersFor(method, contentType) {
  const headers = {Accept: 'application/json'};
  if (contentType)
    headers['Content-Type'] = contentType;
  if (method !== 'GET' && method !== 'HEAD' && csrfToken)
    headers['X-CSRF-Token'] = csrfToken;
  return headers;
}

/// One call: `body` is sent as is with `contentType`; resolves to the answer's JSON document.
async function call(method, path, body, contentType) {
  let res;
  lastCall = Date.now();
  try {
    res = await fetch(path, {
      method,
      body,
      headers: headersFor(method, contentType),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'the node does not answer; check the connection and try again');
  }
  const text = await res.text();
  if (res.ok)
    return parsed(res.status, text);
  const err = refusal(res.status, text, secondsOf(res.headers.get('Retry-After')));
  if (res.status === 401)
    unauthorised(err);
  throw err;
}

/// The file name a Content-Disposition header gives (filename="..."), or `fallback`. Only a plain
/// name is taken: no folder, nothing a file system could read otherwise.
function fileNameOf(header, fallback) {
  const m = /filename="([^"\\/]+)"/.exec(header ?? '') ?? /filename=([^;\s\\/"]+)/.exec(header ?? '');
  const name = m ? m[1].trim() : '';
  return name && !name.startsWith('.') ? name : fallback;
}

/// GETs a file the node offers as an attachment (an audit log's records): resolves to {blob, name}
/// (`name` from its Content-Disposition, else `fallback`).
async function file(path, fallback) {
  let res;
  lastCall = Date.now();
  try {
    res = await fetch(path, {
      method: 'GET',
      headers: {Accept: 'text/plain, application/octet-stream'},
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'the node does not answer; check the connection and try again');
  }
  if (!res.ok) {
    const err = refusal(res.status, await res.text(), secondsOf(res.headers.get('Retry-After')));
    if (res.status === 401)
      unauthorised(err);
    throw err;
  }
  return {blob: await res.blob(), name: fileNameOf(res.headers.get('Content-Disposition'), fallback)};
}

export const api = {
  get: (path) => call('GET', path),
  post: (path, doc) => call('POST', path, JSON.stringify(doc ?? {}), 'application/json'),
  postText: (path, text) => call('POST', path, text, 'text/plain; charset=utf-8'),
  del: (path) => call('DELETE', path),
  file,
};

/// The node's health (GET /healthz, open): its document whether the node is ready (200) or not (503).
export async function health() {
  let res;
  try {
    res = await fetch('/healthz', {headers: {Accept: 'application/json'}, cache: 'no-store', redirect: 'error'});
  } catch {
    throw new ApiError(0, 'unreachable', 'the node does not answer; check the connection and try again');
  }
  const text = await res.text();
  if (res.ok || res.status === 503)
    return parsed(res.status, text);
  throw refusal(res.status, text);
}

/// POSTs `file` (a Blob) to `path` as `contentType`, reporting the bytes sent to
/// onProgress(sent, total); resolves to the answer's JSON document. XMLHttpRequest, not fetch: only
/// it reports an upload's progress.
export function sendFile(path, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [name, value] of Object.entries(headersFor('POST', contentType)))
      xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable)
        onProgress(e.loaded, e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(parsed(xhr.status, xhr.responseText));
        } catch (e) {
          reject(e);
        }
        return;
      }
      const err = refusal(xhr.status, xhr.responseText);
      if (xhr.status === 401)
        unauthorised(err);
      reject(err);
    });
    xhr.addEventListener('error', () =>
      reject(new ApiError(0, 'unreachable', 'the upload was cut off: the node does not answer')));
    lastCall = Date.now();
    xhr.send(file);
  });
}
