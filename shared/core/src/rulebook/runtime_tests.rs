//! Tests of compiled conditions and templates at run time.
use chrono::{TimeZone, Utc};
use serde_json::json;

use super::runtime::{compile_condition, compile_template};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap()
}

fn customer() -> serde_json::Value {
    json!({
        "id": "c1",
        "phone": "+8613800138000",
        "name": "王芳",
        "plan": "trial",
        "level": 3,
        "paid_at": "2026-02-01T08:00:00Z",
        "tags": ["vip", "new"],
    })
}

fn eval(source: &str, event: Option<&serde_json::Value>) -> crate::Result<bool> {
    compile_condition(source)
        .unwrap()
        .eval(&customer(), event, now())
}

#[test]
fn conditions_evaluate_over_customer_event_and_now() {
    assert!(eval("customer.plan == \"trial\"", None).unwrap());
    assert!(!eval("customer.plan == \"paid\"", None).unwrap());
    assert!(eval("customer.level + 1 == 4 && customer.level >= 3", None).unwrap());
    assert!(eval("\"vip\" in customer.tags", None).unwrap());
    assert!(eval("customer.tags.exists(t, t == \"new\")", None).unwrap());
    let order = json!({"type": "order.paid", "properties": {"amount": 150.5}});
    assert!(eval("event.properties.amount > 100", Some(&order)).unwrap());
    assert!(!eval("event.properties.amount > 200", Some(&order)).unwrap());
}

#[test]
fn timestamps_compare_with_now() {
    assert!(eval("timestamp(customer.paid_at) < now", None).unwrap());
    assert!(eval(
        "now - timestamp(customer.paid_at) > duration(\"672h\")",
        None
    )
    .unwrap());
    assert!(!eval("timestamp(customer.paid_at) > now", None).unwrap());
}

#[test]
fn has_distinguishes_missing_keys_and_a_missing_event() {
    assert!(!eval("has(customer.birthday)", None).unwrap());
    assert!(eval("has(customer.plan)", None).unwrap());
    assert!(
        !eval("has(event.properties)", None).unwrap(),
        "no event is an empty map"
    );
}

#[test]
fn missing_attributes_and_non_booleans_are_errors() {
    let err = eval("customer.birthday == \"x\"", None).unwrap_err();
    assert!(err.to_string().contains("birthday"), "{err}");
    assert!(matches!(err, crate::Error::Invalid { .. }));
    let err = eval("customer.level", None).unwrap_err();
    assert!(err.to_string().contains("not true or false"), "{err}");
}

#[test]
fn conditions_may_only_use_known_variables() {
    let err = compile_condition("plan == \"trial\"").unwrap_err();
    assert!(err.contains("unknown variable `plan`"), "{err}");
    // Comprehension variables are bound, type names are not variables.
    assert!(compile_condition("customer.tags.all(t, size(t) > 0)").is_ok());
    assert!(compile_condition("type(customer.level) == int").is_ok());
    assert!(compile_condition("customer.plan ==")
        .unwrap_err()
        .starts_with("CEL does not compile"));
}

#[test]
fn templates_render_customer_attributes_and_event() {
    let template = compile_template("{{name}}您好，订单{{event.properties.no}}已发货").unwrap();
    let event = json!({"properties": {"no": "A-17"}});
    assert_eq!(
        template.render(&customer(), Some(&event)).unwrap(),
        "王芳您好，订单A-17已发货"
    );
    let plain = compile_template("{{ name }}，您的等级是{{ level }}").unwrap();
    assert_eq!(
        plain.render(&customer(), None).unwrap(),
        "王芳，您的等级是3"
    );
}

#[test]
fn templates_are_strict_about_missing_variables() {
    let template = compile_template("{{nickname}}您好，").unwrap();
    let err = template.render(&customer(), None).unwrap_err().to_string();
    assert!(err.contains("`nickname` is missing"), "{err}");

    let nested = compile_template("订单{{event.properties.no}}").unwrap();
    let err = nested
        .render(&customer(), Some(&json!({"properties": {}})))
        .unwrap_err();
    assert!(
        err.to_string().contains("`event.properties.no` is missing"),
        "{err}"
    );
    let err = nested.render(&customer(), None).unwrap_err();
    assert!(err.to_string().contains("`event"), "{err}");
}

#[test]
fn template_variables_exclude_globals_and_locals() {
    let template =
        compile_template("{% for i in range(2) %}{{ i }}{{ name }}{% endfor %}{{ event.type }}")
            .unwrap();
    let names: Vec<String> = template.variables().into_iter().collect();
    assert_eq!(names, ["event", "name"]);
    assert!(compile_template("{{ name }")
        .unwrap_err()
        .starts_with("template does not parse"));
}

/// A rough throughput check: rendering and evaluation reuse compiled state, so both stay far
/// under the 5 µs per decision the 200k decisions/s target allows (debug builds are slower,
/// hence the generous bound).
#[test]
fn rendering_and_evaluation_are_cheap() {
    let template = compile_template("{{name}}您好，试用已满7天，有问题回复1预约演示。").unwrap();
    let condition = compile_condition("customer.plan == \"trial\" && customer.level > 1").unwrap();
    let customer = customer();
    let rounds = 5_000;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        assert!(condition.eval(&customer, None, now()).unwrap());
        assert!(!template.render(&customer, None).unwrap().is_empty());
    }
    let per_round = started.elapsed() / rounds;
    assert!(
        per_round < std::time::Duration::from_micros(500),
        "{per_round:?} per round"
    );
}

/// Runs `work` on a thread with a quarter of the 2 MiB stack of Lambda and tokio workers (in
/// a debug build, whose frames are larger than a release build's): a stack overflow there
/// aborts the test process, so passing means it fits with a wide margin.
fn on_small_stack<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(work)
        .unwrap()
        .join()
        .unwrap()
}

fn chain(term: &str, operator: &str, terms: usize) -> String {
    vec![term; terms].join(operator)
}

#[test]
fn conditions_past_the_limits_are_refused_before_the_parser_sees_them() {
    let too_many_terms = format!("{} > 0", chain("1", " + ", 2_000));
    let huge = format!("{} > 0", chain("1", " + ", 50_000));
    let member_chain = format!("customer.a{}", ".c".repeat(20_000));
    let refused = on_small_stack(move || {
        [too_many_terms, huge, member_chain].map(|source| compile_condition(&source).err())
    });
    for err in refused {
        let err = err.expect("refused");
        assert!(err.contains("more than the 4096 allowed"), "{err}");
    }
    let deep = format!("{}true{}", "(".repeat(33), ")".repeat(33));
    let err = compile_condition(&deep).unwrap_err();
    assert!(err.contains("nests brackets 33 deep"), "{err}");
    let long = format!("{} > 0", chain("1", "+", 257));
    let err = compile_condition(&long).unwrap_err();
    assert!(err.contains("has 257 operators"), "{err}");
    let members = format!("customer{} == 1", ".a".repeat(256));
    let err = compile_condition(&members).unwrap_err();
    assert!(err.contains("has 257 operators"), "{err}");
}

#[test]
fn the_largest_accepted_conditions_compile_and_evaluate_on_a_small_stack() {
    let nested = |inner: String| format!("{}{inner}{}", "(".repeat(31), ")".repeat(31));
    let sources = [
        // Two `[`, 253 additions and a comparison, 32 brackets deep (the first `[` counts).
        format!("[{}][0] > 0", nested(chain("1", "+", 254))),
        nested(format!("customer{} == 1", ".level".repeat(255))),
        format!("{}true", "!".repeat(256)),
        nested(chain("customer.level > 1", " && ", 85)),
        format!("{} == 1", chain("customer.level", " - ", 128)),
    ];
    let results = on_small_stack(move || {
        sources.map(|source| {
            let condition = compile_condition(&source).map_err(|e| format!("{source}: {e}"))?;
            Ok::<_, String>(condition.eval(&customer(), None, now()).is_ok())
        })
    });
    let evaluated: Vec<bool> = results.into_iter().map(Result::unwrap).collect();
    // The member chain fails (a number has no `level`); failing is an error, not an abort.
    assert_eq!(evaluated, [true, false, true, true, true]);
}

#[test]
fn strings_and_comments_do_not_count_toward_the_limits() {
    let text = "+(".repeat(300);
    let source = format!("customer.name != \"{text}\" && customer.name != r'{text}' // {text}");
    assert!(compile_condition(&source).is_ok());
    let quoted = format!("customer.name != \"\\\"{text}\" && customer.name != '''{text}'''");
    assert!(compile_condition(&quoted).is_ok());
}

#[test]
fn a_runaway_template_stops_with_an_error_instead_of_rendering_forever() {
    let template = compile_template(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}\
         {{ name }}{% endfor %}{% endfor %}{% endfor %}",
    )
    .unwrap();
    let err = template.render(&customer(), None).unwrap_err().to_string();
    assert!(err.contains("does too much work to render"), "{err}");
    // A large string built without a loop is charged by its size.
    let big = compile_template("{{ name * 10000000 }}").unwrap();
    let err = big.render(&customer(), None).unwrap_err().to_string();
    assert!(err.contains("does too much work to render"), "{err}");
}

#[test]
fn templates_cannot_call_debug_to_print_the_whole_customer() {
    let template = compile_template("您好{{ debug() }}").unwrap();
    let err = template.render(&customer(), None).unwrap_err().to_string();
    assert!(!err.contains("13800138000"), "{err}");
    assert!(template.variables().contains("debug"));
}

#[test]
fn the_longest_accepted_template_tags_compile_and_render_on_a_small_stack() {
    // 512-byte tags: an attribute chain and a run of additions, the deepest trees minijinja
    // builds from one tag.
    let chain = format!("{{{{ name{} }}}}", ".c".repeat(251));
    let sum = format!("{{{{ 10{} }}}}", "+1".repeat(252));
    assert_eq!((chain.len(), sum.len()), (512, 512));
    let rendered = on_small_stack(move || {
        [chain, sum].map(|source| {
            let template = compile_template(&source).map_err(|e| format!("{source}: {e}"))?;
            Ok::<_, String>(template.render(&customer(), None).is_ok())
        })
    });
    let rendered: Vec<bool> = rendered.into_iter().map(Result::unwrap).collect();
    // The chain fails (a name has no `c`); failing is an error, not an abort.
    assert_eq!(rendered, [false, true]);
}

#[test]
fn templates_past_the_size_limits_are_refused_before_minijinja_parses_them() {
    let long_tag = format!("您好{{{{ name{} }}}}", ".c".repeat(2_000));
    let err = compile_template(&long_tag).err().unwrap();
    assert!(err.contains("more than the 512 allowed"), "{err}");
    // A closing pair inside a string literal does not end the tag.
    let hidden = format!("{{{{ name ~ \"}}}}\"{} }}}}", ".c".repeat(300));
    let err = compile_template(&hidden).err().unwrap();
    assert!(err.contains("more than the 512 allowed"), "{err}");
    let long_text = "您".repeat(6_000);
    let err = compile_template(&long_text).err().unwrap();
    assert!(err.contains("more than the 16384 allowed"), "{err}");
    // Text outside tags, however many dots, is fine.
    assert!(compile_template(&format!("{}{{{{ name }}}}", ".".repeat(10_000))).is_ok());
}
