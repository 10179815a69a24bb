//! The seed's quantitative claims, reproduced by simulation.
//!
//! Each module takes one claim of the specification Larder was written from (the "seed"), runs
//! the scenario it describes with seeded, deterministic simulations, and returns a report that
//! prints as markdown tables, with the seed's own numbers beside ours wherever it gives any:
//!
//! | module | seed section | claim |
//! |---|---|---|
//! | [`policies`] | "Eviction Policies" | 80/20 workload: LRU 85 %, LFU 88 %, ARC 87 %, FIFO 60 % |
//! | [`ring`] | "Cache Sharding Strategies", "Consistent Hashing for Cache Distribution" | N → N+1 servers remaps ~N/(N+1) of keys with modulo, ~1/(N+1) with consistent hashing; 100–200 virtual nodes even out the load |
//! | [`layers`] | "Cache More Layers" (hit-ratio techniques) | browser 60 %, CDN 80 %, app 90 %, DB cache 50 % → 99.6 % aggregate, 0.4 % reach the database |
//! | [`stampede`] | "Cache Stampede Prevention" | a hot key at 1,000 req/s expiring causes a query storm; a lock makes it one query; probabilistic early expiration spreads it |
//!
//! Every `run` function takes an args struct whose [`Default`] is the seed's scenario and returns
//! [`InvalidArgs`] for arguments it cannot simulate; `larder sim <claim>` prints the report.
//! `docs/simulations.md` records the output and explains where and why it differs from the seed.

pub mod layers;
pub mod policies;
pub mod ring;
pub mod stampede;

use std::fmt;

/// Arguments a claim cannot be simulated with (the message says which and why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid argument: {0}")]
pub struct InvalidArgs(pub String);

/// Returns `Err(InvalidArgs(message()))` unless `ok`.
pub(crate) fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), InvalidArgs> {
    if ok {
        Ok(())
    } else {
        Err(InvalidArgs(message()))
    }
}

/// A markdown table whose columns are padded to a common width, so that it reads as well in a
/// terminal as rendered.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub(crate) fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells print empty, extra ones are kept).
    pub(crate) fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![3; columns];
        for line in std::iter::once(&self.header).chain(&self.rows) {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let write_line = |f: &mut fmt::Formatter<'_>, line: &[String]| -> fmt::Result {
            f.write_str("|")?;
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map_or("", String::as_str);
                write!(f, " {cell:<width$} |")?;
            }
            writeln!(f)
        };
        write_line(f, &self.header)?;
        f.write_str("|")?;
        for width in &widths {
            write!(f, "{}|", "-".repeat(width + 2))?;
        }
        writeln!(f)?;
        for row in &self.rows {
            write_line(f, row)?;
        }
        Ok(())
    }
}

/// `value` (a fraction) as a percentage with `decimals` decimals, e.g. `12.34 %`.
pub(crate) fn percent(value: f64, decimals: usize) -> String {
    format!("{:.decimals$} %", 100.0 * value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_padded_markdown() {
        let mut table = Table::new(["a", "long header"]);
        table.row(["x", "1"]);
        table.row(["wide cell", "2"]);
        assert_eq!(
            table.to_string(),
            "| a         | long header |\n\
             |-----------|-------------|\n\
             | x         | 1           |\n\
             | wide cell | 2           |\n"
        );
        assert_eq!(percent(0.1234, 1), "12.3 %");
    }
}
