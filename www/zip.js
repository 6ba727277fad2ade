// A minimal ZIP writer: files are stored uncompressed (PNGs are already
// compressed) with their CRC-32, UTF-8 names (general-purpose flag bit 11 set in
// the local and central headers, so unzip tools read 細胞/細胞.mask.png as
// written) and the current local time. No ZIP64, so an archive holds fewer than
// 65535 files and under 4 GiB. The CRCs are computed in slices with a pause in
// between, so that packing a large batch does not freeze the tab.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as ZIP and PNG use it) of a Uint8Array. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** MS-DOS time and date fields for `when`. */
function dosDateTime(when) {
  const time = (when.getHours() << 11) | (when.getMinutes() << 5) | (when.getSeconds() >> 1);
  const year = Math.max(1980, when.getFullYear());
  const date = ((year - 1980) << 9) | ((when.getMonth() + 1) << 5) | when.getDate();
  return { time, date };
}

/** Bit 11 of the general-purpose flags: the name (and comment) are UTF-8. */
const UTF8_NAMES = 0x0800;

/** Bytes checked between two pauses of `makeZip`. */
const SLICE = 8 << 20;

/** CRC-32 of `bytes`, pausing (a new task) every SLICE bytes. */
async function crc32Sliced(bytes) {
  let c = 0xffffffff;
  for (let start = 0; start < bytes.length; start += SLICE) {
    const end = Math.min(bytes.length, start + SLICE);
    for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    if (end < bytes.length) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Builds a ZIP archive from `files`, a list of `{ name, data }` where `data`
 * is a Uint8Array or a string (written as UTF-8). Resolves to a Blob.
 */
export async function makeZip(files, when = new Date()) {
  if (files.length >= 0xffff) throw new Error(`a ZIP without ZIP64 holds at most 65534 files, not ${files.length}`);
  const encoder = new TextEncoder();
  const { time, date } = dosDateTime(when);
  const parts = [];
  const central = [];
  let offset = 0;
  for (const file of files) {
    const name = encoder.encode(file.name);
    const data = typeof file.data === 'string' ? encoder.encode(file.data) : file.data;
    const crc = await crc32Sliced(data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true); // local file header signature
    local.setUint16(4, 20, true); // version needed: 2.0
    local.setUint16(6, UTF8_NAMES, true); // flags
    local.setUint16(8, 0, true); // method: stored
    local.setUint16(10, time, true);
    local.setUint16(12, date, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true); // compressed size
    local.setUint32(22, data.length, true); // uncompressed size
    local.setUint16(26, name.length, true);
    local.setUint16(28, 0, true); // extra field length
    parts.push(local, name, data);

    const entry = new DataView(new ArrayBuffer(46));
    entry.setUint32(0, 0x02014b50, true); // central directory signature
    entry.setUint16(4, 20, true); // version made by
    entry.setUint16(6, 20, true); // version needed
    entry.setUint16(8, UTF8_NAMES, true); // flags
    entry.setUint16(10, 0, true);
    entry.setUint16(12, time, true);
    entry.setUint16(14, date, true);
    entry.setUint32(16, crc, true);
    entry.setUint32(20, data.length, true);
    entry.setUint32(24, data.length, true);
    entry.setUint16(28, name.length, true);
    // extra length, comment length, disk number, internal and external attributes: 0
    entry.setUint32(42, offset, true); // offset of the local header
    central.push(entry, name);

    offset += 30 + name.length + data.length;
    if (offset > 0xffffffff) throw new Error('the archive would exceed 4 GiB; download fewer images at once');
  }
  const centralSize = central.reduce((sum, part) => sum + part.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true); // end of central directory signature
  end.setUint16(8, files.length, true); // entries on this disk
  end.setUint16(10, files.length, true); // entries in total
  end.setUint32(12, centralSize, true);
  end.setUint32(16, offset, true); // where the central directory starts
  return new Blob([...parts, ...central, end], { type: 'application/zip' });
}
