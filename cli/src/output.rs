//! Writing a command's output: all at once, tolerating a reader that went away
//! (`klaxon schedule show x | head`), and small text-layout helpers.

use std::io::{self, Write};

/// Writes `text` to standard output. A closed pipe is not an error: the reader has what it
/// wanted.
pub fn print(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Serialises `value` as pretty JSON with a final newline.
pub fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Lays out rows as left-aligned columns separated by two spaces (the last column is not
/// padded). Widths count characters, so names like "Chloé" line up.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = header.iter().map(ToString::to_string).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate().take(columns) {
            line.push_str(cell);
            if index + 1 < columns {
                let width = widths.get(index).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_by_characters() {
        let text = table(
            &["WHO", "WHY"],
            &[
                vec!["Chloé".into(), "layer 0".into()],
                vec!["Benjamin".into(), "override".into()],
            ],
        );
        assert_eq!(
            text,
            "WHO       WHY\nChloé     layer 0\nBenjamin  override\n"
        );
    }
}
