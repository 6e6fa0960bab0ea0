/*
 * lwm2m/coap_log.c - libcoap's log messages into the daemon's log, bounded.
 *
 * libcoap logs per packet: a server that is gone (one "ICMP" line per
 * notification per client) or forged datagrams with a server's address
 * (one warning each) would otherwise write lines in proportion to the fleet
 * and the attacker, filling an SD card and drowning what matters. So:
 * a message of the same shape as the one before (digits aside: addresses,
 * ports, message ids) is counted, not written, and summarised as "repeated
 * N times"; and at most GW_COAP_LOG_BURST lines go out per window, the rest
 * counted in one line when the window ends. At debug level everything is
 * written (whoever asks for debug wants the packets).
 *
 * libcoap's log handler takes no context pointer, and its log is global to
 * the process: so is this state.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../gateway/log.h"
#include "lwm2m_internal.h"

#define GW_COAP_LOG_WINDOW_MS 10000
#define GW_COAP_LOG_BURST 10

static struct {
    int64_t window_start;
    unsigned printed;      /* in this window */
    unsigned long hidden;  /* over the burst, in this window */
    uint64_t last_shape;
    int last_level;
    unsigned long repeats; /* of the last message, not written */
    char last[160];
} lim;

static uint64_t shape_of(const char *msg, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f' && i && msg[i - 1] == 'x'))
            continue;
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

static void flush_repeats(void)
{
    if (lim.repeats)
        gw_log(lim.last_level, "libcoap: last message repeated %lu times: %s", lim.repeats, lim.last);
    lim.repeats = 0;
}

void gw_coap_log_flush(void)
{
    int64_t now = gw_now_ms();
    if (now - lim.window_start < GW_COAP_LOG_WINDOW_MS)
        return;
    flush_repeats();
    if (lim.hidden)
        gw_warn("libcoap: %lu more messages in %d s not shown", lim.hidden, GW_COAP_LOG_WINDOW_MS / 1000);
    lim.hidden = 0;
    lim.printed = 0;
    lim.window_start = now;
}

void gw_coap_log_limited(int level, const char *message)
{
    size_t n = strlen(message);
    while (n && (message[n - 1] == '\n' || message[n - 1] == '\r'))
        n--;
    if (gw_log_get_level() >= LOG_DEBUG) {
        gw_log(level, "libcoap: %.*s", (int)n, message);
        return;
    }
    if (level > gw_log_get_level())
        return;
    gw_coap_log_flush();
    uint64_t shape = shape_of(message, n);
    if (shape == lim.last_shape && level == lim.last_level) {
        lim.repeats++;
        return;
    }
    flush_repeats();
    lim.last_shape = shape;
    lim.last_level = level;
    snprintf(lim.last, sizeof lim.last, "%.*s", (int)n, message);
    if (lim.printed >= GW_COAP_LOG_BURST) {
        lim.hidden++;
        return;
    }
    lim.printed++;
    gw_log(level, "libcoap: %s", lim.last);
}
