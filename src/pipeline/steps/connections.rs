//! The connections a step kind names, by their YAML keys (`connection`, `source` and
//! `target`, `left` and `right`, or none).

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The connections a step kind names, by their YAML keys.
pub trait Connections: DeserializeOwned + std::fmt::Debug + Clone {
    const KEYS: &'static [&'static str];

    /// `(key, connection name)` pairs.
    fn names(&self) -> Vec<(&'static str, &str)>;
}

/// `connection: NAME`.
#[derive(Debug, Clone, Deserialize)]
pub struct One {
    pub connection: String,
}

/// `source: NAME` and `target: NAME`.
#[derive(Debug, Clone, Deserialize)]
pub struct SourceTarget {
    pub source: String,
    pub target: String,
}

/// `left: NAME` and `right: NAME`.
#[derive(Debug, Clone, Deserialize)]
pub struct LeftRight {
    pub left: String,
    pub right: String,
}

/// A step that reaches no database by itself.
#[derive(Debug, Clone, Deserialize)]
pub struct NoConnection {}

impl Connections for One {
    const KEYS: &'static [&'static str] = &["connection"];
    fn names(&self) -> Vec<(&'static str, &str)> {
        vec![("connection", &self.connection)]
    }
}

impl Connections for SourceTarget {
    const KEYS: &'static [&'static str] = &["source", "target"];
    fn names(&self) -> Vec<(&'static str, &str)> {
        vec![("source", &self.source), ("target", &self.target)]
    }
}

impl Connections for LeftRight {
    const KEYS: &'static [&'static str] = &["left", "right"];
    fn names(&self) -> Vec<(&'static str, &str)> {
        vec![("left", &self.left), ("right", &self.right)]
    }
}

impl Connections for NoConnection {
    const KEYS: &'static [&'static str] = &[];
    fn names(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }
}
