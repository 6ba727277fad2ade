// One result card per image (per page of a multi-page TIFF), and its line in the
// results table: progress while the network runs, then the views (each in the
// image viewer of viewer.js), the settings that re-run the post-processing, and
// the downloads. Whatever the card shows and offers always belongs to the
// settings its controls show: while a re-analysis runs the card is busy
// (data-busy, aria-busy, a visible badge) and a download clicked meanwhile waits
// for the new result.

import { Viewer } from './viewer.js';
import { element } from './dom.js';
import { AnnotationEditor, MEMBRANE, CELL, UNLABELLED } from './editor.js';
import { encodeGray, decodeGray } from './png.js';
import { loadAnnotation, saveAnnotation, forgetAnnotation } from './store.js';

const VIEWS = [
  ['input', 'Input'],
  ['probability', 'Probability'],
  ['cut', 'Cut'],
  ['mask', 'Mask'],
  ['labels', 'Cells'],
  ['overlay', 'Overlay'],
  ['compare', 'Compare'],
  ['steps', 'Watershed steps'],
];

/** Images that the overlay and compare views can show. */
const LAYERS = [
  ['input', 'Input'],
  ['probability', 'Probability'],
  ['cut', 'Probability cut'],
  ['mask', 'Mask (post-processed)'],
  ['labels', 'Cells (coloured)'],
  ['before', 'Cells with the previous weights'],
];

const CAPTIONS = {
  input: 'The image as the network sees it (gray).',
  probability: 'Probability that a pixel is cell interior (white) rather than membrane (black).',
  cut: 'The probability cut at the threshold (0.50 when automatic), before any post-processing: white = above it.',
  mask: 'The mask the cells come from: the final image of the watershed post-processing. White = cell interior.',
  labels: 'Each cell (connected interior region of the mask) in its own colour; black = membrane.',
};

/** What each post-processing step shows, by its file stem (see src/postprocess/render.rs). */
const STEP_CAPTIONS = {
  '1_grayscale': 'The probability as 8-bit gray: the input of the post-processing.',
  '2_threshold': 'Cut at the threshold (Otsu\'s level when automatic, shown as a probability above) and inverted: membranes become the white foreground.',
  '3_closing': 'Morphological closing (a 1x1 kernel, as in the original: no change).',
  '4_sure_background': 'Membranes grown by one pixel (3x3 dilation): the sure background.',
  '5_distance': 'Distance from each membrane pixel to the nearest cell interior (blue near, red far).',
  '6_sure_foreground': 'Membrane cores: distance above the seed fraction of its maximum.',
  '7_unknown': 'The band between the grown membranes and their cores, left to the watershed.',
  '8_markers': 'Watershed seeds: all cell interiors one label, each membrane core its own, the band unlabelled (black).',
  '8_watershed': 'The watershed floods the band from the seeds; white lines separate the basins.',
  '9_final': 'Final image: white where the watershed gave the cell-interior label. This is the mask.',
};

/** The files of a result, by suffix: [selector of its link, MIME type]. */
const DOWNLOADS = {
  'mask.png': ['[data-testid=download-mask]', 'image/png'],
  'cut.png': ['[data-testid=download-cut]', 'image/png'],
  'labels.png': ['[data-testid=download-labels]', 'image/png'],
  'labels.tif': ['[data-testid=download-labels]', 'image/tiff'],
  'cells.csv': ['[data-testid=download-csv]', 'text/csv'],
  'RoiSet.zip': ['[data-testid=download-roiset]', 'application/zip'],
  'prob.png': ['[data-testid=download-prob]', 'image/png'],
};

/** What the labels link says for each of the two label files. */
const LABEL_WORDS = { 'labels.png': 'Cell labels PNG (16-bit)', 'labels.tif': 'Cell labels TIFF (32-bit)' };

const STATE_WORDS = { queued: 'waiting', running: 'running', done: 'done', error: 'failed', cancelled: 'cancelled' };

function pngUrl(bytes) {
  return URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
}

/** Milliseconds as "840 ms" or "2.21 s". */
export function formatMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** Slider values as the card records them in data-params: "auto/0.2" or "0.4/0.3". */
export function paramsKey({ threshold, fgFraction }) {
  return `${threshold ?? 'auto'}/${fgFraction}`;
}

export class ResultCard {
  /**
   * `group`: where the card goes (its file's place in the page); `row`: its line in
   * the results table. `title` names the image, `stem` its downloads, `id` the
   * element. `settings`: the slider values to start from. Callbacks:
   * `onParams(card, settings)` when a control moves (latest values only),
   * `onCancel(card)`, `onApplyAll(settings)`, `onChange(card)` after any change.
   */
  constructor(group, row, { id, title, stem, settings, onParams, onCancel, onApplyAll, onChange }) {
    const template = document.getElementById('result-template');
    this.root = template.content.firstElementChild.cloneNode(true);
    this.root.id = id;
    this.id = id;
    this.title = title;
    this.stem = stem;
    this.callbacks = { onParams, onCancel, onApplyAll, onChange };
    this.images = {}; // view name -> { bytes, url }
    this.files = {}; // the CLI's files by suffix (prob.png, cut.png, mask.png, labels.png, cells.csv) -> bytes
    this.steps = [];
    this.view = 'overlay';
    /** While segmented again: the views and "before" cells to go back to (keepPrevious), else null. */
    this.previous = null;
    this.viewState = null; // the viewers' shared transform; null = fitted
    this.overlayLayer = 'labels';
    this.overlayOpacity = 0.5;
    this.compare = ['input', 'labels'];
    this.shown = null; // the settings of the analysis on display
    this.settled = [];
    this.editor = null; // the annotation editor, once there is an annotation
    this.saving = Promise.resolve();
    this.$ = (selector) => this.root.querySelector(selector);
    this.$('.result-name').textContent = title;
    this.#wireControls();
    this.setSettings(settings);
    this.row = row;
    this.#buildRow();
    this.setState('queued', '');
    group.append(this.root);
  }

  /** `queued`, `running`, `done`, `error` or `cancelled`, with a message under the title. */
  setState(state, message) {
    this.state = state;
    this.root.dataset.state = state;
    const labels = { queued: 'waiting', running: 'segmenting…', done: 'done', error: 'failed', cancelled: 'cancelled' };
    this.$('.result-state').textContent = labels[state];
    this.$('.result-message').textContent = message ?? '';
    const cancel = this.$('[data-testid=cancel]');
    cancel.hidden = !this.pending;
    cancel.disabled = false;
    cancel.textContent = 'Cancel';
    if (state !== 'done') this.#setBusy(false);
    this.#changed();
  }

  /** The cancel button was pressed while the network runs: shown until the worker stops. */
  setCancelling() {
    const cancel = this.$('[data-testid=cancel]');
    cancel.disabled = true;
    cancel.textContent = 'Cancelling…';
    this.$('.result-message').textContent = 'Cancelling after the current tile…';
  }

  /** Tiles done out of total for the network pass. */
  setProgress(done, total) {
    const bar = this.$('.result-progress');
    bar.max = total;
    bar.value = done;
    this.progress = done / total;
    if (!this.$('[data-testid=cancel]').disabled) this.$('.result-message').textContent = `network: tile ${done} of ${total}`;
    this.#changed();
  }

  /**
   * Shows the input (`depth` bits per sample in the file, 32: float; `pixelSize` as the
   * file gives it, e.g. "4 x 4 nm", or null) while the network still runs.
   */
  setInput(bytes, width, height, depth, pixelSize) {
    // Segmented again (new weights): the same input, whose URL the editor still shows.
    if (!this.images.input) this.#setImage('input', bytes);
    this.size = [width, height];
    this.depth = depth;
    this.pixelSize = pixelSize;
    this.#changed();
  }

  /** Everything for a finished page, analysed with the settings `params`. */
  setDone({ probability, networkMs, backend, generation, key, weights }, analysis, params) {
    this.previous = null;
    this.key = key;
    this.generation = generation;
    this.networkMs = networkMs;
    this.backend = backend;
    this.weights = weights;
    this.#setImage('probability', probability.png);
    this.files[probability.file.suffix] = probability.file.bytes;
    this.state = 'done';
    this.setAnalysis(analysis, params);
    this.setState('done', '');
    const depth = { 16: ', 16-bit', 32: ', 32-bit float' }[this.depth] ?? '';
    this.$('.fact-size').textContent = `${this.size[0]} × ${this.size[1]}${depth}`;
    this.$('.fact-pixel').textContent = this.pixelSize ? this.pixelSize.replace(' x ', ' × ') : 'not given';
    this.$('.fact-time').textContent = formatMs(networkMs);
    this.$('.fact-backend').textContent = backend;
    this.$('.fact-weights').textContent = weights ? weights.name : '';
    this.$('.fact-weights').title = weights?.sha256 ? `SHA-256 ${weights.sha256}` : '';
    this.$('.result-body').hidden = false;
    this.#buildTabs();
    this.#render();
    this.restoring = this.#restoreAnnotation();
    // The controls moved while the network ran ("use these settings for all"): follow them.
    if (paramsKey(this.settings) !== paramsKey(params)) this.#controlsChanged();
  }

  /**
   * The post-processing outputs (`view`, an AnalysisView of src/web/views.rs, and
   * the time it took) for the settings `params`, recorded in data-params. The card
   * stops being busy once they are the settings its controls show.
   */
  setAnalysis({ view, postMs }, params) {
    this.shown = { ...params };
    this.root.dataset.params = paramsKey(params);
    // The analysis's files replace the previous analysis's (labels.png may become labels.tif).
    this.files = { 'prob.png': this.files['prob.png'] };
    for (const file of view.files) this.files[file.suffix] = file.bytes;
    this.$('[data-testid=file-errors]').textContent = view.fileErrors.length ? `Not made: ${view.fileErrors.join('; ')}` : '';
    this.#setImage('cut', this.files['cut.png']);
    this.#setImage('mask', this.files['mask.png']);
    this.#setImage('labels', view.labelsColour);
    for (const step of this.steps) URL.revokeObjectURL(step.url);
    this.steps = view.steps.map((s) => ({ ...s, url: pngUrl(s.png) }));
    const raster = view.labelRaster;
    this.labels = new Uint16Array(raster.buffer, raster.byteOffset, raster.byteLength / 2);
    this.areas = null;
    this.cells = view.cells;
    this.postMs = postMs;
    this.$('.fact-cells').textContent = String(view.cells);
    this.thresholdUsed = view.threshold;
    this.#showLevels();
    this.$('.fact-post').textContent = formatMs(postMs);
    // Each link points at the file made for it (labels.png or labels.tif), or at nothing.
    const made = new Map();
    for (const [suffix, [selector, type]] of Object.entries(DOWNLOADS)) {
      if (suffix in this.files) made.set(selector, [suffix, type]);
    }
    for (const [selector] of Object.values(DOWNLOADS)) {
      if (made.has(selector)) this.#setDownload(selector, ...made.get(selector));
      else this.#clearDownload(selector);
    }
    const labels = made.get('[data-testid=download-labels]')?.[0] ?? 'labels.png';
    this.$('[data-testid=download-labels]').textContent = LABEL_WORDS[labels];
    this.$('[data-testid=download-cut]').textContent = `Probability cut PNG (at ${(this.thresholdUsedForCut()).toFixed(2)})`;
    if (this.state === 'done') this.current?.update();
    this.#setBusy(this.state === 'done' && paramsKey(this.settings) !== paramsKey(params));
    this.#changed();
  }

  /**
   * Before this result is segmented again with new weights: keeps its cells as the
   * "before" image, which the compare view then shows beside the new ones.
   */
  keepBefore() {
    if (this.state !== 'done') return;
    this.previous = { view: this.view, compare: [...this.compare], before: this.images.before?.bytes ?? null };
    this.#setImage('before', this.images.labels.bytes);
    this.compare = ['before', 'labels'];
    this.view = 'compare';
  }

  /**
   * Segmenting this page again was cancelled or failed: it stays the result it shows,
   * made with the previous weights (whose probability the worker still keeps), with
   * `message` under its title, and its views as they were.
   */
  keepPrevious(message) {
    if (this.previous) {
      const { view, compare, before } = this.previous;
      if (before) this.#setImage('before', before);
      else if (this.images.before) {
        URL.revokeObjectURL(this.images.before.url);
        delete this.images.before;
      }
      [this.view, this.compare, this.previous] = [view, compare, null];
    }
    this.setState('done', message);
    this.#render();
  }

  /** Whether this page's result is still to come (it is queued or running). */
  get pending() {
    return this.state === 'queued' || this.state === 'running';
  }

  /** Labelled pixels of this result's annotation (0 without one). */
  get annotated() {
    return this.state === 'done' && this.editor ? this.editor.labelled : 0;
  }

  /** This result's annotation as a PNG for fine-tuning, once saved, or null without labelled pixels. */
  async trainingAnnotation() {
    if (!this.annotated) return null;
    await this.saving;
    return this.annotationPng && this.editor ? this.annotationPng : null;
  }

  /** The threshold the cut was made at: the slider's, or 0.5 when automatic (as the CLI). */
  thresholdUsedForCut() {
    return this.shown?.threshold ?? 0.5;
  }

  /**
   * The post-processing could not follow the controls (its worker restarted, or it
   * failed): the controls go back to the settings of the result shown and stay
   * disabled, so that what is shown and offered still matches them.
   */
  setStale(message) {
    if (this.shown) this.setSettings(this.shown);
    for (const input of this.root.querySelectorAll('.controls input, [data-testid=apply-all]')) input.disabled = true;
    this.stale = true;
    this.$('.result-message').textContent = message;
    this.#setBusy(false);
  }

  /** Sets the controls to `settings` (`{ threshold: null | p, fgFraction }`) without running anything. */
  setSettings({ threshold, fgFraction }) {
    this.$('.otsu').checked = threshold === null;
    if (threshold !== null) this.$('.threshold').value = String(threshold);
    this.$('.fg-fraction').value = String(fgFraction);
    this.$('.fg-fraction-value').textContent = Number(fgFraction).toFixed(2);
    this.#showLevels();
  }

  /** Applies `settings` from elsewhere ("use these settings for all"): re-analyses a finished result. */
  applySettings(settings) {
    if (this.stale || this.state === 'error' || this.state === 'cancelled') return;
    if (paramsKey(settings) === paramsKey(this.settings)) return;
    this.setSettings(settings);
    this.#controlsChanged();
  }

  /** Resolves once the card shows the result of the settings its controls show. */
  whenSettled() {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.settled.push(resolve));
  }

  /** The files of this result for the batch ZIP. */
  zipEntries() {
    if (this.state !== 'done') return [];
    const p = this.stem;
    const entries = [
      { name: `${p}/${p}.input.png`, data: this.images.input.bytes },
      ...Object.entries(this.files).map(([suffix, data]) => ({ name: `${p}/${p}.${suffix}`, data })),
      { name: `${p}/${p}.labels-colour.png`, data: this.images.labels.bytes },
    ];
    for (const s of this.steps) entries.push({ name: `${p}/steps/${s.stem}.png`, data: s.png });
    if (this.editor && this.annotationPng) entries.push({ name: `${p}/${p}.annotation.png`, data: this.annotationPng });
    return entries;
  }

  /** Frees the object URLs and removes the card and its table line. */
  dispose() {
    this.disposed = true;
    this.current?.destroy();
    this.editor?.destroy();
    for (const image of Object.values(this.images)) URL.revokeObjectURL(image.url);
    for (const step of this.steps) URL.revokeObjectURL(step.url);
    for (const a of this.root.querySelectorAll('a[href^="blob:"]')) URL.revokeObjectURL(a.href);
    this.root.remove();
    this.row.remove();
    for (const resolve of this.settled.splice(0)) resolve();
  }

  /** The controls' settings: `{ threshold: null (automatic, Otsu's as the CLI) | p, fgFraction }`. */
  get settings() {
    return { threshold: this.threshold, fgFraction: this.fgFraction };
  }

  /** The slider's threshold, or null for the automatic one. */
  get threshold() {
    return this.$('.otsu').checked ? null : Number(this.$('.threshold').value);
  }

  get fgFraction() {
    return Number(this.$('.fg-fraction').value);
  }

  /** The cell under the image pixel (x, y), for the viewer's probe line. */
  probe(x, y) {
    if (!this.labels?.length || !this.size) return null; // no raster: more than 65535 cells
    const label = this.labels[y * this.size[0] + x];
    if (!label) return 'membrane';
    if (!this.areas) {
      this.areas = new Uint32Array(this.cells + 1);
      for (const l of this.labels) this.areas[l]++;
    }
    return `cell ${label} · ${this.areas[label]} px`;
  }

  /** Where this image's annotation is kept: its name (and page) and size. */
  get annotationKey() {
    return `${this.title}|${this.size[0]}x${this.size[1]}`;
  }

  /** The annotation state in data-annotation (test hook): none, saving, saved. */
  #annotationState(state) {
    this.root.dataset.annotation = state;
  }

  #annotationMessage(text, error = false) {
    const status = this.$('[data-testid=annotation-status]');
    status.textContent = text;
    status.classList.toggle('error', error);
  }

  async #restoreAnnotation() {
    if (this.editor) return;
    this.#annotationState('loading');
    let saved = null;
    try {
      saved = await loadAnnotation(this.annotationKey);
    } catch (e) {
      this.#annotationMessage(`Saved annotations cannot be read in this browser: ${e?.message ?? e}`, true);
    }
    if (this.disposed || this.editor) return;
    if (saved && saved.width === this.size[0] && saved.height === this.size[1]) {
      this.#openEditor(saved.data, { save: false });
      this.#annotationMessage(`Your annotation of this image was restored from this browser (${this.editor.labelled} pixels labelled).`);
      this.#annotationState('saved');
      this.#exportAnnotation();
      this.#changed();
    } else {
      this.#annotationState('none');
    }
  }

  /** The network's post-processed mask as samples (0 membrane, 255 cell). */
  async #maskSamples() {
    return (await decodeGray(this.files['mask.png'])).data;
  }

  /** Makes the editor on `data` (hidden until Edit), and saves unless `save` is false. */
  #openEditor(data, { save = true } = {}) {
    this.editor = new AnnotationEditor({ width: this.size[0], height: this.size[1], title: this.title, input: this.images.input.url, data });
    this.editor.addEventListener('change', () => this.#saveAnnotation());
    this.editor.addEventListener('start-mask', async () => this.editor.replace(await this.#maskSamples()));
    this.$('.editor-box').replaceChildren(this.editor.element);
    this.$('[data-testid=forget-annotation]').disabled = false;
    if (save) this.#saveAnnotation();
  }

  #showEditor(show) {
    const box = this.$('.editor-box');
    box.hidden = !show;
    const edit = this.$('[data-testid=edit]');
    edit.setAttribute('aria-expanded', String(show));
    edit.textContent = show ? 'Close the editor' : 'Edit the mask';
    this.root.dataset.editing = String(show);
    if (show) {
      this.editor.resize();
      this.editor.viewer.element.focus({ preventScroll: true });
    }
  }

  async #toggleEditor() {
    if (this.state !== 'done') return;
    await this.restoring; // a click during the restore opens the saved annotation, not the mask
    if (this.disposed) return;
    if (!this.editor) {
      const mask = await this.#maskSamples();
      if (!this.editor) this.#openEditor(mask);
    }
    this.#showEditor(this.$('.editor-box').hidden);
  }

  /** Saves the annotation in IndexedDB and points the download at it; saves run one after the other. */
  #saveAnnotation() {
    this.#annotationState('saving');
    const data = Uint8Array.from(this.editor.data);
    const key = this.annotationKey;
    const [w, h] = this.size;
    const ticket = (this.saveTicket = (this.saveTicket ?? 0) + 1);
    this.saving = this.saving.then(async () => {
      await this.#exportAnnotation(data);
      try {
        await saveAnnotation(key, w, h, data);
      } catch (e) {
        this.#annotationMessage(`The annotation could not be saved in this browser: ${e?.message ?? e}`, true);
      }
      this.root.dataset.annotationSaves = String(Number(this.root.dataset.annotationSaves ?? 0) + 1);
      if (ticket === this.saveTicket && this.editor) this.#annotationState('saved');
      this.#changed();
    });
  }

  async #exportAnnotation(data = this.editor.data) {
    const png = await encodeGray(this.size[0], this.size[1], data);
    if (!this.editor) return;
    this.annotationPng = png;
    const link = this.$('[data-testid=download-annotation]');
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([png], { type: 'image/png' }));
    link.download = `${this.stem}.annotation.png`;
    link.hidden = false;
  }

  /** Imports the annotation PNG `file`; a file that does not fit is refused, naming it, and nothing changes. */
  async #importAnnotation(file) {
    let data;
    try {
      const image = await decodeGray(new Uint8Array(await file.arrayBuffer()));
      const [w, h] = this.size;
      if (image.width !== w || image.height !== h) {
        throw new Error(`it is ${image.width} x ${image.height} pixels, the image is ${w} x ${h}`);
      }
      const other = image.data.findIndex((v) => v !== MEMBRANE && v !== CELL && v !== UNLABELLED);
      if (other >= 0) {
        throw new Error(`pixel (${other % w}, ${Math.floor(other / w)}) is ${image.data[other]}; an annotation holds only 0 (membrane), 128 (unlabelled) and 255 (cell)`);
      }
      data = image.data;
      await this.restoring;
    } catch (e) {
      this.#annotationMessage(`Not imported: ${file.name}: ${e?.message ?? e}. The annotation is unchanged.`, true);
      return;
    }
    if (this.editor) this.editor.replace(data);
    else this.#openEditor(data);
    this.#annotationMessage(`Imported ${file.name} (${this.editor.labelled} pixels labelled).`);
  }

  async #forgetAnnotation() {
    this.saveTicket = (this.saveTicket ?? 0) + 1;
    await this.saving;
    this.#showEditor(false);
    this.editor?.destroy();
    this.editor = null;
    this.annotationPng = null;
    this.$('.editor-box').replaceChildren();
    this.#clearDownload('[data-testid=download-annotation]');
    this.$('[data-testid=download-annotation]').hidden = true;
    this.$('[data-testid=forget-annotation]').disabled = true;
    try {
      await forgetAnnotation(this.annotationKey);
      this.#annotationMessage('The annotation of this image is forgotten, here and in this browser\'s storage.');
    } catch (e) {
      this.#annotationMessage(`The saved annotation could not be removed: ${e?.message ?? e}`, true);
    }
    this.#annotationState('none');
    this.#changed();
  }

  #setImage(name, bytes) {
    if (this.images[name]) URL.revokeObjectURL(this.images[name].url);
    this.images[name] = { bytes, url: pngUrl(bytes) };
  }

  #setBusy(busy) {
    this.busy = busy;
    this.root.dataset.busy = String(busy);
    this.root.setAttribute('aria-busy', String(busy));
    this.$('[data-testid=busy]').hidden = !busy;
    for (const [selector] of Object.values(DOWNLOADS)) {
      const link = this.$(selector);
      if (busy) link.setAttribute('aria-disabled', 'true');
      else link.removeAttribute('aria-disabled');
    }
    if (!busy) for (const resolve of this.settled.splice(0)) resolve();
  }

  /** Takes the link `selector` away from any file (one that could not be made). */
  #clearDownload(selector) {
    const link = this.$(selector);
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    link.removeAttribute('href');
    link.removeAttribute('download');
  }

  /** Points the link `selector` at this result's file `suffix`. */
  #setDownload(selector, suffix, type) {
    const link = this.$(selector);
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([this.files[suffix]], { type }));
    link.download = `${this.stem}.${suffix}`;
  }

  #changed() {
    this.#updateRow();
    this.callbacks.onChange?.(this);
  }

  #controlsChanged() {
    this.#showLevels();
    this.$('.fg-fraction-value').textContent = this.fgFraction.toFixed(2);
    if (this.state === 'done') {
      this.#setBusy(paramsKey(this.settings) !== paramsKey(this.shown));
      if (this.busy) this.callbacks.onParams(this, this.settings);
    }
    this.#updateRow();
  }

  #wireControls() {
    const id = () => this.root.id;
    for (const help of this.root.querySelectorAll('[data-help]')) {
      help.id = `${id()}-help-${help.dataset.help}`;
      for (const control of this.root.querySelectorAll(`[data-described-by~="${help.dataset.help}"]`)) {
        control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), help.id].filter(Boolean).join(' '));
      }
    }
    this.$('.threshold').addEventListener('input', () => {
      this.$('.otsu').checked = false;
      this.#controlsChanged();
    });
    this.$('.otsu').addEventListener('change', () => this.#controlsChanged());
    this.$('.fg-fraction').addEventListener('input', () => this.#controlsChanged());
    this.$('[data-testid=cancel]').addEventListener('click', () => this.callbacks.onCancel(this));
    this.$('[data-testid=apply-all]').addEventListener('click', () => this.callbacks.onApplyAll(this.settings));
    this.$('[data-testid=edit]').addEventListener('click', () => this.#toggleEditor());
    const input = this.$('[data-testid=annotation-input]');
    this.$('.import-annotation').addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      const [file] = input.files;
      input.value = '';
      if (file && this.state === 'done') this.#importAnnotation(file);
    });
    this.$('[data-testid=forget-annotation]').addEventListener('click', () => this.#forgetAnnotation());
    for (const [selector] of Object.values(DOWNLOADS)) {
      const link = this.$(selector);
      link.addEventListener('click', (e) => {
        if (!this.busy) return;
        // The file of the settings shown is on its way: download it when it is here.
        e.preventDefault();
        if (link.dataset.waiting) return;
        link.dataset.waiting = 'true';
        this.whenSettled().then(() => {
          delete link.dataset.waiting;
          if (!this.disposed && this.state === 'done') link.click();
        });
      });
    }
  }

  /** The threshold read-out: the slider's value, or Otsu's level as a probability. */
  #showLevels() {
    const text = this.threshold === null
      ? `Otsu${this.thresholdUsed === undefined ? '' : ` (${this.thresholdUsed.toFixed(2)})`}`
      : this.threshold.toFixed(2);
    this.$('.threshold-value').textContent = text;
  }

  #buildRow() {
    const link = element('a', { href: `#${this.id}`, text: this.title });
    link.addEventListener('click', (e) => {
      e.preventDefault();
      this.root.scrollIntoView({ block: 'start' });
      this.root.focus({ preventScroll: true });
    });
    this.row.replaceChildren(
      element('td', {}, [link]), element('td', { class: 'num' }), element('td', { class: 'num' }),
      element('td', { class: 'num' }), element('td'));
  }

  #updateRow() {
    if (!this.row) return;
    const [, size, cells, time, status] = this.row.children;
    size.textContent = this.size ? `${this.size[0]} × ${this.size[1]}` : '';
    cells.textContent = this.state === 'done' ? String(this.cells) : '';
    time.textContent = this.state === 'done' ? formatMs(this.networkMs + (this.postMs ?? 0)) : '';
    status.textContent = this.state === 'done' && this.busy ? 'updating' : STATE_WORDS[this.state];
    status.title = this.state === 'error' || this.state === 'cancelled' ? this.$('.result-message').textContent : '';
    this.row.dataset.state = this.state;
  }

  #buildTabs() {
    const tabs = this.$('.tabs');
    const panels = this.$('.panels');
    tabs.replaceChildren();
    panels.replaceChildren();
    const buttons = VIEWS.map(([name, label]) => {
      const button = element('button', {
        type: 'button', role: 'tab', 'data-view': name, id: `${this.id}-tab-${name}`,
        'aria-controls': `${this.id}-panel-${name}`, text: label,
      });
      button.addEventListener('click', () => this.#select(name));
      tabs.append(button);
      panels.append(element('div', { role: 'tabpanel', id: `${this.id}-panel-${name}`, 'aria-labelledby': button.id, class: 'view' }));
      return button;
    });
    // The WAI-ARIA tabs pattern: arrows move between the tabs (and select them), Home and End go to the ends.
    tabs.addEventListener('keydown', (e) => {
      const at = buttons.indexOf(document.activeElement);
      if (at < 0) return;
      const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const next = buttons[(to + buttons.length) % buttons.length];
      next.focus();
      this.#select(next.dataset.view);
    });
  }

  #select(name) {
    if (this.view === name) return;
    this.view = name;
    this.#render();
  }

  #render() {
    for (const button of this.root.querySelectorAll('[role=tab]')) {
      const selected = button.dataset.view === this.view;
      button.setAttribute('aria-selected', String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
    this.current?.destroy();
    for (const panel of this.root.querySelectorAll('[role=tabpanel]')) {
      const selected = panel.id === `${this.id}-panel-${this.view}`;
      panel.hidden = !selected;
      if (!selected) panel.replaceChildren();
    }
    const panel = this.$(`[id="${this.id}-panel-${this.view}"]`);
    const alt = (name) => `${this.title}: ${LAYERS.find(([n]) => n === name)[1].toLowerCase()}`;
    let content;
    if (this.view === 'overlay') content = this.#overlayView(alt);
    else if (this.view === 'compare') content = this.#compareView(alt);
    else if (this.view === 'steps') content = this.#stepsView();
    else content = this.#singleView(alt);
    panel.replaceChildren(content.node);
    for (const viewer of content.viewers) {
      viewer.resize();
      viewer.setTransform(this.viewState, { silent: true });
    }
    this.current = content;
  }

  /** A viewer of this result's size whose transform the card remembers across views. */
  #viewer(label, options = {}) {
    const viewer = new Viewer({ width: this.size[0], height: this.size[1], label, probe: (x, y) => this.probe(x, y), ...options });
    viewer.addEventListener('transform', (e) => { this.viewState = e.detail; });
    return viewer;
  }

  /** `viewers` kept equal, and a panel content with update/destroy. */
  #content(node, viewers, update) {
    if (viewers.length > 1) Viewer.link(viewers);
    update();
    return { node, viewers, update, destroy: () => viewers.forEach((v) => v.destroy()) };
  }

  #singleView(alt) {
    const name = this.view;
    const viewer = this.#viewer(alt(name));
    const node = element('figure', { class: 'single' }, [viewer.element, element('figcaption', { text: CAPTIONS[name] })]);
    return this.#content(node, [viewer], () => viewer.setLayers([{ id: name, image: this.images[name].url, alt: alt(name) }]));
  }

  #overlayView(alt) {
    const viewer = this.#viewer('overlay');
    const layer = element('select', {},
      LAYERS.filter(([n]) => n !== 'input' && n in this.images).map(([n, label]) => element('option', { value: n, text: label })));
    layer.value = this.overlayLayer;
    const opacity = element('input', { type: 'range', min: '0', max: '1', step: '0.01', value: String(this.overlayOpacity) });
    const update = () => viewer.setLayers([
      { id: 'input', image: this.images.input.url, alt: alt('input') },
      { id: 'top', image: this.images[this.overlayLayer].url, alt: alt(this.overlayLayer), opacity: this.overlayOpacity },
    ]);
    layer.addEventListener('change', () => {
      this.overlayLayer = layer.value;
      update();
    });
    opacity.addEventListener('input', () => {
      this.overlayOpacity = Number(opacity.value);
      viewer.setOpacity('top', this.overlayOpacity);
    });
    const node = element('div', {}, [
      element('div', { class: 'overlay-controls' }, [
        element('label', {}, ['Layer over the input ', layer]),
        element('label', {}, ['Opacity ', opacity]),
      ]),
      viewer.element,
    ]);
    return this.#content(node, [viewer], update);
  }

  #compareView(alt) {
    const sides = this.compare.map((name, side) => {
      const viewer = this.#viewer(side ? 'right image' : 'left image');
      const select = element('select', {},
        LAYERS.filter(([n]) => n in this.images).map(([n, label]) => element('option', { value: n, text: label })));
      select.value = name;
      select.addEventListener('change', () => {
        this.compare[side] = select.value;
        viewer.setLayers([{ id: select.value, image: this.images[select.value].url, alt: alt(select.value) }]);
      });
      const label = element('label', { class: 'compare-pick' }, [side ? 'Right ' : 'Left ', select]);
      return { viewer, node: element('figure', {}, [label, viewer.element]) };
    });
    const node = element('div', { class: 'compare' }, sides.map((s) => s.node));
    return this.#content(node, sides.map((s) => s.viewer), () => sides.forEach(({ viewer }, side) => {
      const name = this.compare[side];
      viewer.setLayers([{ id: name, image: this.images[name].url, alt: alt(name) }]);
    }));
  }

  #stepsView() {
    const figures = this.steps.map((s) => {
      const viewer = this.#viewer(s.title, { toolbar: false, maxHeight: 260 });
      return {
        viewer,
        node: element('figure', {}, [viewer.element,
          element('figcaption', {}, [element('b', { text: s.title }), ` ${STEP_CAPTIONS[s.stem] ?? ''}`])]),
      };
    });
    const node = element('div', { class: 'steps' }, figures.map((f) => f.node));
    return this.#content(node, figures.map((f) => f.viewer), () => figures.forEach(({ viewer }, i) => {
      viewer.setLayers([{ id: this.steps[i].stem, image: this.steps[i].url, alt: this.steps[i].title }]);
    }));
  }
}
