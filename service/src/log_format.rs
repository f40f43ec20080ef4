//! The JSON log line: the access line (one per request, target [`ACCESS_TARGET`]) written
//! directly, field by field, and every other event through tracing-subscriber's JSON formatter.
//!
//! Both give the same line: `{"timestamp":…,"level":…,<the event's fields in order>,
//! "target":…}`, with serde_json's string escaping. tracing-subscriber's formatter goes through
//! serde's map serializer, `fmt::Write` adaptors and a timestamp `String` made per event; at
//! superpower's full throughput that was about 4 % of its CPU (perf, `/work/notes/prof.sh`).
//! Here the date and time up to the second are formatted once a second per thread, the numbers
//! with `itoa`, and the strings are escaped in place. An access event inside a span (the stock
//! line then carries a `spans` list), or a clock before 1970 or past 9999, goes to the stock
//! formatter, so nothing changes in the lines' content.
//!
//! The event stays a `tracing` event: `RUST_LOG=access=off` still turns the access log off, and
//! the pretty format (`LOG_FORMAT=pretty`) is untouched.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::time::SystemTime as StockClock;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The target of the access-log event (`RUST_LOG=access=off` turns it off).
pub const ACCESS_TARGET: &str = "access";

/// How much of a request path goes into an access line or a span (`url.path`): a client's bytes
/// are kept bounded wherever they are kept.
pub const PATH_BYTES: usize = 200;

/// `path` cut to [`PATH_BYTES`] (at a character boundary).
pub fn cut_path(path: &str) -> &str {
    truncate(path, PATH_BYTES)
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The JSON line format of both services (see the module docs).
pub struct JsonLines {
    /// tracing-subscriber's JSON format, for every event but the access line.
    stock: Format<Json, StockClock>,
}

impl Default for JsonLines {
    fn default() -> Self {
        JsonLines {
            stock: tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(false),
        }
    }
}

/// The layer of [`JsonLines`] writing to `writer` (what `LOG_FORMAT=json` installs).
pub fn layer<S, W>(writer: W) -> tracing_subscriber::fmt::Layer<S, JsonFields, JsonLines, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .event_format(JsonLines::default())
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if meta.target() == ACCESS_TARGET {
            // the stock line lists the spans the event is in: only it knows how
            let in_span = event
                .parent()
                .and_then(|id| ctx.span(id))
                .or_else(|| ctx.lookup_current())
                .is_some();
            if !in_span {
                if let Some(now) = Timestamp::of(SystemTime::now()) {
                    return write_line(&mut writer, &now, event);
                }
            }
        }
        self.stock.format_event(ctx, writer, event)
    }
}

/// Writes the whole line of `event`, as the stock formatter would with `timestamp` `now`.
fn write_line(w: &mut impl fmt::Write, now: &Timestamp, event: &Event<'_>) -> fmt::Result {
    let meta = event.metadata();
    w.write_str("{\"timestamp\":\"")?;
    now.write(w)?;
    w.write_str("\",\"level\":\"")?;
    w.write_str(meta.level().as_str())?;
    w.write_char('"')?;
    let mut fields = Fields { w, result: Ok(()) };
    event.record(&mut fields);
    fields.result?;
    w.write_str(",\"target\":")?;
    write_json_str(w, meta.target())?;
    w.write_str("}\n")
}

/// Writes each field as `,"name":value`, as tracing-serde's map visitor serializes it (the same
/// methods: the kinds it does not override, such as `i128` or errors, come through
/// `record_debug` in both).
struct Fields<'a, W> {
    w: &'a mut W,
    result: fmt::Result,
}

impl<W: fmt::Write> Fields<'_, W> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                self.w.write_char(',')?;
                write_json_str(self.w, field.name())?;
                self.w.write_char(':')?;
                value(self.w)
            })();
        }
    }
}

impl<W: fmt::Write> Visit for Fields<'_, W> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |w| {
            w.write_char('"')?;
            write!(Escaping(w), "{value:?}")?;
            w.write_char('"')
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json's own rendering (shortest round trip, `null` for NaN and infinities)
        self.entry(field, |w| {
            w.write_str(&serde_json::to_string(&value).map_err(|_| fmt::Error)?)
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |w| write_json_str(w, value));
    }
}

/// Writes `s` as a JSON string, escaped as serde_json escapes it.
pub fn write_json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaping(w).write_str(s)?;
    w.write_char('"')
}

/// A writer that escapes what goes through it for the inside of a JSON string (serde_json's
/// choices: `\"`, `\\`, `\b \t \n \f \r`, `\u00xx` for the other control characters, and
/// everything else, non-ASCII included, as it is). Escaping is per character, so text may come
/// in any number of pieces.
struct Escaping<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                b'\t' => b't',
                b'\n' => b'n',
                0x0c => b'f',
                b'\r' => b'r',
                0x00..=0x1f => b'u',
                _ => continue,
            };
            // `i` is an ASCII byte, so both cuts fall on character boundaries
            self.0.write_str(&s[start..i])?;
            start = i + 1;
            if short == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.0.write_str("\\u00")?;
                self.0.write_char(char::from(HEX[usize::from(b >> 4)]))?;
                self.0.write_char(char::from(HEX[usize::from(b & 0xf)]))?;
            } else {
                self.0.write_char('\\')?;
                self.0.write_char(char::from(short))?;
            }
        }
        self.0.write_str(&s[start..])
    }
}

/// A UTC time as tracing-subscriber writes it (`2026-12-01T17:50:53.123456Z`), for years 1970
/// to 9999 (outside them, the stock formatter writes the line).
struct Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS`.
    second: [u8; 19],
    micros: u32,
}

thread_local! {
    /// The last second formatted on this thread, and its text: a thread logs many lines a
    /// second, and the date is worked out once per second.
    static LAST_SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

impl Timestamp {
    fn of(t: SystemTime) -> Option<Timestamp> {
        let since = t.duration_since(UNIX_EPOCH).ok()?;
        let secs = since.as_secs();
        let micros = since.subsec_micros();
        let (last, text) = LAST_SECOND.get();
        if last == secs {
            return Some(Timestamp {
                second: text,
                micros,
            });
        }
        let second = second_text(secs)?;
        LAST_SECOND.set((secs, second));
        Some(Timestamp { second, micros })
    }

    fn write(&self, w: &mut impl fmt::Write) -> fmt::Result {
        // `second` holds ASCII digits and separators only
        let second = std::str::from_utf8(&self.second).map_err(|_| fmt::Error)?;
        w.write_str(second)?;
        w.write_char('.')?;
        let mut digits = [b'0'; 6];
        let mut n = self.micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        w.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)?;
        w.write_char('Z')
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` after the Unix epoch; `None` past year 9999.
fn second_text(secs: u64) -> Option<[u8; 19]> {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    if year > 9999 {
        return None;
    }
    let (hour, minute, second) = (rem / 3600, rem / 60 % 60, rem % 60);
    let mut out = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut n: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, hour);
    put(14, 2, minute);
    put(17, 2, second);
    Some(out)
}

/// Year, month (1-12) and day (1-31) of the day `days` after 1970-01-01 (proleptic
/// Gregorian; Howard Hinnant's `civil_from_days`, for days from the epoch on).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt;

    /// Lines written by a subscriber, kept for the test.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    /// The line `emit` logs, through ours and through the stock JSON formatter.
    fn both(emit: impl Fn()) -> (String, String) {
        let ours = Lines::default();
        let sink = ours.clone();
        let subscriber = tracing_subscriber::registry().with(layer(move || sink.clone()));
        tracing::subscriber::with_default(subscriber, &emit);
        let stock = Lines::default();
        let sink = stock.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_writer(move || sink.clone()),
        );
        tracing::subscriber::with_default(subscriber, &emit);
        (ours.take(), stock.take())
    }

    /// `line` with its timestamp's value cut out (two runs differ only there).
    fn without_time(line: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(line).expect("the line is JSON");
        let stamp = v["timestamp"].as_str().expect("a timestamp").to_owned();
        assert_eq!(stamp.len(), 27, "{stamp}");
        line.replacen(&stamp, "T", 1)
    }

    const NASTY: &[&str] = &[
        "/",
        "/characters/1010925",
        "/a\"b\\c/d",
        "/\u{0}\u{1}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}\u{1f} \u{7f}",
        "/Fräulein/日本/🦀/\u{2028}\u{2029}\u{feff}",
        "",
    ];

    #[test]
    fn the_access_line_is_the_stock_line_byte_for_byte() {
        for path in NASTY {
            for trace_id in [None, Some("4bf92f3577b34da6a3ce929d0e0e4736")] {
                let (ours, stock) = both(|| {
                    tracing::info!(
                        target: ACCESS_TARGET,
                        method = "GET",
                        path = %path,
                        route = "/characters/{id}",
                        status = 200u16,
                        duration_us = 1234u64,
                        trace_id,
                    );
                });
                assert_eq!(ours.lines().count(), 1, "{ours}");
                assert!(ours.ends_with("}\n"));
                assert_eq!(without_time(&ours), without_time(&stock), "path {path:?}");
                let v: serde_json::Value = serde_json::from_str(&ours).unwrap();
                assert_eq!(v["path"], *path);
                assert_eq!(v["status"], 200);
                assert_eq!(v["target"], "access");
                assert_eq!(v["level"], "INFO");
                assert_eq!(v.get("trace_id").and_then(|t| t.as_str()), trace_id);
            }
        }
    }

    #[test]
    fn every_field_kind_is_written_as_the_stock_formatter_writes_it() {
        let (ours, stock) = both(|| {
            tracing::warn!(
                target: ACCESS_TARGET,
                flag = true,
                neg = -7i64,
                big = u64::MAX,
                ratio = 0.1f64,
                nan = f64::NAN,
                wide = 1u128 << 100,
                debugged = ?("quote\"", 'é', '\n'),
                shown = %"tab\there",
                "a message with \"quotes\" and {}", 42
            );
        });
        assert_eq!(without_time(&ours), without_time(&stock));
        assert!(ours.contains("\"level\":\"WARN\""));
    }

    #[test]
    fn an_access_event_inside_a_span_gets_the_stock_line_with_its_spans() {
        let (ours, stock) = both(|| {
            let span = tracing::info_span!("conn", peer = "1.2.3.4");
            let _entered = span.enter();
            tracing::info!(target: ACCESS_TARGET, status = 200u16);
        });
        assert!(ours.contains("\"spans\":[{"), "{ours}");
        assert_eq!(without_time(&ours), without_time(&stock));
    }

    #[test]
    fn other_targets_go_to_the_stock_formatter() {
        let (ours, stock) = both(|| tracing::info!(answer = 42, "hello"));
        assert_eq!(without_time(&ours), without_time(&stock));
    }

    #[test]
    fn escaping_matches_serde_json_for_every_ascii_byte_and_beyond() {
        let mut all: String = (0u8..=0x7f).map(char::from).collect();
        all.push_str("é日🦀\u{2028}\u{10ffff}");
        let mut ours = String::new();
        write_json_str(&mut ours, &all).unwrap();
        assert_eq!(ours, serde_json::to_string(&all).unwrap());
        // one character at a time (a Debug value arrives in pieces)
        let mut pieces = String::from("\"");
        for c in all.chars() {
            Escaping(&mut pieces)
                .write_str(c.encode_utf8(&mut [0; 4]))
                .unwrap();
        }
        pieces.push('"');
        assert_eq!(pieces, ours);
    }

    #[test]
    fn dates_match_httpdate_across_four_centuries() {
        // a leap day, the epoch, the end of the range, and a day every ~37 days for 400 years
        let fixed = [0u64, 951_782_400, 1_709_251_199, 253_402_300_799];
        let stepped = (0..4000u64).map(|i| i * 3_217_931 + i % 86_400);
        for secs in fixed.into_iter().chain(stepped) {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            let ours = String::from_utf8(second_text(secs).unwrap().to_vec()).unwrap();
            // httpdate: "Thu, 29 Feb 2024 23:59:59 GMT"
            let http = httpdate::fmt_http_date(t);
            let mut p = http[5..].split([' ', ':']);
            let (d, mon, y, h, m, s) = (
                p.next().unwrap(),
                p.next().unwrap(),
                p.next().unwrap(),
                p.next().unwrap(),
                p.next().unwrap(),
                p.next().unwrap(),
            );
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let mon = MONTHS.iter().position(|x| *x == mon).unwrap() + 1;
            assert_eq!(ours, format!("{y}-{mon:02}-{d}T{h}:{m}:{s}"), "{secs}");
        }
        assert_eq!(second_text(253_402_300_800), None, "year 10000");
    }

    #[test]
    fn the_timestamp_is_the_stock_clocks_at_the_same_moment() {
        use tracing_subscriber::fmt::time::FormatTime;
        // the two clocks are read one after the other: retry when a second ticks in between
        for _ in 0..10 {
            let mut stock = String::new();
            StockClock
                .format_time(&mut Writer::new(&mut stock))
                .unwrap();
            let mut ours = String::new();
            Timestamp::of(SystemTime::now())
                .unwrap()
                .write(&mut ours)
                .unwrap();
            assert_eq!(ours.len(), stock.len(), "{ours} vs {stock}");
            if ours[..19] == stock[..19] {
                assert!(ours[19..].starts_with('.') && ours.ends_with('Z'), "{ours}");
                return;
            }
        }
        panic!("the clocks never agreed to the second");
    }

    #[test]
    fn micros_are_zero_padded() {
        let t = UNIX_EPOCH + Duration::new(1_709_251_199, 7_000);
        let mut s = String::new();
        Timestamp::of(t).unwrap().write(&mut s).unwrap();
        assert_eq!(s, "2024-02-29T23:59:59.000007Z");
    }
}
