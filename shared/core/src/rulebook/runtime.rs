//! Compiling and running the rulebook's CEL conditions and minijinja templates.
//!
//! Both are compiled once, when the rulebook is parsed; evaluation reuses the compiled program
//! and environment because it runs for every decision.
//!
//! Conditions see `customer` (attributes at the top level plus `id`, `phone`, …), `event`
//! (`id`, `type`, `occurred_at`, `properties`; an empty map when there is none, so
//! `has(event.properties)` is simply false) and `now` (a CEL timestamp). Timestamps stored in
//! attributes are strings: compare them as `timestamp(customer.paid_at) < now`.
use cel::objects::{Key, Map};
use chrono::{DateTime, Utc};
use minijinja::{Environment, UndefinedBehavior};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use super::model::{Condition, Template};
use crate::error::{Error, Result};

/// The variables a condition may refer to.
pub(crate) const CONDITION_VARIABLES: [&str; 3] = ["customer", "event", "now"];

/// Names CEL resolves as identifiers that are not variables (type names used with `type(x)`).
const CEL_TYPE_NAMES: [&str; 10] = [
    "bool",
    "bytes",
    "double",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "type",
    "uint",
];

const TEMPLATE_NAME: &str = "body";

/// The standard CEL environment, built once: building it registers every standard function.
fn cel_env() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    Arc::clone(ENV.get_or_init(|| Arc::new(cel::Env::stdlib())))
}

/// The longest condition accepted, in bytes. Real conditions are a few comparisons joined by
/// `&&` and `||`, well under 200 bytes.
pub(crate) const MAX_CONDITION_BYTES: usize = 4_096;
/// The deepest nesting of `(`, `[` and `{` in a condition.
pub(crate) const MAX_CONDITION_NESTING: usize = 32;
/// The most operators in a condition (`.`, `[`, `+`, `&&`, `==`, `!`, `?`, `in`, …).
pub(crate) const MAX_CONDITION_OPERATORS: usize = 256;

/// Refuses a condition past the limits above before the CEL parser sees it. The parser and
/// the evaluator recurse once per nested operator or bracket (a chain `1 + 1 + …` is as deep
/// as it is long), so a large enough expression exhausts the thread's stack, which aborts the
/// whole process rather than failing one decision. The limits keep the deepest accepted
/// expression far below the 2 MiB stacks of Lambda and tokio worker threads.
fn check_condition_size(source: &str) -> std::result::Result<(), String> {
    if source.len() > MAX_CONDITION_BYTES {
        return Err(format!(
            "CEL condition is {} bytes long, more than the {MAX_CONDITION_BYTES} allowed",
            source.len()
        ));
    }
    let shape = condition_shape(source);
    if shape.nesting > MAX_CONDITION_NESTING {
        return Err(format!(
            "CEL condition nests brackets {} deep, more than the {MAX_CONDITION_NESTING} allowed",
            shape.nesting
        ));
    }
    if shape.operators > MAX_CONDITION_OPERATORS {
        return Err(format!(
            "CEL condition has {} operators, more than the {MAX_CONDITION_OPERATORS} allowed; \
             simplify it",
            shape.operators
        ));
    }
    Ok(())
}

#[derive(Debug, Default, PartialEq, Eq)]
struct ConditionShape {
    /// The deepest bracket nesting.
    nesting: usize,
    operators: usize,
}

/// Counts operators and bracket nesting outside string literals and comments. Two-character
/// operators (`&&`, `==`, …) count once. It does not validate anything: the parser does that
/// on sources this lets through.
fn condition_shape(source: &str) -> ConditionShape {
    let bytes = source.as_bytes();
    let mut shape = ConditionShape::default();
    let mut depth = 0usize;
    let mut i = 0;
    // Whether the identifier just before `i` was a raw-string prefix (`r`, `rb`, `BR`, …).
    let mut raw_prefix = false;
    while i < bytes.len() {
        let c = bytes[i];
        let was_raw_prefix = std::mem::take(&mut raw_prefix);
        match c {
            b'"' | b'\'' => {
                i = skip_string(bytes, i, was_raw_prefix);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                shape.nesting = shape.nesting.max(depth);
                if c == b'[' {
                    shape.operators += 1;
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'&' | b'|' | b'=' | b'!' | b'<' | b'>'
                if matches!(
                    (c, bytes.get(i + 1)),
                    (b'&', Some(b'&'))
                        | (b'|', Some(b'|'))
                        | (b'=' | b'!' | b'<' | b'>', Some(b'='))
                ) =>
            {
                shape.operators += 1;
                i += 2;
                continue;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'!' | b'<' | b'>' | b'?' | b'.' => {
                shape.operators += 1;
            }
            b'0'..=b'9' => {
                // A number is one token, its `.` (as in `1.5`) included.
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || (bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)))
                {
                    i += 1;
                }
                continue;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &bytes[start..i];
                if word == b"in" {
                    shape.operators += 1;
                }
                raw_prefix = word.len() <= 2
                    && word.iter().all(|b| b"rRbB".contains(b))
                    && word.iter().any(|b| b"rR".contains(b));
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    shape
}

/// The index just past the string literal opening at `start` (single, double or triple
/// quoted; escapes only outside raw strings), or the end of an unterminated one.
fn skip_string(bytes: &[u8], start: usize, raw: bool) -> usize {
    let quote = bytes[start];
    let triple = bytes.get(start..start + 3) == Some(&[quote, quote, quote][..]);
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        if bytes[i] == b'\\' && !raw {
            i += 2;
        } else if triple && bytes.get(i..i + 3) == Some(&[quote, quote, quote][..]) {
            return i + 3;
        } else if !triple && bytes[i] == quote {
            return i + 1;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Compiles a CEL condition and checks it refers only to `customer`, `event` and `now`.
/// The error is one line, with the position inside the expression.
pub(crate) fn compile_condition(source: &str) -> std::result::Result<Condition, String> {
    check_condition_size(source)?;
    let program = cel::Program::compile(source).map_err(|errors| {
        let parts: Vec<String> = errors
            .errors
            .iter()
            .map(|e| format!("at {}:{}: {}", e.pos.0, e.pos.1, e.msg))
            .collect();
        format!("CEL does not compile: {}", parts.join("; "))
    })?;
    let mut free = BTreeSet::new();
    free_variables(program.expression(), &mut Vec::new(), &mut free);
    let unknown: Vec<&str> = free
        .iter()
        .filter_map(|name| name.split('.').next())
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .filter(|name| !CONDITION_VARIABLES.contains(name) && !CEL_TYPE_NAMES.contains(name))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "CEL refers to unknown variable{} {}; conditions may use only customer, event and now \
             (write customer.{} for an attribute)",
            if unknown.len() > 1 { "s" } else { "" },
            unknown
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            unknown[0],
        ));
    }
    let customer_fields = (!free.contains("customer")).then(|| {
        free.iter()
            .filter_map(|name| name.strip_prefix("customer."))
            .map(str::to_string)
            .collect()
    });
    Ok(Condition {
        source: source.to_string(),
        program: Arc::new(program),
        customer_fields,
    })
}

/// Identifiers not bound by a comprehension (`exists(x, …)` binds `x`). The crate's own
/// `references()` also lists comprehension variables, hence this walk.
fn free_variables(expr: &cel::IdedExpr, bound: &mut Vec<String>, out: &mut BTreeSet<String>) {
    use cel::common::ast::{EntryExpr, Expr};
    match &expr.expr {
        Expr::Unspecified | Expr::Literal(_) => {}
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.contains(name) {
                out.insert(name.clone());
            }
        }
        Expr::Select(select) => {
            // `customer.plan` is recorded as such: only the fields a condition reads are bound.
            if let Expr::Ident(name) = &select.operand.expr {
                if name == "customer" && !bound.contains(name) && !select.test {
                    out.insert(format!("customer.{}", select.field));
                    return;
                }
            }
            free_variables(&select.operand, bound, out)
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                free_variables(target, bound, out);
            }
            for arg in &call.args {
                free_variables(arg, bound, out);
            }
        }
        Expr::List(list) => {
            for element in &list.elements {
                free_variables(element, bound, out);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => free_variables(&field.value, bound, out),
                    EntryExpr::MapEntry(pair) => {
                        free_variables(&pair.key, bound, out);
                        free_variables(&pair.value, bound, out);
                    }
                }
            }
        }
        Expr::Struct(object) => {
            for entry in &object.entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => free_variables(&field.value, bound, out),
                    EntryExpr::MapEntry(pair) => {
                        free_variables(&pair.key, bound, out);
                        free_variables(&pair.value, bound, out);
                    }
                }
            }
        }
        Expr::Comprehension(comp) => {
            free_variables(&comp.iter_range, bound, out);
            let before = bound.len();
            bound.push(comp.iter_var.clone());
            bound.extend(comp.iter_var2.clone());
            bound.push(comp.accu_var.clone());
            for part in [
                &comp.accu_init,
                &comp.loop_cond,
                &comp.loop_step,
                &comp.result,
            ] {
                free_variables(part, bound, out);
            }
            bound.truncate(before);
        }
    }
}

/// The variables conditions see (`customer`, `event`, `now`), converted to CEL once so several
/// conditions of one decision share the conversion.
pub struct Bindings {
    context: cel::Context<'static, 'static>,
}

impl Bindings {
    pub fn new(
        customer: &serde_json::Value,
        event: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> Self {
        Self::for_conditions(&[], customer, event, now)
    }

    /// Bindings for evaluating `conditions`: of the customer, only the fields they read are
    /// converted (the conversion dominates the cost of a condition); all of it when any
    /// condition uses `customer` as a whole, or when `conditions` is empty.
    pub(crate) fn for_conditions(
        conditions: &[&Condition],
        customer: &serde_json::Value,
        event: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut fields: Option<BTreeSet<&str>> = (!conditions.is_empty()).then(BTreeSet::new);
        for condition in conditions {
            match (&mut fields, &condition.customer_fields) {
                (Some(all), Some(used)) => all.extend(used.iter().map(String::as_str)),
                _ => fields = None,
            }
        }
        let customer = match (fields, customer) {
            (Some(fields), serde_json::Value::Object(map)) => {
                let picked: HashMap<Key, cel::Value> = fields
                    .into_iter()
                    .filter_map(|f| {
                        map.get(f)
                            .map(|v| (Key::String(Arc::new(f.to_string())), json_to_cel(v)))
                    })
                    .collect();
                cel::Value::Map(Map {
                    map: Arc::new(picked),
                })
            }
            (_, whole) => json_to_cel(whole),
        };
        let mut context = cel::Context::with_env(cel_env());
        context.add_variable_from_value("customer", customer);
        let event = match event {
            Some(event) => json_to_cel(event),
            None => cel::Value::Map(Map {
                map: Arc::new(HashMap::new()),
            }),
        };
        context.add_variable_from_value("event", event);
        context.add_variable_from_value("now", cel::Value::Timestamp(now.fixed_offset()));
        Bindings { context }
    }
}

impl Condition {
    /// Evaluates the condition. An error (a missing attribute, a type mismatch, a result that
    /// is not a boolean) is returned, not treated as false: the caller decides and logs it.
    pub fn eval(
        &self,
        customer: &serde_json::Value,
        event: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.eval_with(&Bindings::new(customer, event, now))
    }

    /// Like [`Condition::eval`], on bindings built once.
    pub fn eval_with(&self, bindings: &Bindings) -> Result<bool> {
        match self.program.execute(&bindings.context) {
            Ok(cel::Value::Bool(value)) => Ok(value),
            Ok(other) => Err(Error::invalid(
                "condition",
                format!("`{}` gave {other:?}, not true or false", self.source),
            )),
            Err(err) => Err(Error::invalid(
                "condition",
                format!("`{}` failed: {err}", self.source),
            )),
        }
    }
}

/// Converts JSON to CEL directly (integers stay `int`, so `customer.level + 1` works).
fn json_to_cel(value: &serde_json::Value) -> cel::Value {
    use serde_json::Value as J;
    match value {
        J::Null => cel::Value::Null,
        J::Bool(b) => cel::Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => cel::Value::String(Arc::new(s.clone())),
        J::Array(items) => cel::Value::List(Arc::new(items.iter().map(json_to_cel).collect())),
        J::Object(fields) => {
            let map: HashMap<Key, cel::Value> = fields
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            cel::Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// The work one rendering may do, in minijinja fuel (about one unit per instruction, and one
/// per 64 bytes allocated). A text is at most 10 segments, a few hundred characters, and real
/// templates use well under a thousand units; this stops a runaway loop such as
/// `{% for i in range(100000) %}` nested three deep within milliseconds, with a clear error,
/// instead of letting it hold a decision forever.
pub(crate) const TEMPLATE_FUEL: u64 = 50_000;

/// How deep rendering may recurse (nested blocks, loops, macro calls); minijinja's own default
/// is 500, far beyond what a text needs.
const TEMPLATE_RECURSION_LIMIT: usize = 64;

/// The environment every template renders in: strict about undefined variables, with a fuel
/// budget, and without `debug()`, which would print the whole context (the customer's phone
/// number included) into a text.
fn template_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_recursion_limit(TEMPLATE_RECURSION_LIMIT);
    env.remove_global("debug");
    env
}

/// The longest template source.
pub(crate) const MAX_TEMPLATE_BYTES: usize = 16 * 1024;
/// The longest tag (`{{ … }}`, `{% … %}`). minijinja's parser builds an attribute chain or
/// a run of operators as one node per step and compiles the tree recursively, so a
/// 40 KB `{{ a.b.b.b… }}` overflows the stack; 512 bytes is at most ~256 steps in one
/// expression, which a test compiles on a quarter of a Lambda thread's stack.
pub(crate) const MAX_TEMPLATE_TAG_BYTES: usize = 512;

/// Refuses a template past the size limits, before minijinja parses it.
fn check_template_size(source: &str) -> std::result::Result<(), String> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "template is {} bytes long, more than the {MAX_TEMPLATE_BYTES} allowed",
            source.len()
        ));
    }
    let bytes = source.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let close: &[u8] = match (bytes[i], bytes[i + 1]) {
            (b'{', b'{') => b"}}",
            (b'{', b'%') => b"%}",
            _ => {
                i += 1;
                continue;
            }
        };
        // The tag runs to its closing pair outside string literals, as minijinja lexes it.
        let start = i;
        let mut j = i + 2;
        let mut quote = None;
        while j < bytes.len() {
            match (quote, bytes[j]) {
                (Some(_), b'\\') => j += 1,
                (Some(q), c) if c == q => quote = None,
                (None, b'\'' | b'"') => quote = Some(bytes[j]),
                (None, _) if bytes[j..].starts_with(close) => break,
                _ => {}
            }
            j += 1;
        }
        let end = (j + 2).min(bytes.len());
        if end - start > MAX_TEMPLATE_TAG_BYTES {
            return Err(format!(
                "a template tag is {} bytes long, more than the {MAX_TEMPLATE_TAG_BYTES} allowed",
                end - start
            ));
        }
        i = end;
    }
    Ok(())
}

/// Compiles a message template once; a missing variable at render time is an error.
pub(crate) fn compile_template(source: &str) -> std::result::Result<Template, String> {
    check_template_size(source)?;
    let mut env = template_environment();
    env.add_template_owned(TEMPLATE_NAME, source.to_string())
        .map_err(|e| {
            let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
            match e.line() {
                Some(line) if source.contains('\n') => {
                    format!(
                        "template does not parse: {}{detail} (template line {line})",
                        e.kind()
                    )
                }
                _ => format!("template does not parse: {}{detail}", e.kind()),
            }
        })?;
    Ok(Template {
        source: source.to_string(),
        env: Arc::new(env),
    })
}

impl Template {
    /// Top-level variables the template uses that the environment does not provide
    /// (minijinja's globals such as `range` excluded).
    pub fn variables(&self) -> BTreeSet<String> {
        let Ok(template) = self.env.get_template(TEMPLATE_NAME) else {
            return BTreeSet::new();
        };
        let globals: BTreeSet<&str> = self.env.globals().map(|(name, _)| name).collect();
        template
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| !globals.contains(name.as_str()))
            .collect()
    }

    /// Every variable path the template reads (`name`, `event.properties.order_id`),
    /// minijinja's globals excluded.
    pub fn paths(&self) -> BTreeSet<String> {
        let Ok(template) = self.env.get_template(TEMPLATE_NAME) else {
            return BTreeSet::new();
        };
        let globals: BTreeSet<&str> = self.env.globals().map(|(name, _)| name).collect();
        template
            .undeclared_variables(true)
            .into_iter()
            .filter(|path| !globals.contains(path.split('.').next().unwrap_or_default()))
            .collect()
    }

    /// Renders with the customer's context keys as top-level variables, plus `event` when
    /// given. A variable the context lacks is an error naming it.
    pub fn render(
        &self,
        customer: &serde_json::Value,
        event: Option<&serde_json::Value>,
    ) -> Result<String> {
        let fields = customer
            .as_object()
            .ok_or_else(|| Error::invalid("customer", "the template context must be an object"))?;
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| Error::invalid("template", e.to_string()))?;
        let context = RenderContext { fields, event };
        template
            .render(minijinja::value::Serde(&context))
            .map_err(|e| {
                if e.kind() == minijinja::ErrorKind::OutOfFuel {
                    return Error::invalid(
                        "template",
                        format!(
                            "`{}` does too much work to render (more than {TEMPLATE_FUEL} steps); \
                             a text needs no large loops",
                            self.source
                        ),
                    );
                }
                if e.kind() == minijinja::ErrorKind::UndefinedError {
                    if let Some(missing) = self.first_missing(fields, event) {
                        return Error::invalid(
                            "template",
                            format!("variable `{missing}` is missing"),
                        );
                    }
                }
                Error::invalid(
                    "template",
                    format!("`{}` does not render: {e}", self.source),
                )
            })
    }

    /// The first variable path (`name`, `event.properties.sku`) the context does not have;
    /// only computed on the error path.
    fn first_missing(
        &self,
        fields: &serde_json::Map<String, serde_json::Value>,
        event: Option<&serde_json::Value>,
    ) -> Option<String> {
        let template = self.env.get_template(TEMPLATE_NAME).ok()?;
        let mut paths: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        paths.sort();
        paths.into_iter().find(|path| {
            let mut parts = path.split('.');
            let root = parts.next().unwrap_or_default();
            let mut value = match (root, event) {
                ("event", Some(event)) => Some(event),
                _ => fields.get(root),
            };
            for part in parts {
                value = value.and_then(|v| v.get(part));
            }
            value.is_none() && !self.env.globals().any(|(name, _)| name == root)
        })
    }
}

#[derive(serde::Serialize)]
struct RenderContext<'a> {
    #[serde(flatten)]
    fields: &'a serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a serde_json::Value>,
}
