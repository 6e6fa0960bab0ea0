/*
 * lwm2m/reg_status.c - registration counts for the service manager
 * (gateway/service.c): how many registrations are in, and how many have
 * not had their first try yet, which decides when start-up is over.
 */
#include <string.h>

#include "lwm2m_internal.h"

void gw_lwm2m_counts(const gw_lwm2m_t *m, bool with_attempts, gw_lwm2m_counts_t *out)
{
    memset(out, 0, sizeof *out);
    out->clients = m->n_clients;
    out->servers = m->n_servers;
    out->registered = m->n_registered;
    if (!with_attempts)
        return;
    /* A walk rather than a counter kept in every state change: it is asked
     * only during start-up, a few times a second, and a counter would have
     * to follow every client created and removed by reloads. */
    for (size_t i = 0; i < m->n_buckets; i++)
        for (const gw_vclient_t *vc = m->buckets[i]; vc; vc = vc->hnext)
            for (size_t j = 0; j < vc->n_regs; j++) {
                const struct gw_reg *r = &vc->regs[j];
                if (!r->attempted && (r->state == GW_REG_QUEUED || r->state == GW_REG_REGISTERING))
                    out->not_attempted++;
            }
}
