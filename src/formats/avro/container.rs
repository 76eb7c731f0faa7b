//! The Avro object container framing: header (magic, schema, codec, sync marker), then one
//! block per batch (row count, byte size, the rows' datums compressed, the sync marker).
//! arrow-avro encodes the datums; the framing is ours so that we choose the compression
//! level (deflate level 1 compresses these rows about as well and several times faster than
//! the default level 6, which made compression the slowest stage of a backup).

use std::io::Write;

use crate::error::{Error, Result};
use crate::formats::Compression;

/// The deflate level of Avro blocks.
const DEFLATE_LEVEL: u32 = 1;

/// The header of a file whose records follow `schema_json`.
pub fn header(schema_json: &str, compression: Compression, sync: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(schema_json.len() + 64);
    out.extend_from_slice(b"Obj\x01");
    // The file metadata: a map of two entries, then the end of the map.
    write_long(&mut out, 2);
    for (key, value) in [
        ("avro.schema", schema_json),
        ("avro.codec", codec_name(compression)),
    ] {
        write_bytes(&mut out, key.as_bytes());
        write_bytes(&mut out, value.as_bytes());
    }
    write_long(&mut out, 0);
    out.extend_from_slice(sync);
    out
}

/// One block holding `rows` records whose concatenated datums are `data`.
pub fn block(
    rows: usize,
    data: &[u8],
    compression: Compression,
    sync: &[u8; 16],
) -> Result<Vec<u8>> {
    let compressed = compress(data, compression)?;
    let mut out = Vec::with_capacity(compressed.len() + 36);
    write_long(&mut out, rows as i64);
    write_long(&mut out, compressed.len() as i64);
    out.extend_from_slice(&compressed);
    out.extend_from_slice(sync);
    Ok(out)
}

fn codec_name(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "null",
        Compression::Deflate => "deflate",
        Compression::Snappy => "snappy",
        Compression::Zstd => "zstandard",
    }
}

fn compress(data: &[u8], compression: Compression) -> Result<Vec<u8>> {
    let failed = |e: &dyn std::fmt::Display| Error::Internal {
        task: "compressing an Avro block".into(),
        reason: e.to_string(),
    };
    match compression {
        Compression::None => Ok(data.to_vec()),
        Compression::Deflate => {
            let mut encoder = flate2::write::DeflateEncoder::new(
                Vec::with_capacity(data.len() / 3),
                flate2::Compression::new(DEFLATE_LEVEL),
            );
            encoder.write_all(data).map_err(|e| failed(&e))?;
            encoder.finish().map_err(|e| failed(&e))
        }
        Compression::Snappy => {
            // Avro's snappy blocks end with the CRC-32 of the uncompressed data.
            let mut out = snap::raw::Encoder::new()
                .compress_vec(data)
                .map_err(|e| failed(&e))?;
            let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data);
            out.extend_from_slice(&crc.to_be_bytes());
            Ok(out)
        }
        Compression::Zstd => zstd::bulk::compress(data, 1).map_err(|e| failed(&e)),
    }
}

/// Avro `long`: zig-zag, then base-128 varint.
fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_are_zig_zag_varints() {
        for (value, bytes) in [
            (0i64, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (64, vec![0x80, 0x01]),
            (-65, vec![0x81, 0x01]),
        ] {
            let mut out = Vec::new();
            write_long(&mut out, value);
            assert_eq!(out, bytes, "{value}");
        }
    }
}
