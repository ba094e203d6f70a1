//! What a restart costs with the checkpoint ([`rtds::checkpoint`]): a worker's checkpoint is
//! filled with N users of `dataflows/users.sql` (its three `COUNT(*)` views), as the upsert
//! operator writes it, epoch by epoch; then it is opened and resumed from, as a restarted
//! worker does before its first epoch. Figures in BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench checkpoint       # RTDS_BENCH_USERS (1000000), RTDS_BENCH_DATAFLOW (a file)
//! ```
//!
//! The users have an id, one of 10 countries, a gender and one of 60 dates of birth; the other
//! columns are NULL. `RTDS_BENCH_DATAFLOW` names another dataflow file over the same source
//! table (`benches/checkpoint/aggregates.sql`: `SUM`, `AVG`, `MIN`, `MAX` by country).
//!
//! Prints the time to fill it (CPU per user), its size on disk, and the time to open it and
//! read what the views resume from, which should not grow with the users.

use std::sync::Arc;
use std::time::Instant;

use rtds::checkpoint::{Checkpoint, Coverage, Identity, Mark};
use rtds::dataflow::Dataflow;
use rtds::model::Version;
use rtds::operators::UpsertState;
use rtds::sql::expr::Context;
use rtds::sql::kept::Kept;
use rtds::sql::{Datum, Row};
use uuid::Uuid;

const EPOCH: usize = 2_000;

fn folder_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| if e.path().is_dir() { folder_bytes(&e.path()) } else { e.metadata().map(|m| m.len()).unwrap_or(0) }).sum())
        .unwrap_or(0)
}

fn main() {
    let users: usize = std::env::var("RTDS_BENCH_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let program = match std::env::var_os("RTDS_BENCH_DATAFLOW") {
        Some(path) => Dataflow::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}")).program,
        None => Dataflow::users().program,
    };
    let cx = Context { today: chrono::Utc::now().date_naive(), now: None };
    let kept = Arc::new(Kept::new(program.views.iter().cloned().map(Arc::new).collect(), program.table.state_columns.len(), cx));
    let columns = program.table.state_names();
    let at = |name: &str| columns.iter().position(|c| *c == name).unwrap_or_else(|| panic!("users.sql keeps {name}"));
    let (id_at, country_at, gender_at, dob_at) = (at("id"), at("country"), at("gender"), at("dob"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("worker-0");
    let identity = Identity { lineage: 1, dataflow: rtds::checkpoint::digest(&program, cx.today), index: 0, peers: 1 };

    let started = Instant::now();
    let mut state = Checkpoint::open(&path).unwrap().into_state(identity.clone(), Coverage::new(), None, kept.clone());
    let countries = ["BR", "PT", "US", "DE", "FR", "IN", "CA", "NZ", "IE", "ES"];
    for (epoch, ids) in (0..users).collect::<Vec<_>>().chunks(EPOCH).enumerate() {
        let updates = ids
            .iter()
            .map(|&n| {
                let mut row: Row = std::iter::repeat_n(Datum::Null, columns.len()).collect();
                row[id_at] = Datum::Uuid(Uuid::from_u128(n as u128 * 0x9e37_79b9_7f4a_7c15));
                row[country_at] = Datum::Text(countries[n % countries.len()].into());
                row[gender_at] = Datum::Text(["female", "male"][n % 2].into());
                row[dob_at] = Datum::Timestamp(-((n % 60) as i64) * 365 * 86_400_000);
                let Datum::Uuid(id) = row[id_at] else { unreachable!() };
                (id, (Version { order: n as u64 + 1, offset: n as i64 }, Some(kept.row(row))))
            })
            .collect();
        state.apply(updates, vec![Mark::Read { partition: 0, records: ((epoch + 1) * EPOCH) as i64 }], &mut |_, _, _| {});
    }
    state.sync();
    let fill = started.elapsed();
    drop(state);
    println!("filled {users} users in {:.1} s ({:.2} µs a user, wall); {:.0} MB on disk", fill.as_secs_f64(), fill.as_secs_f64() / users as f64 * 1e6, folder_bytes(&path) as f64 / 1e6);

    let started = Instant::now();
    let checkpoint = Checkpoint::open(&path).unwrap();
    let inputs = checkpoint.resume(&identity, &Default::default()).unwrap().view_inputs;
    println!("opened and resumed in {:.0} ms: {} view inputs for {users} users", started.elapsed().as_secs_f64() * 1e3, inputs.len());
}
