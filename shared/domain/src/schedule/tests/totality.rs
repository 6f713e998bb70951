//! Totality on hostile input: empty rotations, extreme dates and lengths.

use super::*;

#[test]
fn rotations_without_participants_or_length_have_nobody() {
    let from = utc("2026-03-01T00:00:00Z");
    let to = utc("2026-03-10T00:00:00Z");
    let at = utc("2026-03-05T00:00:00Z");
    let zero_lengths = [
        ShiftLength::Hours(0),
        ShiftLength::Days(0),
        ShiftLength::Weeks(0),
        ShiftLength::Custom(crate::duration::HumanDuration::from_secs(0)),
    ];
    let mut rotations: Vec<Rotation> = zero_lengths
        .iter()
        .map(|shift| rotation(&["a"], "2026-01-01T00:00:00", *shift))
        .collect();
    rotations.push(rotation(&[], "2026-01-01T00:00:00", ShiftLength::Days(1)));
    for rotation in rotations {
        assert_eq!(rotation.shift_at(NEW_YORK, at), None, "{rotation:?}");
        assert!(rotation.handoffs_between(NEW_YORK, from, to).is_empty());
        let schedule = schedule(NEW_YORK, vec![layer("l", rotation, vec![])]);
        assert_eq!(schedule.on_call_at(&[], at), None);
        assert_eq!(
            schedule.final_schedule(&[], from, to),
            vec![OnCallInterval {
                start: from,
                end: to,
                user: None,
                source: None
            }]
        );
    }
}

#[test]
fn extreme_dates_and_lengths_do_not_panic() {
    let far_past = DateTime::<Utc>::MIN_UTC;
    let far_future = DateTime::<Utc>::MAX_UTC;
    let starts = [
        NaiveDateTime::MIN,
        NaiveDateTime::MAX,
        local("2026-01-01T00:00:00"),
    ];
    let shifts = [
        ShiftLength::Hours(u32::MAX),
        ShiftLength::Days(u32::MAX),
        ShiftLength::Weeks(u32::MAX),
        ShiftLength::Hours(1),
        ShiftLength::Days(1),
        ShiftLength::Weeks(1),
        ShiftLength::Custom(crate::duration::HumanDuration::from_secs(59)),
    ];
    let restriction = window(&[Weekday::Mon], "22:00:00", "06:00:00");
    for zone in [NEW_YORK, CHATHAM, Tz::Etc__GMTPlus12, Tz::Etc__GMTMinus14] {
        for start in starts {
            for shift in shifts {
                let rotation = Rotation {
                    participants: vec![user("a"), user("b")],
                    start,
                    shift,
                };
                let mut schedule = schedule(
                    zone,
                    vec![layer("l", rotation.clone(), vec![restriction.clone()])],
                );
                schedule.unavailability =
                    vec![away("a", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")];
                for at in [far_past, far_future, utc("2026-01-05T23:00:00Z")] {
                    let _ = schedule.on_call_at(&[], at);
                    let _ = rotation.shift_at(zone, at);
                }
                let hour = chrono::TimeDelta::hours(1);
                for (from, to) in [
                    (far_past, far_past + hour * 50),
                    (far_future - hour * 50, far_future),
                ] {
                    let intervals = schedule.final_schedule(&[], from, to);
                    assert_eq!(intervals.first().map(|i| i.start), Some(from));
                    assert_eq!(intervals.last().map(|i| i.end), Some(to));
                    let _ = rotation.handoffs_between(zone, from, to);
                }
            }
        }
        let _ = resolve_local(zone, NaiveDateTime::MIN);
        let _ = resolve_local(zone, NaiveDateTime::MAX);
        let _ = local_time(zone, far_future);
        let _ = local_time(zone, far_past);
    }
}
