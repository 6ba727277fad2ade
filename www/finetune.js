// The fine-tuning panel: its settings, the start / pause / stop buttons, the
// status line (data-state, data-step, data-loss: test hooks) and the loss curve
// drawn as the steps come in. It shows and asks; app.js runs the training in the
// worker and tells the panel what happened.

/** How many recent steps the smoothed loss averages. */
const SMOOTHING = 20;

const $ = (id) => document.getElementById(id);

/** Seconds as "42 s" or "3:05". */
function clock(ms) {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class FineTunePanel {
  /**
   * Wires the panel's elements (index.html, section `finetune`). Callbacks:
   * `onStart()`, `onPause()`, `onResume()`, `onStop()`, `onReset()`.
   */
  constructor({ onStart, onPause, onResume, onStop, onReset }) {
    this.status = $('finetune-status');
    this.canvas = $('finetune-curve');
    this.start = $('finetune-start');
    this.pause = $('finetune-pause');
    this.stop = $('finetune-stop');
    this.reset = $('reset-weights');
    this.download = $('download-weights');
    this.losses = [];
    this.ranMs = 0;
    this.available = 0;
    this.start.addEventListener('click', () => onStart());
    this.pause.addEventListener('click', () => (this.state === 'paused' ? onResume() : onPause()));
    this.stop.addEventListener('click', () => onStop());
    this.reset.addEventListener('click', () => onReset());
    this.setState('idle');
  }

  /**
   * The settings of a run, read from the inputs: `{ options, limits }` for the
   * worker (FineTuneOptions of src/train/finetune.rs, and the step and time
   * limits). Throws, naming the setting, on a value out of range.
   */
  settings() {
    const read = (id, name, min, max, integer) => {
      const value = Number($(id).value);
      if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
        throw new Error(`${name} must be ${integer ? 'a whole number ' : ''}from ${min} to ${max} (it is "${$(id).value}")`);
      }
      return value;
    };
    const minutes = read('finetune-minutes', 'the time limit in minutes', 0.05, 600, false);
    const steps = read('finetune-steps', 'the step limit', 1, 1_000_000, true);
    const lr = read('finetune-lr', 'the learning rate', 1e-7, 0.1, false);
    const batch = read('finetune-batch', 'the batch', 1, 32, true);
    const crop = read('finetune-crop', 'the crop size', 16, 1024, true);
    if (crop % 16) throw new Error(`the crop size must be a multiple of 16 (it is ${crop})`);
    const seed = read('finetune-seed', 'the seed', 0, 2 ** 32 - 1, true);
    return {
      options: { lr, batch, crop, seed },
      limits: { steps, ms: minutes * 60_000, snapshotEvery: 10, snapshotMs: 20_000 },
      summary: `batch ${batch} of ${crop} × ${crop} crops, learning rate ${lr}, at most ${steps} steps or ${minutes} min`,
    };
  }

  /** How many results have an annotation with labelled pixels, and how many such pixels. */
  setAvailable(images, labelled) {
    this.available = images;
    this.labelled = labelled;
    this.#buttons();
    if (!this.told) this.#idleText();
  }

  /**
   * `idle`, `running`, `paused`, `stopping`, `stopped` or `error` (data-state),
   * with a message for the status line (the default one when absent).
   */
  setState(state, message) {
    this.state = state;
    this.status.dataset.state = state;
    this.status.classList.toggle('error', state === 'error');
    this.pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
    this.#buttons();
    // A message given stays until the next one; without one, an idle panel says what it can train on.
    this.told = Boolean(message);
    if (message) this.status.textContent = message;
    else if (state === 'idle') this.#idleText();
  }

  /** A run begins: the curve starts again. */
  begin(summary) {
    this.losses = [];
    this.ranMs = 0;
    this.probeBefore = null;
    this.probeAfter = null;
    this.status.dataset.probeBefore = '';
    this.status.dataset.probeAfter = '';
    this.status.dataset.snapshot = '';
    this.began = performance.now();
    this.summary = summary;
    this.status.dataset.step = '0';
    this.status.dataset.loss = '';
    this.status.dataset.msPerStep = '';
    this.#draw();
    this.setState('running', `Fine-tuning starts: ${summary}…`);
  }

  /**
   * The loss on the run's probe batch (crops drawn once at its start, never
   * changing) before the first step, and after the last (null while it runs):
   * data-probe-before and data-probe-after, and the finished line.
   */
  setProbe(before, after) {
    if (this.probeBefore === undefined || this.probeBefore === null) this.probeBefore = before;
    this.probeAfter = after;
    this.status.dataset.probeBefore = String(this.probeBefore);
    this.status.dataset.probeAfter = after === null ? '' : String(after);
  }

  /** The weights of step `step` are kept in the page (data-snapshot), for a restart. */
  setSnapshot(step) {
    this.status.dataset.snapshot = String(step);
  }

  /** One step done: its number, loss, time (`ms`) and the running time so far (`ranMs`). */
  addStep({ step, loss, ms, ranMs }) {
    this.losses.push(loss);
    this.lastMs = ms;
    this.ranMs = ranMs;
    const perStep = ranMs / this.losses.length;
    this.status.dataset.step = String(step);
    this.status.dataset.loss = String(loss);
    this.status.dataset.msPerStep = String(Math.round(perStep));
    if (this.state === 'running') this.status.textContent = this.#progressText(step);
    this.#draw();
  }

  /** The text of a running or finished run's progress. */
  #progressText(step) {
    const smooth = this.#smoothed().at(-1);
    const rate = this.ranMs ? (this.losses.length / (this.ranMs / 1000)).toFixed(2) : '–';
    return `Step ${step} · loss ${smooth?.toFixed(4) ?? '–'} (mean of the last ${Math.min(SMOOTHING, this.losses.length)}) · `
      + `${rate} steps/s · ${clock(performance.now() - this.began)} elapsed`;
  }

  /** Points the download at the fine-tuned weights `bytes` (`name` to save as), or hides it when null. */
  setWeights(bytes, name) {
    if (this.download.href.startsWith('blob:')) URL.revokeObjectURL(this.download.href);
    if (!bytes) {
      this.download.removeAttribute('href');
      this.download.hidden = true;
      this.reset.disabled = true;
      return;
    }
    this.download.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    this.download.download = name;
    this.download.hidden = false;
    this.reset.disabled = this.#busy();
  }

  #busy() {
    return ['running', 'paused', 'stopping'].includes(this.state);
  }

  #buttons() {
    const busy = this.#busy();
    this.start.disabled = busy || this.available === 0;
    this.pause.disabled = !(this.state === 'running' || this.state === 'paused');
    this.stop.disabled = !busy || this.state === 'stopping';
    this.reset.disabled = busy || this.download.hidden;
    for (const id of ['finetune-minutes', 'finetune-steps', 'finetune-lr', 'finetune-batch', 'finetune-crop', 'finetune-seed']) {
      $(id).disabled = busy;
    }
  }

  #idleText() {
    if (this.state !== 'idle') return;
    this.status.textContent = this.available
      ? `Ready to fine-tune on ${this.available} annotated image${this.available === 1 ? '' : 's'} (${this.labelled.toLocaleString('en')} labelled pixels).`
      : 'Annotate at least one image first: "Edit the mask" on a result, then correct it or paint a few strokes.';
  }

  /** The losses averaged over the last SMOOTHING steps. */
  #smoothed() {
    let sum = 0;
    return this.losses.map((loss, i) => {
      sum += loss;
      if (i >= SMOOTHING) sum -= this.losses[i - SMOOTHING];
      return sum / Math.min(i + 1, SMOOTHING);
    });
  }

  /** The loss curve: every step's loss (light) and their running mean (dark), from 0 up. */
  #draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 480;
    const height = canvas.clientHeight || 160;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const ink = style.color || '#222';
    const left = 44;
    const bottom = height - 20;
    const top = 8;
    const right = width - 8;
    g.strokeStyle = ink;
    g.fillStyle = ink;
    g.globalAlpha = 0.6;
    g.font = '11px system-ui, sans-serif';
    g.beginPath();
    g.moveTo(left, top);
    g.lineTo(left, bottom);
    g.lineTo(right, bottom);
    g.stroke();
    g.globalAlpha = 1;
    if (!this.losses.length) {
      g.fillText('The loss of every step appears here.', left + 8, (top + bottom) / 2);
      canvas.setAttribute('aria-label', 'Loss curve: no step yet');
      return;
    }
    const max = Math.max(...this.losses) * 1.05 || 1;
    const n = this.losses.length;
    const x = (i) => left + (n === 1 ? 0 : (i / (n - 1)) * (right - left));
    const y = (v) => bottom - (v / max) * (bottom - top);
    g.fillText(max.toPrecision(2), 4, top + 8);
    g.fillText('0', 4, bottom);
    g.fillText(`step ${n}`, right - 48, height - 4);
    const line = (values, colour, widthPx) => {
      g.strokeStyle = colour;
      g.lineWidth = widthPx;
      g.beginPath();
      values.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
      g.stroke();
    };
    line(this.losses, 'rgba(90, 130, 200, 0.45)', 1);
    const smooth = this.#smoothed();
    line(smooth, 'rgb(20, 70, 160)', 2);
    canvas.setAttribute('aria-label',
      `Loss curve: ${n} steps, first ${this.losses[0].toFixed(3)}, latest mean ${smooth.at(-1).toFixed(3)}`);
  }

  /** A line for the results: what ran, for how long. */
  finishedText({ step, reason, ranMs, images }) {
    const why = { steps: 'reached its step limit', time: 'reached its time limit', stopped: 'stopped' }[reason] ?? 'stopped';
    const smooth = this.#smoothed().at(-1);
    const probe = Number.isFinite(this.probeAfter)
      ? `; loss on a fixed batch of its crops ${this.probeBefore.toFixed(4)} before, ${this.probeAfter.toFixed(4)} after` : '';
    return `Fine-tuning ${why} after ${step} steps (${clock(ranMs)} of training on ${images} image${images === 1 ? '' : 's'}`
      + `${smooth === undefined ? '' : `, recent step loss ${smooth.toFixed(4)}`}${probe}).`;
  }
}
