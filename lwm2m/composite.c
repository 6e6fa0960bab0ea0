/*
 * lwm2m/composite.c - composite operations (LwM2M 1.1 5.4.x / 6.4.x):
 * Read-Composite and Observe-Composite (FETCH), Write-Composite (iPATCH).
 * Not implemented yet: answered 4.05 so the server knows, never faked.
 */
#include <stdio.h>

#include "lwm2m_internal.h"

int gw_composite_handle(struct gw_reg *r, const coap_pdu_t *request, coap_pdu_t *response,
                        const uint8_t *payload, size_t len, gw_buf_t *out_body, int *out_cf, char *diag,
                        size_t diag_size)
{
    (void)r, (void)request, (void)response, (void)payload, (void)len, (void)out_body, (void)out_cf;
    snprintf(diag, diag_size, "composite operations are not supported by this gateway version");
    return COAP_RESPONSE_CODE(405);
}
