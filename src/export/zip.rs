//! A ZIP archive writer for unetseg's own archives (the ImageJ ROI sets): entries
//! stored uncompressed, each with its CRC-32, written to memory.
//!
//! The layout is PKWARE's APPNOTE: for each entry a local file header and the
//! data, then the central directory and its end record. Entry times are fixed
//! (1980-01-01 00:00, the first time a ZIP can hold), so the same entries always
//! make the same bytes. Archives of 65535 entries or more get the ZIP64 end records
//! (which Java's, Python's and Info-ZIP's readers understand); entries themselves
//! must each start within the first 4 GiB.

use crate::error::{Error, Result};

/// The DOS date of 1980-01-01 (year 0 from 1980, month 1, day 1).
const DOS_DATE: u16 = (1 << 5) | 1;
/// The DOS time 00:00:00.
const DOS_TIME: u16 = 0;
/// "Version needed to extract" for stored entries (2.0), and for ZIP64 records (4.5).
const VERSION: u16 = 20;
/// See [`VERSION`].
const VERSION_ZIP64: u16 = 45;
/// General-purpose flag bit 11: the entry's name is UTF-8.
const UTF8_NAME: u16 = 1 << 11;

/// An archive being written: entries are added in order, [`ZipWriter::finish`]
/// returns its bytes.
#[derive(Debug, Default)]
pub struct ZipWriter {
    /// The local headers and data written so far.
    bytes: Vec<u8>,
    /// The central directory's records so far.
    central: Vec<u8>,
    /// Number of entries.
    entries: u64,
}

impl ZipWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry `name` (a path inside the archive, `/`-separated) holding `data`
    /// uncompressed. Fails when the name is longer than 65535 bytes or the entry
    /// would not start within the first 4 GiB or be under 4 GiB itself.
    pub fn add(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let offset = u32::try_from(self.bytes.len())
            .map_err(|_| Error::invalid(format!("a ZIP entry ({name}) cannot start beyond 4 GiB")))?;
        let size = u32::try_from(data.len())
            .ok()
            .filter(|&s| s < u32::MAX)
            .ok_or_else(|| Error::invalid(format!("a ZIP entry ({name}) cannot hold 4 GiB or more")))?;
        let name_len = u16::try_from(name.len())
            .map_err(|_| Error::invalid(format!("a ZIP entry's name cannot be over 65535 bytes ({name:.40}...)")))?;
        let flags = if name.is_ascii() { 0 } else { UTF8_NAME };
        let crc = crc32(data);
        // Local file header.
        let local = &mut self.bytes;
        put32(local, 0x0403_4b50);
        put16(local, VERSION);
        put16(local, flags);
        put16(local, 0); // stored
        put16(local, DOS_TIME);
        put16(local, DOS_DATE);
        put32(local, crc);
        put32(local, size);
        put32(local, size);
        put16(local, name_len);
        put16(local, 0); // no extra field
        local.extend_from_slice(name.as_bytes());
        local.extend_from_slice(data);
        // Central directory record.
        let central = &mut self.central;
        put32(central, 0x0201_4b50);
        put16(central, VERSION); // made by: MS-DOS attributes, version 2.0
        put16(central, VERSION);
        put16(central, flags);
        put16(central, 0);
        put16(central, DOS_TIME);
        put16(central, DOS_DATE);
        put32(central, crc);
        put32(central, size);
        put32(central, size);
        put16(central, name_len);
        put16(central, 0); // extra field
        put16(central, 0); // comment
        put16(central, 0); // disk number
        put16(central, 0); // internal attributes
        put32(central, 0); // external attributes
        put32(central, offset);
        central.extend_from_slice(name.as_bytes());
        self.entries += 1;
        Ok(())
    }

    /// The archive's bytes: the entries, the central directory and the end record
    /// (preceded by the ZIP64 end record and locator when the entry count or the
    /// directory's size or offset do not fit the classic one).
    pub fn finish(self) -> Vec<u8> {
        let Self { mut bytes, central, entries } = self;
        let directory_offset = bytes.len() as u64;
        let directory_size = central.len() as u64;
        bytes.extend_from_slice(&central);
        let count16 = u16::try_from(entries).ok().filter(|&n| n < u16::MAX);
        let size32 = u32::try_from(directory_size).ok().filter(|&n| n < u32::MAX);
        let offset32 = u32::try_from(directory_offset).ok().filter(|&n| n < u32::MAX);
        if count16.is_none() || size32.is_none() || offset32.is_none() {
            let record_offset = bytes.len() as u64;
            put32(&mut bytes, 0x0606_4b50);
            put64(&mut bytes, 44); // the size of the rest of this record
            put16(&mut bytes, VERSION_ZIP64);
            put16(&mut bytes, VERSION_ZIP64);
            put32(&mut bytes, 0); // this disk
            put32(&mut bytes, 0); // the disk with the central directory
            put64(&mut bytes, entries);
            put64(&mut bytes, entries);
            put64(&mut bytes, directory_size);
            put64(&mut bytes, directory_offset);
            put32(&mut bytes, 0x0706_4b50);
            put32(&mut bytes, 0); // the disk with the ZIP64 end record
            put64(&mut bytes, record_offset);
            put32(&mut bytes, 1); // disks in all
        }
        put32(&mut bytes, 0x0605_4b50);
        put16(&mut bytes, 0);
        put16(&mut bytes, 0);
        put16(&mut bytes, count16.unwrap_or(u16::MAX));
        put16(&mut bytes, count16.unwrap_or(u16::MAX));
        put32(&mut bytes, size32.unwrap_or(u32::MAX));
        put32(&mut bytes, offset32.unwrap_or(u32::MAX));
        put16(&mut bytes, 0); // no comment
        bytes
    }
}

/// Appends `v` little-endian.
fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` little-endian.
fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` little-endian.
fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The CRC-32 of `data` that ZIP (and PNG, gzip) use: polynomial 0x04C11DB7
/// bit-reversed (0xEDB88320), initial value and final XOR 0xFFFFFFFF.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = crc_table();
    !data.iter().fold(u32::MAX, |crc, &byte| TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8))
}

/// The CRC of every byte value, one bit at a time.
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn crc32_check_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
    }

    #[test]
    fn an_archive_of_two_entries_has_both_headers_and_the_end_record() {
        let mut zip = ZipWriter::new();
        zip.add("0001.roi", b"abc").unwrap();
        zip.add("d/\u{e9}.txt", b"").unwrap();
        let bytes = zip.finish();
        // Local header of the first entry, its name and data.
        assert_eq!(u32_at(&bytes, 0), 0x0403_4b50);
        assert_eq!((u16_at(&bytes, 6), u16_at(&bytes, 8)), (0, 0), "ASCII name, stored");
        assert_eq!(u32_at(&bytes, 14), crc32(b"abc"));
        assert_eq!((u32_at(&bytes, 18), u32_at(&bytes, 22)), (3, 3));
        assert_eq!(&bytes[30..41], b"0001.roiabc");
        // The second entry's name is UTF-8 and flagged so.
        assert_eq!(u16_at(&bytes, 41 + 6), UTF8_NAME);
        // End record: two entries, the directory right after the entries.
        let end = bytes.len() - 22;
        assert_eq!(u32_at(&bytes, end), 0x0605_4b50);
        assert_eq!((u16_at(&bytes, end + 8), u16_at(&bytes, end + 10)), (2, 2));
        let (size, offset) = (u32_at(&bytes, end + 12) as usize, u32_at(&bytes, end + 16) as usize);
        assert_eq!(offset + size, end);
        assert_eq!(u32_at(&bytes, offset), 0x0201_4b50);
        assert_eq!(u32_at(&bytes, offset + 42), 0, "the first entry's local header is at 0");
    }

    #[test]
    fn sixty_five_thousand_entries_and_more_get_the_zip64_end_records() {
        let mut zip = ZipWriter::new();
        for i in 0..70_000 {
            zip.add(&format!("{i:05}"), &[]).unwrap();
        }
        let bytes = zip.finish();
        let end = bytes.len() - 22;
        assert_eq!(u16_at(&bytes, end + 10), u16::MAX);
        let locator = end - 20;
        assert_eq!(u32_at(&bytes, locator), 0x0706_4b50);
        let record = u64::from_le_bytes(bytes[locator + 8..locator + 16].try_into().unwrap()) as usize;
        assert_eq!(u32_at(&bytes, record), 0x0606_4b50);
        assert_eq!(u64::from_le_bytes(bytes[record + 32..record + 40].try_into().unwrap()), 70_000);
    }
}
