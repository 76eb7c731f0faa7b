//! The `backup` and `restore` kinds.

use super::One;
use super::{Checker, RunContext, StepKind, to_json};
use crate::backup::{BackupJob, BackupOptions, RestoreJob, RestoreOptions};
use crate::error::Result;

impl StepKind for BackupOptions {
    type On = One;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.options(self);
    }

    async fn run(&self, on: &One, run: &RunContext<'_>) -> Result<serde_json::Value> {
        let job = BackupJob::new(run.url(&on.connection)?.clone(), self.clone());
        to_json(&job.with_progress(run.progress()).run().await?)
    }
}

impl StepKind for RestoreOptions {
    type On = One;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.options(self);
    }

    /// A database the restore creates cannot be reached before it runs.
    fn connects<'a>(&self, on: &'a One) -> Vec<&'a str> {
        if self.create_database {
            Vec::new()
        } else {
            vec![&on.connection]
        }
    }

    async fn run(&self, on: &One, run: &RunContext<'_>) -> Result<serde_json::Value> {
        let job = RestoreJob::new(run.url(&on.connection)?.clone(), self.clone());
        to_json(&job.with_progress(run.progress()).run().await?)
    }
}
