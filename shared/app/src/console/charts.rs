//! Bar charts drawn as server-rendered SVG: categories across (percentage coordinates, so a
//! chart fits any width), one or more series per category, grouped side by side or stacked.
//! Every bar carries a tooltip with its number; the page lists the same numbers in a table.

/// The drawing's height and the plot band inside it, in px.
pub const HEIGHT: u32 = 170;
const PLOT_TOP: f64 = 18.0;
const PLOT_BOTTOM: f64 = 140.0;
const LABEL_Y: u32 = 158;

/// One series: its name (legend, tooltips) and its fill class (`series-0` …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Name.
    pub name: String,
    /// Fill class.
    pub class: String,
}

impl Series {
    /// Series `index` named `name`.
    pub fn new(name: impl Into<String>, index: usize) -> Self {
        Self {
            name: name.into(),
            class: format!("series-{}", index % 6),
        }
    }
}

/// A bar as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnBar {
    /// Left, percent.
    pub x: String,
    /// Width, percent.
    pub width: String,
    /// Top, px.
    pub y: String,
    /// Height, px.
    pub height: String,
    /// Fill class.
    pub class: String,
    /// Tooltip.
    pub title: String,
}

/// A category label under the bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Middle, percent.
    pub x: String,
    /// Text (empty when too many categories to label each).
    pub text: String,
}

/// A drawn chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Its accessible name.
    pub title: String,
    /// The bars.
    pub bars: Vec<DrawnBar>,
    /// Category labels.
    pub labels: Vec<Label>,
    /// The top of the scale, as text (`12 min`).
    pub max: String,
    /// The series, for the legend.
    pub series: Vec<Series>,
    /// Nothing to draw.
    pub empty: bool,
    /// The drawing's height.
    pub height: u32,
    /// The baseline (px).
    pub baseline: u32,
    /// The labels' baseline (px).
    pub label_y: u32,
}

fn pct(value: f64) -> String {
    format!("{value:.3}%")
}

fn px(value: f64) -> String {
    format!("{value:.1}")
}

/// Draws `values[category][series]` (absent values draw nothing) over `categories`; `format`
/// writes a value for tooltips and the scale.
pub fn bar_chart(
    title: &str,
    categories: &[String],
    series: Vec<Series>,
    values: &[Vec<Option<f64>>],
    stacked: bool,
    format: &dyn Fn(f64) -> String,
) -> Chart {
    let total = |row: &Vec<Option<f64>>| -> f64 {
        if stacked {
            row.iter().flatten().sum()
        } else {
            row.iter().flatten().copied().fold(0.0, f64::max)
        }
    };
    let max = values.iter().map(total).fold(0.0, f64::max);
    let slot = 100.0 / categories.len().max(1) as f64;
    let per = if stacked {
        1.0
    } else {
        series.len().max(1) as f64
    };
    let scale = |value: f64| {
        if max > 0.0 {
            value / max * (PLOT_BOTTOM - PLOT_TOP)
        } else {
            0.0
        }
    };
    let mut bars = Vec::new();
    for (index, (category, row)) in categories.iter().zip(values).enumerate() {
        // At most 12% per bar, so one or two categories do not make slabs; centred in the slot.
        let width = (slot * 0.8 / per).min(12.0);
        let left = index as f64 * slot + (slot - width * per) / 2.0;
        let mut stack = 0.0;
        for (place, (value, s)) in row.iter().zip(&series).enumerate() {
            let Some(value) = *value else { continue };
            let height = scale(value);
            let (x, bottom) = if stacked {
                (left, PLOT_BOTTOM - stack)
            } else {
                (left + place as f64 * width, PLOT_BOTTOM)
            };
            stack += height;
            if height <= 0.0 {
                continue;
            }
            bars.push(DrawnBar {
                x: pct(x),
                width: pct(width),
                y: px(bottom - height),
                height: px(height),
                class: s.class.clone(),
                title: format!("{category}, {}: {}", s.name, format(value)),
            });
        }
    }
    // Label every category when they fit, else about eight of them.
    let every = categories.len().div_ceil(8).max(1);
    let labels = categories
        .iter()
        .enumerate()
        .map(|(index, text)| Label {
            x: pct(index as f64 * slot + slot / 2.0),
            text: if index % every == 0 {
                text.clone()
            } else {
                String::new()
            },
        })
        .collect();
    Chart {
        title: title.to_owned(),
        empty: bars.is_empty(),
        bars,
        labels,
        max: format(max),
        series,
        height: HEIGHT,
        baseline: PLOT_BOTTOM as u32,
        label_y: LABEL_Y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacked_bars_sit_on_each_other_and_grouped_bars_side_by_side() {
        let categories = vec!["W1".to_owned(), "W2".to_owned()];
        let series = vec![Series::new("critical", 0), Series::new("warning", 1)];
        let values = vec![vec![Some(2.0), Some(2.0)], vec![Some(1.0), None]];
        let n = |v: f64| format!("{v}");
        let chart = bar_chart("t", &categories, series.clone(), &values, true, &n);
        assert_eq!(chart.bars.len(), 3);
        // The tallest stack (4) fills the plot: 122 px; each half of it 61 px.
        assert_eq!(chart.bars[0].height, "61.0");
        assert_eq!(chart.bars[1].y, "18.0");
        assert_eq!(chart.bars[0].x, chart.bars[1].x);
        assert_eq!(chart.max, "4");
        let grouped = bar_chart("t", &categories, series, &values, false, &n);
        assert_ne!(grouped.bars[0].x, grouped.bars[1].x);
        assert_eq!(grouped.bars[0].height, "122.0");
        assert!(grouped.bars[2].title.contains("W2, critical: 1"));
    }

    #[test]
    fn nothing_to_draw_is_an_empty_chart() {
        let chart = bar_chart("t", &[], vec![Series::new("x", 0)], &[], true, &|v| {
            v.to_string()
        });
        assert!(chart.empty);
    }
}
