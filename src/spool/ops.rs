//! `hookguard spool ls|retry|purge`: operating the spool of a stopped proxy.
//!
//! The spool's database is locked while a proxy runs, so these commands
//! refuse (exit 1) rather than race it. `ls` prints metadata only, never
//! bodies or header values (they may carry signatures).

use std::fmt::Write as _;

use super::store::{Meta, Spool};
use crate::cli::{SpoolAction, SpoolArgs};

/// Runs one spool command; returns the process exit code (0 ok, 1 error).
pub fn run(args: &SpoolArgs) -> u8 {
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookguard: cannot start the runtime: {e}");
            return 1;
        }
    };
    rt.block_on(async {
        if !args.dir.join("spool.redb").exists() {
            eprintln!("hookguard: no spool in {}", args.dir.display());
            return 1;
        }
        // The size cap only limits appends, which these commands never make.
        let spool = match Spool::open(&args.dir, u64::MAX) {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "hookguard: cannot open the spool in {} (is the proxy still running?): {e}",
                    args.dir.display()
                );
                return 1;
            }
        };
        let result = match &args.action {
            SpoolAction::Ls { dead } => {
                let rows = if *dead {
                    spool.list_dead()
                } else {
                    spool.snapshot()
                };
                print!("{}", render(&rows));
                Ok(())
            }
            SpoolAction::Retry { id, all } => {
                let which = if *all { None } else { *id };
                spool
                    .retry(which)
                    .await
                    .map(|n| println!("{n} dead letter(s) queued for delivery"))
            }
            SpoolAction::Purge => spool
                .purge()
                .await
                .map(|n| println!("{n} dead letter(s) purged")),
        };
        match result {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("hookguard: {e}");
                1
            }
        }
    })
}

/// One line per record: id, state, attempts, last status, route, event id,
/// received, body size, last error.
pub(crate) fn render(rows: &[(u64, Meta)]) -> String {
    let mut out =
        String::from("ID\tSTATE\tATTEMPTS\tSTATUS\tROUTE\tEVENT_ID\tRECEIVED\tBYTES\tLAST_ERROR\n");
    for (id, m) in rows {
        let received = crate::clock::rfc3339_millis(m.received_at_ms)
            .unwrap_or_else(|| m.received_at_ms.to_string());
        let state = match m.state {
            super::State::Pending => "pending",
            super::State::Dead => "dead",
        };
        let _ = writeln!(
            out,
            "{id}\t{state}\t{}\t{}\t{}\t{}\t{received}\t{}\t{}",
            m.attempts,
            m.last_status
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            m.route,
            m.event_id,
            m.body_len,
            m.last_error.as_deref().unwrap_or("-"),
        );
    }
    out
}
