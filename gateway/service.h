/*
 * gateway/service.h - the daemon as a systemd service (sd_notify(3)):
 * READY=1 once every configured client's first Register has ended, STATUS=
 * lines with the registration and adapter counts, WATCHDOG=1 from a loop
 * timer, RELOADING=1/READY=1 around a reload, STOPPING=1 at shutdown.
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd with
 * Type=notify) nothing is sent and nothing is added to the loop.
 *
 * Messages (each a single datagram, see sd_notify(3)):
 *   start-up    STATUS=starting: R/T clients registered, A adapters up
 *               EXTEND_TIMEOUT_USEC=30000000, from the timer, while clients
 *               are still waiting for their first try (thousands paced at
 *               registrations_per_second outlast TimeoutStartSec=; a loop
 *               that hangs stops extending and gets killed)
 *   ready       READY=1 + STATUS=
 *   changes     STATUS=R/T clients registered, A adapters up (with several
 *               servers: "R/T registrations of C clients with S servers"),
 *               at most one a second, none while nothing changes
 *   watchdog    WATCHDOG=1 every WATCHDOG_USEC/2 (sd_watchdog_enabled(3))
 *   reload      RELOADING=1 + MONOTONIC_USEC= (systemd >= 253 asks for it
 *               with Type=notify-reload; 252 ignores it), then READY=1
 *   shutdown    STOPPING=1 + STATUS=de-registering
 *
 * Test hook: with GW_TEST_HANG_ON_SIGUSR2=1 in the environment, SIGUSR2
 * makes the loop hang for good (integration tests check that the watchdog
 * pings stop). For tests only; never set it in a unit file.
 *
 * Loop thread only.
 */
#ifndef GW_GATEWAY_SERVICE_H
#define GW_GATEWAY_SERVICE_H

#include "gateway.h"

typedef struct gw_service gw_service_t;

/* loop is borrowed and must outlive the service. Starts the watchdog timer
 * when systemd asked for one. 0, -ENOMEM, or the negative errno of setting
 * up the test hook. *out is set (an inert service) even without
 * NOTIFY_SOCKET. */
int gw_service_new(gw_loop_t *loop, gw_service_t **out);
/* The gateway has started its clients: follow g (borrowed, must outlive the
 * service or be detached with gw_service_free) and say READY=1 once every
 * registration had its first try. 0 or -ENOMEM. */
int gw_service_attach(gw_service_t *s, gw_gateway_t *g);
/* Around gw_gateway_reload: RELOADING=1 before, READY=1 after (rc is the
 * reload's result, told in STATUS= when it failed). */
void gw_service_reloading(gw_service_t *s);
void gw_service_reloaded(gw_service_t *s, int rc);
/* Shutdown began: STOPPING=1. The watchdog keeps being pinged. */
void gw_service_stopping(gw_service_t *s);
/* Stops its timer, hook and fds; NULL-safe. */
void gw_service_free(gw_service_t **s);

#endif
