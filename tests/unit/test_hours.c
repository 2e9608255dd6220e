/* tests/unit/test_hours.c — lib/hours: the weekly schedule's grammar, zone names checked
 * against the system's tzdata, and whether fixed instants (UTC, 2026-12-07 is a Monday)
 * fall inside a schedule in a named zone, with the process's TZ left as it was. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hours.h"
#include "status.h"

static int open_at(const char *zone, const char *weekly, int64_t t)
{
	int open = -1;

	ck_assert_int_eq(hours_open_at(zone, weekly, t, &open), ST_OK);
	return open;
}

START_TEST(schedule_in_utc)
{
	const char *week = "mon-fri 09:00-17:00";

	ck_assert_int_eq(open_at(NULL, week, 1796633940), 0);   /* Mon 08:59 */
	ck_assert_int_eq(open_at(NULL, week, 1796634000), 1);   /* Mon 09:00 */
	ck_assert_int_eq(open_at(NULL, week, 1796662740), 1);   /* Mon 16:59 */
	ck_assert_int_eq(open_at(NULL, week, 1796662800), 0);   /* Mon 17:00 */
	ck_assert_int_eq(open_at("UTC", week, 1797069600), 0);  /* Sat 10:00 */
	ck_assert_int_eq(open_at(NULL, NULL, 1797069600), 1);   /* no schedule: always open */
	ck_assert_int_eq(open_at(NULL, "", 1797069600), 1);
}
END_TEST

START_TEST(schedule_in_a_named_zone)
{
	/* Mon 08:30 UTC is 09:30 in Berlin (UTC+1 in December). */
	ck_assert_int_eq(open_at("Europe/Berlin", "mon 09:00-10:00", 1796632200), 1);
	ck_assert_int_eq(open_at("UTC", "mon 09:00-10:00", 1796632200), 0);
	/* ... and Sunday 19:30 in New York, still the weekend there. */
	ck_assert_int_eq(open_at("America/New_York", "sun 19:00-20:00", 1796632200 - 8 * 3600), 1);
}
END_TEST

START_TEST(ranges_lists_and_wrapping_days)
{
	const char *wrap = "fri-mon 22:00-24:00";
	const char *split = "sat,sun 10:00-12:00,13:00-14:00";

	ck_assert_int_eq(open_at(NULL, wrap, 1796598000), 1);    /* Sun 23:00 */
	ck_assert_int_eq(open_at(NULL, wrap, 1796857200), 0);    /* Wed 23:00 */
	ck_assert_int_eq(open_at(NULL, split, 1797078600), 0);   /* Sat 12:30 */
	ck_assert_int_eq(open_at(NULL, split, 1797082200), 1);   /* Sat 13:30 */
	ck_assert_int_eq(open_at(NULL, "wed 08:00-09:00; sat 13:00-14:00", 1797082200), 1);
}
END_TEST

START_TEST(bad_schedules_are_refused)
{
	static const char *const bad[] = {
		"mon", "mon 9:00-10:00", "mon 10:00-10:00", "mon 11:00-10:00", "funday 10:00-11:00",
		"mon 23:60-24:00", "mon 10:00-24:01", "mon 10:00-11:00;;", "mon-fri", "mon 10:00",
		"mon 10:00-11:00 tue 10:00-11:00", "mon,", "mon 10:00-11:00,", ";", "   ",
	};
	int open;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(hours_check_weekly(bad[i]) != NULL, "accepted: \"%s\"", bad[i]);
		ck_assert_int_eq(hours_open_at(NULL, bad[i], 1796634000, &open), ST_INVALID);
	}
	ck_assert_ptr_null(hours_check_weekly("mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00"));
	ck_assert_ptr_null(hours_check_weekly("Sun 00:00-24:00"));
}
END_TEST

START_TEST(zones_come_from_tzdata)
{
	static const char *const bad[] = {
		"Europe", "../etc/passwd", "/UTC", "Europe/../UTC", "Mars/Olympus_Mons", "Europe/Berlin\n",
		"Europe Berlin", "", "zone.tab",
	};

	ck_assert_ptr_null(hours_check_zone("Europe/Berlin"));
	ck_assert_ptr_null(hours_check_zone("UTC"));
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(hours_check_zone(bad[i]) != NULL, "accepted: \"%s\"", bad[i]);
}
END_TEST

START_TEST(tz_is_restored)
{
	setenv("TZ", "America/New_York", 1);
	open_at("Asia/Tokyo", "mon 09:00-10:00", 1796634000);
	ck_assert_str_eq(getenv("TZ"), "America/New_York");
	unsetenv("TZ");
	open_at("Asia/Tokyo", "mon 09:00-10:00", 1796634000);
	ck_assert_ptr_null(getenv("TZ"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hours");
	TCase *tc = tcase_create("hours");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, schedule_in_utc);
	tcase_add_test(tc, schedule_in_a_named_zone);
	tcase_add_test(tc, ranges_lists_and_wrapping_days);
	tcase_add_test(tc, bad_schedules_are_refused);
	tcase_add_test(tc, zones_come_from_tzdata);
	tcase_add_test(tc, tz_is_restored);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
