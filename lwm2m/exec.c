/*
 * lwm2m/exec.c - Execute: which executable resources a virtual client has,
 * what they do, and the argument syntax.
 *
 * A virtual client only lists (Discover) and accepts executables whose
 * effect the gateway really performs; the others are absent (4.04), never
 * answered with a success that did nothing.
 */
#include <errno.h>

#include "../gateway/log.h"
#include "lwm2m_internal.h"

enum {
    RID_REBOOT = 4,            /* /3/0/4 */
    RID_ERROR_CODE = 11,       /* /3/0/11 */
    RID_RESET_ERROR_CODE = 12, /* /3/0/12 */
    RID_UPDATE_TRIGGER = 8,    /* /1/x/8 */
    RID_DISABLE = 4,           /* /1/x/4 */
    RID_DISABLE_TIMEOUT = 5,   /* /1/x/5 */
    RID_SENSOR_VALUE = 5700,
    RID_MIN_MEASURED = 5601,
    RID_MAX_MEASURED = 5602,
    RID_RESET_MIN_MAX = 5605,
};

bool gw_exec_available(const gw_sclient_t *c, const gw_path_t *p)
{
    if (p->len != 3 || !gw_store_instance_exists(c, p->id[0], p->id[1]))
        return false;
    uint16_t oid = p->id[0], rid = p->id[2];
    if (oid == 1)
        return rid == RID_UPDATE_TRIGGER || rid == RID_DISABLE;
    if (oid == 3)
        return rid == RID_REBOOT ||
               (rid == RID_RESET_ERROR_CODE && gw_store_has(c, &(gw_path_t){{3, p->id[1], RID_ERROR_CODE, 0}, 3}));
    if (oid >= 3200 && rid == RID_RESET_MIN_MAX)
        return gw_store_has(c, &(gw_path_t){{oid, p->id[1], RID_SENSOR_VALUE, 0}, 3});
    return false;
}

/* CHAR of LwM2M 1.1 5.4.5: printable ASCII except space, '"', '\'' and '\\'. */
static bool arg_char(uint8_t c)
{
    return c == '!' || (c >= 0x23 && c <= 0x26) || (c >= 0x28 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

/* arg-list = arg *("," arg); arg = DIGIT ["=" "'" *CHAR "'"] (LwM2M 1.1
 * 5.4.5: digits 0-9, values quoted). The digit names the argument, so one
 * digit twice ("0='a',0='b'") would leave a reader to pick one: refused,
 * as a repeated attribute or resource is. */
int gw_exec_args_validate(const uint8_t *p, size_t len)
{
    size_t i = 0;
    unsigned seen = 0;
    if (len == 0)
        return 0;
    for (;;) {
        if (i >= len || p[i] < '0' || p[i] > '9' || (seen & (1u << (p[i] - '0'))))
            return -EINVAL;
        seen |= 1u << (p[i] - '0');
        i++;
        if (i < len && p[i] == '=') {
            i++;
            if (i >= len || p[i] != '\'')
                return -EINVAL;
            i++;
            while (i < len && p[i] != '\'') {
                if (!arg_char(p[i]))
                    return -EINVAL;
                i++;
            }
            if (i >= len)
                return -EINVAL;
            i++;
        }
        if (i == len)
            return 0;
        if (p[i] != ',')
            return -EINVAL;
        i++;
    }
}

static void reset_min_max(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid)
{
    gw_value_t v;
    if (gw_store_get(c, &(gw_path_t){{oid, iid, RID_SENSOR_VALUE, 0}, 3}, &v, NULL) < 0)
        return;
    gw_value_t copy = v; /* the set below may reallocate what v borrows */
    gw_store_set(s, c, &(gw_path_t){{oid, iid, RID_MIN_MEASURED, 0}, 3}, &copy, 0);
    gw_store_set(s, c, &(gw_path_t){{oid, iid, RID_MAX_MEASURED, 0}, 3}, &copy, 0);
}

int gw_exec_run(struct gw_reg *r, const gw_path_t *p, const uint8_t *args, size_t len)
{
    gw_vclient_t *vc = r->vc;
    gw_lwm2m_t *m = vc->m;
    (void)args;
    (void)len;
    if (p->id[0] == 1) {
        size_t idx = 0;
        for (; idx < vc->n_regs; idx++)
            if (vc->regs[idx].srv_iid == p->id[1])
                break;
        if (idx == vc->n_regs)
            return COAP_RESPONSE_CODE(404);
        if (p->id[2] == RID_DISABLE) {
            /* Core E.2: de-register, stay away for the Disable Timeout
             * (default 86400 s), then register again. The answer goes out
             * before the De-register (libcoap sends the response when the
             * handler returns; the De-register is queued behind it). */
            int64_t t = gw_reg_server_int(&vc->regs[idx], RID_DISABLE_TIMEOUT, 86400);
            if (t < 0)
                t = 86400;
            gw_reg_disable(&vc->regs[idx], t);
            return COAP_RESPONSE_CODE(204);
        }
        gw_info("%s: Registration Update Trigger from %s", vc->endpoint, r->srv->uri);
        gw_reg_request_update(&vc->regs[idx], false);
        return COAP_RESPONSE_CODE(204);
    }
    if (p->id[0] == 3 && p->id[2] == RID_REBOOT) {
        /* A virtual client "reboots" the way a device does as seen from the
         * server: it registers again from scratch with every server. */
        gw_notice("%s: Reboot executed by %s: registering again", vc->endpoint, r->srv->uri);
        for (size_t i = 0; i < vc->n_regs; i++) {
            struct gw_reg *x = &vc->regs[i];
            gw_reg_stop(x);
            x->state = GW_REG_IDLE;
        }
        gw_vclient_regs_start(vc); /* in /1/x/13 order, as at the start */
        return COAP_RESPONSE_CODE(204);
    }
    if (p->id[0] == 3 && p->id[2] == RID_RESET_ERROR_CODE) {
        gw_path_t ec = {{3, p->id[1], RID_ERROR_CODE, 0}, 3};
        gw_value_t zero = {.type = GW_TYPE_INTEGER};
        gw_store_unset(m->store, vc->sc, &ec);
        ec.len = 4;
        gw_store_set(m->store, vc->sc, &ec, &zero, 0);
        return COAP_RESPONSE_CODE(204);
    }
    if (p->id[2] == RID_RESET_MIN_MAX) {
        reset_min_max(m->store, vc->sc, p->id[0], p->id[1]);
        return COAP_RESPONSE_CODE(204);
    }
    return COAP_RESPONSE_CODE(404);
}
