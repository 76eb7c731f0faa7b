//! The options of lakeshift's operations, as one serde type per operation (`CopyOptions`,
//! `BackupOptions`, `RestoreOptions`, `SyncOptions`, `ImportOptions`, `SchemaCopyOptions`),
//! each beside the operation it configures. A pipeline step is its connections plus one of
//! them; each CLI command converts its flags into one. This module holds what they share:
//! the way a value is found wrong ([`Problem`], [`Check`]).
//!
//! Options are named by their YAML field (`incremental_column`, `s3.endpoint`); a front end
//! shows that name its own way: the CLI as `--incremental-column`, a pipeline as
//! `steps[2].incremental_column`. Library messages never spell a CLI flag.

use std::fmt;

/// An option whose values are a fixed set of names, spelled as in YAML (`merge`,
/// `fail-if-exists`); the CLI offers exactly these.
pub trait Choice: serde::de::DeserializeOwned + Copy + Send + Sync + 'static {
    const NAMES: &'static [&'static str];
    /// Other words accepted for a name: `(alias, name)`.
    const ALIASES: &'static [(&'static str, &'static str)] = &[];

    /// The value named `name` (or an alias of it), if it is one.
    fn from_name(name: &str) -> Option<Self> {
        let de = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(name);
        Self::deserialize(de).ok()
    }
}

/// One thing wrong with an option's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The option's name as in YAML (`max_file_size`, `csv.delimiter`).
    pub option: String,
    pub message: String,
}

impl Problem {
    pub fn new(option: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            option: option.into(),
            message: message.into(),
        }
    }

    /// The option as a command-line flag (see [`flag`]).
    pub fn flag(&self) -> String {
        flag(&self.option)
    }
}

/// An option's command-line flag: `max_rejects` -> `--max-rejects`, `s3.endpoint` ->
/// `--s3-endpoint`, `csv.delimiter` -> `--delimiter` (CSV settings are top-level flags).
pub fn flag(option: &str) -> String {
    let name = option.strip_prefix("csv.").unwrap_or(option);
    format!("--{}", name.replace(['_', '.'], "-"))
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.option, self.message)
    }
}

/// The problems of a set of options, all of them (not just the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Options that can be checked without touching a database or a file.
pub trait Check {
    /// Push every problem of `self` onto `problems`.
    fn check(&self, problems: &mut Vec<Problem>);

    /// `Ok` when [`Check::check`] finds nothing; otherwise every problem found.
    fn problems(&self) -> Result<(), Problems> {
        let mut problems = Vec::new();
        self.check(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(problems))
        }
    }
}

/// A serde field parser for one-byte CSV settings (`delimiter: ";"`, `quote: "'"`): one ASCII
/// character other than a newline; `\t` and `tab` mean a tab.
pub fn ascii_char<'de, D: serde::Deserializer<'de>>(de: D) -> Result<u8, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(de)?;
    parse_ascii_char(&text).map_err(serde::de::Error::custom)
}

/// `raw` as one ASCII byte (see [`ascii_char`]).
pub fn parse_ascii_char(raw: &str) -> Result<u8, String> {
    let unescaped = match raw {
        "\\t" | "tab" => "\t",
        other => other,
    };
    match unescaped.as_bytes() {
        [b] if b.is_ascii() && *b != b'\n' && *b != b'\r' => Ok(*b),
        _ => Err(format!(
            "{raw:?} must be exactly one ASCII character other than a newline (\\t for a tab)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_flags() {
        assert_eq!(
            Problem::new("incremental_column", "x").flag(),
            "--incremental-column"
        );
        assert_eq!(Problem::new("s3.endpoint", "x").flag(), "--s3-endpoint");
        assert_eq!(Problem::new("csv.delimiter", "x").flag(), "--delimiter");
    }

    #[test]
    fn ascii_settings() {
        assert_eq!(parse_ascii_char(";"), Ok(b';'));
        assert_eq!(parse_ascii_char("\\t"), Ok(b'\t'));
        assert!(parse_ascii_char("ab").is_err());
        assert!(parse_ascii_char("\n").is_err());
        assert!(parse_ascii_char("é").is_err());
    }
}
