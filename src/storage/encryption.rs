//! Files encrypted at rest, written as a stream and read back whole or by ranges (a Parquet
//! reader asks for its footer first, then for row groups).
//!
//! Layout: a 16-byte header (`LKSENC01` and 8 random bytes, the file's nonce prefix), then
//! the plaintext in chunks of [`CHUNK`] bytes (the last one shorter, possibly empty), each
//! sealed with AES-256-GCM and followed by its 16-byte tag. A chunk's nonce is the prefix
//! and its index (big-endian u32); its associated data is the header, its index and whether
//! it is the last, so chunks cannot be reordered, moved between files, dropped from the end
//! or appended to without the reader noticing.

use std::ops::Range;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

use crate::error::{Error, Result};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const MAGIC: &[u8; 8] = b"LKSENC01";
const HEADER: usize = 16;
const TAG: usize = 16;
/// A sealed chunk's size in the file.
const SEALED: usize = CHUNK + TAG;

/// The scheme's name, as a manifest records it.
pub const SCHEME: &str = "aes-256-gcm-chunked-64k";

/// The key files are sealed with.
#[derive(Clone)]
pub struct FileCipher {
    key: [u8; 32],
}

impl std::fmt::Debug for FileCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileCipher(***)")
    }
}

impl FileCipher {
    pub fn new(key: [u8; 32]) -> FileCipher {
        FileCipher { key }
    }

    /// Start sealing a new file (with a nonce prefix of its own).
    pub fn encryptor(&self) -> Encryptor {
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        openssl::rand::rand_bytes(&mut header[8..]).expect("the system's random source works");
        Encryptor {
            cipher: self.clone(),
            header,
            pending: Vec::with_capacity(CHUNK),
            index: 0,
            started: false,
        }
    }

    fn nonce_and_aad(header: &[u8; HEADER], index: u32, last: bool) -> ([u8; 12], Vec<u8>) {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&header[8..]);
        nonce[8..].copy_from_slice(&index.to_be_bytes());
        let mut aad = header.to_vec();
        aad.extend_from_slice(&index.to_be_bytes());
        aad.push(u8::from(last));
        (nonce, aad)
    }

    fn seal(&self, header: &[u8; HEADER], index: u32, last: bool, plain: &[u8]) -> Vec<u8> {
        let (nonce, aad) = Self::nonce_and_aad(header, index, last);
        let mut tag = [0u8; TAG];
        let mut sealed = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            &aad,
            plain,
            &mut tag,
        )
        .expect("AES-256-GCM seals any input");
        sealed.extend_from_slice(&tag);
        sealed
    }

    fn open(
        &self,
        header: &[u8; HEADER],
        index: u32,
        last: bool,
        sealed: &[u8],
    ) -> Option<Vec<u8>> {
        let (body, tag) = sealed.split_at(sealed.len().checked_sub(TAG)?);
        let (nonce, aad) = Self::nonce_and_aad(header, index, last);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            &aad,
            body,
            tag,
        )
        .ok()
    }
}

/// Seals one file's content as it is written.
pub struct Encryptor {
    cipher: FileCipher,
    header: [u8; HEADER],
    /// Plaintext not sealed yet: a chunk is sealed once more follows it, since the last one
    /// is sealed as the last.
    pending: Vec<u8>,
    index: u32,
    started: bool,
}

impl Encryptor {
    /// The sealed bytes that `data` completes (the header first).
    pub fn update(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.started {
            out.extend_from_slice(&self.header);
            self.started = true;
        }
        self.pending.extend_from_slice(data);
        while self.pending.len() > CHUNK {
            let rest = self.pending.split_off(CHUNK);
            let chunk = std::mem::replace(&mut self.pending, rest);
            out.extend(self.cipher.seal(&self.header, self.index, false, &chunk));
            self.index += 1;
        }
        out
    }

    /// The file's last bytes: the last chunk, sealed as the last.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = self.update(&[]);
        out.extend(
            self.cipher
                .seal(&self.header, self.index, true, &self.pending),
        );
        out
    }
}

/// Where a file's chunks are, from its stored size.
#[derive(Debug, Clone, Copy)]
struct Shape {
    chunks: u64,
    plain: u64,
}

impl Shape {
    fn of(stored: u64) -> Option<Shape> {
        let body = stored.checked_sub(HEADER as u64)?;
        let (full, rest) = (body / SEALED as u64, body % SEALED as u64);
        let (chunks, last) = match rest {
            0 if full > 0 => (full, CHUNK as u64),
            rest if rest >= TAG as u64 => (full + 1, rest - TAG as u64),
            _ => return None,
        };
        Some(Shape {
            chunks,
            plain: (chunks - 1) * CHUNK as u64 + last,
        })
    }

    /// The stored byte range of chunks `first..=last`.
    fn stored_range(&self, first: u64, last: u64, stored: u64) -> Range<u64> {
        let start = HEADER as u64 + first * SEALED as u64;
        let end = (HEADER as u64 + (last + 1) * SEALED as u64).min(stored);
        start..end
    }
}

/// A sealed file read by plaintext ranges.
#[derive(Clone)]
pub struct SealedFile {
    cipher: FileCipher,
    header: [u8; HEADER],
    shape: Shape,
    stored: u64,
    url: String,
}

impl SealedFile {
    /// `header` is the file's first 16 bytes, `stored` its size.
    pub fn new(cipher: &FileCipher, header: &[u8], stored: u64, url: String) -> Result<SealedFile> {
        let shape = Shape::of(stored);
        match (shape, header.get(..HEADER)) {
            (Some(shape), Some(h)) if h.starts_with(MAGIC) => Ok(SealedFile {
                cipher: cipher.clone(),
                header: h.try_into().expect("16 bytes"),
                shape,
                stored,
                url,
            }),
            _ => Err(not_sealed(&url)),
        }
    }

    /// The plaintext's size.
    pub fn size(&self) -> u64 {
        self.shape.plain
    }

    /// The stored range that holds plaintext `range`.
    pub fn stored_range(&self, range: &Range<u64>) -> Range<u64> {
        let (first, last) = self.chunks_of(range);
        self.shape.stored_range(first, last, self.stored)
    }

    fn chunks_of(&self, range: &Range<u64>) -> (u64, u64) {
        let first = range.start / CHUNK as u64;
        let last = (range.end.max(range.start + 1) - 1) / CHUNK as u64;
        (first, last.min(self.shape.chunks - 1))
    }

    /// Plaintext `range` from `stored`, the bytes of [`SealedFile::stored_range`].
    pub fn open_range(&self, range: &Range<u64>, stored: &[u8]) -> Result<Bytes> {
        let (first, last) = self.chunks_of(range);
        let mut plain = Vec::with_capacity((range.end - range.start) as usize);
        for (n, sealed) in stored.chunks(SEALED).enumerate() {
            let index = first + n as u64;
            if index > last {
                break;
            }
            let opened = self
                .cipher
                .open(
                    &self.header,
                    index as u32,
                    index + 1 == self.shape.chunks,
                    sealed,
                )
                .ok_or_else(|| tampered(&self.url))?;
            plain.extend_from_slice(&opened);
        }
        let offset = (range.start - first * CHUNK as u64) as usize;
        let length = (range.end - range.start) as usize;
        plain
            .get(offset..offset + length)
            .map(Bytes::copy_from_slice)
            .ok_or_else(|| Error::Storage {
                url: self.url.clone(),
                reason: format!(
                    "asked for bytes {range:?} of a {}-byte file",
                    self.shape.plain
                ),
            })
    }
}

/// The plaintext of a sealed file streamed in order (`stored` is its content, as it comes).
pub fn open_stream(
    cipher: &FileCipher,
    stored: BoxStream<'static, Result<Bytes>>,
    url: String,
) -> BoxStream<'static, Result<Bytes>> {
    struct State {
        stored: BoxStream<'static, Result<Bytes>>,
        cipher: FileCipher,
        header: Option<[u8; HEADER]>,
        buffer: Vec<u8>,
        index: u32,
        done: bool,
        url: String,
    }
    let state = State {
        stored,
        cipher: cipher.clone(),
        header: None,
        buffer: Vec::new(),
        index: 0,
        done: false,
        url,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if s.done {
                return None;
            }
            if s.header.is_none() && s.buffer.len() >= HEADER {
                if !s.buffer.starts_with(MAGIC) {
                    s.done = true;
                    return Some((Err(not_sealed(&s.url)), s));
                }
                let rest = s.buffer.split_off(HEADER);
                s.header = Some(s.buffer[..].try_into().expect("16 bytes"));
                s.buffer = rest;
            }
            // A chunk followed by more is not the last: open it.
            if let Some(header) = s.header.filter(|_| s.buffer.len() > SEALED) {
                let rest = s.buffer.split_off(SEALED);
                let sealed = std::mem::replace(&mut s.buffer, rest);
                let opened = s.cipher.open(&header, s.index, false, &sealed);
                s.index += 1;
                return Some(match opened {
                    Some(plain) => (Ok(Bytes::from(plain)), s),
                    None => {
                        s.done = true;
                        (Err(tampered(&s.url)), s)
                    }
                });
            }
            match s.stored.next().await {
                Some(Ok(bytes)) => s.buffer.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
                None => {
                    s.done = true;
                    let opened = s
                        .header
                        .and_then(|h| s.cipher.open(&h, s.index, true, &s.buffer));
                    let result = match (s.header, opened) {
                        (None, _) => Err(not_sealed(&s.url)),
                        (_, Some(plain)) => Ok(Bytes::from(plain)),
                        (_, None) => Err(tampered(&s.url)),
                    };
                    return Some((result, s));
                }
            }
        }
    })
    .boxed()
}

fn not_sealed(url: &str) -> Error {
    Error::Storage {
        url: url.to_string(),
        reason: "not a lakeshift encrypted file (its manifest says it is one)".into(),
    }
}

fn tampered(url: &str) -> Error {
    Error::Storage {
        url: url.to_string(),
        reason: "does not decrypt with this key: the key is another, or the file was changed"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(cipher: &FileCipher, data: &[u8], piece: usize) -> Vec<u8> {
        let mut e = cipher.encryptor();
        let mut out = Vec::new();
        for p in data.chunks(piece.max(1)) {
            out.extend(e.update(p));
        }
        out.extend(e.finish());
        out
    }

    fn stream_open(cipher: &FileCipher, stored: Vec<u8>, piece: usize) -> Result<Vec<u8>> {
        let pieces: Vec<Result<Bytes>> = stored
            .chunks(piece)
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        let stream = open_stream(cipher, futures::stream::iter(pieces).boxed(), "f".into());
        let parts: Vec<Result<Bytes>> = futures::executor::block_on(stream.collect());
        let mut plain = Vec::new();
        for part in parts {
            plain.extend_from_slice(&part?);
        }
        Ok(plain)
    }

    #[test]
    fn sealed_files_open_whole_and_by_ranges_at_every_size() {
        let cipher = FileCipher::new([7; 32]);
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let stored = seal(&cipher, &data, 5000);
            assert_eq!(
                stream_open(&cipher, stored.clone(), 777).unwrap(),
                data,
                "{size}"
            );
            let file = SealedFile::new(&cipher, &stored, stored.len() as u64, "f".into()).unwrap();
            assert_eq!(file.size(), size as u64);
            let ranges = [0..size as u64, 0..0, size as u64 / 3..size as u64 / 2];
            for range in ranges.iter().filter(|r| r.end <= size as u64) {
                let s = file.stored_range(range);
                let got = file
                    .open_range(range, &stored[s.start as usize..s.end as usize])
                    .unwrap();
                assert_eq!(&got[..], &data[range.start as usize..range.end as usize]);
            }
        }
    }

    #[test]
    fn a_changed_truncated_or_extended_file_or_another_key_is_refused() {
        let cipher = FileCipher::new([7; 32]);
        let data = vec![1u8; 2 * CHUNK + 10];
        let stored = seal(&cipher, &data, CHUNK);
        let mut flipped = stored.clone();
        flipped[HEADER + 5] ^= 1;
        assert!(stream_open(&cipher, flipped, 4096).is_err());
        // Cut at a chunk boundary: the chunk now last was not sealed as the last.
        let cut = stored[..HEADER + SEALED].to_vec();
        assert!(stream_open(&cipher, cut, 4096).is_err());
        let mut extended = stored.clone();
        extended.extend_from_slice(&stored[HEADER..HEADER + SEALED]);
        assert!(stream_open(&cipher, extended, 4096).is_err());
        assert!(stream_open(&FileCipher::new([8; 32]), stored.clone(), 4096).is_err());
        assert!(
            stream_open(&cipher, data.clone(), 4096).is_err(),
            "plaintext"
        );
    }
}
