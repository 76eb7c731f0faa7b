//! What every report in Prometheus's text format shares (the REST service's `/metrics`, a
//! change stream's metrics file).

/// A label value as the text format writes it: backslash, quote and newline escaped.
pub fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
