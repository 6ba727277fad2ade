// The page: loads the engine (worker + wasm), the default weights and the
// sample slices, then segments whatever the user drops, one file at a time.
// All paths are relative, so the page works from any sub-path (GitHub Pages).
// After these first downloads the page makes no network request: images are
// read from disk by the browser and never leave it.

import { Engine, EngineRestarted } from './engine.js';
import { ResultCard } from './results.js';
import { makeZip } from './zip.js';
import { runBenchmark } from './bench.js';

const DEFAULT_WEIGHTS = 'weights/default.safetensors';
const SAMPLES = ['slice-24.png', 'slice-25.png', 'slice-26.png'];

const $ = (id) => document.getElementById(id);
const status = {
  set(text, isError = false) {
    $('status').textContent = text;
    $('status').classList.toggle('error', isError);
  },
};

const cards = [];
const queue = [];
const samples = new Map();
let running = false;
let nextKey = 1;
let nextSample = 0;

function describeBackend(b) {
  if (b.kind === 'webgpu') {
    const software = b.fallbackAdapter ? ' — a software (fallback) adapter: correct, but slower than a GPU or the CPU path' : '';
    return `WebGPU on ${b.adapter || 'an unnamed adapter'}${software}`;
  }
  return `CPU (WebAssembly, one thread)${b.reason ? ` — ${b.reason}` : ''}`;
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

function describeModel(name, model) {
  const size = model.parameters >= 1e6 ? `${(model.parameters / 1e6).toFixed(1)} M` : `${Math.round(model.parameters / 1e3)} k`;
  return `${name} (${model.summary}, ${size} parameters)`;
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
  const { model } = await engine.loadWeights(bytes, 'default.safetensors');
  $('weights').textContent = describeModel('default weights', model);
  return bytes;
}

async function loadOwnWeights(file) {
  status.set(`Loading weights from ${file.name}…`);
  try {
    const { model } = await engine.loadWeights(await file.arrayBuffer(), file.name);
    $('weights').textContent = describeModel(file.name, model);
    status.set(`Now using ${file.name}. New images use these weights; earlier results are unchanged.`);
    if (queue.length) runQueue();
  } catch (e) {
    const keeping = engine.weights ? ` Still using ${engine.weights.name}.` : '';
    // Some loader messages run over many lines; the first says what is wrong.
    const [first, ...rest] = e.message.split('\n');
    if (rest.length) console.warn(e.message);
    const more = rest.length ? ' (details in the browser console)' : '';
    status.set(`Could not use these weights: ${first.replace(/[.:]\s*$/, '')}${more}.${keeping}`, true);
  }
}

function stemOf(name) {
  const base = name.replace(/\.[^.]+$/, '') || 'image';
  return base.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Adds files to the queue, each with a first card (more appear for extra TIFF pages). */
function enqueue(files) {
  for (const file of files) {
    const key = String(nextKey++);
    const stem = uniqueStem(stemOf(file.name));
    const card = newCard(file.name, stem);
    queue.push({ key, file, stem, cards: [card] });
  }
  runQueue();
}

function uniqueStem(stem) {
  const taken = new Set(cards.map((c) => c.stem));
  let candidate = stem;
  for (let i = 2; taken.has(candidate); i++) candidate = `${stem}-${i}`;
  return candidate;
}

function newCard(title, stem) {
  const card = new ResultCard($('results'), { title, stem, onParams: reanalyse });
  cards.push(card);
  $('clear-button').disabled = false;
  return card;
}

async function runQueue() {
  if (running) return;
  running = true;
  try {
    await engine.ready();
    if (!engine.weights) {
      status.set('Waiting for the model to load…'); // runQueue runs again once it is
      return;
    }
    while (queue.length) {
      const job = queue.shift();
      const left = queue.length;
      status.set(`Segmenting ${job.file.name}…${left ? ` (${left} more waiting)` : ''}`);
      await segmentJob(job);
    }
    const done = cards.filter((c) => c.state === 'done').length;
    const failed = cards.filter((c) => c.state === 'error').length;
    status.set(`Done: ${done} image${done === 1 ? '' : 's'} segmented${failed ? `, ${failed} failed` : ''}.`);
  } catch (e) {
    status.set(`The engine stopped: ${e.message}. Reload the page to try again.`, true);
  } finally {
    running = false;
    $('zip-button').disabled = !cards.some((c) => c.state === 'done');
  }
}

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
  job.cards[0].setState('running', 'decoding…');
  const backend = engine.backend;
  const params = { threshold: job.cards[0].threshold, fgFraction: job.cards[0].fgFraction };
  try {
    await engine.segment(key, bytes, file.name, params, (m) => {
      if (m.type === 'pages') {
        job.sizes = m.sizes;
        if (m.sizes.length > 1) {
          job.cards[0].$('.result-name').textContent = `${file.name} — page 1 of ${m.sizes.length}`;
          // Named as `unetseg segment` names the pages of a multi-page TIFF.
          const pageStem = (p) => `${stem}_p${String(p).padStart(3, '0')}`;
          job.cards[0].stem = pageStem(0);
          for (let p = 1; p < m.sizes.length; p++) {
            if (!job.cards[p]) job.cards.push(newCard(`${file.name} — page ${p + 1} of ${m.sizes.length}`, pageStem(p)));
          }
        }
      } else if (m.type === 'page-start') {
        cardFor(m.page).setState('running', 'starting the network…');
        cardFor(m.page).setInput(m.input, ...job.sizes[m.page]);
      } else if (m.type === 'progress') {
        cardFor(m.page).setProgress(m.done, m.total);
      } else if (m.type === 'page-done') {
        job.done = (job.done ?? 0) + 1;
        const page = { probability: m.probability, networkMs: m.networkMs, key: `${key}/${m.page}` };
        cardFor(m.page).setDone({ ...page, backend: shortBackend(backend), generation: engine.generation }, m.analysis, params);
      } else if (m.type === 'page-error') {
        cardFor(m.page).setState('error', m.message);
      }
    });
  } catch (e) {
    if (e instanceof EngineRestarted && e.wasGpu && !retried) {
      for (const card of job.cards) if (card.state !== 'done') card.setState('running', 'WebGPU failed; retrying on the CPU…');
      await engine.ready();
      return segmentJob(job, true);
    }
    const message = e instanceof EngineRestarted
      ? `${file.name}: the engine crashed on this image (${e.message}); it may be too large for this browser. Other images go on.`
      : e.message;
    for (const card of job.cards) if (card.state !== 'done') card.setState('error', message);
  }
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
    while (state.next) {
      const p = state.next;
      state.next = null;
      const a = await engine.analyse(card.key, card.generation, p);
      if (!a) {
        card.setStale('The engine restarted since this image was segmented; drop it again to change its parameters.');
        break;
      }
      card.setAnalysis(a, p);
    }
  } catch (e) {
    card.setStale(e instanceof EngineRestarted
      ? `Post-processing failed: ${e.message}. The engine was restarted; drop the image again to change its parameters.`
      : `Post-processing failed: ${e.message}`);
  } finally {
    analysing.delete(card);
  }
}

function downloadZip() {
  const done = cards.filter((c) => c.state === 'done');
  const index = ['image\tsize\tcells\tthreshold\tseed_fraction\tengine', ...done.map((c) => c.summary())].join('\n') + '\n';
  const files = [{ name: 'index.tsv', data: index }, ...done.flatMap((c) => c.zipEntries())];
  const url = URL.createObjectURL(makeZip(files));
  const link = document.createElement('a');
  link.href = url;
  link.download = 'unetseg-results.zip';
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function clearResults() {
  const keys = cards.filter((c) => c.key).map((c) => c.key);
  for (const card of cards) if (card.state === 'done' || card.state === 'error') card.dispose();
  const kept = cards.filter((c) => c.state === 'queued' || c.state === 'running');
  cards.splice(0, cards.length, ...kept);
  if (keys.length) engine.forget(keys).catch(() => {});
  $('zip-button').disabled = true;
  $('clear-button').disabled = !cards.length;
}

function trySample() {
  const name = SAMPLES[nextSample++ % SAMPLES.length];
  const bytes = samples.get(name);
  if (!bytes) return;
  enqueue([new File([bytes], name, { type: 'image/png' })]);
}

function wireInputs() {
  const input = $('file-input');
  input.addEventListener('change', () => {
    enqueue([...input.files]);
    input.value = '';
  });
  const zone = $('drop-zone');
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add('dragging');
    });
  }
  for (const type of ['dragleave', 'drop']) zone.addEventListener(type, () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    enqueue([...e.dataTransfer.files]);
  });
  // Files dropped beside the zone would otherwise make the browser open them.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  $('weights-input').addEventListener('change', (e) => {
    const [file] = e.target.files;
    e.target.value = '';
    if (file) loadOwnWeights(file);
  });
  $('sample-button').addEventListener('click', trySample);
  $('zip-button').addEventListener('click', downloadZip);
  $('clear-button').addEventListener('click', clearResults);
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
  } catch (e) {
    $('weights').textContent = 'not loaded';
    status.set(`The default weights could not be loaded (${e.message}). Load your own weights to start.`, true);
    return;
  }
  $('sample-button').disabled = samples.size === 0;
  if (queue.length) runQueue();
  else status.set('Ready: drop images above, or try a sample slice.');
}

main();
