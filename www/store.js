// The page's IndexedDB: annotations by image key (`name|page|width x height`), so
// a reload or a crashed worker loses none of the user's painting.

const DB = 'unetseg';
const STORE = 'annotations';
let opened = null;

function open() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function run(mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = action(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** The annotation saved for `key` (`{ width, height, data: Uint8Array, saved }`), or null. */
export async function loadAnnotation(key) {
  return (await run('readonly', (s) => s.get(key))) ?? null;
}

/** Saves `data` (width x height samples, 0/128/255) for `key`. */
export function saveAnnotation(key, width, height, data) {
  return run('readwrite', (s) => s.put({ width, height, data: Uint8Array.from(data), saved: Date.now() }, key));
}

/** Forgets the annotation of `key`. */
export function forgetAnnotation(key) {
  return run('readwrite', (s) => s.delete(key));
}
