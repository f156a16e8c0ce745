//! Tests of parsing, rendering, Prometheus' functions and Go's formatting, through the public
//! API and the formatting helpers.

use super::functions::{
    humanize, humanize_1024, humanize_duration, humanize_timestamp, strip_port,
};
use super::go_format::go_format_float;
use super::*;

const EXTERNAL_URL: &str = "https://prom.example.com/prometheus";

fn labels() -> BTreeMap<String, String> {
    [
        ("instance", "db-1:9100"),
        ("job", "node"),
        ("some-label", "dash"),
        ("pct", "0.25"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}

fn render_with(text: &str, value: f64) -> String {
    let labels = labels();
    let external_labels = BTreeMap::from([("cluster".to_owned(), "eu-1".to_owned())]);
    let data = TemplateData {
        labels: &labels,
        value,
        external_labels: &external_labels,
        external_url: EXTERNAL_URL,
    };
    let template = Template::parse(text);
    template
        .unwrap_or_else(|err| panic!("{text:?} does not parse: {err}"))
        .render(&data)
}

fn render(text: &str) -> String {
    render_with(text, 0.25)
}

fn parse_error(text: &str) -> TemplateError {
    Template::parse(text).expect_err("template should not parse")
}

fn assert_renders(cases: &[(&str, &str)]) {
    for (text, want) in cases {
        assert_eq!(render(text), *want, "template {text:?}");
    }
}

#[test]
fn floats_print_like_go_percent_v() {
    let cases = [
        (0.25, "0.25"),
        (1e6, "1e+06"),
        (1.5e-7, "1.5e-07"),
        (100.0, "100"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (0.0, "0"),
        (-0.0, "-0"),
        (123_456.0, "123456"),
        (999_999.5, "999999.5"),
        (1_234_567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.000_01, "1e-05"),
        (1e20, "1e+20"),
        (1e21, "1e+21"),
        (-2.5, "-2.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (12_345.678, "12345.678"),
        (608_863_452_348.114_9, "6.088634523481149e+11"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (1e100, "1e+100"),
    ];
    for (value, want) in cases {
        assert_eq!(go_format_float(value, b'g', None), want, "{value:e}");
    }
}

#[test]
fn format_value_go_e_matches_strconv() {
    let cases = [
        (1.0, "1e+00"),
        (45.0, "4.5e+01"),
        (1.2345e-5, "1.2345e-05"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (0.0, "0e+00"),
        (-0.5, "-5e-01"),
        (0.1, "1e-01"),
        (123_456_789.0, "1.23456789e+08"),
        (1e100, "1e+100"),
        (1e-300, "1e-300"),
    ];
    for (value, want) in cases {
        assert_eq!(format_value_go_e(value), want, "{value:e}");
    }
}

#[test]
fn floats_with_a_precision_format_like_go() {
    let cases = [
        (1_234_567.0, b'g', 4, "1.235e+06"),
        (1234.567, b'g', 4, "1235"),
        (1234.5, b'g', 4, "1234"),
        (999.99, b'g', 4, "1000"),
        (10_000.0, b'g', 4, "1e+04"),
        (12.3, b'g', 4, "12.3"),
        (100.0, b'g', 4, "100"),
        (0.0, b'g', 4, "0"),
        (0.000_012_34, b'g', 4, "1.234e-05"),
        (0.5, b'g', 0, "0.5"),
        (1.234_56, b'g', 3, "1.23"),
        (1_234.567_8, b'e', 6, "1.234568e+03"),
        (0.0, b'e', 3, "0.000e+00"),
        (2.5, b'f', 0, "2"),
        (0.125, b'f', 2, "0.12"),
        (-0.0, b'f', 2, "-0.00"),
        (f64::INFINITY, b'f', 2, "+Inf"),
    ];
    for (value, verb, precision, want) in cases {
        let got = go_format_float(value, verb, Some(precision));
        assert_eq!(got, want, "{value} %.{precision}{}", char::from(verb));
    }
}

#[test]
fn value_prints_as_go_percent_v() {
    for (value, want) in [
        (0.25, "0.25"),
        (1e6, "1e+06"),
        (100.0, "100"),
        (f64::NAN, "NaN"),
    ] {
        assert_eq!(
            render_with("{{ $value }}|{{ .Value }}", value),
            format!("{want}|{want}")
        );
    }
}

#[test]
fn labels_and_prelude_variables() {
    assert_renders(&[
        ("{{ $labels.instance }}", "db-1:9100"),
        ("{{ .Labels.job }} {{ $.Labels.job }}", "node node"),
        ("[{{ $labels.missing }}]", "[]"),
        (r#"{{ index $labels "some-label" }}"#, "dash"),
        (r#"[{{ index .Labels "nope" }}]"#, "[]"),
        (
            "{{ $externalLabels.cluster }} {{ .ExternalLabels.cluster }}",
            "eu-1 eu-1",
        ),
        ("{{ $externalURL }}", EXTERNAL_URL),
        ("{{ .ExternalURL }}", EXTERNAL_URL),
        ("{{ .ExternalLabels }}", "map[cluster:eu-1]"),
        (
            "{{ $labels }}",
            "map[instance:db-1:9100 job:node pct:0.25 some-label:dash]",
        ),
    ]);
}

#[test]
fn literals_and_go_escapes() {
    assert_renders(&[
        (r#"{{ "a\tb\u00e9\x41\101\\\"" }}"#, "a\tbéAA\\\""),
        (r#"{{ "\U0001F600" }}"#, "😀"),
        ("{{ `raw \\n \"q\"` }}", "raw \\n \"q\""),
        ("{{ \"}}\" }}", "}}"),
        (
            "{{ 1.5 }} {{ 1e3 }} {{ -2 }} {{ +3 }} {{ .5 }}",
            "1.5 1000 -2 3 0.5",
        ),
        ("{{ true }} {{ false }}", "true false"),
        ("a }} b", "a }} b"),
    ]);
}

#[test]
fn trim_markers_and_comments() {
    assert_renders(&[
        ("a  {{- 1 -}}  b", "a1b"),
        ("a \n\t{{- 1 }} b", "a1 b"),
        ("a {{ 1 -}} \n b", "a 1b"),
        ("a\n{{- /* note */ -}}\nb", "ab"),
        ("{{/* a\nmultiline comment */}}x", "x"),
        ("x {{-3}}", "x -3"),
        ("{{ 3 -}}\n\n", "3"),
    ]);
}

#[test]
fn is_literal_only_without_actions() {
    for (text, literal) in [
        ("plain text", true),
        ("", true),
        ("a }} b", true),
        ("a{{/* c */}}", false),
        ("{{ 1 }}", false),
    ] {
        let template = Template::parse(text).expect("parses");
        assert_eq!(template.is_literal(), literal, "{text:?}");
    }
    assert_eq!(render("plain text"), "plain text");
}

#[test]
fn pipelines_and_parentheses() {
    assert_renders(&[
        ("{{ $value | humanizePercentage }}", "25%"),
        ("{{ humanize 1234567 }}", "1.235M"),
        (r#"{{ $value | printf "%.2f" }}"#, "0.25"),
        (
            r#"{{ printf "%s: %s" $labels.job (humanize 2048) }}"#,
            "node: 2.048k",
        ),
        ("{{ $labels.job | toUpper | printf \"<%s>\" }}", "<NODE>"),
        ("{{ humanize(1000) }}", "1k"),
    ]);
}

#[test]
fn humanize_like_prometheus() {
    let cases = [
        (0.0, "0"),
        (1.0, "1"),
        (1_234_567.0, "1.235M"),
        (0.12, "120m"),
        (0.0123, "12.3m"),
        (-1_234_567.0, "-1.235M"),
        (1e30, "1e+06Y"),
        (1e-5, "10u"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
    ];
    for (value, want) in cases {
        assert_eq!(humanize(value), want, "{value}");
    }
    let binary = [
        (0.0, "0"),
        (1.0, "1"),
        (1_048_576.0, "1Mi"),
        (0.12, "0.12"),
        (1536.0, "1.5ki"),
    ];
    for (value, want) in binary {
        assert_eq!(humanize_1024(value), want, "{value}");
    }
}

#[test]
fn humanize_duration_like_prometheus() {
    let cases = [
        (0.0, "0s"),
        (1.0, "1s"),
        (60.0, "1m 0s"),
        (90.0, "1m 30s"),
        (3600.0, "1h 0m 0s"),
        (86_400.0, "1d 0h 0m 0s"),
        (86_400.0 + 3600.0, "1d 1h 0m 0s"),
        (
            -(86_400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
            "-2d 3h 4m 5s",
        ),
        (899.99, "14m 59s"),
        (0.1, "100ms"),
        (0.0001, "100us"),
        (0.123_45, "123.5ms"),
        (60.1, "1m 0s"),
        (1.2345, "1.234s"),
        (12.345, "12.35s"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Inf"),
    ];
    for (value, want) in cases {
        assert_eq!(humanize_duration(value), want, "{value}");
    }
}

#[test]
fn humanize_percentage_and_timestamp() {
    assert_renders(&[
        ("{{ humanizePercentage 0 }}", "0%"),
        ("{{ humanizePercentage 0.1234567 }}", "12.35%"),
        ("{{ humanizePercentage 0.1234 }}", "12.34%"),
        ("{{ humanizePercentage 1 }}", "100%"),
        (
            "{{ 1435065584.128 | humanizeTimestamp }}",
            "2015-06-23 13:19:44.128 +0000 UTC",
        ),
        ("{{ humanizeTimestamp 0 }}", "1970-01-01 00:00:00 +0000 UTC"),
        (
            "{{ humanizeTimestamp -1.5 }}",
            "1969-12-31 23:59:58.5 +0000 UTC",
        ),
        (
            "{{ humanizeTimestamp 951782400 }}",
            "2000-02-29 00:00:00 +0000 UTC",
        ),
        (
            "{{ humanizeTimestamp 4102444799.999 }}",
            "2099-12-31 23:59:59.999 +0000 UTC",
        ),
    ]);
    assert_eq!(humanize_timestamp(f64::NAN).as_deref(), Ok("NaN"));
    assert!(humanize_timestamp(1e300).is_err());
}

#[test]
fn humanize_accepts_numeric_strings() {
    assert_renders(&[
        (r#"{{ "1234567" | humanize }}"#, "1.235M"),
        ("{{ $labels.pct | humanizePercentage }}", "25%"),
        ("{{ humanizeDuration \"90\" }}", "1m 30s"),
    ]);
}

#[test]
fn printf_verbs() {
    assert_renders(&[
        (r#"{{ printf "%.2f" $value }}"#, "0.25"),
        (r#"{{ printf "%.1f%%" 0.256 }}"#, "0.3%"),
        (
            r#"{{ printf "%s is %v" $labels.instance $value }}"#,
            "db-1:9100 is 0.25",
        ),
        (r#"{{ printf "%d items" 42 }}"#, "42 items"),
        (r#"{{ printf "%f" 2.5 }}"#, "2.500000"),
        (r#"{{ printf "%g %g" 1e6 0.5 }}"#, "1e+06 0.5"),
        (r#"{{ printf "%.3g" 3.14159 }}"#, "3.14"),
        (r#"{{ printf "%e" 1234.5678 }}"#, "1.234568e+03"),
        (r#"{{ printf "%E" 1234.5678 }}"#, "1.234568E+03"),
        (r#"{{ printf "%.0f" 2.5 }}"#, "2"),
        (r#"{{ printf "%.f" 3.7 }}"#, "4"),
        (r#"{{ printf "%v %v %v" true 3 "x" }}"#, "true 3 x"),
        (r#"{{ printf "%t" false }}"#, "false"),
        (r#"{{ printf "%q" "say \"hi\"\n" }}"#, r#""say \"hi\"\n""#),
        (r#"{{ printf "%.2s" "abcdef" }}"#, "ab"),
        (r#"{{ printf "100%%" }}"#, "100%"),
        (r#"{{ printf "%%%d|%d%%" 5 50 }}"#, "%5|50%"),
        (r#"{{ printf "%v" $labels.job }}"#, "node"),
    ]);
}

#[test]
fn printf_width_and_flags() {
    assert_renders(&[
        (r#"{{ printf "[%5.1f]" 3.14159 }}"#, "[  3.1]"),
        (r#"{{ printf "[%-4s]" "ab" }}"#, "[ab  ]"),
        (r#"{{ printf "[%04d]" 7 }}"#, "[0007]"),
        (r#"{{ printf "[%06.2f]" -1.5 }}"#, "[-01.50]"),
        (r#"{{ printf "[%+d] [%+.1f]" 3 2.0 }}"#, "[+3] [+2.0]"),
        (r#"{{ printf "[%5v]" 1e6 }}"#, "[1e+06]"),
    ]);
}

#[test]
fn printf_mismatches_render_inline_as_go() {
    assert_renders(&[
        (r#"{{ printf "%d" $value }}"#, "%!d(float64=0.25)"),
        (r#"{{ printf "%s" 1.5 }}"#, "%!s(float64=1.5)"),
        (r#"{{ printf "%f" 3 }}"#, "%!f(int=3)"),
        (r#"{{ printf "%s %s" "a" }}"#, "a %!s(MISSING)"),
        (r#"{{ printf "x" 1 "y" }}"#, "x%!(EXTRA int=1, string=y)"),
        (r#"{{ printf "abc%" }}"#, "abc%!(NOVERB)"),
    ]);
}

#[test]
fn string_functions() {
    assert_renders(&[
        (r#"{{ "aa bb CC" | title }}"#, "Aa Bb CC"),
        (
            r#"{{ title "hello_world foo-bar élan" }}"#,
            "Hello_world Foo-Bar Élan",
        ),
        (r#"{{ toUpper "straße" }} {{ toLower "ÀB" }}"#, "STRAßE àb"),
        (
            r#"{{ match "a+" "caat" }} {{ match "^x" "caat" }}"#,
            "true false",
        ),
        (r#"{{ if match "^db-" $labels.instance }}db{{ end }}"#, "db"),
        (
            r#"{{ reReplaceAll "localhost:(.*)" "my.domain:$1" "localhost:3000" }}"#,
            "my.domain:3000",
        ),
        (r#"{{ $labels.instance | reReplaceAll ":.*" "" }}"#, "db-1"),
        (r#"{{ reReplaceAll $labels.job "X" "a node b" }}"#, "a X b"),
        ("{{ $labels.instance | stripPort }}", "db-1"),
        (
            r#"{{ len "héllo" }} {{ len $labels }} {{ len .ExternalLabels }}"#,
            "6 4 1",
        ),
    ]);
}

#[test]
fn strip_port_follows_split_host_port() {
    let cases = [
        ("foo.com:12345", "foo.com"),
        ("[::1]:80", "::1"),
        ("::1", "::1"),
        ("foo", "foo"),
        ("[::1]", "[::1]"),
        ("a:b:c", "a:b:c"),
        ("[a]b:1", "[a]b:1"),
        ("a]:1", "a]:1"),
        (":80", ""),
    ];
    for (input, want) in cases {
        assert_eq!(strip_port(input), want, "{input:?}");
    }
}

#[test]
fn if_else_chains() {
    let text = "{{ if gt $value 0.9 }}critical{{ else if gt $value 0.5 }}warning\
                {{ else }}ok{{ end }}";
    for (value, want) in [
        (0.95, "critical"),
        (0.6, "warning"),
        (0.1, "ok"),
        (f64::NAN, "ok"),
    ] {
        assert_eq!(render_with(text, value), want, "{value}");
    }
    let simple = "{{ if gt $value 0.5 }}high{{ else }}low{{ end }}";
    assert_eq!(render_with(simple, 0.25), "low");
    assert_eq!(render_with(simple, 0.75), "high");
    assert_renders(&[
        ("{{ if $labels.job }}has job{{ end }}", "has job"),
        ("{{ if $labels.missing }}x{{ else }}none{{ end }}", "none"),
        (
            "{{ if 0 }}x{{ else }}zero{{ end }}{{ if 0.0 }}x{{ end }}",
            "zero",
        ),
        ("{{ if $value }}nonzero{{ end }}", "nonzero"),
        ("{{ if .ExternalLabels }}ext{{ end }}", "ext"),
        ("{{if 1}}a{{if 0}}b{{else}}c{{end}}d{{end}}", "acd"),
        ("{{ if gt $value 0 }}positive{{ end }}", "positive"),
        (
            "{{ if lt 1 2.5 }}lt{{ end }} {{ if ge 2 2 }}ge{{ end }}",
            "lt ge",
        ),
        ("{{ if lt \"a\" \"b\" }}a<b{{ end }}", "a<b"),
    ]);
}

#[test]
fn comparisons_and_logic() {
    assert_renders(&[
        (
            r#"{{ eq $labels.job "node" }} {{ eq $labels.job "x" "y" "node" }}"#,
            "true true",
        ),
        (
            r#"{{ ne $labels.job "node" }} {{ eq 1 1.0 }} {{ eq true true }}"#,
            "false true true",
        ),
        ("{{ le 0.25 $value }} {{ gt 1 2 }}", "true false"),
        (
            "{{ if and (gt $value 0.1) (lt $value 0.5) }}in{{ end }}",
            "in",
        ),
        (r#"{{ or $labels.missing "default" }}"#, "default"),
        ("{{ and $labels.job $labels.instance }}", "db-1:9100"),
        (r#"{{ and "" "x" }}|{{ or 0 "" }}"#, "|"),
        ("{{ not 0 }} {{ not $labels.job }}", "true false"),
        (r#"{{ and false (humanize "x") }}"#, "false"),
        ("{{ $value | and 1 }}", "0.25"),
    ]);
}

#[test]
fn rendering_failures_replace_the_whole_output() {
    assert_eq!(
        render("a {{ $labels.job | humanize }} b"),
        "<error expanding template: error calling humanize: \"node\" is not a number \
         in {{ $labels.job | humanize }}>"
    );
    let failures = [
        r#"{{ if eq $value "x" }}{{ end }}"#,
        "{{ if lt true false }}{{ end }}",
        "{{ len 3 }}",
        r#"{{ index "s" "k" }}"#,
        "{{ toUpper 1 }}",
        "{{ humanize true }}",
        r#"{{ match $labels.job "x" }}{{ match (printf "(") "x" }}"#,
        "{{ humanizeTimestamp 1e300 }}",
        "{{ eq $labels 1 }}",
    ];
    for text in failures {
        let rendered = render(text);
        assert!(
            rendered.starts_with("<error expanding template: "),
            "{text}: {rendered}"
        );
    }
    assert!(render("{{ toUpper 1 }}").contains("expected string; got int"));
    assert!(render(r#"{{ reReplaceAll $labels.instance "" "x" }}"#).starts_with("x"));
}

#[test]
fn unknown_function_error_names_the_action() {
    let err = parse_error("{{ humanise $value }}");
    assert_eq!(
        err.to_string(),
        r#"unknown function "humanise" in {{ humanise $value }}"#
    );
    assert_eq!(
        err,
        TemplateError::UnknownFunction {
            name: "humanise".to_owned(),
            action: "{{ humanise $value }}".to_owned(),
        }
    );
}

#[test]
fn unsupported_functions_and_keywords() {
    for text in [
        r#"{{ query "up" | first | value }}"#,
        "{{ with $labels }}{{ end }}",
        "{{ range $labels }}{{ end }}",
        "{{ template \"x\" }}",
        "{{ print 1 }}",
        "{{ nil }}",
        "{{ toTime 1 }}",
    ] {
        let err = parse_error(text);
        assert!(
            matches!(err, TemplateError::Unsupported { .. }),
            "{text}: {err:?}"
        );
    }
    let query = parse_error(r#"{{ query "up" }}"#).to_string();
    assert!(
        query.contains("\"query\" is not supported") && query.contains("PromQL"),
        "{query}"
    );
}

#[test]
fn unclosed_and_unbalanced_templates() {
    assert_eq!(
        parse_error("a {{ $value"),
        TemplateError::Unclosed {
            what: "action",
            offset: 2
        }
    );
    assert_eq!(
        parse_error("a {{ $value").to_string(),
        "unclosed action at byte 2"
    );
    assert_eq!(
        parse_error("{{/* never closed }}"),
        TemplateError::Unclosed {
            what: "comment",
            offset: 0
        }
    );
    let unterminated = parse_error("x {{ if gt $value 1.0 }}y");
    assert_eq!(
        unterminated,
        TemplateError::UnterminatedIf {
            action: "{{ if gt $value 1.0 }}".to_owned(),
            offset: 2
        }
    );
    assert_eq!(
        unterminated.to_string(),
        "unterminated if: {{ if gt $value 1.0 }} at byte 2 has no matching {{ end }}"
    );
    assert!(matches!(
        parse_error("{{ if 1 }}{{ else }}"),
        TemplateError::UnterminatedIf { offset: 0, .. }
    ));
    for text in [
        "{{ end }}",
        "a{{ else }}b",
        "{{ if 1 }}a{{ else }}b{{ else }}c{{ end }}",
    ] {
        assert!(
            matches!(parse_error(text), TemplateError::Syntax { .. }),
            "{text}"
        );
    }
    assert_eq!(
        parse_error("a {{ end }}").to_string(),
        "unmatched action at byte 2: no if is open in {{ end }}"
    );
}

#[test]
fn syntax_errors_say_what_is_wrong() {
    let cases = [
        ("{{ }}", "missing command"),
        (r#"{{ "abc }}"#, "unterminated quoted string"),
        ("{{ `abc }}", "unterminated quoted string"),
        (
            "{{ humanize }}",
            "wrong number of arguments for humanize: want 1, got 0",
        ),
        (
            "{{ $value | humanize 1 }}",
            "wrong number of arguments for humanize: want 1, got 2",
        ),
        (
            "{{ eq 1 }}",
            "wrong number of arguments for eq: want at least 2, got 1",
        ),
        (
            r#"{{ match "(" $labels.job }}"#,
            "invalid regular expression \"(\"",
        ),
        ("{{ .Foo }}", "unknown field .Foo"),
        ("{{ $labels.job.x }}", "has too many fields"),
        ("{{ $value.x }}", "has too many fields"),
        (
            "{{ $labels.some-label }}",
            "unexpected '-' after $labels.some",
        ),
        ("{{ $labels. }}", "unexpected '.' after $labels"),
        ("{{ 1 2 }}", "can't give argument to non-function 1"),
        ("{{ 1 | 2 }}", "2 after \"|\" is not a function"),
        ("{{ (humanize 1 }}", "unclosed left paren"),
        ("{{ humanize 1) }}", "unexpected ')'"),
        (
            "{{ $labels := 1 }}",
            "variable declarations are not supported",
        ),
        ("{{/* c */ x}}", "comment ends before closing delimiter"),
        ("{{ 0x1G }}", "bad number syntax"),
        ("{{ 99999999999999999999 }}", "bad number syntax"),
        (r#"{{ "\q" }}"#, "unknown escape sequence"),
        (r#"{{ "\777" }}"#, r#"invalid escape "\\777""#),
        (r#"{{ "\x+1" }}"#, "invalid escape"),
        (r#"{{ "\uD800" }}"#, "invalid escape"),
        ("{{ . }}", "the data itself"),
        ("{{ if }}{{ end }}", "missing condition for if"),
        (
            "{{ if 1 }}{{ else 2 }}{{ end }}",
            "unexpected text after else",
        ),
        ("{{ 1 end }}", "unexpected keyword \"end\""),
        ("{{ # }}", "unexpected '#'"),
        ("{{ \"a\"\"b\" }}", "unexpected '\"' after \"a\""),
    ];
    for (text, want) in cases {
        let err = parse_error(text);
        assert!(
            matches!(err, TemplateError::Syntax { .. }),
            "{text}: {err:?}"
        );
        assert!(err.to_string().contains(want), "{text}: {err}");
        assert!(err.to_string().contains(" in {{"), "{text}: {err}");
    }
    let undefined = parse_error("{{ $foo }}");
    assert_eq!(
        undefined.to_string(),
        r#"undefined variable "$foo" in {{ $foo }}"#
    );
}

#[test]
fn nesting_is_limited() {
    let ifs = |n: usize| format!("{}x{}", "{{ if 1 }}".repeat(n), "{{ end }}".repeat(n));
    assert_eq!(render(&ifs(MAX_NESTING)), "x");
    let too_deep = parse_error(&ifs(MAX_NESTING + 1)).to_string();
    assert!(too_deep.contains("ifs nested deeper than 64"), "{too_deep}");
    let parens = |n: usize| format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n));
    assert_eq!(render(&parens(MAX_NESTING)), "1");
    let too_deep = parse_error(&parens(MAX_NESTING + 1)).to_string();
    assert!(
        too_deep.contains("parentheses nested deeper than 64"),
        "{too_deep}"
    );
    assert!(Template::parse(&ifs(100_000)).is_err());
    assert!(Template::parse(&parens(100_000)).is_err());
}

#[test]
fn shortest_formats_read_back_exactly() {
    // Deterministic xorshift: random bit patterns, and random values of moderate size,
    // must read back exactly from Go's %v and 'e' forms, and %v must use an exponent
    // exactly where Go's does (decimal exponent below -4 or at least 6).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..40_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let value = match round % 2 {
            0 => f64::from_bits(state),
            _ => (state >> 11) as f64 / 9e15 * 10f64.powi((state % 14) as i32 - 6),
        };
        if !value.is_finite() {
            continue;
        }
        let general = go_format_float(value, b'g', None);
        let exponent_form = format_value_go_e(value);
        assert_eq!(general.parse::<f64>().ok(), Some(value), "{general}");
        assert_eq!(
            exponent_form.parse::<f64>().ok(),
            Some(value),
            "{exponent_form}"
        );
        let (_, exponent) = exponent_form.split_once('e').expect("has an exponent");
        let exponent: i32 = exponent.parse().expect("exponent is a number");
        let want_exponent = value != 0.0 && !(-4..6).contains(&exponent);
        assert_eq!(
            general.contains('e'),
            want_exponent,
            "{value:e} as {general}"
        );
    }
}

#[test]
fn long_actions_are_shortened_in_messages() {
    let text = format!("{{{{ nope {} }}}}", "x".repeat(200));
    let message = parse_error(&text).to_string();
    assert!(message.len() < 200 && message.contains('…'), "{message}");
}

#[test]
fn parsed_templates_compare_by_content() {
    let text = r#"{{ if match "a+" $labels.job }}{{ $value | humanize }}{{ end }}"#;
    assert_eq!(Template::parse(text), Template::parse(text));
    assert_ne!(Template::parse(text), Template::parse("{{ $value }}"));
    let different_pattern = r#"{{ if match "b+" $labels.job }}{{ $value | humanize }}{{ end }}"#;
    assert_ne!(Template::parse(text), Template::parse(different_pattern));
}
