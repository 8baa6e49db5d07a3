//! Reading customers (CSV or JSON lines) and events (JSON lines) from files. Every problem is
//! reported as `FILE:LINE: field: message`, all of them at once, and nothing is imported
//! unless the whole file is valid. Customers are checked by the engine's batch rule, the one
//! `POST /v1/customers:batch` applies.
use anyhow::{bail, Context, Result};
use nudge_core::rulebook::Rulebook;
use nudge_core::service::{check_customers, CustomerInput, EventInput, ItemError, ItemFault};
use serde_json::{Map, Value};
use std::path::Path;

/// At most this many problems are printed; the count of the rest is given.
const MAX_REPORTED: usize = 20;

fn fail(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let total = problems.len();
    let mut text = problems
        .into_iter()
        .take(MAX_REPORTED)
        .collect::<Vec<_>>()
        .join("\n");
    if total > MAX_REPORTED {
        text.push_str(&format!("\n… and {} more problem(s)", total - MAX_REPORTED));
    }
    bail!("{total} problem(s), nothing imported:\n{text}")
}

pub fn load_customers(path: &Path, rulebook: &Rulebook) -> Result<Vec<CustomerInput>> {
    let name = path.display().to_string();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let rows = if is_csv {
        read_csv(path, &name)?
    } else {
        read_json_lines(path, &name)?
    };
    // Rows that parsed, with their lines; the problems of the others, by line.
    let mut problems: Vec<(usize, String)> = Vec::new();
    let mut lines = Vec::with_capacity(rows.len());
    let mut customers = Vec::with_capacity(rows.len());
    for (line, row) in rows {
        match row {
            Err(problem) => problems.push((line, problem)),
            Ok(customer) => {
                lines.push(line);
                customers.push(customer);
            }
        }
    }
    for error in check_customers(rulebook, &customers)? {
        problems.push((
            lines[error.index],
            item_problem(&name, &lines, &customers, &error),
        ));
    }
    problems.sort_by_key(|(line, _)| *line);
    fail(problems.into_iter().map(|(_, problem)| problem).collect())?;
    Ok(customers)
}

/// `FILE:LINE: field: message` for one customer the batch rule refused.
fn item_problem(
    name: &str,
    lines: &[usize],
    customers: &[CustomerInput],
    error: &ItemError<ItemFault>,
) -> String {
    let line = lines[error.index];
    let field = &error.field;
    match &error.fault {
        ItemFault::Invalid(message) => format!("{name}:{line}: {field}: {message}"),
        ItemFault::Repeated { previous } => format!(
            "{name}:{line}: {field}: {:?} repeats line {}",
            customers[error.index].id, lines[*previous]
        ),
    }
}

type Row<T> = (usize, Result<T, String>);

fn read_json_lines<T: serde::de::DeserializeOwned>(path: &Path, name: &str) -> Result<Vec<Row<T>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{name}: cannot read"))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let line = i + 1;
            (
                line,
                serde_json::from_str(l).map_err(|e| format!("{name}:{line}:{}: {e}", e.column())),
            )
        })
        .collect())
}

/// CSV columns `id`, `phone`, `region`, `timezone`, `locale`; every other column is an
/// attribute. A header `name:int`, `name:float` or `name:bool` types the column (default text);
/// empty cells are left out.
fn read_csv(path: &Path, name: &str) -> Result<Vec<Row<CustomerInput>>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("{name}: cannot read"))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{name}:1: bad header row"))?
        .clone();
    let columns: Vec<(String, &str)> = headers
        .iter()
        .map(|h| match h.split_once(':') {
            Some((n, t)) => (n.to_string(), t),
            None => (h.to_string(), "text"),
        })
        .collect();
    for (col, kind) in &columns {
        if !["text", "int", "float", "bool"].contains(kind) {
            bail!("{name}:1: column {col}: unknown type {kind:?} (text, int, float or bool)");
        }
    }
    for required in ["id", "phone"] {
        if !columns.iter().any(|(c, _)| c == required) {
            bail!("{name}:1: the header has no {required:?} column");
        }
    }
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(index + 2, |p| p.line() as usize);
        let row = record
            .map_err(|e| format!("{name}:{line}: {e}"))
            .and_then(|record| {
                let mut input = CustomerInput {
                    id: String::new(),
                    phone: String::new(),
                    region: None,
                    timezone: None,
                    locale: None,
                    attributes: Map::new(),
                };
                for ((col, kind), cell) in columns.iter().zip(record.iter()) {
                    if cell.is_empty() {
                        continue;
                    }
                    match col.as_str() {
                        "id" => input.id = cell.to_string(),
                        "phone" => input.phone = cell.to_string(),
                        "region" => input.region = Some(cell.to_string()),
                        "timezone" => input.timezone = Some(cell.to_string()),
                        "locale" => input.locale = Some(cell.to_string()),
                        _ => {
                            let value = typed(cell, kind).ok_or_else(|| {
                                format!("{name}:{line}: {col}: {cell:?} is not a {kind}")
                            })?;
                            input.attributes.insert(col.clone(), value);
                        }
                    }
                }
                Ok(input)
            });
        rows.push((line, row));
    }
    Ok(rows)
}

fn typed(cell: &str, kind: &str) -> Option<Value> {
    match kind {
        "int" => cell.parse::<i64>().ok().map(Value::from),
        "float" => cell.parse::<f64>().ok().map(Value::from),
        "bool" => match cell.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(Value::Bool(true)),
            "false" | "no" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => Some(Value::String(cell.to_string())),
    }
}

/// Events from JSON lines, sorted by `occurred_at` (each must have one).
pub fn load_events(path: &Path) -> Result<Vec<EventInput>> {
    let name = path.display().to_string();
    let mut problems = Vec::new();
    let mut events = Vec::new();
    for (line, row) in read_json_lines::<EventInput>(path, &name)? {
        match row {
            Err(problem) => problems.push(problem),
            Ok(event) if event.occurred_at.is_none() => problems.push(format!(
                "{name}:{line}: occurred_at: required in an events file"
            )),
            Ok(event) => events.push(event),
        }
    }
    fail(problems)?;
    events.sort_by_key(|e| e.occurred_at);
    Ok(events)
}
