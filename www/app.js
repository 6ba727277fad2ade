// The page: loads the engine (worker + wasm), the default weights and the
// sample slices, then segments whatever the user drops, one file at a time, in
// the order given. All paths are relative, so the page works from any sub-path
// (GitHub Pages). After these first downloads the page makes no network
// request: images are read from disk by the browser and never leave it.

import { Engine, EngineRestarted } from './engine.js';
import { ResultCard, formatMs, paramsKey } from './results.js';
import { makeZip } from './zip.js';
import { runBenchmark } from './bench.js';
import { FineTunePanel } from './finetune.js';
import { loadFineTuned, saveFineTuned, forgetFineTuned } from './store.js';

const DEFAULT_WEIGHTS = 'weights/default.safetensors';
/** The name of fine-tuned weights, in the page and as a download. */
const FINE_TUNED = 'fine-tuned.safetensors';
const SAMPLES = ['slice-24.png', 'slice-25.png', 'slice-26.png'];
const SETTINGS_KEY = 'unetseg.settings.v1';
const DEFAULT_SETTINGS = { threshold: null, fgFraction: 0.2 };

const $ = (id) => document.getElementById(id);
const status = {
  set(text, isError = false) {
    $('status').textContent = text;
    $('status').classList.toggle('error', isError);
  },
};

const jobs = []; // every file given, in order: { key, file, stem, cards, group, body, state }
const queue = []; // jobs not started yet
const samples = new Map();
let running = null; // the job the worker is on
let weightsLoading = Promise.resolve();
let nextKey = 1;
let nextCard = 1;
let nextSample = 0;
let batch = null; // { started, finished } of the work since the queue was last empty

/** The cards of all jobs, in the order the files were given (pages of a stack together). */
const allCards = () => jobs.flatMap((job) => job.cards);

// ---------------------------------------------------------------- settings

/** The settings new images start from, remembered in this browser. */
function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null');
    const threshold = saved?.threshold === null || (saved?.threshold > 0 && saved?.threshold < 1) ? saved.threshold : undefined;
    const fgFraction = saved?.fgFraction >= 0 && saved?.fgFraction <= 0.9 ? saved.fgFraction : undefined;
    if (threshold !== undefined && fgFraction !== undefined) return { threshold, fgFraction };
  } catch {
    // Unreadable or unavailable storage: the defaults.
  }
  return { ...DEFAULT_SETTINGS };
}

let settings = loadSettings();

function saveSettings(next) {
  settings = { ...next };
  try {
    if (paramsKey(settings) === paramsKey(DEFAULT_SETTINGS)) localStorage.removeItem(SETTINGS_KEY);
    else localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // Storage disabled: the settings hold for this visit only.
  }
  showSettings();
}

function showSettings() {
  const threshold = settings.threshold === null ? 'automatic threshold (Otsu)' : `threshold ${settings.threshold.toFixed(2)}`;
  const remembered = paramsKey(settings) === paramsKey(DEFAULT_SETTINGS) ? '' : ' (remembered in this browser)';
  $('defaults').textContent = `New images use: ${threshold}, seed fraction ${settings.fgFraction.toFixed(2)}${remembered}.`;
  $('reset-defaults').hidden = remembered === '';
}

/** "Use these settings for all images": every result and every new image. */
function applyToAll(next) {
  saveSettings(next);
  for (const card of allCards()) card.applySettings(next);
  status.set(`Settings applied to all images: ${describeSettings(next)}.`);
}

function describeSettings({ threshold, fgFraction }) {
  return `${threshold === null ? 'automatic threshold' : `threshold ${threshold.toFixed(2)}`}, seed fraction ${fgFraction.toFixed(2)}`;
}

// ---------------------------------------------------------------- engine and weights

function describeBackend(b) {
  if (b.kind === 'webgpu') {
    const software = b.fallbackAdapter ? ' — a software (fallback) adapter: correct, but slower than a GPU or the CPU path' : '';
    return `WebGPU on ${b.adapter || 'an unnamed adapter'}${software}`;
  }
  const simd = b.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD128, no relaxed SIMD in this browser';
  return `CPU (WebAssembly, one thread, ${simd})${b.reason ? ` — ${b.reason}` : ''}`;
}

function shortBackend(b) {
  if (b.kind === 'webgpu') return `WebGPU${b.fallbackAdapter ? ' (software adapter)' : ''}`;
  return 'CPU (wasm)';
}

// `?backend=webgpu` uses WebGPU even on a software adapter, `?backend=cpu` never.
const choice = new URLSearchParams(location.search).get('backend');
const engine = new Engine({
  choice: ['webgpu', 'cpu'].includes(choice) ? choice : 'auto',
  onBackend: (b) => { $('backend').textContent = describeBackend(b); },
});

/** Which weights made a result: `{ name, sha256, model }` of the loaded ones. */
let weightsInfo = null;

/** The SHA-256 of `bytes` in hex (crypto.subtle: secure contexts, which localhost and https are). */
async function sha256(bytes) {
  if (!globalThis.crypto?.subtle) return '';
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Fetches `url` into an ArrayBuffer, reporting progress to `onProgress(loaded, total)`. */
async function fetchWithProgress(url, onProgress) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  const total = Number(response.headers.get('Content-Length')) || 0;
  if (!response.body) return response.arrayBuffer();
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress(loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes.buffer;
}

function describeModel(name, model, hash) {
  const size = model.parameters >= 1e6 ? `${(model.parameters / 1e6).toFixed(1)} M` : `${Math.round(model.parameters / 1e3)} k`;
  return `${name} (${model.summary}, ${size} parameters${hash ? `; SHA-256 ${hash.slice(0, 12)}…` : ''})`;
}

async function loadDefaultWeights() {
  const bar = $('weights-progress');
  bar.hidden = false;
  $('weights').textContent = 'downloading the default weights…';
  const bytes = await fetchWithProgress(DEFAULT_WEIGHTS, (loaded, total) => {
    if (total) {
      bar.max = total;
      bar.value = loaded;
    }
    $('weights').textContent = `downloading the default weights… ${(loaded / 1048576).toFixed(1)} MB`;
  });
  bar.hidden = true;
  await engine.ready();
  await useWeights(bytes, 'default.safetensors', 'default weights');
  defaultWeights = bytes;
  return bytes;
}

/** The default weights' bytes, for "back to the default weights". */
let defaultWeights = null;

/** Loads `bytes` as the weights of new results; `label` names them in the Model line. */
async function useWeights(bytes, name, label) {
  const [{ model }, hash] = await Promise.all([engine.loadWeights(bytes, name), sha256(bytes)]);
  weightsInfo = { name, sha256: hash, model };
  $('weights').textContent = describeModel(label, model, hash);
}

function loadOwnWeights(file) {
  const loading = (async () => {
    status.set(`Loading weights from ${file.name}…`);
    try {
      const bytes = await file.arrayBuffer();
      await useWeights(bytes, file.name, file.name);
      status.set(`Now using ${file.name}. New images use these weights; earlier results are unchanged.`);
    } catch (e) {
      const keeping = engine.weights ? ` Still using ${engine.weights.name}.` : '';
      // Some loader messages run over many lines; the first says what is wrong.
      const [first, ...rest] = e.message.split('\n');
      if (rest.length) console.warn(e.message);
      const more = rest.length ? ' (details in the browser console)' : '';
      status.set(`Could not use these weights: ${first.replace(/[.:]\s*$/, '')}${more}.${keeping}`, true);
    }
  })();
  weightsLoading = loading;
  loading.then(() => { if (queue.length) runQueue(); });
}

// ---------------------------------------------------------------- names

/**
 * The stem of a file's downloads: its name without the extension, kept as given
 * (Unicode included) except where a file system needs otherwise: / \ : * ? " < > |
 * and control characters become _, trailing dots and spaces go, and Windows'
 * reserved device names get a _ appended.
 */
export function stemOf(name) {
  let stem = name.replace(/\.[^.]*$/, '');
  // eslint-disable-next-line no-control-regex
  stem = stem.replace(/[/\\:*?"<>|\u0000-\u001f\u007f]/g, '_').replace(/[. ]+$/, '');
  if (/^(con|prn|aux|nul|com[1-9]|lpt[1-9])$/i.test(stem)) stem += '_';
  return stem || 'image';
}

/** `stem`, or `stem-2`, `stem-3`…: unique among the results, ignoring case (as Windows and macOS folders do). */
function uniqueStem(stem) {
  const taken = new Set(allCards().map((c) => c.stem.toLowerCase()));
  for (const job of jobs) taken.add(job.stem.toLowerCase());
  let candidate = stem;
  for (let i = 2; taken.has(candidate.toLowerCase()); i++) candidate = `${stem}-${i}`;
  return candidate;
}

// ---------------------------------------------------------------- jobs

/** Adds files to the queue in the order given, each with a first card (more appear for extra TIFF pages). */
function enqueue(files) {
  if (!files.length) return;
  if (!batch || batch.finished) batch = { started: performance.now(), finished: null, from: allCards().length };
  for (const file of files) {
    const key = String(nextKey++);
    const stem = uniqueStem(stemOf(file.name));
    const group = document.createElement('div');
    group.className = 'job';
    $('results').append(group);
    const body = document.createElement('tbody');
    $('results-table').append(body);
    const job = { key, file, stem, cards: [], group, body, state: 'queued' };
    jobs.push(job);
    newCard(job, file.name, stem, { name: file.name, page: 1, pages: 1 });
    queue.push(job);
  }
  updateBatch();
  runQueue();
}

function newCard(job, title, stem, source) {
  const row = document.createElement('tr');
  job.body.append(row);
  const card = new ResultCard(job.group, row, {
    id: `result-${nextCard++}`, title, stem, settings,
    onParams: reanalyse, onCancel: cancelCard, onApplyAll: applyToAll, onChange: updateBatch,
  });
  card.job = job;
  card.source = source;
  job.cards.push(card);
  return card;
}

async function runQueue() {
  if (running) return;
  try {
    await engine.ready();
    if (!engine.weights) {
      status.set('Waiting for the model to load…'); // runQueue runs again once it is
      return;
    }
    while (queue.length && !running) {
      await weightsLoading;
      const job = queue.shift();
      if (!job.cards.some((c) => c.state === 'queued')) continue; // all cancelled, or kept as they were
      running = job;
      status.set(`Segmenting ${job.file.name}…`);
      try {
        await segmentJob(job);
      } finally {
        running = null;
      }
      if (job.again) {
        requeue(job, job.again);
        delete job.again;
      }
    }
  } catch (e) {
    status.set(`The engine stopped: ${e.message}. Reload the page to try again.`, true);
    return;
  }
  updateBatch();
}

/** Segments every page of one file in the worker, following its events on the job's cards. */
async function segmentJob(job, retried = false) {
  const { key, file, stem } = job;
  const cardFor = (page) => job.cards[page];
  let bytes;
  try {
    bytes = await file.arrayBuffer();
  } catch (e) {
    job.cards[0].setState('error', `${file.name}: cannot be read (${e.message})`);
    return;
  }
  if (job.cards[0].state === 'cancelled' && job.cards.length === 1) return;
  if (job.cards[0].pending) job.cards[0].setState('running', 'decoding…');
  const backend = engine.backend;
  const weights = weightsInfo;
  const params = job.cards[0].settings;
  // Pages of a file segmented again whose new pass was cancelled before it started keep their results.
  const skip = job.cards.flatMap((c, page) => (c.pending ? [] : [page]));
  try {
    await engine.segment(key, bytes, file.name, params, skip, (m) => {
      if (m.type === 'pages') {
        job.sizes = m.sizes;
        if (m.sizes.length > 1 && job.cards.length === 1) {
          // Named as `unetseg segment` names the pages of a multi-page TIFF, and kept together.
          const pageStem = (p) => `${stem}_p${String(p).padStart(3, '0')}`;
          const first = job.cards[0];
          first.title = `${file.name} — page 1 of ${m.sizes.length}`;
          first.$('.result-name').textContent = first.title;
          first.row.querySelector('a').textContent = first.title;
          first.stem = pageStem(0);
          first.source.pages = m.sizes.length;
          for (let p = 1; p < m.sizes.length; p++) {
            const card = newCard(job, `${file.name} — page ${p + 1} of ${m.sizes.length}`, pageStem(p),
              { name: file.name, page: p + 1, pages: m.sizes.length });
            card.setSettings(first.settings);
          }
          if (first.state === 'cancelled') engine.cancel(key, 0);
        }
        updateBatch();
      } else if (m.type === 'page-start') {
        const card = cardFor(m.page);
        if (card.disposed || !card.pending) return;
        card.setState('running', 'starting the network…');
        card.setInput(m.input, ...job.sizes[m.page]);
      } else if (m.type === 'progress') {
        const card = cardFor(m.page);
        if (!card.disposed && card.state === 'running') card.setProgress(m.done, m.total);
      } else if (m.type === 'page-done') {
        const card = cardFor(m.page);
        const pageKey = `${key}/${m.page}`;
        if (card.disposed || card.state === 'cancelled') {
          engine.forget([pageKey]).catch(() => {});
          return;
        }
        const page = { probability: m.probability, networkMs: m.networkMs, key: pageKey, weights };
        card.setDone({ ...page, backend: shortBackend(backend), generation: engine.generation }, m.analysis, params);
      } else if (m.type === 'page-error') {
        const card = cardFor(m.page);
        if (!card.disposed) stopCard(card, 'error', m.message);
      } else if (m.type === 'page-cancelled') {
        const card = cardFor(m.page);
        if (card.disposed || !card.pending) return;
        stopCard(card, 'cancelled', m.total ? `Cancelled after tile ${m.done} of ${m.total}.` : 'Cancelled before it started.');
      }
    });
  } catch (e) {
    if (e instanceof EngineRestarted && e.wasGpu && !retried) {
      for (const card of job.cards) if (card.pending) card.setState('running', 'WebGPU failed; retrying on the CPU…');
      await engine.ready();
      return segmentJob(job, true);
    }
    const message = e instanceof EngineRestarted
      ? `${file.name}: the engine crashed on this image (${e.message}); it may be too large for this browser. Other images go on.`
      : e.message;
    for (const card of job.cards) if (card.pending) stopCard(card, 'error', message);
  }
  // Pages the worker never reached (it stopped on an error) are not left waiting.
  for (const card of job.cards) if (card.pending) stopCard(card, 'cancelled', 'Cancelled before it started.');
}

/**
 * Ends a page that will not get a new result (`state` 'cancelled' or 'error', with
 * `message`). A page that was being segmented again with new weights keeps the result
 * it had instead, and says so.
 */
function stopCard(card, state, message) {
  if (!card.previous) {
    card.setState(state, message);
    return;
  }
  const what = state === 'error' ? `failed (${message})` : 'was cancelled';
  card.keepPrevious(`Segmenting again ${what}: this is still the result of the previous weights.`);
}

/** The cancel button of a card: a page that has not started is dropped, a running one stops after its current tile. */
function cancelCard(card) {
  const job = card.job;
  const page = job.cards.indexOf(card);
  if (running === job && card.pending) {
    engine.cancel(job.key, page);
    if (card.state === 'running') {
      card.setCancelling();
      return;
    }
  }
  if (card.pending) stopCard(card, 'cancelled', 'Cancelled before it started.');
  updateBatch();
}

/** Cancels everything queued and running. Returns the number of images cancelled. */
function cancelAll() {
  let count = 0;
  for (const card of allCards()) {
    if (card.pending) {
      cancelCard(card);
      count++;
    }
  }
  if (running) engine.cancel(running.key);
  queue.length = 0;
  return count;
}

/** Slider moved: re-run the post-processing only, latest values winning. */
const analysing = new WeakMap();
async function reanalyse(card, params) {
  const current = analysing.get(card);
  if (current) {
    current.next = params;
    return;
  }
  const state = { next: params };
  analysing.set(card, state);
  try {
    while (state.next && !card.disposed) {
      const p = state.next;
      state.next = null;
      const a = await engine.analyse(card.key, card.generation, p);
      if (card.disposed) break;
      if (!a) {
        card.setStale('The engine restarted since this image was segmented; drop it again to change its settings.');
        break;
      }
      card.setAnalysis(a, p);
    }
  } catch (e) {
    card.setStale(e instanceof EngineRestarted
      ? `Post-processing failed: ${e.message}. The engine was restarted; drop the image again to change its settings.`
      : `Post-processing failed: ${e.message}`);
  } finally {
    analysing.delete(card);
  }
}

// ---------------------------------------------------------------- batch line

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatSeconds(s) {
  if (s < 10) return `${Math.max(1, Math.round(s))} s`;
  if (s < 90) return `${Math.round(s / 5) * 5} s`;
  return `${Math.round(s / 60)} min`;
}

/** The batch line ("12 of 30 images, about 40 s left"), the buttons, and the status once the queue is empty. */
function updateBatch() {
  const cards = allCards();
  const inBatch = batch ? cards.slice(batch.from) : [];
  const count = (state) => inBatch.filter((c) => c.state === state).length;
  const [done, failed, cancelled] = [count('done'), count('error'), count('cancelled')];
  const settled = done + failed + cancelled;
  const working = inBatch.filter((c) => c.pending);
  updateFineTune();
  const line = $('batch-progress');
  const bar = $('batch-bar');
  $('zip-button').disabled = !cards.some((c) => c.state === 'done');
  $('clear-button').disabled = cards.length === 0;
  $('cancel-all').disabled = !cards.some((c) => c.pending);
  $('table-box').hidden = cards.length === 0;
  if (!batch || !inBatch.length) {
    line.textContent = '';
    bar.hidden = true;
    return;
  }
  const total = inBatch.length;
  if (working.length) {
    const partial = working.reduce((sum, c) => sum + (c.state === 'running' ? (c.progress ?? 0) : 0), 0);
    const progressed = settled + partial;
    const elapsed = (performance.now() - batch.started) / 1000;
    let estimate = '';
    if (progressed > 0.05) estimate = `, about ${formatSeconds(elapsed / progressed * (total - progressed))} left`;
    line.textContent = `${settled} of ${plural(total, 'image')} done${estimate}`;
    bar.hidden = false;
    bar.max = total;
    bar.value = progressed;
    batch.finished = null;
    return;
  }
  if (!batch.finished) batch.finished = performance.now();
  const took = formatMs(batch.finished - batch.started);
  const extra = [failed && `${failed} failed`, cancelled && `${cancelled} cancelled`].filter(Boolean).join(', ');
  line.textContent = `${done} of ${plural(total, 'image')} segmented in ${took}${extra ? ` (${extra})` : ''}.`;
  bar.hidden = true;
  if (!running && !queue.length) {
    const words = [`${plural(done, 'image')} segmented`, failed && `${failed} failed`, cancelled && `${cancelled} cancelled`].filter(Boolean);
    status.set(`Done: ${words.join(', ')}. Drop more images, or download the results.`);
  }
}

// ---------------------------------------------------------------- fine-tuning

/** The run in progress: `{ id, snapshot: { step, weights } | null, stopping, ranBefore }`, or null. */
let tuning = null;
let nextTuning = 1;

const fineTunePanel = new FineTunePanel({
  onStart: () => fineTune(),
  onPause: () => {
    if (!tuning) return;
    engine.controlFineTune(tuning.id, 'pause');
    fineTunePanel.setState('paused', 'Pausing after the current step…');
  },
  onResume: () => {
    if (!tuning) return;
    engine.controlFineTune(tuning.id, 'resume');
    fineTunePanel.setState('running', 'Resuming…');
  },
  onStop: () => {
    if (!tuning) return;
    tuning.stopping = true;
    engine.controlFineTune(tuning.id, 'stop');
    fineTunePanel.setState('stopping', 'Stopping after the current step…');
  },
  onReset: () => resetWeights(),
});

/** Tells the panel how many results can be trained on. */
function updateFineTune() {
  const cards = allCards().filter((c) => c.annotated > 0);
  fineTunePanel.setAvailable(cards.length, cards.reduce((sum, c) => sum + c.annotated, 0));
}

/** The annotated results as the worker's fine-tuning takes them. */
async function trainingImages() {
  const images = [];
  for (const card of allCards()) {
    const annotation = await card.trainingAnnotation();
    if (!annotation) continue;
    images.push({
      bytes: await card.job.file.arrayBuffer(),
      name: card.job.file.name,
      page: card.job.cards.indexOf(card),
      annotation,
      annotationName: `${card.stem}.annotation.png`,
    });
  }
  return images;
}

/**
 * Fine-tunes the weights in use on every annotated result, in the worker. If the
 * worker dies (WebGPU lost, say), the run goes on in the new worker (the CPU)
 * from its last snapshot; Adam's moments start afresh there. When it ends, the
 * new weights are kept in this browser and every result is segmented again.
 */
async function fineTune() {
  if (tuning) return; // one run at a time
  let settings;
  try {
    settings = fineTunePanel.settings();
  } catch (e) {
    fineTunePanel.setState('error', `Not started: ${e.message}.`);
    return;
  }
  tuning = { id: nextTuning++, snapshot: null, stopping: false, ranBefore: 0 };
  fineTunePanel.begin(settings.summary);
  const images = await trainingImages();
  if (!images.length) {
    tuning = null;
    fineTunePanel.setState('error', 'Not started: no result has an annotation with labelled pixels.');
    return;
  }
  const base = engine.weights;
  const limits = { ...settings.limits };
  let weights = base.bytes;
  let firstStep = 0;
  let restarts = 0;
  let result;
  for (;;) {
    try {
      const run = { run: tuning.id, weights, name: base.name, images, options: settings.options, limits, firstStep };
      result = await engine.fineTune(run, (m) => {
        if (m.type === 'tuning-step') fineTunePanel.addStep({ ...m, ranMs: m.ranMs + tuning.ranBefore });
        else if (m.type === 'tuning-snapshot') {
          tuning.snapshot = { step: m.step, weights: m.weights };
          fineTunePanel.setSnapshot(m.step);
        }
        else if (m.type === 'tuning-probe') fineTunePanel.setProbe(m.probeBefore, null);
        else if (m.type === 'tuning-paused' && fineTunePanel.state === 'paused') {
          fineTunePanel.setState('paused', `Paused after step ${m.step}. Resume, or stop to use the weights so far.`);
        }
      });
      break;
    } catch (e) {
      if (e instanceof EngineRestarted && restarts++ < 2) {
        const from = tuning.snapshot;
        if (from) {
          weights = from.weights;
          firstStep = from.step;
          limits.steps = Math.max(0, settings.limits.steps - from.step);
        }
        tuning.ranBefore = fineTunePanel.ranMs;
        limits.ms = Math.max(0, settings.limits.ms - tuning.ranBefore);
        try {
          await engine.ready();
        } catch (restart) {
          tuning = null;
          fineTunePanel.setState('error', `The engine stopped (${e.message}) and could not start again (${restart.message}); reload the page.`);
          return;
        }
        fineTunePanel.setState(tuning.stopping ? 'stopping' : 'running', `The engine stopped (${e.message}); fine-tuning goes on with`
          + ` ${describeBackend(engine.backend)} from ${from ? `step ${from.step}` : 'the start'}, with Adam's moments afresh.`);
        // A stop asked for meanwhile reaches the new run as soon as it starts.
        if (tuning.stopping) engine.controlFineTune(tuning.id, 'stop');
        continue;
      }
      tuning = null;
      fineTunePanel.setState('error', `Fine-tuning failed: ${e.message}. The weights in use are unchanged.`);
      return;
    }
  }
  const ranMs = result.ranMs + tuning.ranBefore;
  tuning = null;
  fineTunePanel.setProbe(fineTunePanel.probeBefore ?? result.probeBefore, result.probeAfter);
  const done = fineTunePanel.finishedText({ ...result, ranMs, images: images.length });
  const record = { bytes: result.weights, name: FINE_TUNED, steps: result.step, images: images.length, from: base.name };
  try {
    await useWeights(result.weights, FINE_TUNED, describeFineTuned(record));
  } catch (e) {
    fineTunePanel.setState('error', `${done} Its weights could not be loaded (${e.message}); still using ${base.name}.`);
    return;
  }
  fineTunePanel.setWeights(result.weights, FINE_TUNED);
  let kept = ' They are kept in this browser.';
  try {
    await saveFineTuned(record);
  } catch (e) {
    kept = ` They could not be kept in this browser (${e?.message ?? e}): download them to keep them.`;
  }
  fineTunePanel.setState('stopped', `${done} The new weights are in use;${resegmentAll('fine-tuning')}${kept}`);
}

function describeFineTuned({ steps, images, from }) {
  return `fine-tuned weights (${steps} steps on ${plural(images, 'annotated image')}, from ${from})`;
}

/**
 * Segments every finished result again with the weights now in use, keeping its
 * cells for the compare view. Returns the words for the status line.
 */
function resegmentAll(why) {
  const again = jobs.filter((job) => job.cards.some((c) => c.state === 'done'));
  if (!again.length) return ' new images use them.';
  batch = { started: performance.now(), finished: null, from: 0 };
  for (const job of again) {
    // A file still being segmented (with the previous weights) goes again once it is done.
    if (job === running) job.again = why;
    else requeue(job, why);
  }
  updateBatch();
  runQueue();
  return ` ${plural(again.length, 'image')} ${again.length === 1 ? 'is' : 'are'} being segmented again (Compare shows before and after).`;
}

/**
 * Puts a segmented file back in the queue, its results kept as "before" until the new
 * ones come (the worker keeps the old probability until a new one replaces it, so a
 * cancelled pass leaves each page as it was).
 */
function requeue(job, why) {
  for (const card of job.cards) {
    if (card.state !== 'done') continue;
    card.keepBefore();
    card.setState('queued', `Waiting to be segmented again after ${why}.`);
  }
  if (!queue.includes(job)) queue.push(job);
}

/** Forgets the fine-tuned weights and goes back to the default ones. */
async function resetWeights() {
  try {
    await forgetFineTuned();
  } catch (e) {
    console.warn('forgetting the fine-tuned weights failed', e);
  }
  fineTunePanel.setWeights(null);
  if (!defaultWeights) {
    fineTunePanel.setState('error', 'The default weights are not loaded; reload the page.');
    return;
  }
  try {
    await useWeights(defaultWeights, 'default.safetensors', 'default weights');
  } catch (e) {
    fineTunePanel.setState('error', `The default weights could not be loaded again: ${e.message}.`);
    return;
  }
  fineTunePanel.setState('idle', `Back to the default weights; the fine-tuned ones are forgotten in this browser;${resegmentAll('the reset')}`);
}

/** Fine-tuned weights kept in this browser replace the default ones, and say so. */
async function restoreFineTuned() {
  let record = null;
  try {
    record = await loadFineTuned();
  } catch (e) {
    fineTunePanel.setState('error', `Fine-tuned weights kept in this browser cannot be read: ${e?.message ?? e}`);
    return;
  }
  if (!record) return;
  try {
    await useWeights(record.bytes, FINE_TUNED, `${describeFineTuned(record)}, restored from this browser`);
  } catch (e) {
    fineTunePanel.setState('error', `The fine-tuned weights kept in this browser do not load (${e.message}); using the default weights.`);
    return;
  }
  fineTunePanel.setWeights(record.bytes, FINE_TUNED);
  fineTunePanel.setState('idle', `Using your fine-tuned weights from ${new Date(record.saved).toLocaleString()} `
    + `(${record.steps} steps on ${plural(record.images, 'image')}); "Back to the default weights" forgets them.`);
}

// ---------------------------------------------------------------- ZIP, clear

/** A TSV field: tabs, line breaks and other control characters become spaces. */
function tsv(value) {
  // eslint-disable-next-line no-control-regex
  return String(value ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ');
}

const INDEX_COLUMNS = ['file', 'original_name', 'page', 'pages', 'status', 'width', 'height', 'bit_depth', 'pixel_size', 'cells',
  'threshold', 'threshold_used', 'seed_fraction', 'network_ms', 'post_ms', 'engine', 'weights', 'weights_sha256', 'message'];

/** One line of index.tsv for `card`: the original name, the settings, the weights and the outcome. */
function indexLine(card) {
  const done = card.state === 'done';
  const shown = card.shown ?? card.settings;
  const values = {
    file: card.stem,
    original_name: card.source.name,
    page: card.source.page,
    pages: card.source.pages,
    status: { done: 'done', error: 'failed', cancelled: 'cancelled', queued: 'waiting', running: 'running' }[card.state],
    width: card.size?.[0] ?? '',
    height: card.size?.[1] ?? '',
    bit_depth: card.depth ?? '',
    pixel_size: card.pixelSize ?? '',
    cells: done ? card.cells : '',
    threshold: done ? (shown.threshold === null ? 'otsu' : shown.threshold) : '',
    threshold_used: done ? card.thresholdUsed.toFixed(4).replace(/0+$/, '').replace(/\.$/, '') : '',
    seed_fraction: done ? shown.fgFraction : '',
    network_ms: done ? Math.round(card.networkMs) : '',
    post_ms: done ? Math.round(card.postMs) : '',
    engine: card.backend ?? '',
    weights: card.weights?.name ?? '',
    weights_sha256: card.weights?.sha256 ?? '',
    message: done ? '' : card.$('.result-message').textContent,
  };
  return INDEX_COLUMNS.map((c) => tsv(values[c])).join('\t');
}

async function downloadZip() {
  const button = $('zip-button');
  button.disabled = true;
  const label = button.textContent;
  try {
    const cards = allCards().filter((c) => c.state !== 'queued' && c.state !== 'running');
    const busy = cards.filter((c) => c.busy);
    if (busy.length) {
      button.textContent = 'Waiting for the new settings…';
      await Promise.all(busy.map((c) => c.whenSettled()));
    }
    button.textContent = 'Packing…';
    const settled = allCards().filter((c) => c.state !== 'queued' && c.state !== 'running');
    const index = [INDEX_COLUMNS.join('\t'), ...settled.map(indexLine)].join('\n') + '\n';
    const files = [{ name: 'index.tsv', data: index }, ...settled.flatMap((c) => c.zipEntries())];
    const url = URL.createObjectURL(await makeZip(files));
    const link = document.createElement('a');
    link.href = url;
    link.download = 'unetseg-results.zip';
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) {
    status.set(`The ZIP could not be made: ${e.message}`, true);
  } finally {
    button.textContent = label;
    updateBatch();
  }
}

/** Cancels what is queued and running, then removes every result. */
function clearResults() {
  const cancelled = cancelAll();
  const cards = allCards();
  const keys = cards.filter((c) => c.key).map((c) => c.key);
  for (const card of cards) card.dispose();
  for (const job of jobs) {
    job.group.remove();
    job.body.remove();
  }
  jobs.length = 0;
  batch = null;
  if (keys.length) engine.forget(keys).catch(() => {});
  updateBatch();
  const stopped = cancelled ? ` (${plural(cancelled, 'image')} cancelled)` : '';
  status.set(`Cleared ${plural(cards.length, 'result')}${stopped}. Ready: drop images anywhere on the page, or try a sample slice.`);
}

function trySample() {
  const name = SAMPLES[nextSample++ % SAMPLES.length];
  const bytes = samples.get(name);
  if (!bytes) return;
  enqueue([new File([bytes], name, { type: 'image/png' })]);
}

// ---------------------------------------------------------------- wiring

/** The files of a drop, folders walked (their images in name order). */
async function droppedFiles(transfer) {
  const entries = [...(transfer.items ?? [])].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.some((e) => e.isDirectory)) return [...transfer.files];
  const files = [];
  const walk = async (entry) => {
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      const children = [];
      for (;;) {
        const batchOf = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batchOf.length) break;
        children.push(...batchOf);
      }
      children.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
      for (const child of children) await walk(child);
    }
  };
  for (const entry of entries) await walk(entry);
  return files.filter((f) => /\.(png|jpe?g|tiff?)$/i.test(f.name));
}

function wireInputs() {
  const input = $('file-input');
  input.addEventListener('change', () => {
    enqueue([...input.files]);
    input.value = '';
  });
  // Files may be dropped anywhere on the page.
  const overlay = $('drop-overlay');
  const zone = $('drop-zone');
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    overlay.hidden = false;
    zone.classList.add('dragging');
  });
  window.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  const hide = () => {
    depth = 0;
    overlay.hidden = true;
    zone.classList.remove('dragging');
  };
  window.addEventListener('dragleave', () => {
    if (--depth <= 0) hide();
  });
  window.addEventListener('drop', async (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    hide();
    enqueue(await droppedFiles(e.dataTransfer));
  });
  $('load-weights').addEventListener('click', () => $('weights-input').click());
  $('weights-input').addEventListener('change', (e) => {
    const [file] = e.target.files;
    e.target.value = '';
    if (file) loadOwnWeights(file);
  });
  $('sample-button').addEventListener('click', trySample);
  $('zip-button').addEventListener('click', downloadZip);
  $('cancel-all').addEventListener('click', () => {
    const n = cancelAll();
    updateBatch();
    status.set(`Cancelled ${plural(n, 'image')}. Finished results stay; drop more images to go on.`);
  });
  $('clear-button').addEventListener('click', clearResults);
  $('reset-defaults').addEventListener('click', () => {
    saveSettings(DEFAULT_SETTINGS);
    status.set(`New images use the defaults again: ${describeSettings(DEFAULT_SETTINGS)}.`);
  });
  // Results and running work live only in this tab: ask before leaving it.
  window.addEventListener('beforeunload', (e) => {
    if (!jobs.length) return;
    e.preventDefault();
    e.returnValue = '';
  });
}

async function loadSamples() {
  await Promise.all(SAMPLES.map(async (name) => {
    const response = await fetch(`samples/${name}`);
    if (response.ok) samples.set(name, await response.arrayBuffer());
  }));
}

async function main() {
  const params = new URLSearchParams(location.search);
  if (params.has('bench')) {
    await runBenchmark(params, { fetchWithProgress, DEFAULT_WEIGHTS, SAMPLES, status });
    return;
  }
  wireInputs();
  showSettings();
  status.set('Starting the engine and downloading the model…');
  // Everything the page will ever need is fetched now, so nothing is requested later.
  const samplesLoaded = loadSamples();
  try {
    await engine.start();
  } catch (e) {
    $('backend').textContent = 'unavailable';
    status.set(`The engine could not start: ${e.message}. This browser may not support WebAssembly.`, true);
    return;
  }
  try {
    await Promise.all([loadDefaultWeights(), samplesLoaded]);
    await restoreFineTuned();
  } catch (e) {
    $('weights').textContent = 'not loaded';
    status.set(`The default weights could not be loaded (${e.message}). Load your own weights to start.`, true);
    return;
  }
  $('sample-button').disabled = samples.size === 0;
  if (queue.length) runQueue();
  else status.set('Ready: drop images anywhere on the page, or try a sample slice.');
}

main();
