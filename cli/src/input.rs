//! Reading customers (CSV or JSON lines) and events (JSON lines) from files. Every problem is
//! reported as `FILE:LINE: field: message`, all of them at once, and nothing is imported
//! unless the whole file is valid. Customers are checked by the engine's batch rule, the one
//! `POST /v1/customers:batch` applies.
use anyhow::{bail, Context, Result};
use nudge_core::rulebook::Rulebook;
use nudge_core::service::{
    check_customers, check_events, CustomerInput, EventInput, ItemError, ItemFault, Refusal,
};
use nudge_local::simulation::REPLY_EVENT;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::Path;

/// At most this many problems are printed; the count of the rest is given.
const MAX_REPORTED: usize = 50;

/// The problems one per line, the first [`MAX_REPORTED`] of them and the count of the rest.
pub fn listing(problems: &[String]) -> String {
    let mut text = problems
        .iter()
        .take(MAX_REPORTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    if problems.len() > MAX_REPORTED {
        text.push_str(&format!(
            "\n… and {} more problem(s)",
            problems.len() - MAX_REPORTED
        ));
    }
    text
}

fn fail(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "{} problem(s), nothing imported:\n{}",
        problems.len(),
        listing(&problems)
    )
}

/// A file's lines, numbered from 1, without their `\n` or `\r\n` endings. A line that is not
/// UTF-8 is the problem `FILE:LINE:COL: …`, COL being the character where it stops being so.
pub fn utf8_lines<'a>(bytes: &'a [u8], name: &str) -> Vec<(usize, Result<&'a str, String>)> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let line_number = i + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = std::str::from_utf8(line).map_err(|e| {
                let valid = &line[..e.valid_up_to()];
                let column = String::from_utf8_lossy(valid).chars().count() + 1;
                let bad = line.get(e.valid_up_to()).copied().unwrap_or_default();
                format!("{name}:{line_number}:{column}: not valid UTF-8 (byte 0x{bad:02X})")
            });
            (line_number, text)
        })
        .collect()
}

fn read(path: &Path, name: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{name}: cannot read"))
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

/// One customer from a JSON file (pretty-printed or not), as `rules plan --customer` takes
/// it: every problem located, bytes that are not UTF-8 at their line and column, a syntax
/// error at its position, a field the rules refuse at the line where its key is written.
pub fn load_customer_file(path: &Path, rulebook: &Rulebook) -> Result<CustomerInput> {
    let name = path.display().to_string();
    let bytes = read(path, &name)?;
    fail(
        utf8_lines(&bytes, &name)
            .into_iter()
            .filter_map(|(_, line)| line.err())
            .collect(),
    )?;
    let customer: CustomerInput = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{name}:{}:{}: {e}", e.line(), e.column()))?;
    let text = String::from_utf8_lossy(&bytes);
    let problems = check_customers(rulebook, std::slice::from_ref(&customer))?
        .iter()
        .map(|error| {
            // The line of the field's own key (its last segment: `attributes.plan` → `plan`).
            let key = format!("\"{}\"", error.field.rsplit('.').next().unwrap_or_default());
            let line = text
                .lines()
                .position(|l| l.contains(&key))
                .map_or(1, |i| i + 1);
            item_problem(&name, &[line], std::slice::from_ref(&customer), error)
        })
        .collect();
    fail(problems)?;
    Ok(customer)
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
    let bytes = read(path, name)?;
    Ok(utf8_lines(&bytes, name)
        .into_iter()
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(line, text)| {
            let row = text.and_then(|l| {
                serde_json::from_str(l).map_err(|e| format!("{name}:{line}:{}: {e}", e.column()))
            });
            (line, row)
        })
        .collect())
}

/// CSV columns `id`, `phone`, `region`, `timezone`, `locale`; every other column is an
/// attribute. A header `name:int`, `name:float` or `name:bool` types the column (default text);
/// empty cells are left out.
fn read_csv(path: &Path, name: &str) -> Result<Vec<Row<CustomerInput>>> {
    let bytes = read(path, name)?;
    // A row's line, counted from its first byte. With `\r\n` endings the reader takes the
    // `\r` for the end of the row and starts the next one at the `\n`, so both its line count
    // and its byte offset are one line early; a row never starts with a line break (empty
    // lines are skipped), so the breaks at the offset are passed over.
    let line_at = |position: &csv::Position| {
        let offset = usize::try_from(position.byte()).unwrap_or(usize::MAX);
        let breaks = bytes
            .iter()
            .skip(offset)
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        1 + bytes
            .iter()
            .take(offset.saturating_add(breaks))
            .filter(|b| **b == b'\n')
            .count()
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
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
        let position = match &record {
            Ok(record) => record.position(),
            Err(err) => err.position(),
        };
        let line = position.map_or(index + 2, line_at);
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

/// Events from JSON lines, sorted by `occurred_at` (each must have one), checked by the
/// engine's batch rule against the customers of the simulation. A reply (`sms.reply`) needs
/// its text.
pub fn load_events(
    path: &Path,
    rulebook: &Rulebook,
    customers: &[CustomerInput],
) -> Result<Vec<EventInput>> {
    let name = path.display().to_string();
    let mut problems: Vec<(usize, String)> = Vec::new();
    let mut lines = Vec::new();
    let mut events = Vec::new();
    for (line, row) in read_json_lines::<EventInput>(path, &name)? {
        match row {
            Err(problem) => problems.push((line, problem)),
            Ok(event) if event.occurred_at.is_none() => problems.push((
                line,
                format!("{name}:{line}: occurred_at: required in an events file"),
            )),
            Ok(event) => {
                if event.event_type == REPLY_EVENT
                    && !event.properties.get("text").is_some_and(|t| t.is_string())
                {
                    problems.push((
                        line,
                        format!("{name}:{line}: properties.text: a reply ({REPLY_EVENT}) needs its text"),
                    ));
                }
                lines.push(line);
                events.push(event);
            }
        }
    }
    // Each event is ingested when it occurs, so none is in the future of the simulation.
    let latest = events
        .iter()
        .filter_map(|e| e.occurred_at)
        .max()
        .unwrap_or_default();
    let known: HashSet<&str> = customers.iter().map(|c| c.id.as_str()).collect();
    let refused = check_events(
        &rulebook.tenant,
        &events,
        latest,
        |id| known.contains(id),
        |_, _| None,
    )?;
    for error in refused {
        let line = lines[error.index];
        let field = &error.field;
        let message = match &error.fault {
            Refusal::Fault(ItemFault::Invalid(message)) => message.clone(),
            Refusal::Fault(ItemFault::Repeated { previous }) => {
                format!("repeats line {}", lines[*previous])
            }
            Refusal::CustomerNotFound { id } => {
                format!("customer {id:?} is not in the customers file")
            }
            Refusal::IdReused { recorded } => format!(
                "{:?} is already the id of a {recorded:?} event of this customer",
                events[error.index].event_id
            ),
            Refusal::OutsideRegions { region } => {
                format!("region {region:?} is outside the key's regions")
            }
        };
        problems.push((line, format!("{name}:{line}: {field}: {message}")));
    }
    problems.sort_by_key(|(line, _)| *line);
    fail(problems.into_iter().map(|(_, problem)| problem).collect())?;
    events.sort_by_key(|e| e.occurred_at);
    Ok(events)
}
