//! Unavailability (participants skipped) and overrides (who wins).

use super::*;

#[test]
fn unavailable_participant_is_skipped_for_the_next_one() {
    let mut schedule = daily_abc();
    schedule.unavailability = vec![away("a", "2026-03-02T10:00:00Z", "2026-03-02T14:00:00Z")];
    assert_eq!(
        who(&schedule, &[], "2026-03-02T09:59:59Z"),
        from_layer("a", 0, "main")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-02T10:00:00Z"),
        from_layer("b", 0, "main")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-02T14:00:00Z"),
        from_layer("a", 0, "main")
    );
}

#[test]
fn unavailability_skipping_wraps_to_the_first_participant() {
    let mut schedule = daily_abc();
    // 4 March is c's shift; c is away, so the rotation wraps to a.
    schedule.unavailability = vec![away("c", "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z")];
    assert_eq!(
        who(&schedule, &[], "2026-03-04T12:00:00Z"),
        from_layer("a", 0, "main")
    );
    // a away too: b.
    schedule
        .unavailability
        .push(away("a", "2026-03-04T00:00:00Z", "2026-03-04T06:00:00Z"));
    assert_eq!(
        who(&schedule, &[], "2026-03-04T03:00:00Z"),
        from_layer("b", 0, "main")
    );
}

#[test]
fn layer_with_everyone_unavailable_falls_through_or_leaves_nobody() {
    let mut schedule = daily_abc();
    schedule.unavailability = ["a", "b", "c"]
        .iter()
        .map(|name| away(name, "2026-03-03T00:00:00Z", "2026-03-03T12:00:00Z"))
        .collect();
    assert_eq!(who(&schedule, &[], "2026-03-03T06:00:00Z"), None);
    schedule.layers.push(layer(
        "backup",
        rotation(&["z"], "2026-01-01T00:00:00", ShiftLength::Weeks(1)),
        vec![],
    ));
    assert_eq!(
        who(&schedule, &[], "2026-03-03T06:00:00Z"),
        from_layer("z", 1, "backup")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-03T12:00:00Z"),
        from_layer("b", 0, "main")
    );
}

// ---- Overrides ---------------------------------------------------------------------------

#[test]
fn override_wins_over_layers_and_unavailability() {
    let mut schedule = daily_abc();
    schedule.unavailability = vec![away("o", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")];
    let overrides = [override_for(
        "ov1",
        "primary",
        "o",
        "2026-03-02T10:00:00Z",
        "2026-03-02T12:00:00Z",
    )];
    assert_eq!(
        who(&schedule, &overrides, "2026-03-02T09:59:59Z"),
        from_layer("a", 0, "main")
    );
    assert_eq!(
        who(&schedule, &overrides, "2026-03-02T10:00:00Z"),
        from_override("o", "ov1")
    );
    assert_eq!(
        who(&schedule, &overrides, "2026-03-02T12:00:00Z"),
        from_layer("a", 0, "main")
    );
}

#[test]
fn overrides_for_other_schedules_and_empty_overrides_are_ignored() {
    let schedule = daily_abc();
    let overrides = [
        override_for(
            "other",
            "secondary",
            "o",
            "2026-03-02T00:00:00Z",
            "2026-03-03T00:00:00Z",
        ),
        override_for(
            "empty",
            "primary",
            "p",
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:00:00Z",
        ),
        override_for(
            "reversed",
            "primary",
            "q",
            "2026-03-02T11:00:00Z",
            "2026-03-02T09:00:00Z",
        ),
    ];
    assert_eq!(
        who(&schedule, &overrides, "2026-03-02T10:00:00Z"),
        from_layer("a", 0, "main")
    );
}

#[test]
fn latest_starting_override_wins_and_ties_go_to_the_last_listed() {
    let schedule = daily_abc();
    let long = override_for(
        "long",
        "primary",
        "o",
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
    );
    let short = override_for(
        "short",
        "primary",
        "p",
        "2026-03-02T10:00:00Z",
        "2026-03-02T11:00:00Z",
    );
    // Order in the list does not matter when starts differ.
    for overrides in [[long.clone(), short.clone()], [short.clone(), long.clone()]] {
        assert_eq!(
            who(&schedule, &overrides, "2026-03-02T10:30:00Z"),
            from_override("p", "short")
        );
        assert_eq!(
            who(&schedule, &overrides, "2026-03-02T11:00:00Z"),
            from_override("o", "long")
        );
    }
    let twin = override_for(
        "twin",
        "primary",
        "q",
        "2026-03-02T10:00:00Z",
        "2026-03-02T12:00:00Z",
    );
    assert_eq!(
        who(
            &schedule,
            &[short.clone(), twin.clone()],
            "2026-03-02T10:30:00Z"
        ),
        from_override("q", "twin")
    );
    assert_eq!(
        who(&schedule, &[twin, short], "2026-03-02T10:30:00Z"),
        from_override("p", "short")
    );
}
