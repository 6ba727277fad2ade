// One result card per image (per page of a multi-page TIFF): progress while
// the network runs, then the views, the sliders that re-run the
// post-processing, and the downloads.

const VIEWS = [
  ['input', 'Input'],
  ['probability', 'Probability'],
  ['mask', 'Mask'],
  ['final', 'Post-processed'],
  ['labels', 'Cells'],
  ['overlay', 'Overlay'],
  ['compare', 'Compare'],
  ['steps', 'Watershed steps'],
];

/** Images that the overlay and compare views can show. */
const LAYERS = [
  ['input', 'Input'],
  ['probability', 'Probability'],
  ['mask', 'Mask'],
  ['final', 'Post-processed'],
  ['labels', 'Cells (coloured)'],
];

const CAPTIONS = {
  input: 'The image as the network sees it (gray).',
  probability: 'Probability that a pixel is cell interior (white) rather than membrane (black).',
  mask: 'The probability cut at the threshold (0.5 when automatic): white = cell interior, black = membrane.',
  final: 'After the watershed post-processing of the original project: white = cell interior.',
  labels: 'Each cell (connected interior region) in its own colour; black = membrane.',
};

/** What each post-processing step shows, by its file stem (see src/postprocess/render.rs). */
const STEP_CAPTIONS = {
  '1_grayscale': 'The probability as 8-bit gray: the input of the post-processing.',
  '2_threshold': "Thresholded (Otsu's level when automatic) and inverted: membranes become the white foreground.",
  '3_closing': 'Morphological closing (a 1x1 kernel, as in the original: no change).',
  '4_sure_background': 'Membranes grown by one pixel (3x3 dilation): the sure background.',
  '5_distance': 'Distance from each membrane pixel to the nearest cell interior (blue near, red far).',
  '6_sure_foreground': 'Membrane cores: distance above the seed fraction of its maximum.',
  '7_unknown': 'The band between the grown membranes and their cores, left to the watershed.',
  '8_markers': 'Watershed seeds: all cell interiors one label, each membrane core its own, the band unlabelled (black).',
  '8_watershed': 'The watershed floods the band from the seeds; white lines separate the basins.',
  '9_final': 'Final image: white where the watershed gave the cell-interior label.',
};

function pngUrl(bytes) {
  return URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
}

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function formatMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export class ResultCard {
  /**
   * `title` names the image; `stem` names its downloads; `onParams(card, params)`
   * is called (latest values only) when a slider moves.
   */
  constructor(container, { title, stem, onParams }) {
    const template = document.getElementById('result-template');
    this.root = template.content.firstElementChild.cloneNode(true);
    this.stem = stem;
    this.onParams = onParams;
    this.images = {}; // view name -> { bytes, url }
    this.files = {}; // the CLI's files by suffix (prob.png, mask.png, post.png, labels.png, cells.csv) -> bytes
    this.steps = [];
    this.view = 'overlay';
    this.overlayLayer = 'labels';
    this.overlayOpacity = 0.5;
    this.compare = ['input', 'labels'];
    this.$ = (selector) => this.root.querySelector(selector);
    this.$('.result-name').textContent = title;
    this.setState('queued', '');
    container.append(this.root);
    this.#wireSliders();
  }

  /** `queued`, `running`, `done` or `error`, with a message under the title. */
  setState(state, message) {
    this.state = state;
    this.root.dataset.state = state;
    const labels = { queued: 'waiting', running: 'segmenting…', done: 'done', error: 'failed' };
    this.$('.result-state').textContent = labels[state];
    this.$('.result-message').textContent = message ?? '';
  }

  /** Tiles done out of total for the network pass. */
  setProgress(done, total) {
    const bar = this.$('.result-progress');
    bar.max = total;
    bar.value = done;
    this.$('.result-message').textContent = `network: tile ${done} of ${total}`;
  }

  /** Shows the input (`depth` bits per sample in the file) while the network still runs. */
  setInput(bytes, width, height, depth) {
    this.#setImage('input', bytes);
    this.size = [width, height];
    this.depth = depth;
  }

  /** Everything for a finished page, analysed with the slider values `params`. */
  setDone({ probability, networkMs, backend, generation, key }, analysis, params) {
    this.key = key;
    this.generation = generation;
    this.networkMs = networkMs;
    this.backend = backend;
    this.#setImage('probability', probability.png);
    this.files[probability.file.suffix] = probability.file.bytes;
    this.setAnalysis(analysis, params);
    this.setState('done', '');
    this.$('.fact-size').textContent = `${this.size[0]} × ${this.size[1]}${this.depth === 16 ? ', 16-bit' : ''}`;
    this.$('.fact-time').textContent = formatMs(networkMs);
    this.$('.fact-backend').textContent = backend;
    this.$('.result-body').hidden = false;
    this.#buildTabs();
    this.#render();
  }

  /**
   * The post-processing outputs (`view`, an AnalysisView of src/web/views.rs, and the
   * time it took) for the slider values `params`, which the card records as
   * `data-params` ("auto" or the threshold, "/", the seed fraction).
   */
  setAnalysis({ view, postMs }, params) {
    this.root.dataset.params = `${params.threshold ?? 'auto'}/${params.fgFraction}`;
    for (const file of view.files) this.files[file.suffix] = file.bytes;
    this.#setImage('mask', this.files['mask.png']);
    this.#setImage('final', this.files['post.png']);
    this.#setImage('labels', view.labelsColour);
    for (const step of this.steps) URL.revokeObjectURL(step.url);
    this.steps = view.steps.map((s) => ({ ...s, url: pngUrl(s.png) }));
    this.$('.fact-cells').textContent = String(view.cells);
    this.thresholdUsed = view.threshold;
    this.#showLevels();
    this.$('.fact-post').textContent = formatMs(postMs);
    this.#setDownload('[data-testid="download-mask"]', 'mask.png', 'image/png');
    this.#setDownload('.download-labels', 'labels.png', 'image/png');
    this.#setDownload('.download-csv', 'cells.csv', 'text/csv');
    if (this.state === 'done') this.#render();
  }

  /** Marks the card's sliders unusable (its result was lost with a restarted engine). */
  setStale(message) {
    for (const input of this.root.querySelectorAll('.controls input')) input.disabled = true;
    this.$('.result-message').textContent = message;
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
    return entries;
  }

  /** Summary line for the ZIP's index. */
  summary() {
    return `${this.stem}\t${this.size?.join('x') ?? ''}\t${this.$('.fact-cells').textContent}\t` +
      `${this.threshold ?? `otsu (${this.thresholdUsed.toFixed(2)})`}\t${this.fgFraction}\t${this.backend ?? ''}`;
  }

  /** Frees the object URLs. */
  dispose() {
    for (const image of Object.values(this.images)) URL.revokeObjectURL(image.url);
    for (const step of this.steps) URL.revokeObjectURL(step.url);
    for (const a of this.root.querySelectorAll('a[href^="blob:"]')) URL.revokeObjectURL(a.href);
    this.root.remove();
  }

  /** The slider's threshold, or null for the automatic one (Otsu's, as the CLI). */
  get threshold() {
    return this.$('.otsu').checked ? null : Number(this.$('.threshold').value);
  }

  get fgFraction() {
    return Number(this.$('.fg-fraction').value);
  }

  #setImage(name, bytes) {
    if (this.images[name]) URL.revokeObjectURL(this.images[name].url);
    this.images[name] = { bytes, url: pngUrl(bytes) };
  }

  /** Points the link `selector` at this result's file `suffix`. */
  #setDownload(selector, suffix, type) {
    const link = this.$(selector);
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([this.files[suffix]], { type }));
    link.download = `${this.stem}.${suffix}`;
  }

  #wireSliders() {
    const changed = () => this.onParams(this, { threshold: this.threshold, fgFraction: this.fgFraction });
    this.$('.threshold').addEventListener('input', () => {
      this.$('.otsu').checked = false;
      this.#showLevels();
      changed();
    });
    this.$('.otsu').addEventListener('change', () => {
      this.#showLevels();
      changed();
    });
    this.$('.fg-fraction').addEventListener('input', () => {
      this.$('.fg-fraction-value').textContent = this.fgFraction.toFixed(2);
      changed();
    });
  }

  /** The threshold read-out: the slider's value, or Otsu's level as a probability. */
  #showLevels() {
    const text = this.threshold === null
      ? `Otsu${this.thresholdUsed === undefined ? '' : ` (${this.thresholdUsed.toFixed(2)})`}`
      : this.threshold.toFixed(2);
    this.$('.threshold-value').textContent = text;
  }

  #buildTabs() {
    const tabs = this.$('.tabs');
    tabs.replaceChildren();
    for (const [name, label] of VIEWS) {
      const button = element('button', { type: 'button', role: 'tab', 'data-view': name, text: label });
      button.addEventListener('click', () => {
        this.view = name;
        this.#render();
      });
      tabs.append(button);
    }
  }

  #render() {
    for (const button of this.root.querySelectorAll('.tabs button')) {
      button.setAttribute('aria-selected', String(button.dataset.view === this.view));
    }
    const view = this.$('.view');
    const alt = (name) => `${this.stem}: ${LAYERS.find(([n]) => n === name)[1].toLowerCase()}`;
    if (this.view === 'overlay') {
      view.replaceChildren(this.#overlayView(alt));
    } else if (this.view === 'compare') {
      view.replaceChildren(this.#compareView(alt));
    } else if (this.view === 'steps') {
      view.replaceChildren(element('div', { class: 'steps' }, this.steps.map((s) =>
        element('figure', {}, [
          element('img', { src: s.url, alt: s.title }),
          element('figcaption', {}, [element('b', { text: s.title }), ` ${STEP_CAPTIONS[s.stem] ?? ''}`]),
        ]))));
    } else {
      view.replaceChildren(element('figure', { class: 'single' }, [
        element('img', { src: this.images[this.view].url, alt: alt(this.view) }),
        element('figcaption', { text: CAPTIONS[this.view] }),
      ]));
    }
  }

  #overlayView(alt) {
    const top = element('img', { src: this.images[this.overlayLayer].url, alt: alt(this.overlayLayer) });
    top.style.opacity = this.overlayOpacity;
    const layer = element('select', { 'aria-label': 'overlay layer' },
      LAYERS.filter(([n]) => n !== 'input').map(([n, label]) => element('option', { value: n, text: label })));
    layer.value = this.overlayLayer;
    layer.addEventListener('change', () => {
      this.overlayLayer = layer.value;
      top.src = this.images[this.overlayLayer].url;
    });
    const opacity = element('input', { type: 'range', min: '0', max: '1', step: '0.01', value: String(this.overlayOpacity), 'aria-label': 'overlay opacity' });
    opacity.addEventListener('input', () => {
      this.overlayOpacity = Number(opacity.value);
      top.style.opacity = this.overlayOpacity;
    });
    return element('div', {}, [
      element('div', { class: 'overlay-controls' }, [
        element('label', {}, ['Layer ', layer]),
        element('label', {}, ['Opacity ', opacity]),
      ]),
      element('div', { class: 'stack' }, [element('img', { src: this.images.input.url, alt: alt('input') }), top]),
    ]);
  }

  #compareView(alt) {
    const sides = this.compare.map((name, side) => {
      const img = element('img', { src: this.images[name].url, alt: alt(name) });
      const select = element('select', { 'aria-label': side ? 'right image' : 'left image' },
        LAYERS.map(([n, label]) => element('option', { value: n, text: label })));
      select.value = name;
      select.addEventListener('change', () => {
        this.compare[side] = select.value;
        img.src = this.images[select.value].url;
        img.alt = alt(select.value);
      });
      return element('figure', {}, [select, img]);
    });
    return element('div', { class: 'compare' }, sides);
  }
}
