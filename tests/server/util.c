/*
 * tests/server/util.c - hash map, hex, UTF-8 check and JSON line output for
 * the test server. Written for the test server only; shares nothing with the
 * gateway on purpose.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* FNV-1a: cheap and good enough for endpoint names and numeric ids. */
static uint64_t ts_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int ts_map_init(ts_map_t *m)
{
    m->n_buckets = 64;
    m->count = 0;
    m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
    return m->buckets ? 0 : -ENOMEM;
}

void ts_map_free(ts_map_t *m)
{
    for (size_t i = 0; m->buckets && i < m->n_buckets; i++) {
        ts_map_entry_t *e = m->buckets[i];
        while (e) {
            ts_map_entry_t *n = e->next;
            free(e->key);
            free(e);
            e = n;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->n_buckets = m->count = 0;
}

static ts_map_entry_t **ts_map_slot(const ts_map_t *m, const char *key)
{
    ts_map_entry_t **p = &m->buckets[ts_hash(key) & (m->n_buckets - 1)];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    return p;
}

void *ts_map_get(const ts_map_t *m, const char *key)
{
    ts_map_entry_t *e = *ts_map_slot(m, key);
    return e ? e->val : NULL;
}

static void ts_map_grow(ts_map_t *m)
{
    size_t nb = m->n_buckets * 2;
    ts_map_entry_t **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* keep working with longer chains */
    for (size_t i = 0; i < m->n_buckets; i++) {
        ts_map_entry_t *e = m->buckets[i];
        while (e) {
            ts_map_entry_t *n = e->next;
            size_t j = ts_hash(e->key) & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = n;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

int ts_map_put(ts_map_t *m, const char *key, void *val)
{
    ts_map_entry_t **p = ts_map_slot(m, key);
    if (*p) {
        (*p)->val = val;
        return 0;
    }
    ts_map_entry_t *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return -ENOMEM;
    }
    e->val = val;
    *p = e;
    if (++m->count > m->n_buckets)
        ts_map_grow(m);
    return 0;
}

void *ts_map_del(ts_map_t *m, const char *key)
{
    ts_map_entry_t **p = ts_map_slot(m, key);
    ts_map_entry_t *e = *p;
    if (!e)
        return NULL;
    void *v = e->val;
    *p = e->next;
    free(e->key);
    free(e);
    m->count--;
    return v;
}

double ts_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

uint64_t ts_mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

char *ts_hex(const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    char *s = malloc(n * 2 + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = d[p[i] >> 4];
        s[2 * i + 1] = d[p[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static int ts_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ts_unhex(const char *s, uint8_t **out, size_t *out_len)
{
    size_t n = strlen(s);
    uint8_t *b = malloc(n / 2 + 1);
    size_t len = 0;
    int hi = -1;
    if (!b)
        return -ENOMEM;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == ':')
            continue;
        int v = ts_nibble(*s);
        if (v < 0)
            goto bad;
        if (hi < 0) {
            hi = v;
        } else {
            b[len++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0)
        goto bad;
    *out = b;
    *out_len = len;
    return 0;
bad:
    free(b);
    return -EINVAL;
}

/* Strict UTF-8 (no overlongs, no surrogates, max U+10FFFF): payload_text is
 * only a convenience for tests and must never be a lossy rendering. */
int ts_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            if (c == 0)
                return 0; /* a NUL would truncate the JSON string in cJSON */
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

void ts_emit(cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(s);
    }
    cJSON_Delete(obj);
}

cJSON *ts_event(const char *name)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", name);
    cJSON_AddNumberToObject(o, "ts", ts_now());
    return o;
}

void ts_code_str(unsigned code, char *buf)
{
    snprintf(buf, 8, "%u.%02u", (code >> 5) & 7, code & 31);
}

void ts_add_payload(cJSON *ev, const uint8_t *p, size_t n)
{
    char *h = ts_hex(p, n);
    cJSON_AddStringToObject(ev, "payload_hex", h ? h : "");
    free(h);
    if (n && ts_utf8_valid(p, n)) {
        char *t = malloc(n + 1);
        if (t) {
            memcpy(t, p, n);
            t[n] = '\0';
            cJSON_AddStringToObject(ev, "payload_text", t);
            free(t);
        }
    }
}
