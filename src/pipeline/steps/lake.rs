//! The `lake_sync` and `cdc` kinds.

use super::One;
use super::{Checker, RunContext, StepKind, to_json};
use crate::cdc::{CdcJob, CdcOptions};
use crate::error::Result;
use crate::lake::{SyncJob, SyncOptions};

impl StepKind for SyncOptions {
    type On = One;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.options(self);
    }

    async fn run(&self, on: &One, run: &RunContext<'_>) -> Result<serde_json::Value> {
        let job = SyncJob::new(run.url(&on.connection)?.clone(), self.clone());
        to_json(&job.with_progress(run.progress()).run().await?)
    }
}

impl StepKind for CdcOptions {
    type On = One;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.options(self);
    }

    async fn run(&self, on: &One, run: &RunContext<'_>) -> Result<serde_json::Value> {
        let job = CdcJob::new(run.url(&on.connection)?.clone(), self.clone());
        to_json(&job.with_progress(run.progress()).run().await?)
    }
}
