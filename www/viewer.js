// One image viewer for every view of a result: same-size layers drawn on a canvas,
// zoom and pan (wheel, pinch, drag, buttons and keys: + - 0 1 and the arrows),
// nearest-neighbour pixels when magnified, a probe that names what lies under the
// pointer, and transform events so that viewers can follow each other.
//
//   const viewer = new Viewer({ width, height, label, probe: (x, y) => 'cell 3 · 120 px' });
//   parent.append(viewer.element);
//   viewer.setLayers([{ id: 'input', image: url, alt: 'input' }, { id: 'labels', image: url2, opacity: 0.5 }]);
//   viewer.addEventListener('transform', (e) => other.setTransform(e.detail));
//
// A transform is `{ scale, cx, cy }`: screen pixels per image pixel, and the image
// point (pixel i spans [i, i + 1)) at the centre of the viewport; `null` means
// "fit the image", which each viewer works out for its own size. The current one
// is mirrored into data-scale, data-cx and data-cy (test hooks).

const ZOOM_STEP = 1.25;
const MAX_ZOOM = 64;
let nextId = 1;

/** Loads `source` (a URL, an image element or a canvas) into something `drawImage` takes. */
async function toDrawable(source) {
  if (typeof source !== 'string') return source;
  const image = new Image();
  image.src = source;
  await image.decode();
  return image;
}

export class Viewer extends EventTarget {
  /**
   * `width` x `height`: the image size in pixels. `label`: what the viewer shows,
   * for assistive technology. `probe(x, y)`: text about the image pixel (x, y), or
   * null. `toolbar`: zoom buttons and the probe line under the image (default
   * true). `maxHeight`: the tallest the viewport gets, in CSS pixels.
   */
  constructor({ width, height, label = 'image', probe = null, toolbar = true, maxHeight = null }) {
    super();
    this.width = width;
    this.height = height;
    this.probe = probe;
    this.maxHeight = maxHeight;
    this.layers = [];
    this.view = null; // the user's transform; null while the image is fitted
    this.pointers = new Map();
    this.hover = null;
    this.keyboardProbe = false;
    // A painter takes single-pointer drags instead of the pan (the annotation editor):
    // `{ wants(e), down(point), move(point), up() }`, points in image coordinates.
    this.painter = null;
    this.painting = null; // the pointer id of the stroke under way

    const id = nextId++;
    this.element = document.createElement('div');
    this.element.viewer = this; // the way back from the page to the viewer (tools, tests)
    this.element.className = 'viewer';
    this.element.dataset.testid = 'viewer';
    this.element.tabIndex = 0;
    this.element.setAttribute('role', 'group');
    this.element.setAttribute('aria-roledescription', 'image viewer');
    this.element.setAttribute('aria-label', `${label}, ${width} × ${height} pixels`);
    this.port = document.createElement('div');
    this.port.className = 'viewer-port';
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', label);
    this.port.append(this.canvas);
    this.element.append(this.port);

    this.readout = document.createElement('span');
    this.readout.className = 'viewer-probe';
    this.readout.dataset.testid = 'probe';
    this.readout.id = `viewer-probe-${id}`;
    this.readout.setAttribute('aria-live', 'polite');
    this.zoomText = document.createElement('span');
    this.zoomText.className = 'viewer-zoom';
    if (toolbar) {
      const bar = document.createElement('div');
      bar.className = 'viewer-bar';
      const button = (text, title, action) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'viewer-button';
        b.textContent = text;
        b.title = title;
        b.setAttribute('aria-label', `${text} — ${title}`);
        b.addEventListener('click', action);
        return b;
      };
      bar.append(
        button('−', 'zoom out (key −)', () => this.zoomBy(1 / ZOOM_STEP)),
        button('+', 'zoom in (key +)', () => this.zoomBy(ZOOM_STEP)),
        button('Fit', 'fit the image (key 0)', () => this.fit()),
        button('1:1', 'actual pixels (key 1)', () => this.zoomTo(1)),
        this.zoomText,
        this.readout,
      );
      this.element.append(bar);
    }
    this.element.setAttribute('aria-describedby', this.readout.id);
    this.viewport = { w: 300, h: 240 };
    this.#wire();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.element);
  }

  /** Sizes the viewport to the width the page gives it (call once the element is in the page; later resizes are followed). */
  resize() {
    this.#layout();
  }

  /**
   * Sets the layers, bottom first: `{ id, image, alt, opacity = 1 }` where `image`
   * is a URL (a blob: URL of a PNG), an image element or a canvas of the viewer's
   * size. Layers keep their place while their images load.
   */
  setLayers(layers) {
    const before = new Map(this.layers.map((l) => [l.id, l]));
    // A layer whose image changes keeps showing the previous one until the new one has loaded.
    this.layers = layers.map((layer) => ({ opacity: 1, ...layer, drawable: before.get(layer.id)?.drawable ?? null, loaded: false }));
    const alts = this.layers.map((l) => (l.opacity < 1 ? `${l.alt} at ${Math.round(100 * l.opacity)} % opacity` : l.alt));
    this.canvas.setAttribute('aria-label', alts.filter(Boolean).join(', under ') || 'image');
    for (const layer of this.layers) {
      toDrawable(layer.image).then((drawable) => {
        if (!this.layers.includes(layer)) return;
        layer.drawable = drawable;
        layer.loaded = true;
        this.#schedule();
      }, () => {});
    }
    this.#schedule();
  }

  /** Draws the layers again (a canvas layer changed in place). */
  refresh() {
    this.#schedule();
  }

  /** Changes the opacity (0..1) of the layer `id`. */
  setOpacity(id, opacity) {
    const layer = this.layers.find((l) => l.id === id);
    if (layer) layer.opacity = opacity;
    this.#schedule();
  }

  /** The transform shown now (`{ scale, cx, cy }`), fitted or not. */
  get transform() {
    return this.view ?? this.#fitted();
  }

  /** Whether the image is fitted (no zoom or pan of the user's). */
  get isFitted() {
    return this.view === null;
  }

  /**
   * Shows `transform` (`null`: fit). Emits a `transform` event unless `silent`
   * (how linked viewers follow each other without echoes).
   */
  setTransform(transform, { silent = false } = {}) {
    this.view = transform ? this.#clamp(transform) : null;
    this.#publish();
    this.#schedule();
    if (!silent) this.dispatchEvent(new CustomEvent('transform', { detail: this.view }));
  }

  /** Fits the whole image into the viewport. */
  fit() {
    this.setTransform(null);
  }

  /** Multiplies the zoom by `factor`, keeping the image point under (`clientX`, `clientY`) in place (default: the centre). */
  zoomBy(factor, clientX = null, clientY = null) {
    this.#zoomAround(this.transform.scale * factor, clientX, clientY);
  }

  /** Zooms to `scale` screen pixels per image pixel (1: actual pixels). */
  zoomTo(scale) {
    this.#zoomAround(scale, null, null);
  }

  /** Moves the view by (`dx`, `dy`) screen pixels (positive: towards the right and bottom of the image). */
  panBy(dx, dy) {
    const t = this.transform;
    this.setTransform({ scale: t.scale, cx: t.cx + dx / t.scale, cy: t.cy + dy / t.scale });
  }

  /** The image point (continuous coordinates) under the client point (`clientX`, `clientY`). */
  toImage(clientX, clientY) {
    const box = this.canvas.getBoundingClientRect();
    const t = this.transform;
    return { x: t.cx + (clientX - box.left - box.width / 2) / t.scale, y: t.cy + (clientY - box.top - box.height / 2) / t.scale };
  }

  /** Keeps the transforms of `viewers` equal: a change of one is shown by all. */
  static link(viewers) {
    for (const viewer of viewers) {
      viewer.addEventListener('transform', (e) => {
        for (const other of viewers) if (other !== viewer) other.setTransform(e.detail, { silent: true });
      });
    }
  }

  /** Stops observing the page; the element can then be dropped. */
  destroy() {
    this.resizeObserver.disconnect();
    this.layers = [];
  }

  #zoomAround(scale, clientX, clientY) {
    const t = this.transform;
    const { min, max } = this.#limits();
    const next = Math.min(max, Math.max(min, scale));
    let { cx, cy } = t;
    if (clientX !== null) {
      // The point under the pointer stays where it is.
      const box = this.canvas.getBoundingClientRect();
      const dx = clientX - box.left - box.width / 2;
      const dy = clientY - box.top - box.height / 2;
      cx += dx / t.scale - dx / next;
      cy += dy / t.scale - dy / next;
    }
    this.setTransform({ scale: next, cx, cy });
  }

  /** The fitted transform: the whole image, integer magnification for small images, and slivers at a usable height. */
  #fitted() {
    const { w, h } = this.viewport;
    let scale = Math.min(w / this.width, h / this.height);
    if (Math.min(this.width * scale, this.height * scale) < 96) {
      // A long strip: fill the short side instead and let the user pan along it.
      scale = this.width > this.height ? h / this.height : w / this.width;
    }
    if (scale >= 2) scale = Math.floor(scale); // whole screen pixels per image pixel
    return { scale, cx: this.width / 2, cy: this.height / 2 };
  }

  #limits() {
    const fit = this.#fitted().scale;
    return { min: Math.min(fit, 1) / 2, max: Math.max(MAX_ZOOM, fit * 4) };
  }

  #clamp({ scale, cx, cy }) {
    const { min, max } = this.#limits();
    const s = Math.min(max, Math.max(min, scale));
    return { scale: s, cx: Math.min(this.width, Math.max(0, cx)), cy: Math.min(this.height, Math.max(0, cy)) };
  }

  /** Sizes the viewport from the width it gets and the image's aspect ratio. */
  #layout() {
    const w = Math.max(1, this.port.clientWidth || this.element.clientWidth || 300);
    const tallest = this.maxHeight ?? Math.max(240, Math.round(window.innerHeight * 0.7));
    const h = Math.round(Math.min(tallest, Math.max(Math.min(240, tallest), w * this.height / this.width)));
    this.viewport = { w, h };
    this.port.style.height = `${h}px`;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    if (this.view) this.view = this.#clamp(this.view);
    this.#draw();
  }

  #schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.#draw();
    });
  }

  /** The transform as data-scale, data-cx and data-cy, and the zoom read-out: set at once, not at the next frame. */
  #publish() {
    const t = this.transform;
    this.element.dataset.scale = String(t.scale);
    this.element.dataset.cx = String(t.cx);
    this.element.dataset.cy = String(t.cy);
    this.zoomText.textContent = `${t.scale >= 10 ? Math.round(t.scale * 100) : Number((t.scale * 100).toPrecision(3))} %`;
    this.port.classList.toggle('zoomed', !this.isFitted);
  }

  #draw() {
    const t = this.transform;
    const { w, h } = this.viewport;
    const dpr = this.canvas.width / w;
    this.#publish();
    this.element.dataset.ready = String(this.layers.length > 0 && this.layers.every((l) => l.loaded));
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.fillStyle = '#2a3038';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const k = t.scale * dpr;
    ctx.setTransform(k, 0, 0, k, dpr * (w / 2 - t.cx * t.scale), dpr * (h / 2 - t.cy * t.scale));
    // Nearest neighbour when magnifying (each image pixel a crisp square), smooth when shrinking.
    ctx.imageSmoothingEnabled = k < 1;
    ctx.imageSmoothingQuality = 'high';
    for (const layer of this.layers) {
      if (!layer.drawable || layer.opacity <= 0) continue;
      ctx.globalAlpha = layer.opacity;
      ctx.drawImage(layer.drawable, 0, 0, this.width, this.height);
    }
    ctx.globalAlpha = 1;
    if (this.keyboardProbe && document.activeElement === this.element) {
      // A cross-hair on the pixel the keyboard probe reads.
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.strokeStyle = '#ffd400';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(w / 2 - 9, h / 2);
      ctx.lineTo(w / 2 + 9, h / 2);
      ctx.moveTo(w / 2, h / 2 - 9);
      ctx.lineTo(w / 2, h / 2 + 9);
      ctx.stroke();
    }
    this.#showProbe();
  }

  /** The probe line: the pixel under the pointer (or, after keys, at the centre) and what lies there. */
  #showProbe() {
    let point = this.hover;
    if (!point && this.keyboardProbe && document.activeElement === this.element) {
      point = { x: this.transform.cx, y: this.transform.cy };
    }
    if (!point) {
      this.readout.textContent = '';
      return;
    }
    const x = Math.floor(point.x);
    const y = Math.floor(point.y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) {
      this.readout.textContent = '';
      return;
    }
    const about = this.probe?.(x, y);
    this.readout.textContent = `x ${x}, y ${y}${about ? ` · ${about}` : ''}`;
  }

  #endStroke() {
    if (this.painting === null) return;
    this.painting = null;
    this.painter?.up();
  }

  #wire() {
    const el = this.element;
    el.addEventListener('keydown', (e) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const step = (e.shiftKey ? 0.5 : 0.1) * Math.min(this.viewport.w, this.viewport.h);
      const actions = {
        '+': () => this.zoomBy(ZOOM_STEP),
        '=': () => this.zoomBy(ZOOM_STEP),
        '-': () => this.zoomBy(1 / ZOOM_STEP),
        '_': () => this.zoomBy(1 / ZOOM_STEP),
        '0': () => this.fit(),
        '1': () => this.zoomTo(1),
        ArrowLeft: () => this.panBy(-step, 0),
        ArrowRight: () => this.panBy(step, 0),
        ArrowUp: () => this.panBy(0, -step),
        ArrowDown: () => this.panBy(0, step),
      };
      const action = actions[e.key];
      if (!action) return;
      e.preventDefault();
      this.keyboardProbe = true;
      this.hover = null;
      action();
    });
    el.addEventListener('blur', () => this.#schedule());
    el.addEventListener('focus', () => this.#schedule());
    el.addEventListener('wheel', (e) => {
      // Plain wheel zooms once the viewer has the focus (a click on it); before that
      // it scrolls the page, unless Ctrl or Cmd is held (and trackpad pinches).
      if (!(e.ctrlKey || e.metaKey || document.activeElement === el)) return;
      e.preventDefault();
      const delta = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
      this.zoomBy(Math.exp(-delta * 0.0025), e.clientX, e.clientY);
    }, { passive: false });
    this.port.addEventListener('pointerdown', (e) => {
      if (e.pointerType === 'mouse' && e.button !== 0) return;
      this.port.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      el.focus({ preventScroll: true });
      this.keyboardProbe = false;
      if (this.pointers.size === 1 && this.painter?.wants(e)) {
        this.painting = e.pointerId;
        this.painter.down(this.toImage(e.clientX, e.clientY));
      } else {
        this.#endStroke(); // a second finger: pinch, not paint
      }
    });
    const release = (e) => {
      if (e.pointerId === this.painting) this.#endStroke();
      this.pointers.delete(e.pointerId);
      if (e.type !== 'pointerup') this.hover = null;
      this.#schedule();
    };
    this.port.addEventListener('pointerup', release);
    this.port.addEventListener('pointercancel', release);
    this.port.addEventListener('pointerleave', (e) => {
      if (!this.pointers.has(e.pointerId)) {
        this.hover = null;
        this.#showProbe();
      }
    });
    this.port.addEventListener('pointermove', (e) => {
      const last = this.pointers.get(e.pointerId);
      if (!last) {
        if (this.keyboardProbe) this.#schedule(); // the cross-hair goes
        this.keyboardProbe = false;
        this.hover = this.toImage(e.clientX, e.clientY);
        this.#showProbe();
        return;
      }
      if (e.pointerId === this.painting) {
        this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
        this.hover = this.toImage(e.clientX, e.clientY);
        this.painter.move(this.hover);
        this.#showProbe();
        return;
      }
      if (this.pointers.size === 2) {
        // Pinch: zoom by the change of distance around the midpoint, pan with it.
        const [a, b] = [...this.pointers.values()];
        const other = a === last ? b : a;
        const before = Math.hypot(last.x - other.x, last.y - other.y);
        const after = Math.hypot(e.clientX - other.x, e.clientY - other.y);
        this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
        if (before > 0) {
          this.zoomBy(after / before, (e.clientX + other.x) / 2, (e.clientY + other.y) / 2);
          this.panBy((last.x - e.clientX) / 2, (last.y - e.clientY) / 2);
        }
        return;
      }
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      this.panBy(last.x - e.clientX, last.y - e.clientY);
    });
  }
}
