/* Unit tests for services/kafka-bridge/offset_track: the stored offset never passes a record
 * without its final outcome, whatever order records finish in. */
#include "offset_track.h"

#include <check.h>

START_TEST(test_offset_track)
{
    offset_track_t t;
    offset_track_init(&t);
    for (int64_t o = 10; o < 15; o++)
        ck_assert_int_eq(offset_track_add(&t, o), 0);
    ck_assert_int_lt(offset_track_add(&t, 14), 0);
    /* later records finishing first do not move the committable offset */
    ck_assert_int_eq(offset_track_done(&t, 12), -1);
    ck_assert_int_eq(offset_track_done(&t, 13), -1);
    ck_assert_uint_eq(offset_track_open(&t), 3);
    ck_assert_int_eq(offset_track_done(&t, 10), 11);
    ck_assert_int_eq(offset_track_done(&t, 11), 14);
    ck_assert_int_eq(offset_track_done(&t, 99), -1);
    ck_assert_int_eq(offset_track_done(&t, 14), 15);
    ck_assert_uint_eq(offset_track_open(&t), 0);
    /* grows past its first capacity while wrapped around (head is not 0 any more) */
    for (int64_t o = 100; o < 400; o++)
        ck_assert_int_eq(offset_track_add(&t, o), 0);
    for (int64_t o = 399; o > 100; o--)
        ck_assert_int_eq(offset_track_done(&t, o), -1);
    ck_assert_uint_eq(offset_track_open(&t), 1);
    ck_assert_int_eq(offset_track_done(&t, 100), 400);
    ck_assert_uint_eq(offset_track_open(&t), 0);
    offset_track_free(&t);
}
END_TEST

/* a record that could not be kept holds the stored offset at its own offset for ever */
START_TEST(test_offset_track_lost)
{
    offset_track_t t;
    offset_track_init(&t);
    for (int64_t o = 10; o < 13; o++)
        ck_assert_int_eq(offset_track_add(&t, o), 0);
    offset_track_lose(&t, 13);
    ck_assert_int_eq(offset_track_add(&t, 14), 0);
    ck_assert_uint_eq(offset_track_open(&t), 5); /* 10, 11, 12, 14 and the lost 13 */
    ck_assert_int_eq(offset_track_done(&t, 10), 11);
    ck_assert_int_eq(offset_track_done(&t, 12), -1);
    ck_assert_int_eq(offset_track_done(&t, 11), 13);
    ck_assert_int_eq(offset_track_done(&t, 14), 13); /* not past the lost record */
    ck_assert_uint_eq(offset_track_open(&t), 1);
    offset_track_lose(&t, 20); /* a later loss does not move the bound up */
    ck_assert_int_eq(offset_track_add(&t, 21), 0);
    ck_assert_int_eq(offset_track_done(&t, 21), 13);
    offset_track_free(&t);
    offset_track_free(&t); /* safe twice */
    ck_assert_uint_eq(offset_track_open(&t), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("offset_track");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_offset_track);
    tcase_add_test(tc, test_offset_track_lost);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
