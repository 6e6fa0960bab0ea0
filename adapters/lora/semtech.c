/*
 * adapters/lora/semtech.c - the packet forwarder's UDP protocol v2: header,
 * rxpk/stat parsing with every field checked, txpk and TX_ACK (see
 * semtech.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "semtech.h"

int sem_parse_header(const uint8_t *p, size_t n, sem_hdr_t *out, const char **why)
{
    static const char *ignored;
    if (!why)
        why = &ignored;
    if (!p || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (n < 4) {
        *why = "shorter than its 4-byte header";
        return -EBADMSG;
    }
    if (p[0] != SEM_VERSION) {
        *why = "protocol version other than 2";
        return -EBADMSG;
    }
    out->token[0] = p[1];
    out->token[1] = p[2];
    out->id = p[3];
    if (out->id != SEM_PUSH_DATA && out->id != SEM_PULL_DATA && out->id != SEM_TX_ACK) {
        *why = "identifier a forwarder does not send (expected PUSH_DATA, PULL_DATA or TX_ACK)";
        return -EBADMSG;
    }
    if (n < 12) {
        *why = "shorter than its 12-byte header (no gateway EUI)";
        return -EBADMSG;
    }
    for (int i = 0; i < 8; i++)
        out->eui = out->eui << 8 | p[4 + i];
    out->json = (const char *)p + 12;
    out->json_len = n - 12;
    if (out->id == SEM_PUSH_DATA && out->json_len == 0) {
        *why = "PUSH_DATA without JSON";
        return -EBADMSG;
    }
    return 0;
}

/* ---- base64 ------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int sem_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_size)
{
    if (!in || !out)
        return -EINVAL;
    /* The reference forwarder pads; some others do not: a missing pad is
     * accepted, a pad anywhere but at the end is not. */
    while (in_len && in[in_len - 1] == '=' && in_len % 4 != 1)
        in_len--;
    if (in_len % 4 == 1)
        return -EBADMSG;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < in_len; i++) {
        int v = b64_val(in[i]);
        if (v < 0)
            return -EBADMSG;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= out_size)
                return -ENOSPC;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    /* Bits left over must be zero (canonical encoding). */
    if (acc & ((1u << bits) - 1))
        return -EBADMSG;
    return (int)n;
}

int sem_b64_encode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
    if ((!in && len) || !out)
        return -EINVAL;
    size_t need = (len + 2) / 3 * 4 + 1;
    if (need > out_size)
        return -ENOSPC;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return (int)o;
}

/* ---- PUSH_DATA ---------------------------------------------------------- */

static const char *num_field(const cJSON *o, const char *name, bool required, double lo, double hi,
                             double *out, const char *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v)
        return required ? bad : NULL;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return bad;
    *out = v->valuedouble;
    return NULL;
}

static const char *str_field(const cJSON *o, const char *name, bool required, char *out,
                             size_t size, const char *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v)
        return required ? bad : NULL;
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
        return bad;
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return NULL;
}

/* The reason is the return value: NULL when the rxpk is good. */
static const char *parse_rxpk(const cJSON *o, sem_rxpk_t *pk)
{
    memset(pk, 0, sizeof *pk);
    if (!cJSON_IsObject(o))
        return "not an object";
    double v = 0;
    const char *e;
    char modu[8] = "";
    if ((e = num_field(o, "tmst", true, 0, 4294967295.0, &v, "\"tmst\" missing or not an integer 0..2^32-1")))
        return e;
    if (v != floor(v))
        return "\"tmst\" missing or not an integer 0..2^32-1";
    pk->tmst = (uint32_t)v;
    if ((e = num_field(o, "freq", true, 1.0, 10000.0, &pk->freq, "\"freq\" missing or not a frequency in MHz")))
        return e;
    v = 0;
    if ((e = num_field(o, "chan", false, 0, 255, &v, "\"chan\" not an integer 0..255")))
        return e;
    pk->chan = (int)v;
    v = 0;
    if ((e = num_field(o, "rfch", false, 0, 255, &v, "\"rfch\" not an integer 0..255")))
        return e;
    pk->rfch = (int)v;
    if ((e = num_field(o, "stat", true, -1, 1, &v, "\"stat\" missing or not -1, 0 or 1")))
        return e;
    pk->stat = (int)v;
    if ((e = str_field(o, "modu", true, modu, sizeof modu, "\"modu\" missing or not \"LORA\"/\"FSK\"")))
        return e;
    if (strcmp(modu, "LORA") == 0)
        pk->lora = true;
    else if (strcmp(modu, "FSK") != 0)
        return "\"modu\" missing or not \"LORA\"/\"FSK\"";
    if (pk->lora) {
        if ((e = str_field(o, "datr", true, pk->datr, sizeof pk->datr, "\"datr\" missing or not a string like \"SF7BW125\"")))
            return e;
        if ((e = str_field(o, "codr", false, pk->codr, sizeof pk->codr, "\"codr\" not a string like \"4/5\"")))
            return e;
        if ((e = num_field(o, "lsnr", true, -50, 50, &pk->lsnr, "\"lsnr\" missing or not a number of dB")))
            return e;
    }
    if ((e = num_field(o, "rssi", true, -250, 50, &pk->rssi, "\"rssi\" missing or not a number of dBm")))
        return e;
    double size = 0;
    if ((e = num_field(o, "size", true, 0, LORA_MAX_PHY, &size, "\"size\" missing or not 0..256")))
        return e;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (!cJSON_IsString(d))
        return "\"data\" missing or not a base64 string";
    int n = sem_b64_decode(d->valuestring, strlen(d->valuestring), pk->data, sizeof pk->data);
    if (n < 0)
        return "\"data\" is not valid base64 of at most 256 bytes";
    if ((size_t)n != (size_t)size)
        return "\"size\" differs from the length of \"data\"";
    pk->size = (size_t)n;
    return NULL;
}

static void parse_stat(const cJSON *o, sem_stat_t *st)
{
    memset(st, 0, sizeof *st);
    st->rxnb = st->rxok = st->rxfw = st->dwnb = st->txnb = -1;
    st->ackr = -1;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time");
    if (cJSON_IsString(t))
        snprintf(st->time, sizeof st->time, "%s", t->valuestring);
    double v;
    struct { const char *name; long *dst; } ints[] = {
        {"rxnb", &st->rxnb}, {"rxok", &st->rxok}, {"rxfw", &st->rxfw},
        {"dwnb", &st->dwnb}, {"txnb", &st->txnb},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!num_field(o, ints[i].name, true, 0, 4294967295.0, &v, "x"))
            *ints[i].dst = (long)v;
    if (!num_field(o, "ackr", true, 0, 100, &v, "x"))
        st->ackr = v;
    if (!num_field(o, "lati", true, -90, 90, &st->lati, "x") &&
        !num_field(o, "long", true, -180, 180, &st->longi, "x")) {
        st->has_pos = true;
        if (num_field(o, "alti", true, -20000, 100000, &st->alti, "x"))
            st->alti = 0;
    }
}

int sem_parse_push(const char *json, size_t len, const sem_push_cb_t *cb, const char **why)
{
    static const char *ignored;
    if (!why)
        why = &ignored;
    if (!json || !cb)
        return -EINVAL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        *why = "its JSON does not parse";
        return -EBADMSG;
    }
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        *why = "its JSON is not an object";
        rc = -EBADMSG;
        goto out;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "rxpk");
    if (arr && !cJSON_IsArray(arr)) {
        *why = "\"rxpk\" is not an array";
        rc = -EBADMSG;
        goto out;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stat");
    if (st && cJSON_IsObject(st) && cb->stat) {
        sem_stat_t s;
        parse_stat(st, &s);
        cb->stat(cb->ctx, &s);
    }
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        sem_rxpk_t pk;
        const char *bad = parse_rxpk(o, &pk);
        if (bad) {
            if (cb->bad_rxpk)
                cb->bad_rxpk(cb->ctx, i, bad);
        } else if (cb->rxpk) {
            cb->rxpk(cb->ctx, &pk);
        }
        i++;
    }
out:
    cJSON_Delete(root);
    return rc;
}

int sem_build_pull_resp(uint8_t *buf, size_t size, const uint8_t token[2], const sem_txpk_t *tx)
{
    if (!buf || !token || !tx || !tx->datr || (!tx->data && tx->size) || tx->size > LORA_MAX_PHY)
        return -EINVAL;
    char data[LORA_MAX_PHY * 4 / 3 + 8];
    if (sem_b64_encode(tx->data, tx->size, data, sizeof data) < 0)
        return -EINVAL;
    if (size < 4)
        return -ENOSPC;
    buf[0] = SEM_VERSION;
    buf[1] = token[0];
    buf[2] = token[1];
    buf[3] = SEM_PULL_RESP;
    char when[48];
    if (tx->imme)
        snprintf(when, sizeof when, "\"imme\":true");
    else
        snprintf(when, sizeof when, "\"imme\":false,\"tmst\":%u", (unsigned)tx->tmst);
    int n = snprintf((char *)buf + 4, size - 4,
                     "{\"txpk\":{%s,\"freq\":%.6f,\"rfch\":%d,\"powe\":%d,\"modu\":\"LORA\","
                     "\"datr\":\"%s\",\"codr\":\"%s\",\"ipol\":%s,\"size\":%zu,\"data\":\"%s\"}}",
                     when, tx->freq, tx->rfch, tx->powe, tx->datr, tx->codr ? tx->codr : "4/5",
                     tx->ipol ? "true" : "false", tx->size, data);
    if (n < 0 || (size_t)n >= size - 4)
        return -ENOSPC;
    return 4 + n;
}

int sem_parse_tx_ack(const char *json, size_t len, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = '\0';
    if (!json)
        return 0;
    /* The reference forwarder before v4 sends no JSON on success. */
    while (len && (json[len - 1] == '\0' || json[len - 1] == ' ' || json[len - 1] == '\n'))
        len--;
    if (len == 0)
        return 0;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return -EBADMSG;
    int rc = -EBADMSG;
    const cJSON *ack = cJSON_GetObjectItemCaseSensitive(root, "txpk_ack");
    if (cJSON_IsObject(ack)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(ack, "error");
        if (!e || (cJSON_IsString(e) && strcmp(e->valuestring, "NONE") == 0)) {
            rc = 0;
        } else if (cJSON_IsString(e)) {
            if (err && err_size)
                snprintf(err, err_size, "%s", e->valuestring);
            rc = 1;
        }
    }
    cJSON_Delete(root);
    return rc;
}
