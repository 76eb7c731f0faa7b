//! Batch streams as DataFusion tables, so a stream can feed a Delta write or be queried by
//! name without being collected into memory.
//!
//! - [`once`]: a stream that exists once (rows read inside a snapshot for one Delta write);
//!   scanning it a second time is an error, never a silent empty result.
//! - [`reopening`]: a table opened anew for every scan (a live Postgres table or an Avro
//!   backup in a query that names it twice).

use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use futures::TryStreamExt;
use futures::future::BoxFuture;

use crate::error::{Error, Result};

/// A table whose only scan yields `stream`.
pub fn once(label: &str, stream: SendableRecordBatchStream) -> Result<Arc<dyn TableProvider>> {
    let schema = stream.schema();
    let partition = Once {
        label: label.to_string(),
        schema: schema.clone(),
        stream: Mutex::new(Some(stream)),
    };
    table(schema, Arc::new(partition))
}

/// Opens a fresh stream of the table each time it is scanned.
pub type Opener =
    Arc<dyn Fn() -> BoxFuture<'static, Result<SendableRecordBatchStream>> + Send + Sync>;

/// A table with `schema` whose every scan calls `open`.
pub fn reopening(schema: SchemaRef, open: Opener) -> Result<Arc<dyn TableProvider>> {
    table(schema.clone(), Arc::new(Reopening { schema, open }))
}

fn table(schema: SchemaRef, partition: Arc<dyn PartitionStream>) -> Result<Arc<dyn TableProvider>> {
    let table = StreamingTable::try_new(schema, vec![partition]).map_err(|e| Error::Internal {
        task: "registering a stream as a table".into(),
        reason: e.to_string(),
    })?;
    Ok(Arc::new(table))
}

struct Once {
    label: String,
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl std::fmt::Debug for Once {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Once({})", self.label)
    }
}

impl PartitionStream for Once {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().map(|mut s| s.take()).ok().flatten();
        taken.unwrap_or_else(|| {
            let error = DataFusionError::Execution(format!("{} was already read", self.label));
            let stream = futures::stream::once(async move { Err(error) });
            Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
        })
    }
}

struct Reopening {
    schema: SchemaRef,
    open: Opener,
}

impl std::fmt::Debug for Reopening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reopening({})", self.schema)
    }
}

impl PartitionStream for Reopening {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let opening = (self.open)();
        let stream = futures::stream::once(opening)
            .map_err(|e| DataFusionError::External(Box::new(e)))
            .try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use datafusion::prelude::SessionContext;

    fn numbers(n: i64) -> SendableRecordBatchStream {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(0..n))],
        )
        .unwrap();
        let stream = futures::stream::iter(vec![Ok(batch)]);
        Box::pin(RecordBatchStreamAdapter::new(schema, stream))
    }

    async fn count(ctx: &SessionContext, sql: &str) -> Result<i64, DataFusionError> {
        let batches = ctx.sql(sql).await?.collect().await?;
        let column = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        Ok(column.value(0))
    }

    #[tokio::test]
    async fn a_once_table_is_read_once_and_then_refuses() {
        let ctx = SessionContext::new();
        ctx.register_table("t", once("the stream", numbers(5)).unwrap())
            .unwrap();
        assert_eq!(count(&ctx, "SELECT count(*) FROM t").await.unwrap(), 5);
        let again = count(&ctx, "SELECT count(*) FROM t").await.unwrap_err();
        assert!(
            again.to_string().contains("the stream was already read"),
            "{again}"
        );
    }

    #[tokio::test]
    async fn a_reopening_table_serves_a_self_join() {
        let ctx = SessionContext::new();
        let schema = numbers(0).schema();
        let open: Opener = Arc::new(|| Box::pin(async { Ok(numbers(4)) }));
        ctx.register_table("t", reopening(schema, open).unwrap())
            .unwrap();
        let sql = "SELECT count(*) FROM t a JOIN t b ON a.n = b.n";
        assert_eq!(count(&ctx, sql).await.unwrap(), 4);
    }
}
