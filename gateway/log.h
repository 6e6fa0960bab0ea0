/*
 * gateway/log.h - logging to stderr with syslog priority prefixes ("<6>"),
 * so that journald keeps the level when the daemon runs under systemd.
 * Single-threaded use from the loop; other threads post to the loop instead.
 */
#ifndef GW_GATEWAY_LOG_H
#define GW_GATEWAY_LOG_H

#include <stdint.h>
#include <syslog.h>

/* Messages above level are dropped. Default LOG_INFO. */
void gw_log_set_level(int level);
int gw_log_get_level(void);
/* "error", "warning", "notice", "info", "debug" (or 0..7) -> level, -1 if unknown. */
int gw_log_parse_level(const char *s);
void gw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A log line whose rate follows outside traffic (a dropped datagram, a
 * refused frame): at most GW_LOG_LIMIT_BURST lines per limiter and window
 * of window_ms are written; the rest are counted and summarised in one
 * line, "<last one> [repeated N times in S s, not shown]", written by the
 * first call (gw_log_limited or gw_log_limit_flush) after the window ends.
 * Lines below the log level are neither written nor counted. One limiter
 * per kind of message, so a flood of one kind hides no other kind; the
 * caller keeps its own counters of the events (nothing here is a count of
 * them). Zero-initialise, then set window_ms (0: 10000). Loop thread only. */
#define GW_LOG_LIMIT_BURST 10
typedef struct gw_log_limit {
    int window_ms;
    int64_t window_start_ms;
    unsigned printed;         /* in this window */
    unsigned long suppressed; /* in this window */
    int last_level;
    char last[200];           /* the last line not written */
} gw_log_limit_t;

/* Log like gw_log through l; now_ms is a monotonic time (gw_now_ms). */
void gw_log_limited(gw_log_limit_t *l, int64_t now_ms, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Write the summary of a window that has ended by now_ms (a timer's job:
 * the summary then comes without waiting for the next such line). */
void gw_log_limit_flush(gw_log_limit_t *l, int64_t now_ms);

#define gw_err(...) gw_log(LOG_ERR, __VA_ARGS__)
#define gw_warn(...) gw_log(LOG_WARNING, __VA_ARGS__)
#define gw_notice(...) gw_log(LOG_NOTICE, __VA_ARGS__)
#define gw_info(...) gw_log(LOG_INFO, __VA_ARGS__)
#define gw_debug(...) gw_log(LOG_DEBUG, __VA_ARGS__)

#endif
