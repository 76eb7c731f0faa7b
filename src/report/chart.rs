//! Charts of query results with plotters: horizontal bars (category names stay readable
//! however many there are), stacked by value column when there are several, with an
//! optional reference line. Drawn as SVG for the HTML page and as PNG files.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

/// The data of one chart, aggregated per category in first-seen order.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub title: String,
    pub category_label: String,
    pub value_label: String,
    pub categories: Vec<String>,
    /// One series per value column: its name and one value per category.
    pub series: Vec<(String, Vec<f64>)>,
    /// A line drawn across the bars: its label and value.
    pub reference: Option<(String, f64)>,
    /// Categories left out of the chart (beyond [`MAX_BARS`]).
    pub omitted: usize,
}

/// Bars one chart draws; the table beside it has every row.
pub const MAX_BARS: usize = 60;

const WIDTH: u32 = 960;
const BAR_HEIGHT: u32 = 24;
const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];
const REFERENCE: RGBColor = RGBColor(214, 39, 40);

/// The bundled font, so text is measured (and PNGs rendered) the same on every machine.
fn register_font() {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        // The bytes are a valid TrueType font, checked by the tests.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, bytes);
    });
}

impl ChartData {
    fn size(&self) -> (u32, u32) {
        let bars = self.categories.len().max(1) as u32;
        (WIDTH, 110 + BAR_HEIGHT * bars)
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String> {
        register_font();
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, self.size()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(drawing_error)?;
        }
        Ok(text)
    }

    /// The chart as a PNG file at `path` (written beside it, then renamed into place).
    pub fn png(&self, path: &std::path::Path) -> Result<()> {
        register_font();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let partial = path.with_file_name(format!(".{name}.partial.png"));
        let drawn = (|| {
            let root = BitMapBackend::new(&partial, self.size()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(drawing_error)
        })();
        if let Err(e) = drawn {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let failed = |e: DrawingAreaErrorKind<DB::ErrorType>| drawing_error(e);
        root.fill(&WHITE).map_err(failed)?;
        let n = self.categories.len().max(1);
        let totals: Vec<f64> = (0..self.categories.len())
            .map(|i| self.series.iter().map(|(_, v)| v[i].max(0.0)).sum())
            .collect();
        let mut top = totals.iter().cloned().fold(0.0, f64::max);
        if let Some((_, value)) = &self.reference {
            top = top.max(*value);
        }
        let longest = self
            .categories
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(4);
        let label_width = (longest as u32 * 7 + 16).clamp(60, 320);
        // Room right of the longest bar for its value and the legend, so neither covers it.
        let plot_width = (WIDTH - label_width - 40) as f64;
        let legend = self
            .legend_entries()
            .iter()
            .map(|s| s.chars().count())
            .max();
        let legend_px = legend.map_or(0.0, |chars| chars as f64 * 7.0 + 60.0);
        let value_px = if self.series.len() == 1 { 50.0 } else { 0.0 };
        let free = (plot_width - legend_px - value_px).max(plot_width / 3.0);
        let top = if top > 0.0 { top } else { 1.0 } * plot_width / free;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(label_width)
            // An integer range includes its end: 0..n-1 gives exactly n bar slots.
            .build_cartesian_2d(0.0..top, (0..n - 1).into_segmented())
            .map_err(failed)?;
        let names = self.categories.clone();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&|x| number(*x))
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < names.len() => {
                    shorten(&names[names.len() - 1 - i], 44)
                }
                _ => String::new(),
            })
            .x_desc(&self.value_label)
            .y_desc(&self.category_label)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(failed)?;
        let rows = self.categories.len();
        let mut offsets = vec![0.0; rows];
        for (index, (name, values)) in self.series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            let bars = values.iter().enumerate().map(|(i, value)| {
                let row = rows - 1 - i; // the first category at the top
                let start = offsets[i];
                let mut bar = Rectangle::new(
                    [
                        (start, SegmentValue::Exact(row)),
                        (start + value.max(0.0), SegmentValue::Exact(row + 1)),
                    ],
                    color.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            });
            let drawn = chart
                .draw_series(bars.collect::<Vec<_>>())
                .map_err(failed)?;
            for (i, value) in values.iter().enumerate() {
                offsets[i] += value.max(0.0);
            }
            if self.series.len() > 1 {
                drawn.label(name.as_str()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            }
        }
        if let [(_, values)] = self.series.as_slice() {
            // One series: each bar carries its value.
            let labels = values.iter().enumerate().map(|(i, value)| {
                let at = (value.max(0.0), SegmentValue::CenterOf(rows - 1 - i));
                EmptyElement::at(at)
                    + Text::new(
                        number(*value),
                        (4, 0),
                        TextStyle::from((FONT, 11)).pos(Pos::new(HPos::Left, VPos::Center)),
                    )
            });
            chart.draw_series(labels).map_err(failed)?;
        }
        if let Some((label, value)) = &self.reference {
            let line = vec![
                (*value, SegmentValue::Exact(0)),
                (*value, SegmentValue::Exact(n)),
            ];
            chart
                .draw_series(LineSeries::new(line, REFERENCE.stroke_width(2)))
                .map_err(failed)?
                .label(format!("{label}: {}", number(*value)))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], REFERENCE.stroke_width(2))
                });
        }
        if !self.legend_entries().is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FONT, 12))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.4))
                .draw()
                .map_err(failed)?;
        }
        Ok(())
    }

    fn legend_entries(&self) -> Vec<String> {
        let mut entries: Vec<String> = if self.series.len() > 1 {
            self.series.iter().map(|(name, _)| name.clone()).collect()
        } else {
            Vec::new()
        };
        if let Some((label, value)) = &self.reference {
            entries.push(format!("{label}: {}", number(*value)));
        }
        entries
    }
}

/// A value as people read it: whole numbers without decimals, others with two.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        let kept: String = text.chars().take(chars - 1).collect();
        format!("{kept}…")
    }
}

fn drawing_error(e: impl std::fmt::Display) -> Error {
    Error::Internal {
        task: "drawing a chart".into(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ChartData {
        ChartData {
            title: "Hires per quarter".into(),
            category_label: "department".into(),
            value_label: "employees hired".into(),
            categories: vec!["Accounting".into(), "Engineering <R&D>".into()],
            series: vec![("Q1".into(), vec![3.0, 5.0]), ("Q2".into(), vec![1.0, 0.0])],
            reference: Some(("mean".into(), 4.5)),
            omitted: 0,
        }
    }

    #[test]
    fn the_svg_has_the_title_the_labels_and_the_legend() {
        let svg = data().svg().unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        for text in [
            "Hires per quarter",
            "Accounting",
            "Engineering &lt;R&amp;D&gt;",
            "Q1",
            "Q2",
            "mean: 4.50",
            "employees hired",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
    }

    #[test]
    fn a_png_is_written_whole_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.png");
        data().png(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no partial file left"
        );
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(12.3456), "12.35");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
