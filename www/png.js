// 8-bit gray PNG in and out for the annotation editor, in plain JavaScript with
// the browser's (de)compression streams: no canvas in between, so the values
// written and read are exactly the samples (no colour management, no
// premultiplied alpha).

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let crcTable = null;
function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function through(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

/** An 8-bit gray PNG of `width` x `height` samples `data` (row-major). */
export async function encodeGray(width, height, data) {
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const idat = await through(raw, new CompressionStream('deflate'));
  const chunk = (type, body) => {
    const out = new Uint8Array(12 + body.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, body.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(body, 8);
    view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bits per sample
  ihdr[9] = 0; // gray
  const parts = [new Uint8Array(SIGNATURE), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Decodes a non-interlaced PNG (gray, gray + alpha, RGB or RGBA; 8 or 16 bits)
 * into `{ width, height, data }`, one 8-bit sample per pixel (the high byte of
 * 16-bit samples). Colour pixels must be gray (R = G = B); alpha is ignored.
 * Throws an Error saying what is wrong.
 */
export async function decodeGray(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (buf.length < 8 || SIGNATURE.some((b, i) => buf[i] !== b)) throw new Error('not a PNG file');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = 8;
  let header = null;
  const idat = [];
  let ended = false;
  while (offset + 12 <= buf.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...buf.subarray(offset + 4, offset + 8));
    if (offset + 12 + length > buf.length) break;
    const body = buf.subarray(offset + 8, offset + 8 + length);
    if (crc32(buf.subarray(offset + 4, offset + 8 + length)) !== view.getUint32(offset + 8 + length)) {
      throw new Error(`the PNG is corrupt (chunk ${type} fails its checksum)`);
    }
    if (type === 'IHDR') {
      const h = new DataView(body.buffer, body.byteOffset, body.byteLength);
      header = { width: h.getUint32(0), height: h.getUint32(4), depth: body[8], color: body[9], interlace: body[12] };
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      ended = true;
      break;
    }
    offset += 12 + length;
  }
  if (!header || !ended || !idat.length) throw new Error('the PNG is truncated or corrupt');
  const channels = { 0: 1, 4: 2, 2: 3, 6: 4 }[header.color];
  if (!channels) throw new Error('a palette PNG is not supported: save it as gray');
  if (header.depth !== 8 && header.depth !== 16) throw new Error(`PNGs of ${header.depth} bits per sample are not supported`);
  if (header.interlace) throw new Error('interlaced PNGs are not supported');
  const bytesPerSample = header.depth / 8;
  const bpp = channels * bytesPerSample;
  const stride = header.width * bpp;
  let raw;
  try {
    raw = await through(concat(idat), new DecompressionStream('deflate'));
  } catch {
    throw new Error('the PNG is corrupt (its image data does not decompress)');
  }
  if (raw.length < (stride + 1) * header.height) throw new Error('the PNG is truncated (image data missing)');
  const out = new Uint8Array(stride * header.height);
  for (let y = 0; y < header.height; y++) {
    const filter = raw[y * (stride + 1)];
    if (filter > 4) throw new Error('the PNG is corrupt (bad row filter)');
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const prev = y ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      let p = 0;
      if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else if (filter === 4) {
        const q = a + b - c;
        const pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[i] = (line[i] + p) & 0xff;
    }
  }
  const n = header.width * header.height;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * bpp;
    const v = out[at];
    if (channels >= 3 && (out[at + bytesPerSample] !== v || out[at + 2 * bytesPerSample] !== v)) {
      throw new Error(`pixel (${i % header.width}, ${Math.floor(i / header.width)}) is coloured: an annotation is gray`);
    }
    data[i] = v;
  }
  return { width: header.width, height: header.height, data };
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
