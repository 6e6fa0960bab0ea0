/* tests/unit/gateway/test_log.c - level names, filtering and the "<N>" line
 * format, with stderr redirected into a temporary file. */
#include "gateway/log.h"
#include "gwtest.h"

#include <errno.h>
#include <unistd.h>

static int saved_fd = -1;
static FILE *capture_file;

static void capture_begin(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    saved_fd = dup(STDERR_FILENO);
    dup2(fileno(capture_file), STDERR_FILENO);
}

/* Returns what was written to stderr since capture_begin (static buffer). */
static const char *capture_end(void)
{
    static char buf[8192];
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    rewind(capture_file);
    size_t n = fread(buf, 1, sizeof(buf) - 1, capture_file);
    buf[n] = '\0';
    fclose(capture_file);
    return buf;
}

GW_TEST(parse_level)
{
    CHECK_EQ_INT(gw_log_parse_level("emerg"), LOG_EMERG);
    CHECK_EQ_INT(gw_log_parse_level("alert"), LOG_ALERT);
    CHECK_EQ_INT(gw_log_parse_level("crit"), LOG_CRIT);
    CHECK_EQ_INT(gw_log_parse_level("err"), LOG_ERR);
    CHECK_EQ_INT(gw_log_parse_level("error"), LOG_ERR);
    CHECK_EQ_INT(gw_log_parse_level("warning"), LOG_WARNING);
    CHECK_EQ_INT(gw_log_parse_level("warn"), LOG_WARNING);
    CHECK_EQ_INT(gw_log_parse_level("notice"), LOG_NOTICE);
    CHECK_EQ_INT(gw_log_parse_level("info"), LOG_INFO);
    CHECK_EQ_INT(gw_log_parse_level("debug"), LOG_DEBUG);
    CHECK_EQ_INT(gw_log_parse_level("DEBUG"), LOG_DEBUG);
    for (int i = 0; i <= 7; i++) {
        char s[2] = {(char)('0' + i), '\0'};
        CHECK_EQ_INT(gw_log_parse_level(s), i);
    }
    CHECK_EQ_INT(gw_log_parse_level("8"), -1);
    CHECK_EQ_INT(gw_log_parse_level("-1"), -1);
    CHECK_EQ_INT(gw_log_parse_level("07"), -1);
    CHECK_EQ_INT(gw_log_parse_level(""), -1);
    CHECK_EQ_INT(gw_log_parse_level("verbose"), -1);
    CHECK_EQ_INT(gw_log_parse_level("info "), -1);
    CHECK_EQ_INT(gw_log_parse_level(NULL), -1);
}

GW_TEST(default_level_and_set)
{
    CHECK_EQ_INT(gw_log_get_level(), LOG_INFO);
    gw_log_set_level(LOG_DEBUG);
    CHECK_EQ_INT(gw_log_get_level(), LOG_DEBUG);
    gw_log_set_level(99);
    CHECK_EQ_INT(gw_log_get_level(), LOG_DEBUG);
    gw_log_set_level(-3);
    CHECK_EQ_INT(gw_log_get_level(), LOG_EMERG);
    gw_log_set_level(LOG_INFO);
}

GW_TEST(format_and_filter)
{
    gw_log_set_level(LOG_NOTICE);
    capture_begin();
    gw_err("bad thing %d", 42);
    gw_warn("careful");
    gw_notice("hello %s", "world");
    gw_info("dropped");
    gw_debug("dropped too");
    gw_log(LOG_CRIT, "crit");
    const char *out = capture_end();
    CHECK_EQ_STR(out, "<3>bad thing 42\n<4>careful\n<5>hello world\n<2>crit\n");

    gw_log_set_level(LOG_DEBUG);
    capture_begin();
    gw_info("info now");
    gw_debug("debug now");
    out = capture_end();
    CHECK_EQ_STR(out, "<6>info now\n<7>debug now\n");

    gw_log_set_level(LOG_ERR);
    capture_begin();
    gw_warn("no");
    gw_err("yes");
    out = capture_end();
    CHECK_EQ_STR(out, "<3>yes\n");
    gw_log_set_level(LOG_INFO);
}

GW_TEST(one_line_per_message)
{
    capture_begin();
    gw_info("trailing newline\n");
    gw_info("two\nlines");
    gw_info("%s", "");
    const char *out = capture_end();
    CHECK_EQ_STR(out, "<6>trailing newline\n<6>two lines\n<6>\n");
}

GW_TEST(long_message_truncated)
{
    static char big[4000];
    memset(big, 'a', sizeof(big) - 1);
    capture_begin();
    gw_info("%s", big);
    const char *out = capture_end();
    size_t n = strlen(out);
    CHECK(n > 100 && n < sizeof(big));
    CHECK(strncmp(out, "<6>aaa", 6) == 0);
    CHECK(n >= 4 && strcmp(out + n - 4, "...\n") == 0);
    CHECK(strchr(out, '\n') == out + n - 1);
}

GW_TEST(errno_preserved)
{
    capture_begin();
    errno = EPIPE;
    gw_err("x");
    int e = errno;
    capture_end();
    CHECK_EQ_INT(e, EPIPE);
}

/* A flood through a limiter: the burst, then one summary with the number
 * not shown once the window is over; below the level nothing is counted. */
GW_TEST(limited_burst_and_summary)
{
    gw_log_limit_t l = {.window_ms = 5000};
    capture_begin();
    for (int i = 0; i < 25; i++)
        gw_log_limited(&l, 1000 + i, LOG_WARNING, "dropped %d", i);
    gw_log_limit_flush(&l, 5999);           /* the window is not over */
    gw_log_limit_flush(&l, 6000);
    gw_log_limit_flush(&l, 12000);          /* nothing more to say */
    gw_log_limited(&l, 12001, LOG_WARNING, "again");
    gw_log_limited(&l, 12002, LOG_DEBUG, "below the level");
    const char *out = capture_end();
    CHECK_EQ_STR(out, "<4>dropped 0\n<4>dropped 1\n<4>dropped 2\n<4>dropped 3\n<4>dropped 4\n"
                      "<4>dropped 5\n<4>dropped 6\n<4>dropped 7\n<4>dropped 8\n<4>dropped 9\n"
                      "<4>dropped 24 [repeated 15 times in 5 s, not shown]\n<4>again\n");
    CHECK_EQ_INT((int)l.suppressed, 0);
}

GW_TEST_MAIN(parse_level, default_level_and_set, format_and_filter, one_line_per_message,
             long_message_truncated, errno_preserved, limited_burst_and_summary)
