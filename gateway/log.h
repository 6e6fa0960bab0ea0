/*
 * gateway/log.h - logging to stderr with syslog priority prefixes ("<6>"),
 * so that journald keeps the level when the daemon runs under systemd.
 * Single-threaded use from the loop; other threads post to the loop instead.
 */
#ifndef GW_GATEWAY_LOG_H
#define GW_GATEWAY_LOG_H

#include <syslog.h>

/* Messages above level are dropped. Default LOG_INFO. */
void gw_log_set_level(int level);
int gw_log_get_level(void);
/* "error", "warning", "notice", "info", "debug" (or 0..7) -> level, -1 if unknown. */
int gw_log_parse_level(const char *s);
void gw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gw_err(...) gw_log(LOG_ERR, __VA_ARGS__)
#define gw_warn(...) gw_log(LOG_WARNING, __VA_ARGS__)
#define gw_notice(...) gw_log(LOG_NOTICE, __VA_ARGS__)
#define gw_info(...) gw_log(LOG_INFO, __VA_ARGS__)
#define gw_debug(...) gw_log(LOG_DEBUG, __VA_ARGS__)

#endif
