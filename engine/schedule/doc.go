// Package schedule parses and evaluates task schedules: cron expressions,
// descriptors, "@every" intervals and one-shot instants.
//
// # Cron expressions
//
// An expression has five fields (minute hour day-of-month month day-of-week)
// or six, with a leading seconds field. A field is a comma-separated list of
// items; an item is
//
//	5                 one value
//	1-5               a range
//	? or *            every value
//	1-30/5 or */5     every 5th value of the range, of the field
//	5/15              every 15th value from 5 to the field's maximum
//	H, H/15, H(0-29), H(0-29)/10   values picked per task (see below)
//
// Fields take seconds and minutes 0-59, hours 0-23, days of the month 1-31,
// months 1-12 or JAN-DEC, days of the week 0-7 or SUN-SAT, 0 and 7 being
// Sunday (names in any case; see below). A step is at most the number of
// distinct values in its field (60, 24, 31, 12, 7); ranges do not wrap
// around. L, W and # are not supported. An expression whose day of the
// month occurs in none of its months (0 0 30 2 *) is rejected, since it
// would never fire.
//
// The descriptors @yearly (or @annually), @monthly, @weekly, @daily (or
// @midnight) and @hourly stand for "0 0 1 1 *", "0 0 1 * *", "0 0 * * 0",
// "0 0 * * *" and "0 * * * *".
//
// # Sunday as 0 and 7
//
// As crontab(5) says ("0 or 7 is Sunday") and cronie does, the day of the
// week runs from 0 to 7 and 7 is Sunday wherever a number may stand:
//
//	7, 0,7, SUN        Sunday
//	5-7, FRI-7         Friday, Saturday and Sunday
//	1-7, 0-7, 0-6, *   every day
//	1,7                Monday and Sunday
//	1-7/3              Monday, Thursday and Sunday
//	3/2                Wednesday, Friday and Sunday (a/n is a-7/n)
//	*/2                Sunday, Tuesday, Thursday and Saturday
//	*/7                Sunday
//
// * is 0-7, as in cronie, so */n is 0, n, 2n, ... up to 7: the same days as
// up to 6, since only */1 and */7 reach 7 and both have 0. a/n means a-7/n,
// as a/n means a-max/n in every field (cronie refuses a/n; robfig/cron
// reads 3/2 as Wednesday and Friday). The name SUN is 0, but a range
// that ends in Sunday, written SUN or 0, after a later start ends at 7, as
// in cronie: MON-SUN is 1-7 (every day), FRI-SUN and 5-0 are 5-7, and
// MON-SUN/2 is 1-7/2 (Monday, Wednesday, Friday and Sunday). Other ranges
// that start after they end (FRI-MON), and values above 7, are refused;
// the error shows the list to write instead (5-7,1). H and H/n pick among
// 0-6; H(0-7), which names Sunday twice, picks like H(0-6); H(5-7) picks
// Friday, Saturday or Sunday. [Schedule.String] keeps 7 as written.
//
// # Day of the month and day of the week
//
// As in crontab(5): when both day fields are restricted, that is when
// neither contains * or ?, a day matches if either field matches, so
// "0 0 13 * FRI" fires on every 13th and on every Friday. Otherwise a day
// matches if both do. A stepped star such as */2 counts as unrestricted (it
// contains *), as in crontab(5) and Vixie cron; robfig/cron counts it as
// restricted.
//
// # H: a stable value per task
//
// H spreads tasks that share a schedule ("Jenkins-style"). Its values come
// from a hash of the task's key and the field's position, so one task
// always gets the same values and different tasks spread uniformly:
//
//	H          one value in the field's range
//	H(a-b)     one value in a..b
//	H/n        every nth value, starting at an offset in 0..n-1
//	H(a-b)/n   every nth value in a..b, starting at a plus an offset in
//	           0..n-1 (at most b)
//
// In the day-of-month field, H and H/n stay within 1..28, so that the task
// fires in every month; H(a-b) uses the range as given. The hash is 64-bit
// FNV-1a of the key, a zero byte and the field's position (0 = second …
// 5 = day-of-week, 6 = @every), passed through MurmurHash3's fmix64
// finalizer and mapped onto the n candidate values as the high word of the
// 128-bit product hash·n. It is part of the package's contract: changing it
// would move every task. [Schedule.String] shows the expression with H
// resolved, e.g. "H/15 * * * *" as "3-59/15 * * * *".
//
// # Time zones and daylight saving time
//
// An expression is read on the wall clock of the schedule's IANA time zone,
// UTC by default. Where the clock jumps, two kinds of schedule behave
// differently:
//
//   - A schedule whose hour field matches every hour (*/15 * * * *,
//     @hourly, H * * * *) follows elapsed time, as Vixie cron does for such
//     jobs: wall times skipped by a spring-forward jump do not fire (the
//     hour that holds them does not exist), and wall times repeated after a
//     fall-back jump fire again. Where the jump is a whole hour, the task
//     thus keeps its rhythm in real time: every 15 minutes, every hour.
//   - Every other schedule is a wall-clock appointment (30 2 * * *,
//     0 9 * * MON-FRI). A matching wall time that a spring-forward jump
//     skips fires once, at the first instant after the jump (03:00 CEST
//     for 02:30 on the last Sunday of March in Europe/Berlin), as cronie
//     and Vixie cron do for fixed-time jobs; several such times fire once
//     together. A wall time that occurs twice on a fall-back day fires only
//     at its first occurrence.
//
// No instant ever fires twice, and Next(t) is always after t. The zones
// come from the system or from the time/tzdata package, which the program
// should import to have them everywhere.
// (robfig/cron's SpecSchedule.Next instead skips the appointment on the
// spring-forward day and fires it twice on the fall-back day, which is
// why this package evaluates expressions itself.)
//
// # @every
//
// "@every d" takes any Go duration of at least one second and a whole
// number of seconds ("90s", "1h30m"). It fires at the Unix times that are
// phase modulo d, where phase, in 0..d-1 seconds, is picked from the task's
// key like H. So Next is a pure function of time, as for cron expressions:
// a task fires at the same instants however often the engine restarts, and
// tasks that share an interval do not fire together. Time zones do not
// affect it.
//
// # One-shot schedules
//
// A Spec with At fires once, at that instant, and never again.
package schedule
