//! Several daemons on one database: leases, the shared outbox, concurrent migration,
//! trends, and what the tables hold, on both backends (the races on PostgreSQL).

use super::testing::{each_backend, pg_location, pg_server};
use super::*;
use std::sync::{Arc, Barrier};

fn msg(id: String) -> NewMessage {
    NewMessage {
        channel: "hook".into(),
        transport: "webhook",
        event: "keywarden.report".into(),
        message_id: id,
        payload: b"{}".to_vec(),
    }
}

#[test]
fn leases_one_holder_per_tick_expiry_hands_over_and_done_is_final() {
    each_backend("leases", |s| {
        let job = "scan:acme";
        assert_eq!(s.lease(job).unwrap(), None);
        assert!(s.try_lease(job, 100, "a", 1_000, 10).unwrap());
        assert!(!s.try_lease(job, 100, "b", 1_000, 20).unwrap(), "held by a");
        assert!(s.try_lease(job, 100, "a", 1_000, 30).unwrap(), "a renews");
        assert!(s.renew_lease(job, 100, "a", 1_000, 500).unwrap());
        assert!(!s.renew_lease(job, 100, "b", 1_000, 500).unwrap());
        assert!(s.set_progress(job, 100, "a", "repo-17", 600).unwrap());
        assert!(
            !s.set_progress(job, 100, "b", "repo-99", 600).unwrap(),
            "not b's"
        );
        // a dies: no renewal; b takes over once the lease expired, and resumes.
        assert!(!s.try_lease(job, 100, "b", 1_000, 1_499).unwrap());
        assert!(s.try_lease(job, 100, "b", 1_000, 1_500).unwrap());
        assert_eq!(s.progress(job).unwrap().as_deref(), Some("repo-17"));
        assert!(
            !s.renew_lease(job, 100, "a", 1_000, 1_600).unwrap(),
            "a lost it"
        );
        assert!(!s.release_lease(job, 100, "a", true, 1_600).unwrap());
        let l = s.lease(job).unwrap().unwrap();
        assert_eq!(
            (l.holder.as_str(), l.acquired_at, l.tick),
            ("b", 1_500, 100)
        );
        // A later tick waits while this one runs.
        assert!(!s.try_lease(job, 200, "a", 1_000, 1_700).unwrap());
        assert!(s.release_lease(job, 100, "b", true, 1_800).unwrap());
        assert_eq!(s.progress(job).unwrap(), None, "done: progress cleared");
        // Done is final for that tick, even once expired; the next tick is free.
        assert!(!s.try_lease(job, 100, "a", 1_000, 9_000).unwrap());
        assert!(
            !s.try_lease(job, 50, "a", 1_000, 9_000).unwrap(),
            "older tick"
        );
        assert!(s.try_lease(job, 200, "a", 1_000, 1_900).unwrap());
        // Given up without finishing: another daemon may take it at once.
        assert!(s.release_lease(job, 200, "a", false, 2_000).unwrap());
        assert!(s.try_lease(job, 200, "b", 1_000, 2_000).unwrap());
        // Other jobs are independent.
        assert!(s.try_lease("audit:acme", 200, "a", 1_000, 2_000).unwrap());
    });
}

#[test]
fn trends_per_source_and_in_total() {
    each_backend("trends", |s| {
        let seen = |id: &str| Seen {
            id: id.into(),
            label: id.into(),
            severity: "high".into(),
        };
        assert_eq!(s.trends(None, &[]).unwrap().total.opened, 0);
        s.track("scan:a", &[seen("1"), seen("2"), seen("3")], 1_000)
            .unwrap();
        s.track("scan:a", &[seen("3")], 2_000).unwrap(); // 1, 2 fixed after 1 s
        s.track("scan:a", &[], 5_000).unwrap(); // 3 fixed after 4 s
        s.track("audit:w", &[seen("k")], 3_000).unwrap();
        let t = s.trends(None, &[]).unwrap();
        let a = &t.sources[1];
        assert_eq!(a.source, "scan:a");
        assert_eq!((a.opened, a.resolved, a.open), (3, 3, 0));
        assert_eq!(a.median_fix_ms, Some(1_000));
        let w = &t.sources[0];
        assert_eq!((w.source.as_str(), w.opened, w.open), ("audit:w", 1, 1));
        assert_eq!(w.median_fix_ms, None);
        assert_eq!((t.total.opened, t.total.resolved, t.total.open), (4, 3, 1));
        let t = s.trends(Some(2_500), &[]).unwrap();
        assert_eq!((t.total.opened, t.total.resolved), (1, 1));
        assert_eq!(t.total.median_fix_ms, Some(4_000));
    });
}

#[test]
fn trends_per_fleet_target_and_workspace() {
    each_backend("trend_groups", |s| {
        let seen = |id: &str| Seen {
            id: id.into(),
            label: id.into(),
            severity: "high".into(),
        };
        // Fleet target `org`: two repositories; `org2` only shares a prefix.
        s.track("scan:org/acme/app", &[seen("1"), seen("2")], 1_000)
            .unwrap();
        s.track("scan:org/acme/lib", &[seen("3")], 1_000).unwrap();
        s.track("scan:org/acme/app", &[seen("2")], 3_000).unwrap(); // 1 fixed after 2 s
        s.track("scan:org/acme/lib", &[], 7_000).unwrap(); // 3 fixed after 6 s
        s.track("scan:org2/x", &[seen("4")], 2_000).unwrap();
        s.track("audit:w", &[seen("k")], 2_000).unwrap();
        s.track("audit:w", &[], 2_500).unwrap();
        s.track("scan:gone", &[seen("5")], 2_000).unwrap();
        let groups: Vec<String> = ["scan:org", "scan:org2", "audit:w", "scan:quiet"]
            .map(String::from)
            .to_vec();
        let t = s.trends(None, &groups).unwrap();
        let row = |g: &SourceTrend| {
            (
                g.source.clone(),
                g.opened,
                g.resolved,
                g.open,
                g.median_fix_ms,
            )
        };
        let got: Vec<_> = t.groups.iter().map(row).collect();
        assert_eq!(
            got,
            vec![
                ("scan:org".into(), 3, 2, 1, Some(4_000)),
                ("scan:org2".into(), 1, 0, 1, None),
                ("audit:w".into(), 1, 1, 0, Some(500)),
                ("scan:quiet".into(), 0, 0, 0, None),
            ]
        );
        // Sources stay per repository; the total counts every source, grouped or not.
        assert_eq!(t.sources.len(), 5);
        assert_eq!((t.total.opened, t.total.resolved, t.total.open), (6, 3, 3));
        assert_eq!(t.total.median_fix_ms, Some(2_000));
    });
}

#[test]
fn no_full_key_or_password_in_any_table() {
    let body = format!("{}{}", "Qm7Tz2Xw9Lp4", "Vn8Rb3Kc6Hd1");
    let key = format!("mk_live_{body}");
    each_backend("no_secret_in_tables", |s| {
        let said = format!("refused key {key}");
        let ids = s
            .enqueue(
                "scan:x",
                &format!("[\"{key}\"]"),
                &[NewMessage {
                    payload: format!("{{\"key\":\"{key}\"}}").into_bytes(),
                    ..msg("m1".into())
                }],
                1,
            )
            .unwrap();
        s.mark_retry(ids[0], 2, &said).unwrap();
        s.channel_attempt("hook", Some(&said), 3).unwrap();
        let seen = Seen {
            id: "f1".into(),
            label: said.clone(),
            severity: "high".into(),
        };
        s.track("scan:x", &[seen], 4).unwrap();
        let run = s.run_started("scan:x", "schedule", None, 5).unwrap();
        s.run_finished(run, false, &said, 6).unwrap();
        let outage = Outage {
            subject: "scan:x".into(),
            since: 1,
            reported_at: 7,
            detail: said.clone(),
        };
        s.open_outage(&outage, &[msg("m2".into())]).unwrap();
        assert!(s.try_lease("scan:x", 1, "d", 1_000, 8).unwrap());
        assert!(s.set_progress("scan:x", 1, "d", &said, 8).unwrap());
        let dump = s.dump();
        assert!(dump.contains("mk_live_Qm7T"), "the redacted form is kept");
        for secret in [body.clone(), hex::encode(&body)] {
            assert!(!dump.contains(&secret), "{dump}");
        }
        if s.location().is_shared() {
            let password = pg_server::server().unwrap().password();
            assert!(!dump.contains(password), "{dump}");
        }
    });
}

/// Opens `n` stores on `at` at once (a barrier before each open).
fn open_together(at: &Location, n: usize) -> Vec<Store> {
    let gate = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (at, gate) = (at.clone(), gate.clone());
            std::thread::spawn(move || {
                gate.wait();
                Store::open(&at).unwrap()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn daemons_starting_together_migrate_once() {
    let Some(at) = pg_location("concurrent_migration") else {
        return;
    };
    let stores = open_together(&at, 6);
    let versions: Vec<i64> = stores[0]
        .run("test", |ex| {
            ex.query(
                "SELECT version FROM keywarden_migrations ORDER BY version",
                &[],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(versions, (1..=Store::SCHEMA_VERSION).collect::<Vec<_>>());
}

#[test]
fn daemons_racing_for_a_lease_exactly_one_wins_each_tick() {
    let Some(at) = pg_location("lease_race") else {
        return;
    };
    let n = 4;
    let gate = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (at, gate) = (at.clone(), gate.clone());
            std::thread::spawn(move || {
                let mut s = Store::open(&at).unwrap();
                let mut won = Vec::new();
                for tick in 0..25 {
                    gate.wait();
                    let now = tick * 1_000;
                    if s.try_lease("scan:org", tick, &format!("d{i}"), 60_000, now)
                        .unwrap()
                    {
                        won.push(tick);
                        s.release_lease("scan:org", tick, &format!("d{i}"), true, now)
                            .unwrap();
                    }
                    gate.wait();
                }
                won
            })
        })
        .collect();
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (0..25).collect::<Vec<_>>(), "one winner per tick");
}

#[test]
fn two_daemons_on_one_outbox_never_claim_the_same_message() {
    let Some(at) = pg_location("outbox_race") else {
        return;
    };
    let msgs: Vec<NewMessage> = (0..200).map(|i| msg(format!("m{i}"))).collect();
    Store::open(&at)
        .unwrap()
        .enqueue("acme", "[]", &msgs, 0)
        .unwrap();
    let gate = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (at, gate) = (at.clone(), gate.clone());
            std::thread::spawn(move || {
                let mut s = Store::open(&at).unwrap();
                gate.wait();
                let mut got = Vec::new();
                while let Some(r) = s.claim_due(0, 60_000, None, &[]).unwrap() {
                    got.push(r.id);
                }
                got
            })
        })
        .collect();
    let per: Vec<Vec<i64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut all: Vec<i64> = per.concat();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!((n, all.len()), (200, 200), "each claimed exactly once");
    // A claim whose holder died is due again once its lease expired.
    let mut s = Store::open(&at).unwrap();
    assert!(s.claim_due(59_999, 1, None, &[]).unwrap().is_none());
    assert_eq!(
        s.claim_due(60_000, 120_000, None, &[])
            .unwrap()
            .unwrap()
            .attempts,
        2
    );
}

#[test]
fn postgres_store_works_inside_tokio_runtimes() {
    let Some(at) = pg_location("inside_tokio") else {
        return;
    };
    for multi in [false, true] {
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread().build()
        } else {
            tokio::runtime::Builder::new_current_thread().build()
        }
        .unwrap();
        let at = at.clone();
        rt.block_on(async move {
            // What the daemon does at start (not in spawn_blocking).
            let mut s = Store::open(&at).unwrap();
            let id = s.run_started("audit:a", "start", None, 1).unwrap();
            drop(s);
            let at2 = at.clone();
            tokio::task::spawn_blocking(move || {
                Store::open(&at2).unwrap().run_finished(id, true, "ok", 2)
            })
            .await
            .unwrap()
            .unwrap();
            assert!(
                Store::open(&at)
                    .unwrap()
                    .last_run("audit:a")
                    .unwrap()
                    .is_some()
            );
        });
    }
}
