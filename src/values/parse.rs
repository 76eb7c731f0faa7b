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
        PgKind::Float4 | PgKind::Float8 => Value::Float(
            std::str::from_utf8(text)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| bad("number"))?,
        ),
        PgKind::Decimal { precision, scale } => Value::Decimal(
            parse_decimal(text, *precision, *scale)
                .ok_or_else(|| format!("{} (numeric({precision},{scale}))", bad("numeric")))?,
        ),
        PgKind::Text { max_chars } => {
            let s = checked_text(text)?;
            if let Some(max) = max_chars
                && s.len() > *max
            {
                let chars = s.chars().count();
                if chars > *max {
                    return Err(format!(
                        "value too long: {chars} characters, the column allows {max}"
                    ));
                }
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
        PgKind::Uuid => Value::Uuid(
            uuid::Uuid::try_parse_ascii(trim(text))
                .map_err(|_| bad("uuid"))?
                .into_bytes(),
        ),
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

fn parse_bool(text: &[u8]) -> Option<bool> {
    match trim(text).to_ascii_lowercase().as_slice() {
        b"t" | b"true" | b"y" | b"yes" | b"on" | b"1" => Some(true),
        b"f" | b"false" | b"n" | b"no" | b"off" | b"0" => Some(false),
        _ => None,
    }
}

fn parse_int(text: &[u8], min: i64, max: i64) -> Option<i64> {
    let text = trim(text);
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut value: i128 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i128::from(b - b'0');
    }
    let value = if negative { -value } else { value };
    (i128::from(min)..=i128::from(max))
        .contains(&value)
        .then_some(value as i64)
}

/// `[-+]digits[.digits][e[-+]digits]` rounded half away from zero to `scale`, as Postgres does.
fn parse_decimal(text: &[u8], precision: u8, scale: i8) -> Option<i128> {
    let text = std::str::from_utf8(trim(text)).ok()?;
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // The value is digits * 10^(exponent - frac_len); we want it * 10^scale.
    let shift = exponent - frac_part.len() as i32 + i32::from(scale);
    let mut value: i128 = 0;
    let keep = if shift >= 0 {
        digits.len()
    } else {
        digits.len().saturating_sub((-shift) as usize)
    };
    for &d in &digits[..keep] {
        value = value.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
    }
    if shift > 0 {
        value = value.checked_mul(10i128.checked_pow(shift as u32)?)?;
    } else if keep < digits.len() && digits[keep] >= b'5' {
        value += 1;
    }
    if value >= 10i128.pow(u32::from(precision)) {
        return None;
    }
    Some(if negative { -value } else { value })
}

fn decode_bytea(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if let Some(hex) = text.strip_prefix(b"\\x") {
        if hex.len() % 2 != 0 {
            return None;
        }
        for pair in hex.chunks(2) {
            let s = std::str::from_utf8(pair).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
        }
        return Some(());
    }
    // The escape format: `\\` is a backslash, `\ooo` an octal byte, anything else itself.
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
        } else if text.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = std::str::from_utf8(text.get(i + 1..i + 4)?).ok()?;
            out.push(u8::from_str_radix(octal, 8).ok()?);
            i += 4;
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
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
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
        let frac: Vec<u8> = text[9..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        if frac.is_empty() {
            return None;
        }
        used = 9 + frac.len();
        for (i, d) in frac
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(6)
            .enumerate()
        {
            micros += i64::from(d - b'0') * 10i64.pow(5 - i as u32);
        }
        if frac.len() > 6 && frac[6] >= b'5' {
            micros += 1;
        }
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
    (used == text.len()).then_some(micros)
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
