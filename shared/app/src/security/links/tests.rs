//! Signing, verifying, key ids, retired keys and rotation.

use super::*;
use chrono::TimeZone;

fn signer() -> LinkSigner {
    LinkSigner::new(vec![42u8; 32]).unwrap()
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

fn link() -> SignedLink {
    signer().sign(
        &IncidentId::new("0192abc").unwrap(),
        &UserId::new("alice").unwrap(),
        LinkAction::Ack,
        t(3600),
    )
}

#[test]
fn a_fresh_link_verifies_to_its_content() {
    let v = signer().verify(&link(), t(0)).unwrap();
    assert_eq!(v.incident.as_str(), "0192abc");
    assert_eq!(v.user.as_str(), "alice");
    assert_eq!(v.action, LinkAction::Ack);
}

#[test]
fn tampering_with_any_field_breaks_the_signature() {
    let good = link();
    let mut l = good.clone();
    l.incident = "0192abd".into();
    assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
    let mut l = good.clone();
    l.user = "mallory".into();
    assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
    let mut l = good.clone();
    l.action = LinkAction::Resolve;
    assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
    let mut l = good.clone();
    l.expires += 3600;
    assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
    let mut l = good;
    l.signature = "not base64!".into();
    assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
}

#[test]
fn another_secret_does_not_verify() {
    let other = LinkSigner::new(vec![1u8; 32]).unwrap();
    assert_eq!(other.verify(&link(), t(0)), Err(LinkError::BadSignature));
}

#[test]
fn expired_links_are_refused_at_and_after_expiry() {
    assert!(matches!(
        signer().verify(&link(), t(3600)),
        Err(LinkError::Expired(_))
    ));
    assert!(signer().verify(&link(), t(3599)).is_ok());
}

#[test]
fn short_secrets_are_rejected() {
    assert!(LinkSigner::new(vec![0u8; 31]).is_err());
}

#[test]
fn url_round_trips_through_query_parsing() {
    let l = link();
    let url = signer().url("https://x.example/v1/links/", &l);
    let query = url.split_once('?').unwrap().1;
    let parsed: SignedLink = serde_urlencoded::from_str(query).unwrap();
    assert_eq!(parsed, l);
    assert!(url.starts_with("https://x.example/v1/links?"));
}

const OLD: &str = "old-secret-old-secret-old-secret-0";
const NEW: &str = "new-secret-new-secret-new-secret-1";

fn ack_link(signer: &LinkSigner, expires: DateTime<Utc>) -> SignedLink {
    signer.sign(
        &IncidentId::new("0192abc").unwrap(),
        &UserId::new("alice").unwrap(),
        LinkAction::Ack,
        expires,
    )
}

/// The signer after rotating from OLD to NEW at t(0), OLD retired until t(7 days).
fn rotated() -> LinkSigner {
    LinkSigner::new(NEW)
        .unwrap()
        .with_retired(&[RetiredSecret {
            secret: OLD.to_owned(),
            until: t(7 * 86_400),
        }])
        .unwrap()
}

#[test]
fn links_name_their_key_without_revealing_it() {
    let signer = LinkSigner::new(OLD).unwrap();
    let link = ack_link(&signer, t(3600));
    assert_eq!(link.key.as_deref(), Some(signer.key_id().as_str()));
    assert_ne!(signer.key_id(), LinkSigner::new(NEW).unwrap().key_id());
    let url = signer.url("https://x.example/v1/links", &link);
    assert!(url.contains(&format!("k={}", signer.key_id())), "{url}");
    assert!(!url.contains(OLD));
}

#[test]
fn a_link_signed_before_a_rotation_still_verifies_until_it_expires() {
    let before = ack_link(&LinkSigner::new(OLD).unwrap(), t(3600));
    let after = rotated();
    assert_eq!(after.verify(&before, t(60)).unwrap().user.as_str(), "alice");
    assert!(matches!(
        after.verify(&before, t(3600)),
        Err(LinkError::Expired(_))
    ));
    // New links are signed with the new key, which the old signer does not know.
    let fresh = ack_link(&after, t(3600));
    assert_eq!(fresh.key.as_deref(), Some(after.key_id().as_str()));
    assert!(after.verify(&fresh, t(60)).is_ok());
    assert_eq!(
        LinkSigner::new(OLD).unwrap().verify(&fresh, t(60)),
        Err(LinkError::BadSignature)
    );
}

#[test]
fn a_retired_key_is_refused_after_its_end_even_for_a_link_not_yet_expired() {
    let long_lived = ack_link(&LinkSigner::new(OLD).unwrap(), t(30 * 86_400));
    assert!(rotated().verify(&long_lived, t(7 * 86_400 - 1)).is_ok());
    assert_eq!(
        rotated().verify(&long_lived, t(7 * 86_400)),
        Err(LinkError::BadSignature)
    );
}

#[test]
fn links_without_a_key_id_are_tried_against_every_accepted_key() {
    let mut legacy = ack_link(&LinkSigner::new(OLD).unwrap(), t(3600));
    legacy.key = None;
    assert!(rotated().verify(&legacy, t(60)).is_ok());
    let query = signer().url("https://x.example", &legacy);
    assert!(!query.contains("k="));
    // A key id that names no accepted key is refused, even with a valid signature.
    let mut renamed = ack_link(&LinkSigner::new(OLD).unwrap(), t(3600));
    renamed.key = Some("unknown".into());
    assert_eq!(
        rotated().verify(&renamed, t(60)),
        Err(LinkError::BadSignature)
    );
}

#[test]
fn retired_key_lists_round_trip_and_reject_malformed_entries() {
    let list = vec![
        RetiredSecret {
            secret: OLD.to_owned(),
            until: t(10),
        },
        RetiredSecret {
            secret: NEW.to_owned(),
            until: t(20),
        },
    ];
    let text = RetiredSecret::format_list(&list);
    assert_eq!(RetiredSecret::parse_list(&text).unwrap(), list);
    assert_eq!(RetiredSecret::parse_list("  ").unwrap(), vec![]);
    assert!(RetiredSecret::parse_list("no-colon").is_err());
    assert!(RetiredSecret::parse_list("soon:secret").is_err());
    assert!(
        LinkSigner::new(NEW)
            .unwrap()
            .with_retired(&RetiredSecret::parse_list("1:short").unwrap())
            .is_err()
    );
}

#[test]
fn rotating_keys_retires_the_current_one_and_drops_expired_retirees() {
    let ancient = "ancient-secret-ancient-secret-ancient-2".to_owned();
    let keys = LinkKeys {
        current: OLD.to_owned(),
        retired: vec![RetiredSecret {
            secret: ancient.clone(),
            until: t(-1),
        }],
    };
    let day = chrono::TimeDelta::days(1);
    let (rotated, report) = keys.rotate(NEW.to_owned(), t(0), day * 30).unwrap();
    assert_eq!(rotated.current, NEW);
    assert_eq!(
        rotated.retired,
        vec![RetiredSecret {
            secret: OLD.to_owned(),
            until: t(30 * 86_400)
        }]
    );
    assert_eq!(report.current, key_id(NEW.as_bytes()));
    assert_eq!(report.retired, key_id(OLD.as_bytes()));
    assert_eq!(report.dropped, 1);
    assert!(report.kept.is_empty());

    // Stored and read back, the keys sign with NEW and still accept OLD's links.
    let stored = LinkKeys::from_json(&rotated.to_json()).unwrap();
    assert_eq!(stored, rotated);
    let before = ack_link(&keys.signer().unwrap(), t(3600));
    assert!(stored.signer().unwrap().verify(&before, t(60)).is_ok());
    assert_eq!(
        ack_link(&stored.signer().unwrap(), t(3600)).key,
        Some(key_id(NEW.as_bytes()))
    );
    assert!(!format!("{stored:?}").contains(OLD));

    // The same secret again, or a short one, is refused.
    assert!(rotated.rotate(NEW.to_owned(), t(0), day).is_err());
    assert!(rotated.rotate("short".to_owned(), t(0), day).is_err());
    assert_eq!(generate_secret().len(), 43);
    assert_ne!(generate_secret(), generate_secret());
}

#[test]
fn malformed_stored_keys_are_refused_without_quoting_them() {
    for text in [
        "",
        "{}",
        r#"{"current": "short"}"#,
        r#"{"current": "new-secret-new-secret-new-secret-1", "retired": [{"secret": "x"}]}"#,
        r#"{"current": "new-secret-new-secret-new-secret-1", "extra": 1}"#,
    ] {
        let error = LinkKeys::from_json(text).unwrap_err().to_string();
        assert!(!error.contains("new-secret"), "{error}");
    }
    let keys = LinkKeys::from_json(r#"{"current": "new-secret-new-secret-new-secret-1"}"#);
    assert!(keys.unwrap().retired.is_empty());
}

#[test]
fn replacing_keys_reaches_every_clone() {
    let signer = LinkSigner::new(OLD).unwrap();
    let clone = signer.clone();
    let before = ack_link(&signer, t(3600));
    signer.replace_keys(&rotated());
    assert_eq!(clone.key_id(), key_id(NEW.as_bytes()));
    assert!(clone.verify(&before, t(60)).is_ok());
}

/// Upgrading from a deployment that signed links with one plain secret (no key ids): the old
/// secret is accepted as a retired key, so its links keep working until the retirement ends,
/// while new links are still signed with the current key.
#[test]
fn an_imported_old_secret_is_accepted_until_its_end_and_never_signs() {
    let keys = LinkKeys {
        current: NEW.to_owned(),
        retired: vec![],
    };
    let mut before_upgrade = ack_link(&LinkSigner::new(OLD).unwrap(), t(12 * 3600));
    before_upgrade.key = None;
    assert_eq!(
        keys.signer().unwrap().verify(&before_upgrade, t(60)),
        Err(LinkError::BadSignature),
        "not accepted before the import"
    );
    let (imported, report) = keys
        .accept_retired(OLD.to_owned(), t(0), chrono::TimeDelta::days(1))
        .unwrap();
    assert_eq!(report.imported, key_id(OLD.as_bytes()));
    assert_eq!(report.current, key_id(NEW.as_bytes()));
    assert_eq!(report.until, t(86_400));
    assert!(report.added);
    let signer = imported.signer().unwrap();
    assert!(signer.verify(&before_upgrade, t(60)).is_ok());
    assert_eq!(
        signer.key_id(),
        key_id(NEW.as_bytes()),
        "new links: the current key"
    );
    let long_lived = ack_link(&LinkSigner::new(OLD).unwrap(), t(30 * 86_400));
    assert_eq!(
        signer.verify(&long_lived, t(86_400)),
        Err(LinkError::BadSignature),
        "refused after the retirement's end"
    );

    // Importing again extends the end, never shortens it, and keeps one entry.
    let (again, report) = imported
        .accept_retired(OLD.to_owned(), t(60), chrono::TimeDelta::days(2))
        .unwrap();
    assert!(!report.added);
    assert_eq!(again.retired.len(), 1);
    assert_eq!(again.retired[0].until, t(60 + 2 * 86_400));
    let (shorter, _) = again
        .accept_retired(OLD.to_owned(), t(120), chrono::TimeDelta::minutes(1))
        .unwrap();
    assert_eq!(shorter.retired[0].until, t(60 + 2 * 86_400));

    // The current secret and a too-short one are refused, naming no secret.
    let error = keys
        .accept_retired(NEW.to_owned(), t(0), chrono::TimeDelta::days(1))
        .unwrap_err();
    assert!(error.to_string().contains("current key"), "{error}");
    let error = keys
        .accept_retired("short".to_owned(), t(0), chrono::TimeDelta::days(1))
        .unwrap_err();
    assert!(error.to_string().contains("at least 32 bytes"), "{error}");
    assert!(!error.to_string().contains("short\""), "{error}");
}
