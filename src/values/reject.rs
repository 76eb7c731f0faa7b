//! A row that was not loaded, and why: one type for CSV lines and REST records alike.

/// Where a refused row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Position {
    /// The line of a file the row starts on (1-based).
    Line(u64),
    /// The index of a record in its request (0-based).
    Record(usize),
}

impl Position {
    /// The line or record number.
    pub fn number(self) -> u64 {
        match self {
            Position::Line(line) => line,
            Position::Record(index) => index as u64,
        }
    }
}

/// A refused row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub position: Position,
    /// The column (field) at fault; `None` when the row as a whole is.
    pub column: Option<String>,
    pub reason: String,
}

impl Reject {
    /// A refused REST record.
    pub fn record(index: usize, column: Option<String>, reason: impl Into<String>) -> Self {
        Reject {
            position: Position::Record(index),
            column,
            reason: reason.into(),
        }
    }

    /// The record's index in its request (for a line, the line number).
    pub fn index(&self) -> usize {
        self.position.number() as usize
    }
}
