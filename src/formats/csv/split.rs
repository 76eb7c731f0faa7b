//! Splitting a CSV byte stream into records and fields, keeping what a reject log needs: the
//! physical line a record starts on and its raw bytes.
//!
//! A record ends at a newline outside quotes; CRLF and LF both end one, a missing final
//! newline is fine, a UTF-8 BOM at the start is skipped. Fields follow RFC 4180: a quote
//! opens a quoted field only as the field's first character, and a quoted field may hold
//! delimiters, newlines and doubled quotes. A quote anywhere else makes the record a reject
//! (its meaning is a guess: PostgreSQL's COPY would open a quoted section there, Python's
//! csv keeps it as text).
//!
//! Records are bounded ([`Framing::max_record`]): one that reaches the bound is refused.
//! When its end is not known, because a quoted field runs past the bound or is still open
//! at the end of the input, its first line alone is refused and reading resumes on the
//! next line, so one stray quote costs one line, never the rest of the file.

use std::io::{self, Read};
use std::ops::Range;

const CHUNK: usize = 1 << 20;

/// The default bound on one record (and so on one field), in bytes.
pub const DEFAULT_MAX_RECORD: usize = 64 << 20;

/// How much of an over-long record the reject log keeps.
const KEPT_OF_LONG_RECORD: usize = 4096;

/// How records and fields are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    pub delimiter: u8,
    pub quote: u8,
    /// A record of this many bytes or more is refused.
    pub max_record: usize,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            delimiter: b',',
            quote: b'"',
            max_record: DEFAULT_MAX_RECORD,
        }
    }
}

/// One record: the line it starts on (1-based), its bytes without the line terminator, and
/// why it is refused before its fields are looked at (too long, a quote never closed).
#[derive(Debug)]
pub struct Record<'a> {
    pub line: u64,
    pub raw: &'a [u8],
    pub refused: Option<String>,
}

/// Reads records from a byte source in large chunks.
pub struct RecordReader<R> {
    inner: R,
    framing: Framing,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Where scanning for the current record's end resumes, and the quote state there.
    scan: usize,
    in_quotes: bool,
    /// The last closing quote (a quote right after it is a doubled one, still inside).
    closed_at: Option<usize>,
    /// The current record's first newline inside quotes: where to resume if it never ends.
    first_inner_newline: Option<usize>,
    newlines_inside: u64,
    next_line: u64,
    eof: bool,
    /// The rest of an over-long line is being skipped.
    skipping: bool,
    bytes_read: u64,
    /// Where the record handed out last is in `buf`.
    last: Range<usize>,
}

impl<R: Read> RecordReader<R> {
    pub fn new(inner: R, framing: Framing) -> Self {
        RecordReader {
            inner,
            framing,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            scan: 0,
            in_quotes: false,
            closed_at: None,
            first_inner_newline: None,
            newlines_inside: 0,
            next_line: 1,
            eof: false,
            skipping: false,
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
        if self.skipping && !self.skip_line()? {
            return Ok(None);
        }
        let quote = self.framing.quote;
        loop {
            // Never look past the bound, so where the input's chunks end cannot change a verdict.
            let bound = self.start.saturating_add(self.framing.max_record);
            let limit = self.end.min(bound);
            while let Some(i) = memchr::memchr2(b'\n', quote, &self.buf[self.scan..limit]) {
                let at = self.scan + i;
                self.scan = at + 1;
                if self.buf[at] == quote {
                    if self.in_quotes {
                        self.in_quotes = false;
                        self.closed_at = Some(at);
                    } else if self.opens_field(at) {
                        self.in_quotes = true;
                    }
                } else if self.in_quotes {
                    self.newlines_inside += 1;
                    self.first_inner_newline.get_or_insert(at);
                } else {
                    return Ok(Some(self.take(at, at + 1)));
                }
            }
            self.scan = limit;
            if limit == bound {
                let reason = format!(
                    "the record reaches the {}-byte limit (max_record_bytes) before it ends",
                    self.framing.max_record
                );
                return Ok(Some(self.cut(reason)));
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                if self.in_quotes && self.first_inner_newline.is_some() {
                    let reason = "a quoted field opened on this line never closes".to_string();
                    return Ok(Some(self.cut(reason)));
                }
                let end = self.end;
                return Ok(Some(self.take(end, end)));
            }
            self.fill()?;
        }
    }

    /// A quote at `at` opens a quoted field when it starts a field or doubles a closing quote.
    fn opens_field(&self, at: usize) -> bool {
        at == self.start
            || self.buf[at - 1] == self.framing.delimiter
            || self.closed_at == Some(at - 1)
    }

    /// Hand out `buf[start..record_end]` and move past `next_start`.
    fn take(&mut self, record_end: usize, next_start: usize) -> Record<'_> {
        let line = self.next_line;
        self.next_line += 1 + self.newlines_inside;
        let from = self.start;
        self.restart_at(next_start);
        let end = if record_end > from && self.buf[record_end - 1] == b'\r' {
            record_end - 1
        } else {
            record_end
        };
        self.last = from..end;
        Record {
            line,
            raw: &self.buf[from..end],
            refused: None,
        }
    }

    /// Refuse a record that reached the bound or never closes: its first line alone when a
    /// quoted newline was seen (reading resumes after it), else what was scanned, skipping
    /// the rest of the line unread.
    fn cut(&mut self, reason: String) -> Record<'_> {
        let line = self.next_line;
        self.next_line += 1;
        let from = self.start;
        let mut end = match self.first_inner_newline {
            Some(newline) => {
                self.restart_at(newline + 1);
                newline
            }
            None => {
                self.skipping = true;
                self.scan
            }
        };
        if end > from && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        end = end.min(from + KEPT_OF_LONG_RECORD);
        self.last = from..end;
        Record {
            line,
            raw: &self.buf[from..end],
            refused: Some(reason),
        }
    }

    /// Start a new record at `at`, outside quotes.
    fn restart_at(&mut self, at: usize) {
        self.start = at;
        self.scan = at;
        self.in_quotes = false;
        self.closed_at = None;
        self.first_inner_newline = None;
        self.newlines_inside = 0;
    }

    /// Drop bytes up to and including the next newline; false when the input ends first.
    fn skip_line(&mut self) -> io::Result<bool> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scan..self.end]) {
                self.skipping = false;
                self.restart_at(self.scan + i + 1);
                return Ok(true);
            }
            self.restart_at(self.end);
            if self.eof {
                self.skipping = false;
                return Ok(false);
            }
            self.fill()?;
        }
    }

    /// Move the unfinished record to the front (growing the buffer for a huge one) and read more.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            let shift = self.start;
            self.buf.copy_within(shift..self.end, 0);
            self.scan -= shift;
            self.end -= shift;
            self.start = 0;
            self.closed_at = self.closed_at.map(|at| at - shift);
            self.first_inner_newline = self.first_inner_newline.map(|at| at - shift);
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
            if memchr::memchr(quote, &raw[i..i + len]).is_some() {
                return Err(
                    "a quote inside an unquoted field (quote the whole field and double its quotes)",
                );
            }
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
        let mut reader = RecordReader::new(input, Framing::default());
        let mut out = Vec::new();
        while let Some(r) = reader.next_record().unwrap() {
            out.push((r.line, String::from_utf8_lossy(r.raw).into_owned()));
        }
        out
    }

    /// Records with their refusal, read through a source that yields `step` bytes at a time.
    fn framed(input: &[u8], max_record: usize, step: usize) -> Vec<(u64, String, bool)> {
        let framing = Framing {
            max_record,
            ..Framing::default()
        };
        let mut reader = RecordReader::new(Trickle(input, step), framing);
        let mut out = Vec::new();
        while let Some(r) = reader.next_record().unwrap() {
            let raw = String::from_utf8_lossy(r.raw).into_owned();
            out.push((r.line, raw, r.refused.is_some()));
        }
        out
    }

    /// A reader that hands out at most `.1` bytes per call, to exercise refills.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
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

    #[test]
    fn a_stray_quote_inside_a_field_costs_only_its_record() {
        let got = records(b"1,O\"B,1,x\n2,a,1,y\n");
        assert_eq!(got, vec![(1, "1,O\"B,1,x".into()), (2, "2,a,1,y".into())]);
        assert_eq!(
            fields("1,O\"B,1,x"),
            Err("a quote inside an unquoted field (quote the whole field and double its quotes)")
        );
    }

    #[test]
    fn a_quote_that_never_closes_costs_its_first_line() {
        let got = framed(b"1,\"OB,1,x\n2,a\n3,b\n", DEFAULT_MAX_RECORD, 1 << 20);
        assert_eq!(
            got,
            vec![
                (1, "1,\"OB,1,x".into(), true),
                (2, "2,a".into(), false),
                (3, "3,b".into(), false)
            ]
        );
        // On one line, the record is all there is to refuse: split_fields says why.
        assert_eq!(records(b"1,\"OB"), vec![(1, "1,\"OB".into())]);
    }

    #[test]
    fn a_record_is_refused_at_the_bound_even_when_it_closes_later() {
        // Line 1 opens a quoted field that closes on line 2, past the bound: line 1 is
        // refused, and line 2 is read as a record of its own (its stray quote rejects it).
        let got = framed(b"1,\"aaaaaaaaaa\nb\"\n2,c\n1234567\n", 8, 1 << 20);
        assert_eq!(
            got,
            vec![
                (1, "1,\"aaaaa".into(), true),
                (2, "b\"".into(), false),
                (3, "2,c".into(), false),
                (4, "1234567".into(), false)
            ]
        );
        assert_eq!(
            framed(b"12345678\n", 8, 3),
            vec![(1, "12345678".into(), true)]
        );
    }

    #[test]
    fn a_record_running_past_the_bound_costs_one_line_and_reading_goes_on() {
        // A quoted field open past the bound: its first line is refused, the next is read.
        // An unquoted line past the bound: refused, the rest of it skipped unread.
        let input = format!("1,\"aaaa\n{}\n2,c\n", "b".repeat(20));
        let got = framed(input.as_bytes(), 8, 3);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], (1, "1,\"aaaa".into(), true));
        assert!(got[1].0 == 2 && got[1].2 && got[1].1.starts_with("bbbb"));
        assert_eq!(got[2], (3, "2,c".into(), false));
    }

    #[test]
    fn an_over_long_record_keeps_only_its_head_for_the_reject_log() {
        let input = format!("{}\nok\n", "z".repeat(KEPT_OF_LONG_RECORD * 3));
        let got = framed(input.as_bytes(), KEPT_OF_LONG_RECORD, 1 << 20);
        assert_eq!(got[0].1.len(), KEPT_OF_LONG_RECORD);
        assert!(got[0].2);
        assert_eq!(got[1], (2, "ok".into(), false));
    }

    proptest::proptest! {
        /// How the source hands out its bytes never changes the records, and every byte of
        /// a well-quoted input is in exactly one record.
        #[test]
        fn chunking_never_changes_records(
            input in proptest::collection::vec(
                proptest::sample::select(b"ab,\"\r\n".to_vec()), 0..200),
            max_record in 1usize..40,
            step in 1usize..9,
        ) {
            let whole = framed(&input, max_record, 1 << 20);
            let trickled = framed(&input, max_record, step);
            proptest::prop_assert_eq!(&whole, &trickled);
            let mut line = 0;
            for (l, _, _) in &whole {
                proptest::prop_assert!(*l > line, "line numbers grow: {:?}", whole);
                line = *l;
            }
        }
    }
}
