// This browser's keeping of a person's private keys: non-extractable CryptoKeys in IndexedDB (the
// browser stores them without ever giving their bytes to a script), one per node origin, user,
// CT and slot, so that nobody else logged in here and no other CT uses them. Once a CT has ended
// (finished, cancelled, erased) its keys open nothing, and the CT's page removes them.

const dbName = 'joconde-portal';
const storeName = 'paks';

function opened() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(dbName, 1);
    req.addEventListener('upgradeneeded', () => req.result.createObjectStore(storeName, {keyPath: 'id'}));
    req.addEventListener('success', () => resolve(req.result));
    req.addEventListener('error', () => reject(new Error(`this browser cannot keep keys: ${req.error}`)));
  });
}

/// Runs `fn(store)` in a transaction of `mode`; resolves to the result of its request.
async function withStore(mode, fn) {
  const db = await opened();
  try {
    return await new Promise((resolve, reject) => {
      const req = fn(db.transaction(storeName, mode).objectStore(storeName));
      req.addEventListener('success', () => resolve(req.result));
      req.addEventListener('error', () => reject(new Error(`this browser cannot keep keys: ${req.error}`)));
    });
  } finally {
    db.close();
  }
}

/// The id of a slot's key: {user, uuid, slot, upload} at this node (the page's origin).
export function keyId({user, uuid, slot, upload}) {
  return [location.origin, user, uuid, `${upload ? 'input' : 'output'}:${slot}`].join('|');
}

/// Keeps {id, privateKey (non-extractable), pak (SPKI DER bytes), name, created_at}.
export function saveKey(record) {
  if (record.privateKey.extractable)
    throw new Error('only non-extractable keys are kept');
  return withStore('readwrite', (s) => s.put(record));
}

/// The kept record of `id`, or undefined.
export function loadKey(id) {
  return withStore('readonly', (s) => s.get(id));
}

/// Removes every key this browser keeps for CT `uuid` at this node (whoever made it); resolves to
/// how many were removed.
export async function forgetKeysOf(uuid) {
  const db = await opened();
  const prefix = `${location.origin}|`;
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(storeName, 'readwrite');
      const req = tx.objectStore(storeName).openCursor();
      let removed = 0;
      req.addEventListener('success', () => {
        const cursor = req.result;
        if (!cursor)
          return;
        const id = String(cursor.key);
        if (id.startsWith(prefix) && (id.includes(`|${uuid}|input:`) || id.includes(`|${uuid}|output:`))) {
          cursor.delete();
          removed += 1;
        }
        cursor.continue();
      });
      tx.addEventListener('complete', () => resolve(removed));
      tx.addEventListener('error', () => reject(new Error(`this browser cannot remove keys: ${tx.error}`)));
      tx.addEventListener('abort', () => reject(new Error(`this browser cannot remove keys: ${tx.error}`)));
    });
  } finally {
    db.close();
  }
}
