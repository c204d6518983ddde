//! Ids, wall-clock timestamps and small helpers.

use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh uuid without dashes.
pub(crate) fn uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A fresh trace id for `X-Tps-trace-ID`.
pub(crate) fn trace_id() -> String {
    uuid()
}

/// A fresh message id `ROBOT1.0_…`.
pub(crate) fn robot_msg_id() -> String {
    format!("ROBOT1.0_{}", uuid())
}

/// A fresh `REFIDX_…`.
pub(crate) fn ref_idx() -> String {
    format!("REFIDX_{}", uuid())
}

/// Wall-clock unix seconds (payload timestamps are cosmetic, so the system
/// clock is fine here; timing logic uses tokio's clock).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// RFC3339 with a +08:00 offset, as QQ writes timestamps.
pub(crate) fn rfc3339_cst(unix: i64) -> String {
    let local = unix + 8 * 3600;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A stable numeric bot user id for an app.
pub(crate) fn bot_user_id(app_id: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in app_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 9_000_000_000_000_000_000 + 1_000_000_000_000_000_000).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_in_beijing_time() {
        // 2023-11-06T05:37:18Z
        assert_eq!(rfc3339_cst(1_699_249_038), "2023-11-06T13:37:18+08:00");
        assert_eq!(rfc3339_cst(0), "1970-01-01T08:00:00+08:00");
        // 2024-02-29T16:00:00Z crosses into March 1st in +08:00.
        assert_eq!(rfc3339_cst(1_709_222_400), "2024-03-01T00:00:00+08:00");
    }
}
