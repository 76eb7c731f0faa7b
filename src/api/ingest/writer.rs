//! One writer task per table: it takes the checked requests waiting for the table and
//! writes them in one transaction (a group commit). Inside it the table is locked (against
//! other writers while ids are drawn from its current largest id), its shape is compared
//! with the one the records were checked against, keys are checked, rows go in by binary
//! COPY and rejects are logged; each request then gets its own outcome. Requests queue in
//! arrival order, so ids follow the order requests and records came in. Waits for locks
//! are bounded, and a panic costs the requests being written, never the writer.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Int16Array, Int32Array, Int64Array, RecordBatch,
};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field as ArrowField, Schema};
use serde_json::Value as Json;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Transaction;

use super::idempotency::{self, Keyed};
use super::keys::{self, RowRef};
use super::records::{Prepared, Reject};
use super::rejects::{self, RequestContext};
use super::target::Target;
use super::{Connections, shape, trouble_of};
use crate::error::{Error, Result};
use crate::postgres::connect::quote_ident;
use crate::postgres::server_rejects::TAG_COLUMN;
use crate::postgres::types::PgKind;
use crate::postgres::write::{LoadColumns, LoadMode, advance_sequences, copy_batches};

/// Rows one transaction takes from the queue at most (requests are never split).
const MAX_ROWS_PER_TRANSACTION: usize = 32_000;
/// Requests waiting per table before senders wait too.
const QUEUE_DEPTH: usize = 256;

/// What happened to one request's records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `schema.table` written to.
    pub table: String,
    pub inserted: usize,
    /// The id of each inserted record, in record order (empty without an integer key).
    pub ids: Vec<i64>,
    pub rejected: Vec<Reject>,
    /// The answer stored for an earlier request with the same `Idempotency-Key`: nothing
    /// was written now.
    pub replayed: bool,
}

/// What one job of a group is answered.
type Answer = std::result::Result<Outcome, WriteFailure>;

/// How a group's jobs are answered, by index: written now, answered from before, or like
/// an earlier job of the group with the same key.
struct KeyPlan {
    fresh: Vec<usize>,
    earlier: Vec<Option<Answer>>,
    repeats: Vec<(usize, usize)>,
}

/// Where answers for `Idempotency-Key`s are kept, and for how long.
#[derive(Debug, Clone)]
pub struct AnswerStore {
    pub table: String,
    pub ttl: Duration,
}

/// What every writer of a service shares.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// The reject log, quoted and qualified.
    pub rejects_table: String,
    pub answers: AnswerStore,
    pub timeouts: Timeouts,
}

/// How long a write may wait.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For the whole request; also the statement timeout of the writing transaction.
    pub request: Duration,
    /// For a lock another session holds (`lock_timeout`).
    pub lock: Duration,
}

/// Why a request was not written.
#[derive(Debug)]
pub enum SubmitError {
    /// It waited longer than the request timeout; nothing of it was written.
    TimedOut,
    /// The table's shape is not the one its records were checked against: check them
    /// again against a fresh target (nothing of the request was written).
    ShapeChanged,
    /// A concurrent request stored an answer under the same key first: submit again
    /// (nothing was written), which finds that answer.
    Again,
    /// The `Idempotency-Key` came earlier with another request (nothing was written).
    KeyReused,
    /// The writer failed (nothing of the request was written).
    Failed(Error),
}

/// Why a write did not commit, or a job was not written (the last two).
enum WriteFailure {
    ShapeChanged,
    Again,
    Failed(Error),
    KeyReused,
}

impl WriteFailure {
    /// The same failure for another job of the group (errors are not `Clone`).
    fn copy(&self) -> Self {
        match self {
            WriteFailure::ShapeChanged => WriteFailure::ShapeChanged,
            WriteFailure::Again => WriteFailure::Again,
            WriteFailure::KeyReused => WriteFailure::KeyReused,
            WriteFailure::Failed(e) => WriteFailure::Failed(copy_of(e)),
        }
    }
}

impl From<Error> for WriteFailure {
    fn from(error: Error) -> Self {
        WriteFailure::Failed(error)
    }
}

impl From<arrow::error::ArrowError> for WriteFailure {
    fn from(error: arrow::error::ArrowError) -> Self {
        WriteFailure::Failed(error.into())
    }
}

/// Who handles a queued request: pending, taken by the writer, or given up by the request.
struct Claim(AtomicU8);

const PENDING: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

impl Claim {
    fn settle(&self, to: u8) -> bool {
        self.0
            .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

struct Job {
    prepared: Prepared,
    records: Arc<Vec<Json>>,
    context: RequestContext,
    keyed: Option<Keyed>,
    claim: Arc<Claim>,
    reply: oneshot::Sender<std::result::Result<Outcome, WriteFailure>>,
}

/// The queue of one table's writer.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    pub target: Arc<Target>,
    /// The catalog read `target` was built from.
    pub generation: u64,
}

impl Writer {
    /// Start the writer task of `target`, whose table had the hash `shape` (see
    /// [`shape`]) in catalog read `generation`.
    pub fn spawn(
        connections: Connections,
        target: Arc<Target>,
        shape: String,
        generation: u64,
        settings: WriterSettings,
    ) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        let task = WriterTask {
            connections,
            target: Arc::clone(&target),
            shape,
            settings,
        };
        tokio::spawn(task.run(jobs));
        Writer {
            queue,
            target,
            generation,
        }
    }

    /// The task is gone (it never should: then a new writer takes its place).
    pub fn stopped(&self) -> bool {
        self.queue.is_closed()
    }

    /// Queue a request and wait for its outcome. Past `deadline` a request the writer has
    /// not started on is withdrawn (and reported as not written); one it has started on is
    /// waited for, so the answer is always true.
    pub async fn submit(
        &self,
        prepared: Prepared,
        records: Arc<Vec<Json>>,
        context: RequestContext,
        keyed: Option<Keyed>,
        deadline: tokio::time::Instant,
    ) -> std::result::Result<Outcome, SubmitError> {
        let claim = Arc::new(Claim(AtomicU8::new(PENDING)));
        let (reply, mut outcome) = oneshot::channel();
        let job = Job {
            prepared,
            records,
            context,
            keyed,
            claim: Arc::clone(&claim),
            reply,
        };
        match tokio::time::timeout_at(deadline, self.queue.send(job)).await {
            Err(_) => return Err(SubmitError::TimedOut),
            Ok(Err(_)) => {
                return Err(SubmitError::Failed(Error::Internal {
                    task: "the ingest writer".into(),
                    reason: "it stopped".into(),
                }));
            }
            Ok(Ok(())) => {}
        }
        let received = match tokio::time::timeout_at(deadline, &mut outcome).await {
            Ok(received) => received,
            Err(_) if claim.settle(ABANDONED) => return Err(SubmitError::TimedOut),
            Err(_) => outcome.await,
        };
        match received {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(WriteFailure::ShapeChanged)) => Err(SubmitError::ShapeChanged),
            Ok(Err(WriteFailure::Again)) => Err(SubmitError::Again),
            Ok(Err(WriteFailure::KeyReused)) => Err(SubmitError::KeyReused),
            Ok(Err(WriteFailure::Failed(e))) => Err(SubmitError::Failed(e)),
            Err(_) => Err(SubmitError::Failed(Error::Internal {
                task: "the ingest writer".into(),
                reason:
                    "it failed while writing this request (see the log); nothing of it was written"
                        .into(),
            })),
        }
    }
}

/// Tables whose next write panics: how tests check that a writer outlives a panic.
static PANIC_ON_NEXT_WRITE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Make the next write into `table` (`schema.table`) panic. For tests only.
#[doc(hidden)]
pub fn panic_on_next_write(table: &str) {
    PANIC_ON_NEXT_WRITE
        .lock()
        .expect("panic plan lock")
        .push(table.to_string());
}

fn planned_panic(table: &str) -> bool {
    let mut planned = PANIC_ON_NEXT_WRITE.lock().expect("panic plan lock");
    let found = planned.iter().position(|t| t == table);
    found.map(|i| planned.remove(i)).is_some()
}

struct WriterTask {
    connections: Connections,
    target: Arc<Target>,
    /// The hash of the table's shape when `target` was built.
    shape: String,
    settings: WriterSettings,
}

impl WriterTask {
    async fn run(self, mut queue: mpsc::Receiver<Job>) {
        while let Some(first) = queue.recv().await {
            let mut rows = first.prepared.rows();
            let mut jobs = vec![first];
            while rows < MAX_ROWS_PER_TRANSACTION
                && let Ok(job) = queue.try_recv()
            {
                rows += job.prepared.rows();
                jobs.push(job);
            }
            jobs.retain(|job| job.claim.settle(TAKEN));
            if jobs.is_empty() {
                continue;
            }
            // A panic must cost only these requests (their replies are dropped, so they
            // are answered as failed), not the table's writer.
            if let Err(panic) = AssertUnwindSafe(self.write_group(jobs))
                .catch_unwind()
                .await
            {
                let reason = crate::blocking::panic_message(panic.as_ref());
                tracing::error!(table = %self.target.table.full_name(), panic = %reason,
                    "the ingest writer panicked; the requests it was writing failed, the next ones go on");
            }
        }
    }

    /// Write the jobs together and answer each.
    async fn write_group(&self, jobs: Vec<Job>) {
        let all: Vec<&Job> = jobs.iter().collect();
        match self.write(&all).await {
            Ok(answers) => {
                for (job, answer) in jobs.into_iter().zip(answers) {
                    let _ = job.reply.send(answer);
                }
            }
            // One request's trouble must not fail the others: retry each alone, unless
            // the trouble is the table's or the database's (each would meet it again).
            Err(WriteFailure::Failed(e)) if jobs.len() > 1 && !trouble_of(&e).is_shared() => {
                tracing::warn!(table = %self.target.table.name, error = %e, requests = jobs.len(),
                    "group write failed; writing its requests one by one");
                for job in jobs {
                    let answer = self.write(&[&job]).await.and_then(|mut a| a.remove(0));
                    let _ = job.reply.send(answer);
                }
            }
            Err(failure) => {
                for job in jobs {
                    let _ = job.reply.send(Err(failure.copy()));
                }
            }
        }
    }

    /// Write `jobs` in one transaction; one outcome per job.
    async fn write(&self, jobs: &[&Job]) -> std::result::Result<Vec<Answer>, WriteFailure> {
        let target = &self.target;
        if planned_panic(&target.table.full_name()) {
            panic!("a panic planned by a test");
        }
        let mut client = self.connections.get().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::pg("starting the ingest transaction", e))?;
        let generates = jobs
            .iter()
            .flat_map(|j| &j.prepared.groups)
            .any(|g| g.generate_ids && !g.records.is_empty());
        self.lock_and_check_shape(&tx, generates).await?;
        let plan = self.sort_by_key(&tx, jobs).await?;
        let fresh: Vec<&Job> = plan.fresh.iter().map(|&i| jobs[i]).collect();
        let outcomes = self.write_rows(&tx, &fresh, generates).await?;
        let keyed: Vec<(&Keyed, &Outcome)> = fresh
            .iter()
            .zip(&outcomes)
            .filter_map(|(job, outcome)| Some((job.keyed.as_ref()?, outcome)))
            .collect();
        if !idempotency::store(
            &tx,
            &self.settings.answers.table,
            self.settings.answers.ttl,
            &keyed,
        )
        .await?
        {
            return Err(WriteFailure::Again);
        }
        tx.commit()
            .await
            .map_err(|e| Error::pg(format!("committing rows into {}", target.table.name), e))?;
        let mut answers = plan.earlier;
        for (&i, outcome) in plan.fresh.iter().zip(outcomes) {
            answers[i] = Some(Ok(outcome));
        }
        for (i, first) in plan.repeats {
            answers[i] = Some(match &answers[first] {
                Some(Ok(outcome)) if jobs[i].keyed == jobs[first].keyed => Ok(Outcome {
                    replayed: true,
                    ..outcome.clone()
                }),
                _ => Err(WriteFailure::KeyReused),
            });
        }
        Ok(answers
            .into_iter()
            .map(|a| a.expect("every job is answered"))
            .collect())
    }

    /// Which jobs to write: those without an Idempotency-Key, or with one not seen yet.
    /// The others are answered from before (or refused, when the key came with another
    /// request), or, when a key repeats within the group, like its first job.
    async fn sort_by_key(
        &self,
        tx: &Transaction<'_>,
        jobs: &[&Job],
    ) -> std::result::Result<KeyPlan, WriteFailure> {
        let keyed: Vec<&Keyed> = jobs.iter().filter_map(|j| j.keyed.as_ref()).collect();
        let stored = idempotency::lookup(
            tx,
            &self.settings.answers.table,
            self.settings.answers.ttl,
            &keyed,
        )
        .await?;
        let mut plan = KeyPlan {
            fresh: Vec::new(),
            earlier: jobs.iter().map(|_| None).collect(),
            repeats: Vec::new(),
        };
        let mut first_of_key: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, job) in jobs.iter().enumerate() {
            let Some(keyed) = &job.keyed else {
                plan.fresh.push(i);
                continue;
            };
            let id = (keyed.user.as_str(), keyed.key.as_str());
            if let Some(earlier) = stored.get(&(keyed.user.clone(), keyed.key.clone())) {
                plan.earlier[i] = Some(if earlier.request_hash == keyed.request_hash {
                    Ok(earlier.outcome.clone())
                } else {
                    Err(WriteFailure::KeyReused)
                });
            } else if let Some(&first) = first_of_key.get(&id) {
                plan.repeats.push((i, first));
            } else {
                first_of_key.insert(id, i);
                plan.fresh.push(i);
            }
        }
        Ok(plan)
    }

    /// Write the rows of `jobs` (ids, key checks, COPY, reject log); one outcome per job.
    async fn write_rows(
        &self,
        tx: &Transaction<'_>,
        jobs: &[&Job],
        drawing_ids: bool,
    ) -> Result<Vec<Outcome>> {
        let target = &self.target;
        let prepared: Vec<&Prepared> = jobs.iter().map(|j| &j.prepared).collect();
        let mut next_id = if drawing_ids {
            i128::from(self.read_last_id(tx).await?) + 1
        } else {
            0
        };
        let key_rejects = keys::check(tx, target, &prepared).await?;
        let mut copies = Copies::default();
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut ids_of: Vec<Vec<(usize, i64)>> = Vec::with_capacity(jobs.len());
        for (r, job) in jobs.iter().enumerate() {
            let RequestPlan { ids, rejected } =
                self.plan_request(r, &job.prepared, &key_rejects, &mut next_id, &mut copies)?;
            ids_of.push(ids);
            outcomes.push(Outcome {
                table: target.table.full_name(),
                rejected,
                ..Outcome::default()
            });
        }
        for refused in copies.write(tx, target).await? {
            let (r, index) = record_of_tag(refused.tag);
            ids_of[r].retain(|(record, _)| *record != index);
            let column = Some(refused.column).filter(|c| !c.is_empty());
            let reject = Reject::record(index, column, refused.reason);
            outcomes[r].rejected.push(reject);
        }
        for ((job, outcome), ids) in jobs.iter().zip(&mut outcomes).zip(ids_of) {
            outcome.rejected.sort_by_key(|r| r.position);
            // Every record is either inserted or rejected.
            outcome.inserted = job.records.len() - outcome.rejected.len();
            outcome.ids = ids.into_iter().map(|(_, id)| id).collect();
            rejects::log(
                tx,
                &self.settings.rejects_table,
                &outcome.table,
                &job.context,
                &outcome.rejected,
                &job.records,
            )
            .await?;
        }
        if target.id.is_some() {
            advance_sequences(tx, &target.table).await?;
        }
        Ok(outcomes)
    }

    /// Bound the transaction's waits, lock the table (against other writers too when new
    /// ids are drawn) and make sure it still has the shape the records were checked for.
    async fn lock_and_check_shape(
        &self,
        tx: &Transaction<'_>,
        drawing_ids: bool,
    ) -> std::result::Result<(), WriteFailure> {
        let table = self.target.table.qualified();
        let mode = if drawing_ids {
            "SHARE ROW EXCLUSIVE"
        } else {
            "ROW EXCLUSIVE"
        };
        let sql = format!(
            "SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = {}; LOCK TABLE {table} IN {mode} MODE",
            self.settings.timeouts.lock.as_millis().max(1),
            self.settings.timeouts.request.as_millis().max(1),
        );
        match tx.batch_execute(&sql).await {
            // Renamed or dropped: the catalog says where it went.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                return Err(WriteFailure::ShapeChanged);
            }
            Err(e) => return Err(Error::pg(format!("locking {table}"), e).into()),
            Ok(()) => {}
        }
        if shape::of_table(tx, self.target.table.oid).await?.as_ref() != Some(&self.shape) {
            return Err(WriteFailure::ShapeChanged);
        }
        Ok(())
    }

    /// The table's largest id (the table is locked against other writers).
    async fn read_last_id(&self, tx: &Transaction<'_>) -> Result<i64> {
        let table = self.target.table.qualified();
        let id = quote_ident(&self.target.id.as_ref().expect("ids are generated").name);
        let row = tx
            .query_one(
                &format!("SELECT coalesce(max({id}), 0)::int8 FROM {table}"),
                &[],
            )
            .await
            .map_err(|e| Error::pg(format!("reading the largest id of {table}"), e))?;
        Ok(row.get(0))
    }

    /// Drop request `r`'s rows that failed a key check, give the others ids (in record
    /// order) and queue them for COPY; the ids by record, and the request's rejects. A
    /// row whose new id would be past the id type's maximum is a reject too.
    fn plan_request(
        &self,
        r: usize,
        prepared: &Prepared,
        key_rejects: &HashMap<RowRef, Reject>,
        next_id: &mut i128,
        copies: &mut Copies,
    ) -> Result<RequestPlan> {
        let target = &self.target;
        let mut rejected = prepared.rejects.clone();
        let mut ids: Vec<(usize, i64)> = Vec::new();
        // `(group, row)` of the rows not written.
        let mut dropped: HashSet<(usize, usize)> = HashSet::new();
        // Rows that get a new id, in record order across the request's groups.
        let mut fresh: Vec<(usize, usize, usize)> = Vec::new();
        for (g, group) in prepared.groups.iter().enumerate() {
            for (row, &record) in group.records.iter().enumerate() {
                if let Some(reject) = key_rejects.get(&(r, g, row)) {
                    rejected.push(reject.clone());
                    dropped.insert((g, row));
                } else if group.generate_ids {
                    fresh.push((record, g, row));
                }
            }
        }
        fresh.sort_unstable();
        let mut new_ids: HashMap<(usize, usize), i64> = HashMap::with_capacity(fresh.len());
        for (record, g, row) in fresh {
            let column = target
                .id
                .as_ref()
                .expect("ids are generated for an id column");
            match i64::try_from(*next_id)
                .ok()
                .filter(|&id| id <= column.max())
            {
                Some(id) => {
                    *next_id += 1;
                    new_ids.insert((g, row), id);
                    ids.push((record, id));
                }
                None => {
                    rejected.push(Reject::record(
                        record,
                        Some(column.name.clone()),
                        format!(
                            "no id left to assign: the next one, {next_id}, is past the maximum of {} ({}); \
                             the column's type must be widened",
                            column.type_name(),
                            column.max()
                        ),
                    ));
                    dropped.insert((g, row));
                }
            }
        }
        for (g, group) in prepared.groups.iter().enumerate() {
            let keep: BooleanArray = (0..group.records.len())
                .map(|row| Some(!dropped.contains(&(g, row))))
                .collect();
            let mut batch = filter_record_batch(&group.batch, &keep)?;
            let kept: Vec<usize> = (0..group.records.len())
                .filter(|&row| !dropped.contains(&(g, row)))
                .collect();
            let mut names: Vec<String> = group
                .fields
                .iter()
                .map(|&f| target.fields[f].name.clone())
                .collect();
            let mut kinds: Vec<PgKind> = group
                .fields
                .iter()
                .map(|&f| target.fields[f].kind.clone())
                .collect();
            if let Some(id) = target.id.as_ref() {
                if group.generate_ids {
                    let values: Vec<i64> = kept.iter().map(|&row| new_ids[&(g, row)]).collect();
                    batch = with_column(&batch, &id.name, id_array(&id.kind, values))?;
                    names.push(id.name.clone());
                    kinds.push(id.kind.clone());
                } else if let Some(position) = names.iter().position(|n| n == &id.name) {
                    let column = cast(batch.column(position), &DataType::Int64)?;
                    let column = column
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .expect("cast to Int64");
                    for (i, &row) in kept.iter().enumerate() {
                        if column.is_valid(i) {
                            ids.push((group.records[row], column.value(i)));
                        }
                    }
                }
            }
            let tagged = self.target.server_checks || kinds.iter().any(PgKind::needs_cast);
            if tagged {
                let tags: Vec<i64> = kept
                    .iter()
                    .map(|&row| tag_of_record(r, group.records[row]))
                    .collect();
                batch = with_column(&batch, TAG_COLUMN, Arc::new(Int64Array::from(tags)))?;
            }
            if batch.num_rows() > 0 {
                copies.add(names, kinds, tagged, batch);
            }
        }
        ids.sort_unstable();
        Ok(RequestPlan { ids, rejected })
    }
}

/// The same error for each request of a group (errors are not `Clone`: the copy keeps what
/// the answer and the log show).
fn copy_of(error: &Error) -> Error {
    match error {
        Error::Postgres {
            context,
            reason,
            sqlstate,
            ..
        } => Error::Postgres {
            context: context.clone(),
            reason: reason.clone(),
            sqlstate: sqlstate.clone(),
            source: None,
        },
        Error::Connect { url, reason, .. } => Error::Connect {
            url: url.clone(),
            reason: reason.clone(),
            source: None,
        },
        other => Error::Internal {
            task: "the ingest writer".into(),
            reason: other.to_string(),
        },
    }
}

/// One request's part of a write: `(record, id)` of the rows it writes, and its rejects.
struct RequestPlan {
    ids: Vec<(usize, i64)>,
    rejected: Vec<Reject>,
}

/// Batches to COPY, gathered by their column list (one COPY per list).
#[derive(Default)]
struct Copies {
    lists: Vec<(LoadColumns, Vec<RecordBatch>)>,
}

impl Copies {
    fn add(&mut self, names: Vec<String>, kinds: Vec<PgKind>, tagged: bool, batch: RecordBatch) {
        match self
            .lists
            .iter_mut()
            .find(|(columns, _)| columns.names == names)
        {
            Some((_, batches)) => batches.push(batch),
            None => {
                let columns = LoadColumns {
                    names,
                    kinds,
                    tagged,
                };
                self.lists.push((columns, vec![batch]));
            }
        }
    }

    /// COPY everything; the rows the server refused (by [`tag_of_record`]).
    async fn write(
        self,
        tx: &Transaction<'_>,
        target: &Target,
    ) -> Result<Vec<crate::postgres::server_rejects::ServerReject>> {
        let mut refused = Vec::new();
        for (columns, batches) in self.lists {
            let stream = futures::stream::iter(batches.into_iter().map(Ok));
            let outcome =
                copy_batches(tx, &target.table, &columns, LoadMode::Append, stream).await?;
            refused.extend(outcome.rejected);
        }
        Ok(refused)
    }
}

fn id_array(kind: &PgKind, values: Vec<i64>) -> ArrayRef {
    match kind {
        PgKind::Int2 => Arc::new(Int16Array::from_iter_values(
            values.iter().map(|&v| v as i16),
        )),
        PgKind::Int4 => Arc::new(Int32Array::from_iter_values(
            values.iter().map(|&v| v as i32),
        )),
        _ => Arc::new(Int64Array::from(values)),
    }
}

/// `batch` with one more column at the end.
fn with_column(batch: &RecordBatch, name: &str, column: ArrayRef) -> Result<RecordBatch> {
    let mut fields: Vec<ArrowField> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(ArrowField::new(name, column.data_type().clone(), false));
    let mut columns = batch.columns().to_vec();
    columns.push(column);
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// The staging tag of record `record` of request `request` in a group commit.
fn tag_of_record(request: usize, record: usize) -> i64 {
    ((request as i64) << 32) | record as i64
}

/// `(request, record)` of a [`tag_of_record`] tag.
fn record_of_tag(tag: i64) -> (usize, usize) {
    ((tag >> 32) as usize, (tag & 0xffff_ffff) as usize)
}
