//! docs/data-model.md stays in step with the code: it names exactly the key literals the code
//! uses, and its key templates are what the key builders build.

use super::*;

// ---------------------------------------------------------------------------------------------
// docs/data-model.md stays in step with the code
// ---------------------------------------------------------------------------------------------

/// The key literals written in the key columns (`pk`, `sk`, `index key`) of the access-pattern
/// table: code spans with `<placeholders>` removed, split into `UPPER_CASE#` words.
fn documented_key_literals(doc: &str) -> BTreeSet<String> {
    let mut literals = BTreeSet::new();
    let mut columns: Option<Vec<usize>> = None;
    for line in doc.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        match &columns {
            None => {
                let wanted: Vec<usize> = cells
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(**c, "pk" | "sk" | "index key"))
                    .map(|(i, _)| i)
                    .collect();
                if wanted.len() == 3 {
                    columns = Some(wanted);
                }
            }
            Some(wanted) => {
                for &column in wanted {
                    let Some(cell) = cells.get(column) else {
                        continue;
                    };
                    for (i, span) in cell.split('`').enumerate() {
                        if i % 2 == 0 {
                            continue; // outside a code span
                        }
                        let mut text = String::new();
                        let mut depth = 0;
                        for c in span.chars() {
                            match c {
                                '<' => depth += 1,
                                '>' => depth -= 1,
                                _ if depth == 0 => text.push(c),
                                _ => {}
                            }
                        }
                        let mut word = String::new();
                        for c in text.chars().chain(std::iter::once(' ')) {
                            if c.is_ascii_uppercase() || c == '_' {
                                word.push(c);
                            } else {
                                if !word.is_empty() {
                                    if c == '#' {
                                        word.push('#');
                                    }
                                    literals.insert(std::mem::take(&mut word));
                                }
                                word.clear();
                            }
                        }
                    }
                }
            }
        }
    }
    literals
}

#[test]
fn data_model_doc_names_exactly_the_key_literals_the_code_uses() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/data-model.md"))
        .expect("docs/data-model.md exists");
    let documented = documented_key_literals(&doc);
    let code: BTreeSet<String> = schema::ALL.iter().map(|s| (*s).to_owned()).collect();
    let missing: Vec<&String> = code.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&code).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/data-model.md's access-pattern table is out of step with \
         klaxon_store::repo::schema: not documented {missing:?}, not in the code {unknown:?}"
    );
}

#[test]
fn the_doc_check_finds_literals_and_ignores_placeholders() {
    let doc = "| pattern | pk | sk | index key |\n|---|---|---|---|\n\
               | x | `ALERT#<integration>#<sha>` | `OCCURRENCE` | gsi1 `UNGROUPED` / `<time>#<id>` |\n\
               | y | `CONFIG` | `VERSION#<n:020>#PART#<n:03>` | — |\n\n\
               | other | `NOT_A_KEY` |\n";
    let found = documented_key_literals(doc);
    let expected: BTreeSet<String> = [
        "ALERT#",
        "OCCURRENCE",
        "UNGROUPED",
        "CONFIG",
        "VERSION#",
        "PART#",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn incident_keys_are_the_documented_shape() {
    assert_eq!(
        schema::incident_key("0192abcd"),
        Key::new("INCIDENT#0192abcd", "META")
    );
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(schema::sort_time(at), "2026-01-01T00:00:00.000000000Z");
}

// ---------------------------------------------------------------------------------------------
// docs/data-model.md's key templates are what the key builders produce
// ---------------------------------------------------------------------------------------------

/// The key templates of one access-pattern row: `pk`, `sk` and each index key
/// (`gsiN`, partition, optional sort), as the doc writes them.
#[derive(Debug, Default)]
struct DocumentedKeys {
    entity: String,
    pk: Option<String>,
    sk: Option<String>,
    index: Vec<(String, String, Option<String>)>,
}

/// The code spans and the text between them, in order: `(text, false)` / `(code, true)`.
fn spans(cell: &str) -> Vec<(&str, bool)> {
    cell.split('`')
        .enumerate()
        .map(|(i, part)| (part, i % 2 == 1))
        .collect()
}

/// Index keys written as ``gsiN `partition` / `sort` `` (the sort part optional).
fn index_keys(cell: &str) -> Vec<(String, String, Option<String>)> {
    let parts = spans(cell);
    let mut keys = Vec::new();
    let mut i = 0;
    while i + 1 < parts.len() {
        let (text, code) = parts[i];
        let index = text.trim_end().rsplit(' ').next().unwrap_or("");
        if !code && index.starts_with("gsi") && parts[i + 1].1 {
            let partition = parts[i + 1].0.to_owned();
            let sort = match (parts.get(i + 2), parts.get(i + 3)) {
                (Some((slash, false)), Some((sort, true))) if slash.trim() == "/" => {
                    i += 2;
                    Some((*sort).to_owned())
                }
                _ => None,
            };
            keys.push((index.to_owned(), partition, sort));
            i += 2;
        } else {
            i += 1;
        }
    }
    keys
}

/// The access-pattern table's rows by number.
fn documented_keys(doc: &str) -> BTreeMap<u32, DocumentedKeys> {
    let mut rows = BTreeMap::new();
    let mut columns: Option<BTreeMap<&str, usize>> = None;
    for line in doc.lines().map(str::trim) {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Some(wanted) = &columns else {
            let named: BTreeMap<&str, usize> =
                cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
            if ["#", "entity", "pk", "sk", "index key"]
                .iter()
                .all(|c| named.contains_key(c))
            {
                columns = Some(named);
            }
            continue;
        };
        let Ok(number) = cells[wanted["#"]].parse::<u32>() else {
            continue; // the separator line
        };
        let code = |column: &str| {
            spans(cells[wanted[column]])
                .into_iter()
                .find(|(_, code)| *code)
                .map(|(span, _)| span.to_owned())
        };
        rows.insert(
            number,
            DocumentedKeys {
                entity: cells[wanted["entity"]].to_owned(),
                pk: code("pk"),
                sk: code("sk"),
                index: index_keys(cells[wanted["index key"]]),
            },
        );
    }
    rows
}

/// Fills a template's `<name>` and `<name:0W>` placeholders (the latter a number zero-padded to
/// W digits) from `values`.
fn render(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('>').expect("a closed placeholder") + open;
        let placeholder = &rest[open + 1..close];
        let (name, width) = match placeholder.split_once(':') {
            Some((name, spec)) => {
                let width: usize = spec
                    .strip_prefix('0')
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("<{placeholder}>: width must be 0W"));
                (name, Some(width))
            }
            None => (placeholder, None),
        };
        let value = values
            .get(name)
            .unwrap_or_else(|| panic!("no value for <{placeholder}> in {template:?}"));
        match width {
            Some(width) => {
                assert!(value.bytes().all(|b| b.is_ascii_digit()), "{name}: {value}");
                out.push_str(&format!("{value:0>width$}"));
            }
            None => out.push_str(value),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn sha256_hex(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the code builds for one row.
struct Built {
    row: u32,
    entity: &'static str,
    key: Option<Key>,
    index: Vec<(&'static str, String, Option<String>)>,
}

#[test]
fn data_model_doc_key_templates_are_what_the_key_builders_build() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/data-model.md")).unwrap();
    let rows = documented_keys(&doc);
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap() + Duration::nanoseconds(5);
    let time = schema::sort_time(at);
    let hash = sha256_hex("secret");
    let alert_key = AlertKey {
        integration: integration("prom"),
        dedup_key: DedupKey::new("disk full on db-1").unwrap(),
    };
    let record = schema::alert_record_key(&alert_key);
    let values: BTreeMap<&str, String> = [
        ("sha256 hex", hash.clone()),
        ("kind", "integration".to_owned()),
        ("name", "prom".to_owned()),
        ("hash", hash.clone()),
        ("n", "7".to_owned()),
        ("i", "2".to_owned()),
        ("integration", "prom".to_owned()),
        ("sha256(dedup key)", sha256_hex("disk full on db-1")),
        ("alert id", "a0001".to_owned()),
        ("received", time.clone()),
        ("group key", "db/disk".to_owned()),
        ("incident id", "inc1".to_owned()),
        ("id", "inc1".to_owned()),
        ("linked", time.clone()),
        ("created", time.clone()),
        ("number", "42".to_owned()),
        ("time", time.clone()),
        ("entry key", "alert.linked-a0001".to_owned()),
        ("due", time.clone()),
        ("delivery key", "inc1/r0/t0/alice/email".to_owned()),
        ("scope", "ack".to_owned()),
        ("sha256(id)", sha256_hex("token-1")),
        ("schedule id", "primary".to_owned()),
        ("end", time.clone()),
        ("resolved", time.clone()),
    ]
    .into_iter()
    .collect();
    // Where a row's placeholders mean other inputs than `values` gives, they are overridden.
    let with = |overrides: &[(&'static str, &str)]| {
        let mut values = values.clone();
        for (name, value) in overrides {
            values.insert(name, (*value).to_owned());
        }
        values
    };
    let built = [
        Built {
            row: 1,
            entity: "key",
            key: Some(schema::api_key_key(&hash)),
            index: vec![(
                "gsi2",
                schema::KEYS.to_owned(),
                Some(schema::keys_sort("integration", "prom", &hash)),
            )],
        },
        Built {
            row: 4,
            entity: "config pointer",
            key: Some(schema::config_pointer_key()),
            index: vec![],
        },
        Built {
            row: 5,
            entity: "config version",
            key: Some(Key::new(schema::CONFIG, schema::config_version_sort(7))),
            index: vec![],
        },
        Built {
            row: 6,
            entity: "config part",
            key: Some(Key::new(schema::CONFIG, schema::config_part_sort(7, 2))),
            index: vec![],
        },
        Built {
            row: 9,
            entity: "alert record",
            key: Some(record.clone()),
            index: vec![(
                "gsi1",
                schema::UNGROUPED.to_owned(),
                Some(schema::ungrouped_sort(at, "a0001")),
            )],
        },
        Built {
            row: 10,
            entity: "alert chunk",
            key: Some(schema::chunk_key(&record.pk, "a0001", 2)),
            index: vec![],
        },
        Built {
            row: 15,
            entity: "counter",
            key: Some(schema::incident_number_counter_key()),
            index: vec![],
        },
        Built {
            row: 16,
            entity: "group pointer",
            key: Some(schema::group_pointer_key("db/disk")),
            index: vec![],
        },
        Built {
            row: 17,
            entity: "alert link",
            key: Some(schema::alert_link_key("a0001")),
            index: vec![(
                "gsi2",
                schema::incident_alerts_partition("inc1"),
                Some(schema::incident_alerts_sort(at, "a0001")),
            )],
        },
        Built {
            row: 19,
            entity: "incident",
            key: Some(schema::incident_key("inc1")),
            index: vec![
                (
                    "gsi1",
                    schema::OPEN_INCIDENTS.to_owned(),
                    Some(schema::open_incidents_sort(at, "inc1")),
                ),
                (
                    "gsi2",
                    schema::INCIDENTS.to_owned(),
                    Some(schema::incident_number_sort(42)),
                ),
            ],
        },
        Built {
            row: 20,
            entity: "timeline entry",
            key: Some(Key::new(
                schema::incident_partition("inc1"),
                schema::timeline_sort(at, 2, "alert.linked-a0001"),
            )),
            index: vec![],
        },
        Built {
            row: 24,
            entity: "incident",
            key: Some(schema::incident_key("inc1")),
            index: vec![
                ("gsi1", schema::OPEN_INCIDENTS.to_owned(), None),
                (
                    "gsi3",
                    schema::ESCALATION_DUE.to_owned(),
                    Some(schema::escalation_due_sort(at, "inc1")),
                ),
                (
                    "gsi1",
                    schema::RESOLVED_INCIDENTS.to_owned(),
                    Some(schema::resolved_incidents_sort(at, "inc1")),
                ),
            ],
        },
        Built {
            row: 54,
            entity: "incident",
            key: None,
            index: vec![(
                "gsi1",
                schema::RESOLVED_INCIDENTS.to_owned(),
                Some(schema::resolved_incidents_sort(at, "inc1")),
            )],
        },
        Built {
            row: 33,
            entity: "delivery",
            key: Some(schema::delivery_key("inc1", "inc1/r0/t0/alice/email")),
            index: vec![],
        },
        Built {
            row: 36,
            entity: "idempotency record",
            key: Some(schema::idempotency_key("ack", "token-1")),
            index: vec![],
        },
        Built {
            row: 38,
            entity: "override id entry",
            key: Some(schema::override_id_key("primary", "o1")),
            index: vec![],
        },
        Built {
            row: 39,
            entity: "override",
            key: Some(Key::new(
                schema::schedule_partition("primary"),
                schema::override_sort(at, "o1"),
            )),
            index: vec![],
        },
    ];
    for built in built {
        let row = rows
            .get(&built.row)
            .unwrap_or_else(|| panic!("docs/data-model.md has no access pattern {}", built.row));
        assert_eq!(row.entity, built.entity, "access pattern {}", built.row);
        // Overrides ids named `<id>` after the entity of the row.
        let values = match built.row {
            38 | 39 => with(&[("id", "o1")]),
            _ => values.clone(),
        };
        let expand = |template: &Option<String>| template.as_deref().map(|t| render(t, &values));
        let documented_key = expand(&row.pk).zip(expand(&row.sk));
        assert_eq!(
            documented_key,
            built.key.as_ref().map(|k| (k.pk.clone(), k.sk.clone())),
            "access pattern {} ({}): the doc's pk/sk {:?} / {:?} rendered, against the builder's",
            built.row,
            built.entity,
            row.pk,
            row.sk,
        );
        let documented_index: Vec<(String, String, Option<String>)> = row
            .index
            .iter()
            .map(|(index, pk, sk)| (index.clone(), render(pk, &values), expand(sk)))
            .collect();
        let built_index: Vec<(String, String, Option<String>)> = built
            .index
            .into_iter()
            .map(|(index, pk, sk)| (index.to_owned(), pk, sk))
            .collect();
        assert_eq!(
            documented_index, built_index,
            "access pattern {} ({}): the doc's index keys {:?} rendered, against the builder's",
            built.row, built.entity, row.index
        );
    }
}

#[test]
fn rendering_a_template_pads_to_the_documented_width() {
    let values: BTreeMap<&str, String> = [("n", "7".to_owned()), ("id", "x".to_owned())]
        .into_iter()
        .collect();
    assert_eq!(
        render("VERSION#<n:020>#<id>", &values),
        "VERSION#00000000000000000007#x"
    );
    assert_eq!(render("<n:03>", &values), "007");
    assert_eq!(
        index_keys("enters/leaves gsi1 `OPEN_INCIDENTS`, gsi3 `ESCALATION_DUE` / `<due>#<id>`"),
        vec![
            ("gsi1".to_owned(), "OPEN_INCIDENTS".to_owned(), None),
            (
                "gsi3".to_owned(),
                "ESCALATION_DUE".to_owned(),
                Some("<due>#<id>".to_owned())
            ),
        ]
    );
}
