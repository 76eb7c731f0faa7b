//! Progress bars for long work: drawn on a terminal only, silent in pipes, CI and tests.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

const BYTES_TEMPLATE: &str = "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {msg} ({eta})";
const ROWS_TEMPLATE: &str =
    "{prefix:.bold} [{bar:30}] {human_pos}/~{human_len} rows ({per_sec}, {eta})";

/// A byte-based bar (`rows` and rows/s in its message), hidden when stderr is no terminal.
pub fn bytes_bar(total_bytes: u64, label: &str, enabled: bool) -> ProgressBar {
    bar(total_bytes, label, enabled, BYTES_TEMPLATE)
}

/// A row-based bar for a table whose size is only estimated (the bar may end early).
pub fn rows_bar(estimated_rows: u64, label: &str, enabled: bool) -> ProgressBar {
    bar(estimated_rows, label, enabled, ROWS_TEMPLATE)
}

fn bar(total: u64, label: &str, enabled: bool, template: &str) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    // A bar dropped unfinished (its work failed, or starts again) leaves nothing on screen.
    let bar = ProgressBar::new(total).with_finish(ProgressFinish::AndClear);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        for template in [BYTES_TEMPLATE, ROWS_TEMPLATE] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }
}
