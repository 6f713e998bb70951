//! Local time resolution in DST gaps and overlaps, and hand-offs through DST in several zones.

use super::*;

#[test]
fn nonexistent_local_times_move_forward_by_the_gap() {
    // New York springs forward 02:00 EST -> 03:00 EDT on 2026-03-08.
    let at = resolve_local(NEW_YORK, local("2026-03-08T02:30:00")).unwrap();
    assert_eq!(at, utc("2026-03-08T07:30:00Z"));
    assert_eq!(
        local_time(NEW_YORK, at).unwrap(),
        local("2026-03-08T03:30:00")
    );
    // London springs forward 01:00 GMT -> 02:00 BST on 2026-03-29.
    assert_eq!(
        resolve_local(LONDON, local("2026-03-29T01:30:00")),
        Some(utc("2026-03-29T01:30:00Z"))
    );
    // Sydney springs forward 02:00 AEST -> 03:00 AEDT on 2026-10-04.
    assert_eq!(
        resolve_local(SYDNEY, local("2026-10-04T02:30:00")),
        Some(utc("2026-10-03T16:30:00Z"))
    );
    // Chatham springs forward 02:45 +12:45 -> 03:45 +13:45 on 2026-09-27.
    let at = resolve_local(CHATHAM, local("2026-09-27T03:00:00")).unwrap();
    assert_eq!(at, utc("2026-09-26T14:15:00Z"));
    assert_eq!(
        local_time(CHATHAM, at).unwrap(),
        local("2026-09-27T04:00:00")
    );
}

#[test]
fn repeated_local_times_are_the_earlier_occurrence() {
    // New York falls back 02:00 EDT -> 01:00 EST on 2026-11-01: 01:30 EDT, not EST.
    assert_eq!(
        resolve_local(NEW_YORK, local("2026-11-01T01:30:00")),
        Some(utc("2026-11-01T05:30:00Z"))
    );
    // London falls back 02:00 BST -> 01:00 GMT on 2026-10-25.
    assert_eq!(
        resolve_local(LONDON, local("2026-10-25T01:30:00")),
        Some(utc("2026-10-25T00:30:00Z"))
    );
    // Sydney falls back 03:00 AEDT -> 02:00 AEST on 2026-04-05.
    assert_eq!(
        resolve_local(SYDNEY, local("2026-04-05T02:30:00")),
        Some(utc("2026-04-04T15:30:00Z"))
    );
    // Chatham falls back 03:45 +13:45 -> 02:45 +12:45 on 2026-04-05.
    assert_eq!(
        resolve_local(CHATHAM, local("2026-04-05T03:00:00")),
        Some(utc("2026-04-04T13:15:00Z"))
    );
}

#[test]
fn zones_without_dst_resolve_with_their_fixed_offset() {
    assert_eq!(
        resolve_local(KOLKATA, local("2026-03-08T09:00:00")),
        Some(utc("2026-03-08T03:30:00Z"))
    );
    assert_eq!(
        local_time(KOLKATA, utc("2026-11-01T20:00:00Z")),
        Some(local("2026-11-02T01:30:00"))
    );
}

// ---- Hand-offs through DST -----------------------------------------------------------------

#[test]
fn daily_handoff_keeps_wall_clock_time_across_new_york_spring_forward() {
    let rotation = rotation(
        &["a", "b", "c"],
        "2026-03-06T09:00:00",
        ShiftLength::Days(1),
    );
    assert_eq!(
        handoffs(
            &rotation,
            NEW_YORK,
            "2026-03-06T00:00:00Z",
            "2026-03-10T00:00:00Z"
        ),
        instants(&[
            "2026-03-06T14:00:00Z",
            "2026-03-07T14:00:00Z",
            "2026-03-08T13:00:00Z", // 09:00 EDT: the 7 March shift is 23 hours
            "2026-03-09T13:00:00Z",
        ])
    );
    assert_eq!(
        rotation.scheduled_at(NEW_YORK, utc("2026-03-08T12:59:59Z")),
        Some(&user("b"))
    );
    assert_eq!(
        rotation.scheduled_at(NEW_YORK, utc("2026-03-08T13:00:00Z")),
        Some(&user("c"))
    );
}

#[test]
fn daily_handoff_inside_the_skipped_hour_moves_forward_by_the_gap() {
    let rotation = rotation(&["a", "b"], "2026-03-06T02:30:00", ShiftLength::Days(1));
    let found = handoffs(
        &rotation,
        NEW_YORK,
        "2026-03-06T00:00:00Z",
        "2026-03-10T00:00:00Z",
    );
    assert_eq!(
        found,
        instants(&[
            "2026-03-06T07:30:00Z",
            "2026-03-07T07:30:00Z",
            "2026-03-08T07:30:00Z", // 02:30 does not exist: 03:30 EDT
            "2026-03-09T06:30:00Z", // back to 02:30, now EDT
        ])
    );
    assert_eq!(
        local_time(NEW_YORK, found[2]),
        Some(local("2026-03-08T03:30:00"))
    );
}

#[test]
fn daily_handoff_inside_the_repeated_hour_is_the_first_occurrence() {
    let rotation = rotation(&["a", "b"], "2026-10-30T01:30:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &rotation,
            NEW_YORK,
            "2026-10-30T00:00:00Z",
            "2026-11-03T00:00:00Z"
        ),
        instants(&[
            "2026-10-30T05:30:00Z",
            "2026-10-31T05:30:00Z",
            "2026-11-01T05:30:00Z", // 01:30 EDT, the first 01:30
            "2026-11-02T06:30:00Z", // the 1 November shift is 25 hours
        ])
    );
    // During the second 01:30 (EST) the 1 November shift is still running.
    let shift = rotation
        .shift_at(NEW_YORK, utc("2026-11-01T06:30:00Z"))
        .unwrap();
    assert_eq!(shift.number, 2);
    assert_eq!(shift.start, utc("2026-11-01T05:30:00Z"));
    assert_eq!(shift.end, Some(utc("2026-11-02T06:30:00Z")));
}

#[test]
fn weekly_handoff_in_london_through_both_changes() {
    // Sundays at 01:30: inside the spring gap on 29 March, inside the autumn overlap on 25 Oct.
    let spring = rotation(&["a", "b"], "2026-03-22T01:30:00", ShiftLength::Weeks(1));
    assert_eq!(
        handoffs(
            &spring,
            LONDON,
            "2026-03-20T00:00:00Z",
            "2026-04-10T00:00:00Z"
        ),
        instants(&[
            "2026-03-22T01:30:00Z",
            "2026-03-29T01:30:00Z", // 02:30 BST
            "2026-04-05T00:30:00Z",
        ])
    );
    let autumn = rotation(&["a", "b"], "2026-10-18T01:30:00", ShiftLength::Weeks(1));
    assert_eq!(
        handoffs(
            &autumn,
            LONDON,
            "2026-10-17T00:00:00Z",
            "2026-11-05T00:00:00Z"
        ),
        instants(&[
            "2026-10-18T00:30:00Z",
            "2026-10-25T00:30:00Z", // 01:30 BST, the first 01:30
            "2026-11-01T01:30:00Z",
        ])
    );
}

#[test]
fn daily_handoff_in_sydney_southern_hemisphere() {
    // Sydney leaves DST on 5 April 2026 and enters it on 4 October 2026.
    let april = rotation(&["a", "b"], "2026-04-03T09:00:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &april,
            SYDNEY,
            "2026-04-02T00:00:00Z",
            "2026-04-06T00:00:00Z"
        ),
        instants(&[
            "2026-04-02T22:00:00Z",
            "2026-04-03T22:00:00Z",
            "2026-04-04T23:00:00Z", // 09:00 AEST: the 4 April shift is 25 hours
            "2026-04-05T23:00:00Z",
        ])
    );
    let october = rotation(&["a", "b"], "2026-10-02T09:00:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &october,
            SYDNEY,
            "2026-10-01T00:00:00Z",
            "2026-10-05T00:00:00Z"
        ),
        instants(&[
            "2026-10-01T23:00:00Z",
            "2026-10-02T23:00:00Z",
            "2026-10-03T22:00:00Z", // 09:00 AEDT: the 3 October shift is 23 hours
            "2026-10-04T22:00:00Z",
        ])
    );
}

#[test]
fn weekly_handoff_in_kolkata_is_always_at_the_same_utc_time() {
    let rotation = rotation(&["a", "b"], "2026-03-02T10:00:00", ShiftLength::Weeks(1));
    assert_eq!(
        handoffs(
            &rotation,
            KOLKATA,
            "2026-03-01T00:00:00Z",
            "2026-03-20T00:00:00Z"
        ),
        instants(&[
            "2026-03-02T04:30:00Z",
            "2026-03-09T04:30:00Z",
            "2026-03-16T04:30:00Z",
        ])
    );
}

#[test]
fn daily_handoff_in_chatham_with_quarter_hour_offsets() {
    let morning = rotation(&["a", "b"], "2026-09-25T09:00:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &morning,
            CHATHAM,
            "2026-09-24T00:00:00Z",
            "2026-09-28T00:00:00Z"
        ),
        instants(&[
            "2026-09-24T20:15:00Z",
            "2026-09-25T20:15:00Z",
            "2026-09-26T19:15:00Z", // 09:00 +13:45
            "2026-09-27T19:15:00Z",
        ])
    );
    // 03:00 on 27 September is inside Chatham's 02:45-03:45 gap.
    let in_gap = rotation(&["a", "b"], "2026-09-26T03:00:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &in_gap,
            CHATHAM,
            "2026-09-25T00:00:00Z",
            "2026-09-28T00:00:00Z"
        ),
        instants(&[
            "2026-09-25T14:15:00Z",
            "2026-09-26T14:15:00Z", // 04:00 +13:45
            "2026-09-27T13:15:00Z",
        ])
    );
}

#[test]
fn twelve_hour_custom_shift_is_elapsed_time_across_dst() {
    let shift = ShiftLength::Custom(crate::duration::HumanDuration::from_secs(12 * 3_600));
    let rotation = rotation(&["a", "b"], "2026-03-07T20:00:00", shift);
    let found = handoffs(
        &rotation,
        NEW_YORK,
        "2026-03-07T00:00:00Z",
        "2026-03-09T02:00:00Z",
    );
    assert_eq!(
        found,
        instants(&[
            "2026-03-08T01:00:00Z", // 20:00 EST
            "2026-03-08T13:00:00Z", // 09:00 EDT: 12 real hours later
            "2026-03-09T01:00:00Z", // 21:00 EDT
        ])
    );
    assert_eq!(
        local_time(NEW_YORK, found[1]),
        Some(local("2026-03-08T09:00:00"))
    );
    // Hourly shifts are elapsed time too.
    let hourly = Rotation {
        shift: ShiftLength::Hours(12),
        ..rotation.clone()
    };
    assert_eq!(
        handoffs(
            &hourly,
            NEW_YORK,
            "2026-03-07T00:00:00Z",
            "2026-03-09T02:00:00Z"
        ),
        found
    );
    // Across fall-back, 12 hours after 20:00 EDT is 07:00 EST.
    let autumn = Rotation {
        start: local("2026-10-31T20:00:00"),
        ..rotation
    };
    assert_eq!(
        handoffs(
            &autumn,
            NEW_YORK,
            "2026-11-01T00:00:00Z",
            "2026-11-01T13:00:00Z"
        ),
        instants(&["2026-11-01T00:00:00Z", "2026-11-01T12:00:00Z"])
    );
}

#[test]
fn nobody_before_the_rotation_start_even_when_it_is_in_a_gap() {
    let rotation = rotation(&["a", "b"], "2026-03-08T02:30:00", ShiftLength::Hours(1));
    assert_eq!(
        rotation.start_instant(NEW_YORK),
        Some(utc("2026-03-08T07:30:00Z"))
    );
    assert_eq!(
        rotation.shift_at(NEW_YORK, utc("2026-03-08T07:29:59Z")),
        None
    );
    assert_eq!(
        rotation
            .shift_at(NEW_YORK, utc("2026-03-08T07:30:00Z"))
            .map(|shift| shift.number),
        Some(0)
    );
    assert_eq!(
        rotation.scheduled_at(NEW_YORK, utc("2026-03-08T08:30:00Z")),
        Some(&user("b"))
    );
    let schedule = schedule(NEW_YORK, vec![layer("l", rotation, vec![])]);
    assert_eq!(who(&schedule, &[], "2026-03-08T07:00:00Z"), None);
    assert_eq!(
        who(&schedule, &[], "2026-03-08T07:30:00Z"),
        from_layer("a", 0, "l")
    );
}

#[test]
fn handoffs_between_includes_from_and_excludes_to() {
    let rotation = rotation(&["a", "b"], "2026-01-01T00:00:00", ShiftLength::Hours(6));
    assert_eq!(
        handoffs(
            &rotation,
            Tz::UTC,
            "2026-01-02T06:00:00Z",
            "2026-01-02T18:00:00Z"
        ),
        instants(&["2026-01-02T06:00:00Z", "2026-01-02T12:00:00Z"])
    );
    assert_eq!(
        handoffs(
            &rotation,
            Tz::UTC,
            "2025-12-31T22:00:00Z",
            "2026-01-01T07:00:00Z"
        ),
        instants(&["2026-01-01T00:00:00Z", "2026-01-01T06:00:00Z"])
    );
}
