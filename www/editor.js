// The annotation editor of a result: a 3-level annotation (0 membrane, 255 cell,
// 128 unlabelled) painted with brushes over the input in the image viewer
// (viewer.js), so zoom and pan keep working while editing. Undo and redo work
// per stroke (and per whole-image change: a start, an import). Emits `change`
// after every finished change, which the card saves.
//
//   const editor = new AnnotationEditor({ width, height, title, input: url, mask: () => bytes });
//   editor.addEventListener('change', () => save(editor.data));

import { Viewer } from './viewer.js';
import { element } from './dom.js';

export const MEMBRANE = 0;
export const CELL = 255;
export const UNLABELLED = 128;

const TOOLS = [
  { id: 'membrane', value: MEMBRANE, label: 'Membrane', key: 'M' },
  { id: 'cell', value: CELL, label: 'Cell', key: 'C' },
  { id: 'erase', value: UNLABELLED, label: 'Erase', key: 'E' },
  { id: 'pan', value: null, label: 'Pan', key: 'H' },
];
/** What each label looks like over the input (RGBA; unlabelled is clear). */
const COLOURS = { [MEMBRANE]: [255, 40, 200, 255], [CELL]: [40, 220, 90, 255], [UNLABELLED]: [0, 0, 0, 0] };
const MAX_BRUSH = 64;
const MAX_HISTORY = 100;

export class AnnotationEditor extends EventTarget {
  /**
   * `width` x `height`: the image size; `title`: its name; `input`: the URL of the
   * input image shown under the annotation; `data`: the annotation to start from
   * (all unlabelled when absent).
   */
  constructor({ width, height, title, input, data = null }) {
    super();
    this.width = width;
    this.height = height;
    this.data = data ? Uint8Array.from(data) : new Uint8Array(width * height).fill(UNLABELLED);
    this.tool = 'membrane';
    this.brush = 5;
    this.undoStack = [];
    this.redoStack = [];
    this.stroke = null;
    this.opacity = 0.6;

    this.canvas = document.createElement('canvas');
    this.canvas.width = width;
    this.canvas.height = height;
    this.pixels = new ImageData(width, height);
    this.rgba = new Uint32Array(this.pixels.data.buffer);
    this.packed = {};
    const probe = new Uint8ClampedArray(4);
    for (const [value, colour] of Object.entries(COLOURS)) {
      probe.set(colour);
      this.packed[value] = new Uint32Array(probe.buffer)[0];
    }

    this.viewer = new Viewer({
      width, height, label: `${title}: annotation editor`,
      probe: (x, y) => ({ [MEMBRANE]: 'membrane', [CELL]: 'cell', [UNLABELLED]: 'unlabelled' })[this.data[y * width + x]],
    });
    this.viewer.element.classList.add('editor-viewer');
    this.viewer.painter = {
      wants: (e) => this.tool !== 'pan' && !this.spaceHeld && !(e.pointerType === 'mouse' && e.button !== 0),
      down: (p) => this.#strokeStart(p),
      move: (p) => this.#strokeTo(p),
      up: () => this.#strokeEnd(),
    };
    this.inputUrl = input;
    this.#build(title);
    this.#paintAll();
  }

  /** Sizes the viewer (call once the editor is shown). */
  resize() {
    this.viewer.resize();
  }

  /** How many pixels carry a label (not 128). */
  get labelled() {
    let n = 0;
    for (const v of this.data) if (v !== UNLABELLED) n++;
    return n;
  }

  /** Replaces the whole annotation by `data` as one step of the history ("start from…", an import). */
  replace(data, { record = true } = {}) {
    const index = [];
    const before = [];
    const after = [];
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== this.data[i]) {
        index.push(i);
        before.push(this.data[i]);
        after.push(data[i]);
      }
    }
    this.data.set(data);
    if (record && index.length) this.#record({ index: Int32Array.from(index), before: Uint8Array.from(before), after: Uint8Array.from(after) });
    this.#paintAll();
    this.#changed();
  }

  undo() {
    const step = this.undoStack.pop();
    if (!step) return;
    this.#apply(step.index, step.before);
    this.redoStack.push(step);
    this.#changed();
  }

  redo() {
    const step = this.redoStack.pop();
    if (!step) return;
    this.#apply(step.index, step.after);
    this.undoStack.push(step);
    this.#changed();
  }

  setTool(tool) {
    this.tool = tool;
    for (const b of this.toolButtons) b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
    this.element.dataset.tool = tool;
    this.viewer.port.classList.toggle('painting', tool !== 'pan');
  }

  setBrush(size) {
    this.brush = Math.max(1, Math.min(MAX_BRUSH, Math.round(size)));
    this.sizeInput.value = String(this.brush);
    this.sizeOutput.textContent = `${this.brush} px`;
    this.element.dataset.brush = String(this.brush);
  }

  destroy() {
    this.viewer.destroy();
  }

  #build(title) {
    this.element = element('section', { class: 'editor', 'data-testid': 'editor', 'aria-label': `Annotation editor for ${title}` });
    const tools = element('div', { class: 'editor-tools', role: 'group', 'aria-label': 'Brush' });
    this.toolButtons = TOOLS.map((t) => {
      const b = element('button', {
        type: 'button', class: `button small secondary tool tool-${t.id}`, 'data-tool': t.id, 'data-testid': `tool-${t.id}`,
        'aria-pressed': 'false', 'aria-keyshortcuts': t.key, title: `${t.label} (key ${t.key})`,
      }, [element('span', { class: 'swatch', 'aria-hidden': 'true' }), `${t.label} `, element('kbd', { text: t.key })]);
      b.addEventListener('click', () => this.setTool(t.id));
      tools.append(b);
      return b;
    });
    this.sizeInput = element('input', { type: 'range', min: '1', max: String(MAX_BRUSH), step: '1', class: 'brush-size', 'data-testid': 'brush-size', 'aria-keyshortcuts': '[ ]' });
    this.sizeInput.addEventListener('input', () => this.setBrush(Number(this.sizeInput.value)));
    this.sizeOutput = element('output', { class: 'brush-size-value' });
    const size = element('label', { class: 'brush' }, ['Brush size ', this.sizeInput, ' ', this.sizeOutput, ' ', element('kbd', { text: '[' }), ' ', element('kbd', { text: ']' })]);
    const opacity = element('input', { type: 'range', min: '0', max: '1', step: '0.05', value: String(this.opacity) });
    opacity.addEventListener('input', () => {
      this.opacity = Number(opacity.value);
      this.viewer.setOpacity('annotation', this.opacity);
    });
    const button = (text, testid, action, extra = {}) => {
      const b = element('button', { type: 'button', class: 'button small secondary', 'data-testid': testid, ...extra }, text);
      b.addEventListener('click', action);
      return b;
    };
    this.undoButton = button(['Undo ', element('kbd', { text: 'Ctrl+Z' })], 'undo', () => this.undo(), { 'aria-keyshortcuts': 'Control+Z' });
    this.redoButton = button(['Redo ', element('kbd', { text: 'Ctrl+Shift+Z' })], 'redo', () => this.redo(), { 'aria-keyshortcuts': 'Control+Shift+Z Control+Y' });
    const history = element('div', { class: 'editor-history' }, [this.undoButton, this.redoButton]);
    const start = element('div', { class: 'editor-start' }, [
      button(['Start from the network\'s mask'], 'start-mask', () => this.dispatchEvent(new Event('start-mask'))),
      button(['Start from nothing'], 'start-empty', () => this.replace(new Uint8Array(this.width * this.height).fill(UNLABELLED))),
    ]);
    this.countText = element('span', { class: 'editor-count', 'data-testid': 'annotation-count' });
    const bar = element('div', { class: 'editor-bar' }, [tools, size, element('label', { class: 'brush' }, ['Opacity ', opacity]), history, start, this.countText]);
    const help = element('p', { class: 'help editor-help' }, [
      'Paint with the pointer: ', element('kbd', { text: 'M' }), ' membrane (black in the PNG), ', element('kbd', { text: 'C' }),
      ' cell (white), ', element('kbd', { text: 'E' }), ' erase to unlabelled (gray 128: left out of fine-tuning); ',
      element('kbd', { text: 'H' }), ' or a held ', element('kbd', { text: 'Space' }), ' drags to pan; ',
      element('kbd', { text: '[' }), ' ', element('kbd', { text: ']' }), ' brush size; ', element('kbd', { text: 'Ctrl+Z' }), ' undo, ',
      element('kbd', { text: 'Ctrl+Shift+Z' }), ' redo. Zoom as in the other views (wheel, + −, 0, 1, arrows).',
    ]);
    this.element.append(bar, this.viewer.element, help);
    this.viewer.setLayers([
      { id: 'input', image: this.inputUrl, alt: `${title}: input` },
      { id: 'annotation', image: this.canvas, alt: `${title}: annotation (magenta membrane, green cell)`, opacity: this.opacity },
    ]);
    this.element.addEventListener('keydown', (e) => this.#key(e));
    this.element.addEventListener('keyup', (e) => { if (e.key === ' ') this.spaceHeld = false; });
    this.viewer.element.addEventListener('blur', () => { this.spaceHeld = false; });
    this.setTool(this.tool);
    this.setBrush(this.brush);
    this.#updateButtons();
  }

  #key(e) {
    if (e.target.closest('input, select, textarea') && e.target.type !== 'range') return;
    const key = e.key.toLowerCase();
    if (e.ctrlKey || e.metaKey) {
      if (key === 'z' && !e.shiftKey) this.undo();
      else if ((key === 'z' && e.shiftKey) || key === 'y') this.redo();
      else return;
      e.preventDefault();
      return;
    }
    if (e.altKey) return;
    const tool = TOOLS.find((t) => t.key.toLowerCase() === key);
    if (tool) this.setTool(tool.id);
    else if (e.key === '[') this.setBrush(this.brush > 8 ? this.brush - 2 : this.brush - 1);
    else if (e.key === ']') this.setBrush(this.brush >= 8 ? this.brush + 2 : this.brush + 1);
    else if (e.key === ' ' && e.target === this.viewer.element) this.spaceHeld = true;
    else return;
    e.preventDefault();
  }

  #record(step) {
    this.undoStack.push(step);
    if (this.undoStack.length > MAX_HISTORY) this.undoStack.shift();
    this.redoStack = [];
  }

  #apply(index, values) {
    for (let k = 0; k < index.length; k++) this.data[index[k]] = values[k];
    this.#paintAll();
  }

  #strokeStart(p) {
    const value = TOOLS.find((t) => t.id === this.tool).value;
    this.stroke = { value, changed: new Map(), last: p };
    this.#stamp(p);
  }

  #strokeTo(p) {
    if (!this.stroke) return;
    const { last } = this.stroke;
    // Stamps at most one pixel apart, so that a fast drag leaves no gaps.
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(p.x - last.x), Math.abs(p.y - last.y))));
    for (let k = 1; k <= n; k++) this.#stamp({ x: last.x + (p.x - last.x) * k / n, y: last.y + (p.y - last.y) * k / n });
    this.stroke.last = p;
  }

  #strokeEnd() {
    const stroke = this.stroke;
    this.stroke = null;
    if (!stroke || !stroke.changed.size) return;
    const index = Int32Array.from(stroke.changed.keys());
    const before = Uint8Array.from(stroke.changed.values());
    const after = new Uint8Array(index.length).fill(stroke.value);
    this.#record({ index, before, after });
    this.#changed();
  }

  /** The brush's disc at the pixel under `p`: offsets (dx, dy) with dx² + dy² <= (size / 2)². */
  #stamp(p) {
    const cx = Math.floor(p.x);
    const cy = Math.floor(p.y);
    const r = this.brush / 2;
    const R = Math.floor(r);
    const { value, changed } = this.stroke;
    let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
    for (let dy = -R; dy <= R; dy++) {
      const y = cy + dy;
      if (y < 0 || y >= this.height) continue;
      for (let dx = -R; dx <= R; dx++) {
        const x = cx + dx;
        if (x < 0 || x >= this.width || dx * dx + dy * dy > r * r) continue;
        const i = y * this.width + x;
        if (this.data[i] === value) continue;
        if (!changed.has(i)) changed.set(i, this.data[i]);
        this.data[i] = value;
        this.rgba[i] = this.packed[value];
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
    if (x1 >= 0) {
      this.canvas.getContext('2d').putImageData(this.pixels, 0, 0, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
      this.viewer.refresh();
    }
  }

  #paintAll() {
    for (let i = 0; i < this.data.length; i++) this.rgba[i] = this.packed[this.data[i]] ?? this.packed[UNLABELLED];
    this.canvas.getContext('2d').putImageData(this.pixels, 0, 0);
    this.viewer.refresh();
  }

  #updateButtons() {
    this.undoButton.disabled = !this.undoStack.length;
    this.redoButton.disabled = !this.redoStack.length;
    const n = this.labelled;
    this.countText.textContent = `${n} of ${this.data.length} pixels labelled`;
  }

  #changed() {
    this.#updateButtons();
    this.dispatchEvent(new Event('change'));
  }
}
