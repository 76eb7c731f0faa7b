//! Each value parser against Postgres's own input function. Texts drawn from patterns
//! (valid, edge and invalid forms, property-based with proptest) and hand-picked edges are
//! parsed by lakeshift and inserted by Postgres into a column of the type. Wherever
//! lakeshift accepts a text, Postgres must accept it too and hold the same value; where
//! lakeshift refuses one, the row is a reject with a reason (never a wrong value).

use lakeshift::postgres::types::PgKind;
use lakeshift::values::{Value, parse};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use crate::common::{TestDb, lakeshift, stdout_of};

/// Texts drawn per pattern.
const SAMPLES: usize = 400;

struct Case {
    type_sql: &'static str,
    kind: PgKind,
    /// Postgres's canonical text of the stored value `v`, compared with lakeshift's.
    canonical: &'static str,
    patterns: &'static [&'static str],
    /// Texts both must accept (a parser that refuses everything fails here).
    valid: &'static [&'static str],
    edges: &'static [&'static str],
}

const EPOCH_MICROS: &str = "(extract(epoch FROM v) * 1000000)::bigint::text";

fn cases() -> Vec<Case> {
    vec![
        Case {
            type_sql: "int2",
            kind: PgKind::Int2,
            canonical: "v::text",
            patterns: &["[ ]?[+-]{0,2}[0-9]{0,7}[ a.]?"],
            valid: &["32767", "-32768", " 7 ", "+0", "0000000000000000000000042"],
            edges: &["32768", "-32769", ""],
        },
        Case {
            type_sql: "int4",
            kind: PgKind::Int4,
            canonical: "v::text",
            patterns: &["[ ]?[+-]{0,2}[0-9]{0,12}[ a.]?"],
            valid: &["2147483647", "-2147483648", "00000000000000000000001"],
            edges: &["2147483648", "-2147483649", "+-1", "1e3", "1_000"],
        },
        Case {
            type_sql: "int8",
            kind: PgKind::Int8,
            canonical: "v::text",
            patterns: &["[ ]?[+-]?[0-9]{0,22}[ ]?"],
            valid: &["9223372036854775807", "-9223372036854775808"],
            edges: &[
                "9223372036854775808",
                "-9223372036854775809",
                "18446744073709551616",
                "99999999999999999999999999999999999999999",
            ],
        },
        Case {
            type_sql: "float4",
            kind: PgKind::Float4,
            canonical: "v::text",
            patterns: &[
                "[ ]?[+-]?[0-9]{0,4}(\\.[0-9]{0,12})?([eE][+-]?[0-9]{1,2})?[ ]?",
                "[+-]?(inf|Inf|INFINITY|infinity|Infinit|nan|NaN)",
            ],
            valid: &[
                "1.5",
                "-Infinity",
                "NaN",
                "1e-40",
                "3.4028235e38",
                ".5",
                "5.",
            ],
            edges: &[
                "1e39",
                "1e-46",
                "3.4028236e38",
                "0e-99",
                "-0",
                ".",
                "e5",
                "0x10",
            ],
        },
        Case {
            type_sql: "float8",
            kind: PgKind::Float8,
            canonical: "v::text",
            patterns: &[
                "[ ]?[+-]?[0-9]{0,4}(\\.[0-9]{0,25})?([eE][+-]?[0-9]{1,3})?[ ]?",
                "[+-]?(inf|infinity|nan|NAN|Infinityy)",
            ],
            valid: &["4e-320", "1.7976931348623157e308", "0.1", "-0"],
            edges: &["1e400", "1e-400", "1.7976931348623159e308", "0e-999"],
        },
        Case {
            type_sql: "numeric(10,2)",
            kind: PgKind::Decimal {
                precision: 10,
                scale: 2,
            },
            canonical: "v::text",
            patterns: &[
                "[ ]?[+-]?[0-9]{0,10}(\\.[0-9]{0,6})?([eE][+-]?[0-9]{1,11})?[ ]?",
                "[0-9]{1,3}\\.?[0-9]{0,3}[eE]-[0-9]{4,5}",
            ],
            valid: &[
                "99999999.994",
                "-0.005",
                "0.005",
                ".5e-1",
                "1e7",
                "0e-16383",
            ],
            edges: &[
                "9e2147483647",
                "1e-2147483648",
                "1e2147483648",
                "0e-16384",
                "1e-16383",
                "0.1e-16382",
                "0.00001e-16380",
                "0e1073741823",
                "99999999.995",
                "1e8",
                "NaN",
                "Infinity",
                "-inf",
                "1e",
                "e5",
            ],
        },
        Case {
            type_sql: "numeric(38,10)",
            kind: PgKind::Decimal {
                precision: 38,
                scale: 10,
            },
            canonical: "v::text",
            patterns: &["[+-]?[0-9]{0,30}(\\.[0-9]{0,14})?([eE][+-]?[0-9]{1,2})?"],
            valid: &["9999999999999999999999999999.9999999999"],
            edges: &["10000000000000000000000000000", "1e28", "1e27"],
        },
        Case {
            type_sql: "varchar(5)",
            kind: PgKind::Text { max_chars: Some(5) },
            canonical: "v::text",
            patterns: &["[a-zé ]{0,8}"],
            valid: &["abcde", "ab   ", "abcde   ", "ééééé"],
            edges: &["abcdef", "abcde  x"],
        },
        Case {
            type_sql: "bool",
            kind: PgKind::Bool,
            canonical: "v::text",
            patterns: &[
                "[ ]?(t|tr|tru|true|truex|y|ye|yes|o|on|of|off|offf|f|fa|fal|fals|false|n|no|non|1|0|10|2|TRUE|Yes|oN|OF)[ ]?",
            ],
            valid: &["t", "TRUE", "of", " yes ", "0", "fal"],
            edges: &["o", "", "true false"],
        },
        Case {
            type_sql: "date",
            kind: PgKind::Date,
            canonical: "(v - date '1970-01-01')::text",
            patterns: &[
                "[0-9]{4}-[01][0-9]-[0-3][0-9]",
                "[ ]?[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}[ ]?",
            ],
            valid: &["0001-01-01", "9999-12-31", "2000-02-29", " 2020-01-01 "],
            edges: &["0000-01-01", "2021-02-29", "1900-02-29", "2020-13-01"],
        },
        Case {
            type_sql: "time",
            kind: PgKind::Time,
            canonical: EPOCH_MICROS,
            patterns: &["[0-2][0-9]:[0-6][0-9](:[0-6][0-9](\\.[0-9]{1,9})?)?"],
            valid: &["24:00:00", "23:59:60", "00:00:00.0000015", "12:00"],
            edges: &[
                "24:00:00.000001",
                "23:59:60.5",
                "23:59:59.9999995",
                "00:00:00.0000005",
                "00:00:00.0000025",
                "12:00:00.1234565",
                "12:00:00.",
            ],
        },
        Case {
            type_sql: "timestamptz",
            kind: PgKind::Timestamptz,
            canonical: EPOCH_MICROS,
            patterns: &[
                "[0-9]{4}-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-5][0-9](:[0-6][0-9](\\.[0-9]{1,8})?)?( ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?))?",
                "[0-9]{4}-[01][0-9]-[0-3][0-9]",
            ],
            valid: &[
                "2020-01-01 00:00+15:59",
                "2020-01-01T12:00:00.5+02",
                "2020-01-01 24:00",
            ],
            edges: &[
                "2020-01-01 00:00+16:00",
                "2020-01-01 00:00+99:99",
                "2020-01-01 00:00+05:60",
                "0001-01-01 00:00+01",
                "0000-12-31 23:00Z",
            ],
        },
        Case {
            type_sql: "timestamp",
            kind: PgKind::Timestamp,
            canonical: EPOCH_MICROS,
            // Only offsets of zero: lakeshift converts an offset to UTC where Postgres
            // ignores it for `timestamp` (see the README).
            patterns: &[
                "[0-9]{4}-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-5][0-9](:[0-6][0-9](\\.[0-9]{1,8})?)?( ?(Z|z|\\+00|-00:00))?",
            ],
            valid: &["2021-11-07T02:48:42Z", "2020-01-01 23:59:60"],
            edges: &["2020-01-01 24:00:01"],
        },
        Case {
            type_sql: "uuid",
            kind: PgKind::Uuid,
            canonical: "v::text",
            patterns: &[
                "\\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\\}?",
                "[0-9a-f\\-{}]{30,40}",
            ],
            valid: &[
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}",
                "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            ],
            edges: &[
                "urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            ],
        },
        Case {
            type_sql: "bytea",
            kind: PgKind::Bytea,
            canonical: "encode(v, 'hex')",
            patterns: &["\\\\x[0-9a-fA-F +\\-]{0,9}", "[a-z\\\\0-9]{0,10}"],
            valid: &["\\x00ff", "\\x 0f ff", "\\377", "a\\\\b", "plain"],
            edges: &["\\x+f", "\\X00", "\\400", "\\+77", "\\", "\\x0", "\\x0 f"],
        },
        Case {
            type_sql: "json",
            kind: PgKind::Json,
            canonical: "v::text",
            patterns: &[
                "\\{(\"[a-z\\\\u0]{0,6}\":[0-9.eE+\\-]{1,6})?\\}",
                "\\[[0-9, ]{0,8}\\]",
            ],
            valid: &["{\"a\": [1, {\"b\": null}]}", "\"\\u0000\"", "1e400"],
            edges: &["{oops", "[1,]", "'a'"],
        },
        Case {
            type_sql: "jsonb",
            kind: PgKind::Jsonb,
            // jsonb normalises its text: only the verdicts are compared.
            canonical: "'accepted'",
            patterns: &[
                "\\{(\"[a-z\\\\u0]{0,6}\":[0-9.eE+\\-]{1,8})?\\}",
                "\\[-?[0-9]\\.?[0-9]?[eE][+-]?[0-9]{5,10}\\]",
            ],
            valid: &["{\"a\": 1}", "1e400", "\"\\\\u0000\""],
            edges: &[
                "{\"a\":\"\\u0000\"}",
                "[1e1073741823]",
                "1e131072",
                "1e131071",
                "0.1e-16383",
                "1e-16383",
            ],
        },
    ]
}

/// `count` texts drawn from each pattern, the same ones on every run.
fn sample(patterns: &[&str], count: usize) -> Vec<String> {
    let mut runner = TestRunner::deterministic();
    let mut texts = Vec::new();
    for pattern in patterns {
        let strategy = proptest::string::string_regex(pattern).unwrap();
        for _ in 0..count {
            texts.push(strategy.new_tree(&mut runner).unwrap().current());
        }
    }
    texts
}

/// lakeshift's verdict on `text`, as the text Postgres's `canonical` gives for the value.
fn ours(case: &Case, text: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    let value = parse(&case.kind, text.as_bytes(), 0..text.len(), &mut bytes)?;
    Ok(match (&case.kind, value) {
        (PgKind::Jsonb, _) => "accepted".into(),
        (_, Value::Int(i)) => i.to_string(),
        (PgKind::Float4, Value::Float(f)) => format!("{:?}", f as f32),
        (_, Value::Float(f)) => format!("{f:?}"),
        (PgKind::Decimal { scale, .. }, Value::Decimal(d)) => {
            let unit = 10i128.pow(*scale as u32);
            let sign = if d < 0 { "-" } else { "" };
            let (whole, fraction) = (d.abs() / unit, d.abs() % unit);
            format!("{sign}{whole}.{fraction:0width$}", width = *scale as usize)
        }
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Date(d)) => d.to_string(),
        (_, Value::Micros(m)) => m.to_string(),
        (_, Value::Uuid(u)) => uuid::Uuid::from_bytes(u).to_string(),
        (_, Value::Bytes(r)) => bytes[r].iter().map(|b| format!("{b:02x}")).collect(),
        (_, Value::Text(r)) => text[r].to_string(),
        (kind, value) => panic!("{kind:?} parsed as {value:?}"),
    })
}

/// Whether lakeshift's and Postgres's texts name the same value.
fn same(case: &Case, ours: &str, theirs: &str) -> bool {
    match case.kind {
        // Postgres prints the shortest text that reads back: compare the numbers.
        PgKind::Float4 => theirs.parse::<f32>().ok().map(|f| format!("{f:?}")) == Some(ours.into()),
        PgKind::Float8 => theirs.parse::<f64>().ok().map(|f| format!("{f:?}")) == Some(ours.into()),
        _ => ours == theirs,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_value_lakeshift_accepts_postgres_holds_the_same() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "SET TimeZone = 'UTC';
             CREATE FUNCTION probe(value text, tbl text, canonical text) RETURNS text
             LANGUAGE plpgsql AS $$
             DECLARE out text;
             BEGIN
                 EXECUTE format('INSERT INTO %s VALUES (%L) RETURNING %s', tbl, value, canonical)
                     INTO out;
                 RETURN out;
             EXCEPTION WHEN others THEN RETURN NULL;
             END $$;",
        )
        .await
        .unwrap();
    let mut wrong = Vec::new();
    let mut counts = Vec::new();
    for (n, case) in cases().iter().enumerate() {
        let table = format!("probe_{n}");
        client
            .batch_execute(&format!("CREATE TABLE {table} (v {})", case.type_sql))
            .await
            .unwrap();
        let mut texts = sample(case.patterns, SAMPLES);
        texts.extend(case.valid.iter().chain(case.edges).map(|t| t.to_string()));
        let rows = client
            .query(
                "SELECT probe(t, $2, $3) FROM unnest($1::text[]) WITH ORDINALITY u(t, i) ORDER BY i",
                &[&texts, &table, &case.canonical],
            )
            .await
            .unwrap();
        let (mut both, mut refused_by_us) = (0, 0);
        for (text, row) in texts.iter().zip(rows) {
            let theirs: Option<String> = row.get(0);
            match (ours(case, text), theirs) {
                (Ok(o), Some(t)) if same(case, &o, &t) => both += 1,
                (Err(_), Some(_)) => refused_by_us += 1,
                (Err(_), None) => {}
                (o, t) => wrong.push(format!(
                    "{} {text:?}: lakeshift {o:?}, postgres {t:?}",
                    case.type_sql
                )),
            }
            if case.valid.contains(&text.as_str()) && ours(case, text).is_err() {
                wrong.push(format!(
                    "{} {text:?} must load: {:?}",
                    case.type_sql,
                    ours(case, text)
                ));
            }
        }
        counts.push(format!(
            "{}: {both} equal, {refused_by_us} refused by lakeshift only",
            case.type_sql
        ));
        assert!(both > 0, "{}: nothing accepted by both", case.type_sql);
    }
    assert!(
        wrong.is_empty(),
        "{}\n({})",
        wrong.join("\n"),
        counts.join("; ")
    );
}

/// The read side: values of every kind read by binary COPY (numerics from their digits,
/// dates and timestamps from Postgres's epoch, arrays with nulls) and written back hold
/// the same text. Random numerics of every magnitude a column allows, and the edges.
#[tokio::test(flavor = "multi_thread")]
async fn every_value_postgres_holds_reads_back_the_same() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    source
        .execute(
            "CREATE TABLE edge (
                 id int PRIMARY KEY, a numeric(38,10), b numeric(10,2), c numeric(5,5),
                 d numeric(18,0), e numeric(38,0), f numeric(20,4),
                 ts timestamp, tz timestamptz, day date, t time, u uuid, j jsonb, js json,
                 yes bool, f4 float4, f8 float8, ints int4[], texts text[], bytes bytea,
                 small int2, big int8, fixed char(4), name_ name);
             INSERT INTO edge (id, a, b, c, d, e, f) VALUES
                 (1, 0, 0, 0, 0, 0, 0),
                 (2, 9999999999999999999999999999.9999999999, 99999999.99, 0.99999,
                     999999999999999999, 99999999999999999999999999999999999999, 9999999999999999.9999),
                 (3, -9999999999999999999999999999.9999999999, -99999999.99, -0.99999,
                     -999999999999999999, -99999999999999999999999999999999999999, -0.0001),
                 (4, 0.0000000001, 0.01, 0.00001, 1, 1, 10000),
                 (5, -0.0000000001, -0.01, -0.00001, -1, 100000000, 0.1);
             INSERT INTO edge (id, ts, tz, day, t, u, j, js, yes, f4, f8, ints, texts, bytes, small, big, fixed, name_)
             VALUES
                 (6, '4713-01-01 00:00:00 BC', '4713-01-02 00:00:00+00 BC', '4713-01-01 BC', '00:00',
                  '00000000-0000-0000-0000-000000000000', '{\"a\": [1, null, \"é\"]}', '{ \"raw\" :1 }', true,
                  'NaN', '-Infinity', '{1,NULL,-2147483648}', '{\"a,b\",NULL,\"\\\"q\\\"\",\"\"}', '\\x00ff',
                  -32768, -9223372036854775808, 'ab', 'n'),
                 (7, '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00+00', '2000-01-01', '23:59:59.999999',
                  'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', 'null', false,
                  '3.4e38', '1e-320', '{}', '{}', '', 32767, 9223372036854775807, 'abcd', repeat('x', 63)),
                 (8, '262000-06-30 12:00:00', '1970-01-01 00:00:00+00', '262000-01-01', '12:00',
                  gen_random_uuid(), '\"text\"', '1', NULL, '-0', 'Infinity', '{NULL}', '{NULL}', NULL,
                  0, 0, NULL, '');
             -- Random values of every magnitude each column allows.
             INSERT INTO edge (id, a, b, c, d, e, f, ts, tz, day, f8)
             SELECT 100 + i,
                 round(((random() - 0.5) * 2 * 10 ^ (random() * 27))::numeric, 10),
                 round(((random() - 0.5) * 2 * 10 ^ (random() * 7))::numeric, 2),
                 round(((random() - 0.5) * 2 * 10 ^ (-random() * 5))::numeric, 5),
                 round(((random() - 0.5) * 2 * 10 ^ (random() * 17))::numeric, 0),
                 round(((random() - 0.5) * 2 * 10 ^ (random() * 37))::numeric, 0),
                 round(((random() - 0.5) * 2 * 10 ^ (random() * 15))::numeric, 4),
                 timestamp '2000-01-01' + (random() - 0.5) * interval '2000000 days',
                 timestamptz '2000-01-01 00:00:00+00' + (random() - 0.5) * interval '100000 days',
                 date '2000-01-01' + ((random() - 0.5) * 2000000)::int,
                 (random() - 0.5) * 10 ^ (random() * 600 - 300)
             FROM generate_series(1, 5000) i;",
        )
        .await;
    stdout_of(&lakeshift(
        &source.url,
        &["schema", "copy", "--target", target.url.expose()],
    ));
    stdout_of(&lakeshift(
        &source.url,
        &["copy", "--target", target.url.expose()],
    ));
    let rows = "SELECT count(*) || ':' || md5(string_agg(e::text, '|' ORDER BY id)) FROM edge e";
    let expected = source.value(rows).await;
    assert!(expected.starts_with("5008:"), "{expected}");
    assert_eq!(target.value(rows).await, expected);
}
