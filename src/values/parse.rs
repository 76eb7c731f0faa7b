//! Text -> typed value, by the target column's kind, with the reason a value is refused.
//! These parsers are on the hot path of every import: no allocation per value.

use crate::postgres::types::PgKind;

/// One parsed value; text and bytes point into the row's scratch buffers.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Decimal(i128),
    /// A range of the field scratch buffer (already checked to be UTF-8).
    Text(std::ops::Range<usize>),
    /// A range of the decoded-bytes buffer.
    Bytes(std::ops::Range<usize>),
    Date(i32),
    /// Microseconds since midnight or since the Unix epoch (UTC).
    Micros(i64),
    Uuid([u8; 16]),
}

/// Parse `text` (one field, unquoted already) as `kind`. `bytes` collects decoded bytea.
pub fn parse(
    kind: &PgKind,
    text: &[u8],
    range: std::ops::Range<usize>,
    bytes: &mut Vec<u8>,
) -> Result<Value, String> {
    let bad = |what: &str| format!("invalid {what} {:?}", String::from_utf8_lossy(text));
    let out_of_range = |what: &str| {
        format!(
            "{:?} is out of range for {what}",
            String::from_utf8_lossy(text)
        )
    };
    Ok(match kind {
        PgKind::Bool => Value::Bool(parse_bool(text).ok_or_else(|| bad("boolean"))?),
        PgKind::Int2 => Value::Int(
            parse_int(text, i16::MIN.into(), i16::MAX.into()).ok_or_else(|| bad("smallint"))?,
        ),
        PgKind::Int4 => Value::Int(
            parse_int(text, i32::MIN.into(), i32::MAX.into()).ok_or_else(|| bad("integer"))?,
        ),
        PgKind::Int8 => {
            Value::Int(parse_int(text, i64::MIN, i64::MAX).ok_or_else(|| bad("bigint"))?)
        }
        PgKind::Float4 | PgKind::Float8 => {
            let single = *kind == PgKind::Float4;
            let name = if single { "real" } else { "double precision" };
            Value::Float(parse_float(text, single).map_err(|e| match e {
                Refused::Syntax => bad(name),
                Refused::OutOfRange => out_of_range(name),
            })?)
        }
        PgKind::Decimal { precision, scale } => {
            let name = format!("numeric({precision},{scale})");
            Value::Decimal(
                parse_decimal(text, *precision, *scale).map_err(|e| match e {
                    Refused::Syntax => format!("{} ({name})", bad("numeric")),
                    Refused::OutOfRange => out_of_range(&name),
                })?,
            )
        }
        PgKind::Text { max_chars } => {
            let s = checked_text(text)?;
            if let Some(max) = max_chars
                && s.len() > *max
                && let Some((end, _)) = s.char_indices().nth(*max)
            {
                // Postgres drops spaces past the limit, and refuses anything else there.
                if s.as_bytes()[end..].iter().all(|&b| b == b' ') {
                    return Ok(Value::Text(range.start..range.start + end));
                }
                let chars = s.chars().count();
                return Err(format!(
                    "value too long: {chars} characters, the column allows {max}"
                ));
            }
            Value::Text(range)
        }
        PgKind::Enum { labels } => {
            let s = checked_text(text)?;
            if !labels.iter().any(|l| l == s) {
                return Err(format!("{:?} is not one of the enum labels {labels:?}", s));
            }
            Value::Text(range)
        }
        PgKind::Json | PgKind::Jsonb => {
            serde_json::from_slice::<serde::de::IgnoredAny>(text)
                .map_err(|e| format!("{}: {e}", bad("JSON")))?;
            if *kind == PgKind::Jsonb
                && let Some(reason) = jsonb_refusal(text)
            {
                return Err(reason.into());
            }
            Value::Text(range)
        }
        PgKind::CastText | PgKind::Array(_) => {
            checked_text(text)?;
            Value::Text(range)
        }
        PgKind::Bytea => {
            let start = bytes.len();
            decode_bytea(text, bytes).ok_or_else(|| bad("bytea"))?;
            Value::Bytes(start..bytes.len())
        }
        PgKind::Date => Value::Date(parse_date(text).ok_or_else(|| bad("date"))?),
        PgKind::Time => Value::Micros(parse_time(text).ok_or_else(|| bad("time"))?),
        PgKind::Timestamp | PgKind::Timestamptz => {
            Value::Micros(parse_timestamp(text).ok_or_else(|| bad("timestamp"))?)
        }
        PgKind::Uuid => Value::Uuid(parse_uuid(text).ok_or_else(|| bad("uuid"))?),
    })
}

fn trim(text: &[u8]) -> &[u8] {
    text.trim_ascii()
}

/// UTF-8 without NUL (Postgres text cannot hold NUL).
fn checked_text(text: &[u8]) -> Result<&str, String> {
    let s = std::str::from_utf8(text)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    if memchr::memchr(0, text).is_some() {
        return Err("text contains a NUL byte".into());
    }
    Ok(s)
}

/// As Postgres's `boolin`: any prefix of true, false, yes, no; on, off (at least two
/// letters); 1, 0; in any case, with surrounding whitespace.
fn parse_bool(text: &[u8]) -> Option<bool> {
    let text = trim(text);
    let prefix_of = |word: &[u8], least: usize| {
        text.len() >= least
            && text.len() <= word.len()
            && word[..text.len()].eq_ignore_ascii_case(text)
    };
    match text.first()?.to_ascii_lowercase() {
        b't' if prefix_of(b"true", 1) => Some(true),
        b'y' if prefix_of(b"yes", 1) => Some(true),
        b'f' if prefix_of(b"false", 1) => Some(false),
        b'n' if prefix_of(b"no", 1) => Some(false),
        b'o' if prefix_of(b"on", 2) => Some(true),
        b'o' if prefix_of(b"off", 2) => Some(false),
        b'1' if text.len() == 1 => Some(true),
        b'0' if text.len() == 1 => Some(false),
        _ => None,
    }
}

/// Why Postgres's input function would refuse a number.
enum Refused {
    Syntax,
    OutOfRange,
}

/// As Postgres's `float4in` / `float8in` (strtod): a value that overflows the type, or a
/// non-zero one that underflows to zero, is out of range rather than infinity or zero.
fn parse_float(text: &[u8], single: bool) -> Result<f64, Refused> {
    let text = std::str::from_utf8(trim(text)).map_err(|_| Refused::Syntax)?;
    let value = if single {
        text.parse::<f32>().map(f64::from)
    } else {
        text.parse::<f64>()
    }
    .map_err(|_| Refused::Syntax)?;
    // It parsed, so it is ASCII.
    let unsigned = text.trim_start_matches(['+', '-']);
    let infinity = unsigned.len() >= 3 && unsigned[..3].eq_ignore_ascii_case("inf");
    let nonzero = text
        .bytes()
        .take_while(|b| !matches!(b, b'e' | b'E'))
        .any(|b| (b'1'..=b'9').contains(&b));
    if (value.is_infinite() && !infinity) || (value == 0.0 && nonzero) {
        return Err(Refused::OutOfRange);
    }
    Ok(value)
}

fn parse_int(text: &[u8], min: i64, max: i64) -> Option<i64> {
    let text = trim(text);
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i128 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        // Past every width already; stop before i128 could overflow (leading zeros are free).
        value = (value * 10 + i128::from(b - b'0')).min(i128::from(u64::MAX) + 1);
    }
    let value = if negative { -value } else { value };
    (i128::from(min)..=i128::from(max))
        .contains(&value)
        .then_some(value as i64)
}

/// The largest exponent and display scale Postgres's `numeric_in` accepts.
const NUMERIC_MAX_EXPONENT: i64 = i32::MAX as i64 / 2;
const NUMERIC_MAX_DISPLAY_SCALE: i64 = 0x3FFF;

/// `[-+]digits[.digits][e[-+]digits]` rounded half away from zero to `scale`, as Postgres's
/// `numeric_in` reads it (out of range where it says `value overflows numeric format` or
/// `numeric field overflow`).
fn parse_decimal(text: &[u8], precision: u8, scale: i8) -> Result<i128, Refused> {
    let text = std::str::from_utf8(trim(text)).map_err(|_| Refused::Syntax)?;
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => {
            let exponent = text[i + 1..].parse::<i64>().map_err(|_| Refused::Syntax)?;
            (&text[..i], exponent)
        }
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.as_bytes().first().ok_or(Refused::Syntax)? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let (int_part, frac_part) = (int_part.as_bytes(), frac_part.as_bytes());
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.iter().chain(frac_part).all(u8::is_ascii_digit)
    {
        return Err(Refused::Syntax);
    }
    if exponent.abs() >= NUMERIC_MAX_EXPONENT
        || frac_part.len() as i64 - exponent > NUMERIC_MAX_DISPLAY_SCALE
    {
        return Err(Refused::OutOfRange);
    }
    let digit = |i: usize| {
        let d = if i < int_part.len() {
            int_part[i]
        } else {
            frac_part[i - int_part.len()]
        };
        i128::from(d - b'0')
    };
    let len = int_part.len() + frac_part.len();
    // The value is digits * 10^(exponent - frac_len); we want it * 10^scale.
    let shift = exponent - frac_part.len() as i64 + i64::from(scale);
    let dropped = usize::try_from(-shift).unwrap_or(0);
    let keep = len.saturating_sub(dropped);
    let mut value: i128 = 0;
    for i in 0..keep {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(digit(i)))
            .ok_or(Refused::OutOfRange)?;
    }
    if shift > 0 && value != 0 {
        let factor = u32::try_from(shift)
            .ok()
            .and_then(|s| 10i128.checked_pow(s));
        value = factor
            .and_then(|f| value.checked_mul(f))
            .ok_or(Refused::OutOfRange)?;
    } else if dropped > 0 && dropped <= len && digit(keep) >= 5 {
        // The first dropped digit rounds; when every digit is dropped and more, it is a zero.
        value += 1;
    }
    if value >= 10i128.pow(u32::from(precision)) {
        return Err(Refused::OutOfRange);
    }
    Ok(if negative { -value } else { value })
}

/// As Postgres's `uuid_in`: 32 hex digits, a hyphen allowed after any group of four, the
/// whole optionally in braces; nothing else, not even whitespace.
fn parse_uuid(text: &[u8]) -> Option<[u8; 16]> {
    let (braced, mut rest) = match text.strip_prefix(b"{") {
        Some(inner) => (true, inner),
        None => (false, text),
    };
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        let [high, low, tail @ ..] = rest else {
            return None;
        };
        *byte = (hex_value(*high)? << 4) | hex_value(*low)?;
        rest = tail;
        if i % 2 == 1 && i < 15 && rest.first() == Some(&b'-') {
            rest = &rest[1..];
        }
    }
    if braced {
        rest = rest.strip_prefix(b"}")?;
    }
    rest.is_empty().then_some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Why jsonb refuses text that is valid JSON: a `\u0000` escape (it cannot become text), or
/// a number past what `numeric` holds.
fn jsonb_refusal(text: &[u8]) -> Option<&'static str> {
    let (mut i, mut in_string) = (0, false);
    while i < text.len() {
        let b = text[i];
        if in_string {
            match b {
                b'\\' if text[i + 1..].starts_with(b"u0000") => {
                    return Some("jsonb cannot hold \\u0000 (it cannot be converted to text)");
                }
                b'\\' => i += 1, // the escaped character is skipped with this one
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let length = text[i..]
                .iter()
                .position(|c| !matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                .unwrap_or(text.len() - i);
            if numeric_overflows(&text[i..i + length]) {
                return Some("a number in it is out of range for numeric, which jsonb stores");
            }
            i += length;
        } else {
            in_string = b == b'"';
            i += 1;
        }
    }
    None
}

/// Whether an unconstrained `numeric` overflows for this JSON number: Postgres's limits on
/// the exponent, the display scale and the digits before the point (131,072).
fn numeric_overflows(number: &[u8]) -> bool {
    let text = std::str::from_utf8(number).unwrap_or_default();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().unwrap_or(i64::MAX)),
        None => (text, 0),
    };
    let mantissa = mantissa.trim_start_matches('-');
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if exponent.abs() >= NUMERIC_MAX_EXPONENT
        || frac_part.len() as i64 - exponent > NUMERIC_MAX_DISPLAY_SCALE
    {
        return true;
    }
    let significant = int_part.trim_start_matches('0').len() as i64;
    let before_point = if significant > 0 {
        significant + exponent
    } else {
        match frac_part.bytes().position(|b| b != b'0') {
            Some(zeros) => exponent - zeros as i64,
            None => return false, // zero
        }
    };
    before_point > 131_072
}

/// As Postgres's `byteain`: `\x` and pairs of hex digits (whitespace between pairs), or the
/// escape format (`\\` a backslash, `\ooo` an octal byte up to `\377`).
fn decode_bytea(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if let Some(hex) = text.strip_prefix(b"\\x") {
        let mut rest = hex;
        while let [first, tail @ ..] = rest {
            if matches!(first, b' ' | b'\n' | b'\t' | b'\r') {
                rest = tail;
                continue;
            }
            let [second, tail @ ..] = tail else {
                return None;
            };
            out.push((hex_value(*first)? << 4) | hex_value(*second)?);
            rest = tail;
        }
        return Some(());
    }
    let mut i = 0;
    while i < text.len() {
        match &text[i..] {
            [b'\\', b'\\', ..] => {
                out.push(b'\\');
                i += 2;
            }
            [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ..] => {
                out.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
                i += 4;
            }
            [b'\\', ..] => return None,
            [byte, ..] => {
                out.push(*byte);
                i += 1;
            }
            [] => unreachable!("i < len"),
        }
    }
    Some(())
}

fn digits(text: &[u8], n: usize) -> Option<i64> {
    let part = text.get(..n)?;
    part.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// `YYYY-MM-DD` -> days since the epoch.
fn parse_date_prefix(text: &[u8]) -> Option<i64> {
    if text.len() < 10 || text[4] != b'-' || text[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        digits(text, 4)?,
        digits(&text[5..], 2)?,
        digits(&text[8..], 2)?,
    );
    // Year 0 does not exist (1 BC is followed by AD 1).
    if year == 0 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn parse_date(text: &[u8]) -> Option<i32> {
    let text = trim(text);
    (text.len() == 10).then_some(())?;
    i32::try_from(parse_date_prefix(text)?).ok()
}

/// `HH:MM[:SS[.ffffff]]` -> (microseconds since midnight, bytes used).
fn parse_clock(text: &[u8]) -> Option<(i64, usize)> {
    if text.len() < 5 || text[2] != b':' {
        return None;
    }
    let (hour, minute) = (digits(text, 2)?, digits(&text[3..], 2)?);
    let (mut second, mut used) = (0, 5);
    if text.get(5) == Some(&b':') {
        second = digits(&text[6..], 2)?;
        used = 8;
    }
    let mut micros = 0;
    if used == 8 && text.get(8) == Some(&b'.') {
        let digits = text[9..].iter().take_while(|b| b.is_ascii_digit()).count();
        // Postgres reads `.fff` with strtod and rounds fraction * 1e6 half to even.
        let fraction: f64 = std::str::from_utf8(&text[8..9 + digits])
            .ok()?
            .parse()
            .ok()?;
        micros = (fraction * 1_000_000.0).round_ties_even() as i64;
        used = 9 + digits;
    }
    if hour > 24
        || minute > 59
        || second > 60
        || (hour == 24 && (minute, second, micros) != (0, 0, 0))
    {
        return None;
    }
    Some((
        ((hour * 60 + minute) * 60 + second) * 1_000_000 + micros,
        used,
    ))
}

fn parse_time(text: &[u8]) -> Option<i64> {
    let text = trim(text);
    let (micros, used) = parse_clock(text)?;
    (used == text.len() && micros <= 86_400_000_000).then_some(micros)
}

/// ISO-8601 `YYYY-MM-DD[( |T)HH:MM[:SS[.f]]][Z|±HH[:MM]]` -> microseconds since the epoch in
/// UTC. A value without an offset is taken as UTC; one with an offset is converted to UTC.
pub fn parse_timestamp(text: &[u8]) -> Option<i64> {
    let text = trim(text);
    let days = parse_date_prefix(text)?;
    let mut micros = days * 86_400_000_000;
    if text.len() == 10 {
        return Some(micros);
    }
    if !matches!(text[10], b'T' | b't' | b' ') {
        return None;
    }
    let (clock, used) = parse_clock(&text[11..])?;
    micros += clock;
    let zone = text[11 + used..].trim_ascii_start();
    let offset_minutes = match zone {
        [] | b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let hours = digits(rest, 2)?;
            let minutes = match &rest[2..] {
                [] => 0,
                [b':', m @ ..] | m if m.len() == 2 => digits(m, 2)?,
                _ => return None,
            };
            // Postgres's limits on a displacement.
            if hours > 15 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            if *sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    Some(micros - offset_minutes * 60_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: &PgKind, text: &str) -> Result<Value, String> {
        parse(kind, text.as_bytes(), 0..text.len(), &mut Vec::new())
    }

    #[test]
    fn integers_respect_their_width() {
        assert_eq!(p(&PgKind::Int4, " 42 "), Ok(Value::Int(42)));
        assert_eq!(p(&PgKind::Int2, "-32768"), Ok(Value::Int(-32768)));
        assert!(
            p(&PgKind::Int2, "32768")
                .unwrap_err()
                .contains("invalid smallint")
        );
        assert!(p(&PgKind::Int4, "2147483648").is_err());
        assert!(p(&PgKind::Int8, "12a").is_err());
        assert_eq!(
            p(&PgKind::Int8, "-9223372036854775808"),
            Ok(Value::Int(i64::MIN))
        );
    }

    #[test]
    fn decimals_round_half_away_from_zero_and_check_precision() {
        let k = PgKind::Decimal {
            precision: 5,
            scale: 2,
        };
        assert_eq!(p(&k, "123.455"), Ok(Value::Decimal(12346)));
        assert_eq!(p(&k, "-0.005"), Ok(Value::Decimal(-1)));
        assert_eq!(p(&k, "1.5e2"), Ok(Value::Decimal(15000)));
        assert!(p(&k, "1000").is_err());
        assert!(p(&k, "1.2.3").is_err());
        assert!(p(&k, ".").is_err());
    }

    #[test]
    fn numbers_past_their_type_are_out_of_range_not_wrapped() {
        let k = PgKind::Decimal {
            precision: 10,
            scale: 2,
        };
        for text in ["9e2147483647", "1e-2147483648", "0e-16384", "1e8"] {
            assert!(p(&k, text).unwrap_err().contains("out of range"), "{text}");
        }
        assert_eq!(p(&k, ".5e-2"), Ok(Value::Decimal(1)));
        assert_eq!(p(&k, "4e-3"), Ok(Value::Decimal(0)));
        assert_eq!(
            p(
                &PgKind::Decimal {
                    precision: 10,
                    scale: 0
                },
                ".5e-1"
            ),
            Ok(Value::Decimal(0))
        );
        assert!(
            p(&PgKind::Float4, "1e39")
                .unwrap_err()
                .contains("out of range for real")
        );
        assert!(
            p(&PgKind::Float8, "1e-400")
                .unwrap_err()
                .contains("double precision")
        );
        assert_eq!(
            p(&PgKind::Float8, "-inf"),
            Ok(Value::Float(f64::NEG_INFINITY))
        );
        assert_eq!(
            p(&PgKind::Int4, "000000000000000000000042"),
            Ok(Value::Int(42))
        );
    }

    #[test]
    fn timestamps_with_z_offsets_or_nothing_are_utc() {
        let base = parse_timestamp(b"2021-11-07T02:48:42Z").unwrap();
        assert_eq!(base, 1_636_253_322_000_000);
        assert_eq!(parse_timestamp(b"2021-11-07 02:48:42"), Some(base));
        assert_eq!(parse_timestamp(b"2021-11-07T04:48:42+02:00"), Some(base));
        assert_eq!(parse_timestamp(b"2021-11-07T00:48:42-0200"), Some(base));
        assert_eq!(
            parse_timestamp(b"2021-11-07T02:48:42.5Z"),
            Some(base + 500_000)
        );
        assert_eq!(parse_timestamp(b"1969-12-31T23:59:59Z"), Some(-1_000_000));
        assert_eq!(
            parse_timestamp(b"9999-12-31"),
            Some(days_from_civil(9999, 12, 31) * 86_400_000_000)
        );
        for bad in [
            "2021-02-30T00:00:00Z",
            "2021-11-07T25:00:00",
            "yesterday",
            "2021-11-07T02:48:42X",
            "",
        ] {
            assert_eq!(parse_timestamp(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn text_length_counts_characters() {
        let k = PgKind::Text { max_chars: Some(3) };
        assert!(p(&k, "äöü").is_ok());
        assert!(p(&k, "abcd").unwrap_err().contains("4 characters"));
        assert!(p(&PgKind::Text { max_chars: None }, "a\0b").is_err());
    }

    #[test]
    fn other_kinds() {
        assert_eq!(p(&PgKind::Bool, "TRUE"), Ok(Value::Bool(true)));
        assert_eq!(p(&PgKind::Date, "1970-01-02"), Ok(Value::Date(1)));
        assert_eq!(
            p(&PgKind::Time, "00:00:01.25"),
            Ok(Value::Micros(1_250_000))
        );
        assert!(p(&PgKind::Json, "{\"a\": [1, {\"b\": null}]}").is_ok());
        assert!(p(&PgKind::Json, "{oops").is_err());
        assert!(p(&PgKind::Uuid, "not-a-uuid").is_err());
        let mut bytes = Vec::new();
        assert_eq!(
            parse(&PgKind::Bytea, b"\\x00ff", 0..6, &mut bytes),
            Ok(Value::Bytes(0..2))
        );
        assert_eq!(bytes, vec![0, 255]);
        let labels = vec!["happy".to_string()];
        assert!(p(&PgKind::Enum { labels }, "sad").is_err());
    }
}
