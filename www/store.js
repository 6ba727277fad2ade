// The page's IndexedDB: annotations by image key (`name|page|width x height`), and
// the fine-tuned weights, so a reload or a crashed worker loses none of the
// user's painting or training.

const DB = 'unetseg';
const ANNOTATIONS = 'annotations';
const WEIGHTS = 'weights';
/** The key of the fine-tuned weights in their store. */
const FINE_TUNED = 'fine-tuned';
let opened = null;

function open() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 2);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const store of [ANNOTATIONS, WEIGHTS]) if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
    };
    request.onsuccess = () => {
      const db = request.result;
      // A newer version of the page in another tab: let it upgrade, open again next time.
      db.onversionchange = () => {
        db.close();
        opened = null;
      };
      resolve(db);
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => {
      opened = null;
      reject(new Error('another tab of this page still uses the older storage; close it and reload'));
    };
  });
  return opened;
}

async function run(store, mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = action(tx.objectStore(store));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** The annotation saved for `key` (`{ width, height, data: Uint8Array, saved }`), or null. */
export async function loadAnnotation(key) {
  return (await run(ANNOTATIONS, 'readonly', (s) => s.get(key))) ?? null;
}

/** Saves `data` (width x height samples, 0/128/255) for `key`. */
export function saveAnnotation(key, width, height, data) {
  return run(ANNOTATIONS, 'readwrite', (s) => s.put({ width, height, data: Uint8Array.from(data), saved: Date.now() }, key));
}

/** Forgets the annotation of `key`. */
export function forgetAnnotation(key) {
  return run(ANNOTATIONS, 'readwrite', (s) => s.delete(key));
}

/**
 * The fine-tuned weights kept in this browser (`{ bytes: Uint8Array, name, steps,
 * images, loss, saved }`), or null.
 */
export async function loadFineTuned() {
  return (await run(WEIGHTS, 'readonly', (s) => s.get(FINE_TUNED))) ?? null;
}

/** Keeps fine-tuned weights (`record` as loadFineTuned returns it), replacing earlier ones. */
export function saveFineTuned(record) {
  return run(WEIGHTS, 'readwrite', (s) => s.put({ ...record, saved: Date.now() }, FINE_TUNED));
}

/** Forgets the fine-tuned weights. */
export function forgetFineTuned() {
  return run(WEIGHTS, 'readwrite', (s) => s.delete(FINE_TUNED));
}
