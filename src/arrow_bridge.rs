//! connectorx produces arrow 56 batches; lakeshift works in arrow 59. Each column crosses
//! over through the Arrow C Data Interface: the buffers are shared, not copied.

use std::sync::Arc;

use arrow::array::{ArrayRef, make_array};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::{Error, Result};

/// Convert one arrow 56 batch into an arrow 59 batch without copying its buffers.
pub fn batch_from_arrow56(batch: &arrow56::record_batch::RecordBatch) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let array = array_from_arrow56(column.as_ref())?;
        fields.push(Field::new(
            field.name(),
            array.data_type().clone(),
            field.is_nullable(),
        ));
        columns.push(array);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &options,
    )?)
}

fn array_from_arrow56(array: &dyn arrow56::array::Array) -> Result<ArrayRef> {
    let bridge = |reason: String| Error::Internal {
        task: "bridging arrow 56 to 59".into(),
        reason,
    };
    let (ffi_array, ffi_schema) =
        arrow56::ffi::to_ffi(&array.to_data()).map_err(|e| bridge(e.to_string()))?;
    // SAFETY: both structs are the C Data Interface's `ArrowArray` / `ArrowSchema`, #[repr(C)]
    // with the same fields in both arrow versions. Ownership (and the release callbacks) moves
    // to the arrow 59 values; the arrow 56 originals are forgotten so nothing is released twice.
    let (array59, schema59) = unsafe {
        let array59 = std::ptr::read(&ffi_array as *const _ as *const arrow::ffi::FFI_ArrowArray);
        let schema59 =
            std::ptr::read(&ffi_schema as *const _ as *const arrow::ffi::FFI_ArrowSchema);
        std::mem::forget(ffi_array);
        std::mem::forget(ffi_schema);
        (array59, schema59)
    };
    // SAFETY: the pair was produced by `to_ffi` just above and describes a valid array.
    let data =
        unsafe { arrow::ffi::from_ffi(array59, &schema59) }.map_err(|e| bridge(e.to_string()))?;
    Ok(make_array(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, LargeStringArray, TimestampMicrosecondArray};

    #[test]
    fn columns_cross_over_with_values_nulls_and_types_intact() {
        use arrow56::array as a56;
        let schema = Arc::new(arrow56::datatypes::Schema::new(vec![
            arrow56::datatypes::Field::new("id", arrow56::datatypes::DataType::Int64, true),
            arrow56::datatypes::Field::new("name", arrow56::datatypes::DataType::LargeUtf8, true),
            arrow56::datatypes::Field::new(
                "at",
                arrow56::datatypes::DataType::Timestamp(
                    arrow56::datatypes::TimeUnit::Microsecond,
                    Some("UTC".into()),
                ),
                true,
            ),
        ]));
        let ids = a56::Int64Array::from(vec![Some(1), None, Some(i64::MAX)]);
        let names = a56::LargeStringArray::from(vec![Some("ä"), Some(""), None]);
        let at = a56::TimestampMicrosecondArray::from(vec![Some(-1), None, Some(0)])
            .with_timezone("UTC");
        let batch = arrow56::record_batch::RecordBatch::try_new(
            schema,
            vec![Arc::new(ids), Arc::new(names), Arc::new(at)],
        )
        .unwrap();
        let ours = batch_from_arrow56(&batch).unwrap();
        assert_eq!(ours.num_rows(), 3);
        let ids = ours
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            vec![Some(1), None, Some(i64::MAX)]
        );
        let names = ours
            .column(1)
            .as_any()
            .downcast_ref::<LargeStringArray>()
            .unwrap();
        assert_eq!(
            names.iter().collect::<Vec<_>>(),
            vec![Some("ä"), Some(""), None]
        );
        let at = ours
            .column(2)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(at.timezone(), Some("UTC"));
        assert_eq!(at.null_count(), 1);
    }
}
