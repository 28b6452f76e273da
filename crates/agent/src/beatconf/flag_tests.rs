//! The `-E` grammar against go-ucfg's own cases (`parse/parse_test.go`,
//! `TestFlagValueParsingWithAll` and `TestFlagValueParsingFails`; `flag/value_test.go`),
//! rewritten as a table, plus the cases issue #16 names.

use super::*;

fn s(v: &str) -> Node {
    Node::Str(v.into())
}
fn list(v: Vec<Node>) -> Node {
    Node::List(v)
}
fn map(v: Vec<(&str, Node)>) -> Node {
    Node::Map(v.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

#[test]
fn go_ucfg_value_table() {
    let cases: Vec<(&str, Node)> = vec![
        ("", Node::Null),
        ("null", Node::Null),
        ("true", Node::Bool(true)),
        ("false", Node::Bool(false)),
        ("on", Node::Bool(true)),
        ("off", Node::Bool(false)),
        ("True", Node::Bool(true)),
        ("F", Node::Bool(false)),
        ("23", Node::Int(23)),
        ("-42", Node::Int(-42)),
        ("2.5", Node::Float(2.5)),
        ("0x1f", Node::Int(31)),
        ("017", Node::Int(15)),
        ("1e3", Node::Float(1000.0)),
        ("'single quoted'", s("single quoted")),
        (r#"'single quoted \"'"#, s(r#"single quoted \""#)),
        (r#""double quoted""#, s("double quoted")),
        (r#""double quoted \"""#, s("double quoted \"")),
        ("plain string", s("plain string")),
        ("string : with :: colons", s("string : with :: colons")),
        (r"C:\Windows\Style\Path", s(r"C:\Windows\Style\Path")),
        ("[]", Node::Null),
        ("a,b,c", list(vec![s("a"), s("b"), s("c")])),
        (
            r"C:\Windows\Path1,C:\Windows\Path2",
            list(vec![s(r"C:\Windows\Path1"), s(r"C:\Windows\Path2")]),
        ),
        (
            r#"[array, 1, true, "abc"]"#,
            list(vec![s("array"), Node::Int(1), Node::Bool(true), s("abc")]),
        ),
        (
            "[test, [1,2,3], on]",
            list(vec![
                s("test"),
                list(vec![Node::Int(1), Node::Int(2), Node::Int(3)]),
                Node::Bool(true),
            ]),
        ),
        (
            "[host1:1234, host2:1234]",
            list(vec![s("host1:1234"), s("host2:1234")]),
        ),
        ("{}", Node::Null),
        (
            "{'key1': true,\n \"key2\": 1,\n key 3: ['test', \"test2\", off],\n nested key: {\"a\" : 2}}",
            map(vec![
                ("key1", Node::Bool(true)),
                ("key2", Node::Int(1)),
                ("key 3", list(vec![s("test"), s("test2"), Node::Bool(false)])),
                ("nested key", map(vec![("a", Node::Int(2))])),
            ]),
        ),
        (
            "{key: 1},{key: 2}",
            list(vec![map(vec![("key", Node::Int(1))]), map(vec![("key", Node::Int(2))])]),
        ),
        // Issue #16: Metricbeat's topic format strings and comma lists.
        ("%{[metricset.name]}", s("%{[metricset.name]}")),
        ("metric.%{[metricset.name]}", s("metric.%{[metricset.name]}")),
        ("a: b", s("a: b")),
        ("\"a,b\"", s("a,b")),
        ("[\"kafka1:9092\",\"kafka2:9092\"]", list(vec![s("kafka1:9092"), s("kafka2:9092")])),
        ("10s", s("10s")),
    ];
    for (input, want) in cases {
        assert_eq!(parse_value(input).as_ref(), Ok(&want), "input {input:?}");
    }
}

#[test]
fn go_ucfg_failures() {
    for input in [
        "'abc",
        "\"abc",
        "[1,2,3",
        "['abc' 'def']",
        "['abc', 'def,]",
        "{a: 1, b:2",
        "{'a' 1, b: 2}",
        "{'a': '1' b: 2}",
        "{'abc: 2}",
        "{key: 'fail}",
        "{:'abc'}",
        "{nested: {a: 2}",
        "[",
        "{",
    ] {
        let err = parse_value(input).expect_err(input);
        assert!(err.contains(input), "{err}");
    }
}

#[test]
fn key_value_arguments() {
    assert_eq!(
        parse_override("tags=a,b"),
        Ok(("tags".into(), list(vec![s("a"), s("b")])))
    );
    assert_eq!(parse_override("b2"), Ok(("b2".into(), Node::Bool(true))));
    assert_eq!(parse_override("s="), Ok(("s".into(), Node::Null)));
    assert_eq!(
        parse_override("metricbeat.modules.0.period=5s"),
        Ok(("metricbeat.modules.0.period".into(), s("5s")))
    );
    assert_eq!(
        parse_override("output.kafka.topic=%{[metricset.name]}"),
        Ok(("output.kafka.topic".into(), s("%{[metricset.name]}")))
    );
    assert_eq!(parse_override("x=a=b"), Ok(("x".into(), s("a=b"))));
    assert!(parse_override("").is_err());
    assert!(parse_override("=v").is_err());
}
