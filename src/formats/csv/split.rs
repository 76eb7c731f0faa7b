//! Splitting a CSV byte stream into records and fields, keeping what a reject log needs: the
//! physical line a record starts on and its raw bytes.
//!
//! A record ends at a newline outside quotes; CRLF and LF both end one, a missing final
//! newline is fine, a UTF-8 BOM at the start is skipped. Fields follow RFC 4180: a quoted
//! field may hold delimiters, newlines and doubled quotes.

use std::io::{self, Read};
use std::ops::Range;

const CHUNK: usize = 1 << 20;

/// One record: the line it starts on (1-based) and its bytes without the line terminator.
#[derive(Debug)]
pub struct Record<'a> {
    pub line: u64,
    pub raw: &'a [u8],
}

/// Reads records from a byte source in large chunks.
pub struct RecordReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Where scanning for the current record's end resumes, and the quote state there.
    scan: usize,
    in_quotes: bool,
    newlines_inside: u64,
    next_line: u64,
    eof: bool,
    quote: u8,
    bytes_read: u64,
    /// Where the record handed out last is in `buf`.
    last: std::ops::Range<usize>,
}

impl<R: Read> RecordReader<R> {
    pub fn new(inner: R, quote: u8) -> Self {
        RecordReader {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            scan: 0,
            in_quotes: false,
            newlines_inside: 0,
            next_line: 1,
            eof: false,
            quote,
            bytes_read: 0,
            last: 0..0,
        }
    }

    /// Bytes read from the source so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The raw bytes of the record returned last (for a reject log).
    pub fn last_raw(&self) -> &[u8] {
        &self.buf[self.last.clone()]
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        loop {
            while let Some(i) = memchr::memchr2(b'\n', self.quote, &self.buf[self.scan..self.end]) {
                let at = self.scan + i;
                self.scan = at + 1;
                if self.buf[at] == self.quote {
                    self.in_quotes = !self.in_quotes;
                } else if self.in_quotes {
                    self.newlines_inside += 1;
                } else {
                    return Ok(Some(self.take(at, at + 1)));
                }
            }
            self.scan = self.end;
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let end = self.end;
                return Ok(Some(self.take(end, end)));
            }
            self.fill()?;
        }
    }

    /// Hand out `buf[start..record_end]` and move past `next_start`.
    fn take(&mut self, record_end: usize, next_start: usize) -> Record<'_> {
        let (from, line) = (self.start, self.next_line);
        self.next_line += 1 + self.newlines_inside;
        self.newlines_inside = 0;
        self.in_quotes = false;
        self.start = next_start;
        self.scan = next_start;
        let end = if record_end > from && self.buf[record_end - 1] == b'\r' {
            record_end - 1
        } else {
            record_end
        };
        self.last = from..end;
        Record {
            line,
            raw: &self.buf[from..end],
        }
    }

    /// Move the unfinished record to the front (growing the buffer for a huge one) and read more.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.scan -= self.start;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if self.bytes_read == 0 && self.buf[..self.end + n].starts_with(b"\xEF\xBB\xBF") {
            self.buf.copy_within(3..self.end + n, 0);
            self.end = self.end + n - 3;
        } else {
            self.end += n;
        }
        self.bytes_read += n as u64;
        self.eof = n == 0;
        Ok(())
    }
}

/// Where a field's text is in the scratch buffer, and whether it was quoted (a quoted empty
/// field is an empty string, an unquoted one is NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpan {
    pub range: Range<usize>,
    pub quoted: bool,
}

/// Split `raw` into fields, writing their unescaped text to `scratch` (cleared first).
pub fn split_fields(
    raw: &[u8],
    delimiter: u8,
    quote: u8,
    scratch: &mut Vec<u8>,
    fields: &mut Vec<FieldSpan>,
) -> Result<(), &'static str> {
    scratch.clear();
    fields.clear();
    let mut i = 0;
    loop {
        let start = scratch.len();
        let quoted = raw.get(i) == Some(&quote);
        if quoted {
            i += 1;
            loop {
                let Some(q) = memchr::memchr(quote, &raw[i..]) else {
                    return Err("unterminated quoted field");
                };
                scratch.extend_from_slice(&raw[i..i + q]);
                i += q + 1;
                if raw.get(i) == Some(&quote) {
                    scratch.push(quote);
                    i += 1;
                } else {
                    break;
                }
            }
            if i < raw.len() && raw[i] != delimiter {
                return Err("unexpected character after a closing quote");
            }
        } else {
            let len = memchr::memchr(delimiter, &raw[i..]).unwrap_or(raw.len() - i);
            scratch.extend_from_slice(&raw[i..i + len]);
            i += len;
        }
        fields.push(FieldSpan {
            range: start..scratch.len(),
            quoted,
        });
        if i >= raw.len() {
            return Ok(());
        }
        i += 1; // the delimiter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8]) -> Vec<(u64, String)> {
        let mut reader = RecordReader::new(input, b'"');
        let mut out = Vec::new();
        while let Some(r) = reader.next_record().unwrap() {
            out.push((r.line, String::from_utf8_lossy(r.raw).into_owned()));
        }
        out
    }

    fn fields(raw: &str) -> Result<Vec<(String, bool)>, &'static str> {
        let (mut scratch, mut spans) = (Vec::new(), Vec::new());
        split_fields(raw.as_bytes(), b',', b'"', &mut scratch, &mut spans)?;
        Ok(spans
            .into_iter()
            .map(|s| {
                (
                    String::from_utf8(scratch[s.range].to_vec()).unwrap(),
                    s.quoted,
                )
            })
            .collect())
    }

    #[test]
    fn crlf_lf_bom_and_missing_final_newline() {
        let got = records(b"\xEF\xBB\xBF1,a\r\n2,b\n3,c");
        assert_eq!(
            got,
            vec![(1, "1,a".into()), (2, "2,b".into()), (3, "3,c".into())]
        );
        assert_eq!(records(b""), vec![]);
        assert_eq!(records(b"1,a\r\n"), vec![(1, "1,a".into())]);
    }

    #[test]
    fn quoted_newlines_keep_line_numbers_right() {
        let got = records(b"1,\"two\nlines\"\n2,x\n");
        assert_eq!(got, vec![(1, "1,\"two\nlines\"".into()), (3, "2,x".into())]);
    }

    #[test]
    fn records_longer_than_a_chunk_survive_refills() {
        let long = "x".repeat(CHUNK * 2 + 17);
        let input = format!("1,{long}\n2,\"{long}\"\n");
        let got = records(input.as_bytes());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].1.len(), long.len() + 4);
    }

    #[test]
    fn fields_with_quotes_delimiters_and_empties() {
        assert_eq!(
            fields("1,\"a,b\",\"say \"\"hi\"\"\",,\"\"").unwrap(),
            vec![
                ("1".into(), false),
                ("a,b".into(), true),
                ("say \"hi\"".into(), true),
                ("".into(), false),
                ("".into(), true)
            ]
        );
        assert_eq!(
            fields("O'Neil,x-y").unwrap(),
            vec![("O'Neil".into(), false), ("x-y".into(), false)]
        );
        assert_eq!(fields("\"open,1"), Err("unterminated quoted field"));
        assert_eq!(
            fields("\"a\"b,1"),
            Err("unexpected character after a closing quote")
        );
    }
}
