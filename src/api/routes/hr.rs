//! The HR tables' endpoints: their documented record schemas and the shapes that enforce
//! them (fields, which default to now, which keys must exist).

use poem_openapi::Object;

use super::schemas::DateTimeText;
use crate::api::ingest::target::{Shape, ShapeField};

/// A department to add; its id is assigned by the server.
#[derive(Debug, Object)]
pub struct DepartmentRecord {
    /// Department name.
    #[oai(validator(max_length = 255))]
    pub department: String,
}

/// A job to add; its id is assigned by the server.
#[derive(Debug, Object)]
pub struct JobRecord {
    /// Job title.
    #[oai(validator(max_length = 255))]
    pub job: String,
}

/// A hired employee to add; the id is assigned by the server.
#[derive(Debug, Object)]
pub struct HiredEmployeeRecord {
    /// Employee name.
    #[oai(validator(max_length = 255))]
    pub name: String,
    /// When they were hired (ISO-8601; UTC when no offset is given; the current UTC time
    /// when absent or null).
    pub datetime: Option<DateTimeText>,
    /// An existing department's id.
    pub department_id: i32,
    /// An existing job's id.
    pub job_id: i32,
}

pub const DEPARTMENTS: Shape = Shape {
    fields: &[ShapeField {
        name: "department",
        now_if_missing: false,
    }],
    references: &[],
};

pub const JOBS: Shape = Shape {
    fields: &[ShapeField {
        name: "job",
        now_if_missing: false,
    }],
    references: &[],
};

pub const HIRED_EMPLOYEES: Shape = Shape {
    fields: &[
        ShapeField {
            name: "name",
            now_if_missing: false,
        },
        ShapeField {
            name: "datetime",
            now_if_missing: true,
        },
        ShapeField {
            name: "department_id",
            now_if_missing: false,
        },
        ShapeField {
            name: "job_id",
            now_if_missing: false,
        },
    ],
    references: &[
        ("department_id", "departments", "id"),
        ("job_id", "jobs", "id"),
    ],
};
