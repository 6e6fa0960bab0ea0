/*
 * gateway/log.c - one line per message on stderr, prefixed "<N>" with the
 * syslog priority: journald (SyslogLevelPrefix=yes, its default) strips the
 * prefix and keeps the level, and a terminal still shows readable lines.
 */
#include "gateway/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Process-wide by nature: there is one stderr. */
static int gw_log_level = LOG_INFO;

static int clamp_level(int level)
{
    if (level < LOG_EMERG)
        return LOG_EMERG;
    if (level > LOG_DEBUG)
        return LOG_DEBUG;
    return level;
}

void gw_log_set_level(int level)
{
    gw_log_level = clamp_level(level);
}

int gw_log_get_level(void)
{
    return gw_log_level;
}

int gw_log_parse_level(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {
        {"emerg", LOG_EMERG},     {"alert", LOG_ALERT}, {"crit", LOG_CRIT},
        {"err", LOG_ERR},         {"error", LOG_ERR},   {"warning", LOG_WARNING},
        {"warn", LOG_WARNING},    {"notice", LOG_NOTICE}, {"info", LOG_INFO},
        {"debug", LOG_DEBUG},
    };
    if (!s)
        return -1;
    if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
        return s[0] - '0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].level;
    return -1;
}

/* A single write() per line: lines written by a process that is about to
 * crash, or by a child sharing stderr, never interleave mid-line (pipes make
 * writes up to PIPE_BUF atomic, and the buffer stays below that). */
static void write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report a logging failure */
        }
        p += n;
        len -= (size_t)n;
    }
}

void gw_log(int level, const char *fmt, ...)
{
    level = clamp_level(level);
    if (level > gw_log_level)
        return;
    int saved_errno = errno; /* callers often log right before using errno */
    char line[1024];
    int head = snprintf(line, sizeof(line), "<%d>", level);
    size_t room = sizeof(line) - (size_t)head - 1; /* keep one byte for '\n' */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + head, room + 1, fmt, ap);
    va_end(ap);
    size_t len;
    if (n < 0) {
        len = (size_t)head;
    } else if ((size_t)n > room) {
        /* Truncated: say so rather than cut silently. */
        len = (size_t)head + room;
        memcpy(line + len - 3, "...", 3);
    } else {
        len = (size_t)head + (size_t)n;
    }
    while (len > (size_t)head && line[len - 1] == '\n')
        len--;
    /* An embedded newline would start a journal entry without a prefix,
     * i.e. at the default level: keep the message on one line. */
    for (size_t i = (size_t)head; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    write_all(line, len);
    errno = saved_errno;
}

static int limit_window(const gw_log_limit_t *l)
{
    return l->window_ms > 0 ? l->window_ms : 10000;
}

void gw_log_limit_flush(gw_log_limit_t *l, int64_t now_ms)
{
    if (!l || now_ms - l->window_start_ms < limit_window(l))
        return;
    if (l->suppressed)
        gw_log(l->last_level, "%s [repeated %lu times in %d s, not shown]", l->last, l->suppressed,
               (limit_window(l) + 999) / 1000);
    l->suppressed = 0;
    l->printed = 0;
    l->window_start_ms = now_ms;
}

void gw_log_limited(gw_log_limit_t *l, int64_t now_ms, int level, const char *fmt, ...)
{
    level = clamp_level(level);
    if (!l || level > gw_log_level)
        return;
    int saved_errno = errno;
    gw_log_limit_flush(l, now_ms);
    if (l->printed == 0 && l->suppressed == 0)
        l->window_start_ms = now_ms; /* a window starts with its first line */
    char msg[sizeof l->last];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->printed < GW_LOG_LIMIT_BURST) {
        l->printed++;
        gw_log(level, "%s", msg);
    } else {
        l->suppressed++;
        l->last_level = level;
        memcpy(l->last, msg, sizeof msg);
    }
    errno = saved_errno;
}
