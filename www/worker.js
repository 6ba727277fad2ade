// The Web Worker that owns the wasm module, so the page never freezes while the
// network runs. It answers the requests of engine.js, one at a time, each
// message `{ rid, type, ... }` with replies carrying the same `rid`.
//
// Results of segmentations stay here (`kept`) so that moving a slider re-runs
// only the post-processing on the stored probability map.
//
// Between the tiles of a segmentation and the steps of a fine-tuning run the
// worker's event loop runs, so these messages are handled at once instead of
// after the running request: `cancel` (the segmentation stops after its current
// tile), `tuning` (pause, resume or stop the fine-tuning after its current step),
// `analyse` (moving a slider does not wait for the batch) and `forget`.

// Two builds of the wasm: pkg/ with relaxed SIMD (fused multiply-add in the CPU
// engine's matrix products) and pkg/simd128/ without, for browsers whose
// WebAssembly has no relaxed SIMD (a module using it would not even compile there).
// `init` loads the one this browser runs.
let Segmenter, Annotations, decodeImage, benchPostprocess;

/**
 * Whether this browser's WebAssembly validates relaxed SIMD: a module of one
 * function returning `f32x4.relaxed_madd` of three zero vectors.
 */
function hasRelaxedSimd() {
  const zeros = [0xfd, 0x0c, ...new Array(16).fill(0)]; // v128.const 0
  return WebAssembly.validate(new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: [] -> [v128]
    0x03, 0x02, 0x01, 0x00, // one function of type 0
    0x0a, 0x3d, 0x01, 0x3b, 0x00, ...zeros, ...zeros, ...zeros, 0xfd, 0x85, 0x02, 0x0b, // its body
  ]));
}

/** Loads the wasm build this browser runs; its exports become this module's bindings. */
async function loadWasm() {
  const wasm = await import(hasRelaxedSimd() ? './pkg/unetseg.js' : './pkg/simd128/unetseg.js');
  await wasm.default();
  ({ Segmenter, Annotations, decodeImage, benchPostprocess } = wasm);
}

let segmenter = null;
const kept = new Map();
let queue = Promise.resolve();
/** `key/page` and `key/*` of the pages asked to stop. */
const cancelled = new Set();
const isCancelled = (key, page) => cancelled.has(`${key}/*`) || cancelled.has(`${key}/${page}`);
/** The running fine-tuning's controls: `{ run, paused, stopped, wake }`, or null. */
let tuningControl = null;
/** A pause, resume or stop (`{ run, action }`) for a run that has not started yet (it waits in the queue). */
let pendingTuning = null;

/** Applies `action` (pause, resume or stop) to the controls `control`. */
function controlTuning(control, action) {
  if (action === 'stop') control.stopped = true;
  control.paused = action === 'pause' && !control.stopped;
  if (!control.paused) {
    control.wake?.();
    control.wake = null;
  }
}

/** Resolves in a new task, after the messages already waiting (a cancel, say) have run. */
const nextTask = (() => {
  const channel = new MessageChannel();
  const waiting = [];
  channel.port1.onmessage = () => waiting.shift()?.();
  return () => new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
})();

/** What the browser says about its WebGPU adapter, or why there is none. */
async function probeAdapter() {
  if (!('gpu' in navigator)) return { available: false, reason: 'this browser has no WebGPU' };
  let adapter = null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { available: false, reason: `WebGPU adapter request failed: ${e.message || e}` };
  }
  if (!adapter) return { available: false, reason: 'WebGPU is present but offers no adapter (disabled or blocklisted)' };
  const info = adapter.info || {};
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
  return { available: true, name, fallback: Boolean(info.isFallbackAdapter) };
}

const handlers = {
  // `choice`: 'auto' (WebGPU on a hardware adapter, else the CPU), 'webgpu'
  // (WebGPU even on a software adapter, else the CPU) or 'cpu'.
  async init({ choice, cpuReason }) {
    await loadWasm();
    const probe = choice === 'cpu' ? { available: false, reason: cpuReason } : await probeAdapter();
    if (probe.available && probe.fallback && choice === 'auto') {
      probe.available = false;
      probe.reason = `the only WebGPU adapter (${probe.name}) is a software one, slower than this CPU path`;
    }
    if (probe.available) {
      try {
        segmenter = await Segmenter.create(true);
      } catch (e) {
        probe.reason = `WebGPU device creation failed: ${e.message || e}`;
      }
    }
    if (!segmenter) segmenter = await Segmenter.create(false);
    const backend = segmenter.backend();
    if (backend.kind === 'webgpu') {
      backend.adapter = probe.name;
      backend.fallbackAdapter = probe.fallback || backend.fallbackAdapter;
    } else {
      backend.reason = probe.reason;
    }
    return { backend };
  },

  async weights({ bytes, name }) {
    const started = performance.now();
    const model = await segmenter.loadWeights(new Uint8Array(bytes), name);
    return { model, ms: performance.now() - started };
  },

  async segment({ rid, key, bytes, name, params, skip = [] }) {
    for (const page of skip) cancelled.add(`${key}/${page}`);
    try {
      const pages = decodeImage(new Uint8Array(bytes), name);
      post({ rid, type: 'pages', sizes: pages.map((p) => [p.width, p.height, p.bitDepth, p.pixelSize ?? null]) });
      await nextTask(); // cancels of pages that were not known before
      for (let i = 0; i < pages.length; i++) {
        const page = pages[i];
        try {
          if (isCancelled(key, i)) {
            post({ rid, type: 'page-cancelled', page: i, done: 0, total: 0 });
            continue;
          }
          post({ rid, type: 'page-start', page: i, input: page.previewPng() });
          const started = performance.now();
          let tiles = { done: 0, total: 0 };
          // Returning false stops the network before its next tile; segment() then gives undefined.
          const result = await segmenter.segment(page, async (done, total) => {
            tiles = { done, total };
            post({ rid, type: 'progress', page: i, done, total });
            await nextTask();
            return !isCancelled(key, i);
          });
          if (!result) {
            post({ rid, type: 'page-cancelled', page: i, ...tiles });
            continue;
          }
          const networkMs = performance.now() - started;
          kept.get(`${key}/${i}`)?.free(); // the result of the previous weights, segmented again
          kept.set(`${key}/${i}`, result);
          post({
            rid, type: 'page-done', page: i, networkMs, probability: result.probability(), analysis: analyse(result, params),
          });
        } catch (e) {
          if (e instanceof WebAssembly.RuntimeError) throw e;
          post({ rid, type: 'page-error', page: i, message: e.message || String(e) });
        } finally {
          page.free();
        }
      }
      return { pages: pages.length };
    } finally {
      for (const entry of [...cancelled]) if (entry.startsWith(`${key}/`)) cancelled.delete(entry);
    }
  },

  async analyse({ key, params }) {
    const result = kept.get(key);
    if (!result) throw new Error('this result is no longer in memory; segment the image again');
    return analyse(result, params);
  },

  async forget({ keys }) {
    for (const key of keys) {
      kept.get(key)?.free();
      kept.delete(key);
    }
    return {};
  },

  async bench({ bytes, name, runs }) {
    const [page] = decodeImage(new Uint8Array(bytes), name);
    const times = [];
    let result = null;
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      result?.free();
      result = await segmenter.segment(page, () => true);
      times.push(performance.now() - started);
    }
    const postMs = benchPostprocess(result, undefined, 0.2, 10); // automatic threshold, as the CLI
    result.free();
    page.free();
    return { times, postMs };
  },

  // Fine-tunes `weights` (a weights file named `name`) on `images` (each
  // `{ bytes, name, page, annotation, annotationName }`: an image file, the page of
  // it, and its annotation PNG) with `options` (FineTuneOptions of
  // src/train/finetune.rs), until `limits.steps` steps or `limits.ms` of running
  // time, or a `stop`. Posts `tuning-probe` with the loss on the run's fixed probe
  // batch (tuning.probeLoss) before the first step, `tuning-step` after every
  // step, and `tuning-snapshot` (the weights so far) every `limits.snapshotEvery`
  // steps or `limits.snapshotMs` of running time, whichever comes first, and when
  // paused, so that the page keeps the training if this worker dies. `firstStep`: the number
  // of steps done before (a run continued after a restart); `run`: the page's id of
  // the run, which its `tuning` messages carry.
  async fineTune({ rid, run, weights, name, images, options, limits, firstStep = 0 }) {
    const annotations = new Annotations();
    let tuning;
    try {
      for (const image of images) {
        const pages = decodeImage(new Uint8Array(image.bytes), image.name);
        try {
          annotations.add(pages[image.page], new Uint8Array(image.annotation), image.annotationName);
        } finally {
          for (const p of pages) p.free();
        }
      }
      tuning = segmenter.fineTuning(new Uint8Array(weights), name, annotations, options);
    } finally {
      annotations.free();
    }
    const control = { run, paused: false, stopped: false, wake: null };
    tuningControl = control;
    if (pendingTuning?.run === run) controlTuning(control, pendingTuning.action);
    pendingTuning = null;
    let ran = 0; // milliseconds spent in steps
    let step = firstStep;
    let snapshotAt = step;
    let snapshotRan = 0;
    const snapshot = async () => {
      if (snapshotAt === step) return;
      snapshotAt = step;
      snapshotRan = ran;
      post({ rid, type: 'tuning-snapshot', step, weights: await tuning.weights() });
    };
    try {
      const probeBefore = await tuning.probeLoss();
      post({ rid, type: 'tuning-probe', probeBefore });
      let reason = 'stopped';
      for (;;) {
        await nextTask(); // a pause or stop sent meanwhile
        if (control.stopped) break;
        if (control.paused) {
          await snapshot();
          post({ rid, type: 'tuning-paused', step });
          // A resume or stop may have come while the snapshot was read back.
          await new Promise((resolve) => {
            if (control.paused) control.wake = resolve;
            else resolve();
          });
          continue;
        }
        if (step - firstStep >= limits.steps) { reason = 'steps'; break; }
        if (ran >= limits.ms) { reason = 'time'; break; }
        const started = performance.now();
        const result = await tuning.step();
        const ms = performance.now() - started;
        ran += ms;
        step = firstStep + result.step;
        post({ rid, type: 'tuning-step', step, loss: result.loss, labelled: result.labelled, ms, ranMs: ran });
        if (step - snapshotAt >= limits.snapshotEvery || ran - snapshotRan >= limits.snapshotMs) await snapshot();
      }
      const probeAfter = await tuning.probeLoss();
      return { weights: await tuning.weights(), step, reason, ranMs: ran, probeBefore, probeAfter };
    } finally {
      tuning.free();
      if (tuningControl === control) tuningControl = null;
    }
  },

  // Times `steps` fine-tuning steps (`options`: batch, crop, ...) of the weights
  // `weights` on one image annotated by the network's own post-processed mask.
  async benchFineTune({ bytes, name, weights, steps, options }) {
    const [page] = decodeImage(new Uint8Array(bytes), name);
    const result = await segmenter.segment(page, () => true);
    const mask = result.analyse(undefined, 0.2).files.find((f) => f.suffix === 'mask.png').bytes;
    result.free();
    const annotations = new Annotations();
    annotations.add(page, mask, `${name}.mask.png`);
    page.free();
    const tuning = segmenter.fineTuning(new Uint8Array(weights), 'default.safetensors', annotations, options);
    annotations.free();
    const times = [];
    const losses = [];
    for (let i = 0; i < steps; i++) {
      const started = performance.now();
      const { loss } = await tuning.step();
      times.push(performance.now() - started);
      losses.push(loss);
    }
    const exported = (await tuning.weights()).length;
    tuning.free();
    return { times, losses, weightsBytes: exported };
  },
};

/** The analysis of one result for the slider values `params` (an AnalysisView of src/web/views.rs), timed. */
function analyse(result, { threshold, fgFraction }) {
  const started = performance.now();
  const view = result.analyse(threshold, fgFraction);
  return { postMs: performance.now() - started, view };
}

/** Posts `message`, transferring its PNG buffers instead of copying them. */
function post(message) {
  const transfer = [];
  const collect = (value) => {
    if (value instanceof Uint8Array) transfer.push(value.buffer);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(message);
  self.postMessage(message, [...new Set(transfer)]);
}

/** Handled as soon as they arrive, also between the tiles of a running segmentation. */
const IMMEDIATE = new Set(['analyse', 'forget']);

self.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'cancel') {
    cancelled.add(`${message.key}/${message.page ?? '*'}`);
    return;
  }
  if (message.type === 'tuning') {
    if (tuningControl?.run === message.run) controlTuning(tuningControl, message.action);
    else pendingTuning = { run: message.run, action: message.action };
    return;
  }
  if (IMMEDIATE.has(message.type)) {
    run(message);
    return;
  }
  // Other requests run one after another; the wasm module is single-threaded anyway.
  queue = queue.then(() => run(message));
};

/** Runs one request and posts its reply. */
async function run(message) {
  try {
    const reply = await handlers[message.type](message);
    post({ rid: message.rid, type: 'reply', ...reply });
  } catch (e) {
    // A RuntimeError is a trap (a Rust panic or running out of memory): the
    // module is unusable afterwards, and the page starts a fresh worker.
    const fatal = e instanceof WebAssembly.RuntimeError;
    const text = !fatal ? e.message || String(e)
      : e.message === 'unreachable' ? 'the engine panicked (the browser console has its message)'
        : `the engine crashed (${e.message})`;
    post({ rid: message.rid, type: fatal ? 'fatal' : 'failed', message: text });
  }
}
