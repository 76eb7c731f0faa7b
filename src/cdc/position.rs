//! Where a Delta table stands in a slot's stream, kept in the Delta log itself: two Delta
//! application transactions (`txn` actions) written in the same commit as the rows, so the
//! rows and their position land together or not at all. A restarted stream skips what a
//! table's own record says it holds, whatever the slot says.

use deltalake::DeltaTable;
use deltalake::kernel::Transaction;

use super::pgoutput::lsn_text;
use crate::error::Result;
use crate::lake::transaction_version;

/// A point in the stream: every transaction whose commit record starts before `lsn` is
/// applied, and of the next transaction the first `within` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub lsn: u64,
    pub within: u64,
}

impl Position {
    pub fn at(lsn: u64) -> Position {
        Position { lsn, within: 0 }
    }

    /// The Delta `txn` actions recording this position for `slot`.
    pub fn actions(&self, slot: &str) -> [Transaction; 2] {
        [
            Transaction::new(app_id(slot), self.lsn as i64),
            Transaction::new(within_app_id(slot), self.within as i64),
        ]
    }

    /// The position `delta` records for `slot`, if it has one.
    pub async fn of(delta: &DeltaTable, slot: &str, label: &str) -> Result<Option<Position>> {
        let Some(lsn) = transaction_version(delta, &app_id(slot), label).await? else {
            return Ok(None);
        };
        let within = transaction_version(delta, &within_app_id(slot), label).await?;
        Ok(Some(Position {
            lsn: lsn as u64,
            within: within.unwrap_or(0) as u64,
        }))
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.within {
            0 => write!(f, "{}", lsn_text(self.lsn)),
            n => write!(f, "{} (+{n} changes)", lsn_text(self.lsn)),
        }
    }
}

fn app_id(slot: &str) -> String {
    format!("lakeshift-cdc:{slot}")
}

fn within_app_id(slot: &str) -> String {
    format!("lakeshift-cdc:{slot}:within")
}
