/*
 * lwm2m/senml_json.c - SenML JSON (application/senml+json, 110): RFC 8428
 * and OMA LwM2M 1.1 Core 7.4.5.
 *
 * Decoding uses cJSON for the syntax. cJSON keeps numbers only as doubles,
 * which cannot hold every Integer (INT64_MAX, UINT64_MAX), so the decoder
 * also lists the number tokens of the text in order and pairs the n-th
 * number node of the tree with the n-th token to read integers exactly.
 * Records may hold only primitive values, so the pairing is checked simply:
 * anything nested is rejected before a count could go wrong.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "senml_internal.h"

/* ---------------------------------------------------------------- encode */

static int put_json_string(gw_buf_t *out, const uint8_t *s, size_t len)
{
    /* JSON text is UTF-8 (RFC 8259 8.1): refuse rather than emit invalid JSON. */
    if (!gw_utf8_valid(s, len))
        return -EINVAL;
    int rc = gw_buf_append(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; !rc && i < len; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = gw_buf_append(out, s + run, i - run);
        run = i + 1;
        if (rc)
            break;
        if (c == '"' || c == '\\')
            rc = gw_buf_appendf(out, "\\%c", c);
        else if (c == '\n')
            rc = gw_buf_append(out, "\\n", 2);
        else
            rc = gw_buf_appendf(out, "\\u%04x", c);
    }
    if (!rc)
        rc = gw_buf_append(out, s + run, len - run);
    if (!rc)
        rc = gw_buf_append(out, "\"", 1);
    return rc;
}

static int put_number(gw_buf_t *out, double d)
{
    gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = d};
    return gw_value_to_text(&v, out);
}

static int put_value(gw_buf_t *out, const gw_value_t *v)
{
    int rc;
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        return gw_buf_appendf(out, "\"v\":%" PRId64, v->v.i);
    case GW_TYPE_UNSIGNED:
        return gw_buf_appendf(out, "\"v\":%" PRIu64, v->v.u);
    case GW_TYPE_FLOAT:
        rc = gw_buf_append(out, "\"v\":", 4);
        return rc ? rc : put_number(out, v->v.f);
    case GW_TYPE_BOOLEAN:
        return gw_buf_appendf(out, "\"vb\":%s", v->v.b ? "true" : "false");
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        if (v->v.bytes.len && !v->v.bytes.ptr)
            return -EINVAL;
        rc = gw_buf_append(out, "\"vs\":", 5);
        return rc ? rc : put_json_string(out, v->v.bytes.ptr, v->v.bytes.len);
    case GW_TYPE_OPAQUE:
        if (v->v.bytes.len && !v->v.bytes.ptr)
            return -EINVAL;
        rc = gw_buf_append(out, "\"vd\":\"", 6);
        if (!rc)
            rc = gw_base64_encode(v->v.bytes.ptr, v->v.bytes.len, true, out);
        return rc ? rc : gw_buf_append(out, "\"", 1);
    case GW_TYPE_OBJLNK:
        return gw_buf_appendf(out, "\"vlo\":\"%u:%u\"", (unsigned)v->v.objlnk.oid,
                              (unsigned)v->v.objlnk.iid);
    default:
        return -EINVAL;
    }
}

int gw_senml_json_encode(const gw_path_t *base, const gw_record_t *recs, size_t n, gw_buf_t *out)
{
    size_t start = out->len;
    int rc = gw_buf_append(out, "[", 1);
    for (size_t i = 0; !rc && i < n; i++) {
        char bn[GW_SENML_NAME_MAX], nm[GW_SENML_NAME_MAX];
        const char *sep = "";
        if (!gw_path_has_prefix(&recs[i].path, base)) {
            rc = -EINVAL;
            break;
        }
        gw_senml_names(base, recs, n, i, bn, nm);
        rc = gw_buf_append(out, i ? ",{" : "{", i ? 2 : 1);
        if (!rc && bn[0]) {
            rc = gw_buf_appendf(out, "\"bn\":\"%s\"", bn);
            sep = ",";
        }
        if (!rc && nm[0]) {
            rc = gw_buf_appendf(out, "%s\"n\":\"%s\"", sep, nm);
            sep = ",";
        }
        if (!rc && recs[i].has_time) {
            rc = gw_buf_appendf(out, "%s\"t\":", sep);
            if (!rc)
                rc = put_number(out, recs[i].time);
            sep = ",";
        }
        if (!rc && recs[i].value.type != GW_TYPE_NONE) {
            rc = gw_buf_append(out, sep, strlen(sep));
            if (!rc)
                rc = put_value(out, &recs[i].value);
        }
        if (!rc)
            rc = gw_buf_append(out, "}", 1);
    }
    if (!rc)
        rc = gw_buf_append(out, "]", 1);
    if (rc)
        out->len = start;
    return rc;
}

/* ---------------------------------------------------------------- decode */

typedef struct numtok {
    size_t off, len;
} numtok_t;

/* Offsets of the number tokens of a JSON text, in order. Only called on
 * text cJSON accepted, so strings are well formed. */
static int scan_numbers(const char *s, size_t len, numtok_t **out, size_t *out_n)
{
    size_t n = 0, cap = 0;
    numtok_t *v = NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            continue;
        }
        if (s[i] != '-' && !(s[i] >= '0' && s[i] <= '9'))
            continue;
        size_t j = i;
        while (j < len && ((s[j] >= '0' && s[j] <= '9') || s[j] == '-' || s[j] == '+' ||
                           s[j] == '.' || s[j] == 'e' || s[j] == 'E'))
            j++;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            numtok_t *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                return -ENOMEM;
            }
            v = nv;
        }
        v[n].off = i;
        v[n].len = j - i;
        n++;
        i = j - 1;
    }
    *out = v;
    *out_n = n;
    return 0;
}

typedef struct jdec {
    const char *text;
    const numtok_t *toks;
    size_t n_toks, next_tok;
    gw_decoded_t *out;
} jdec_t;

/* The exact value of the next number token: an integer when the text is
 * one and fits 64 bits, else cJSON's double. A number no double holds is
 * the record's problem (r->err). */
static int take_number(jdec_t *j, const cJSON *item, gw_senml_rec_t *r, gw_senml_num_t *num)
{
    if (j->next_tok >= j->n_toks)
        return gw_decoded_fail(j->out, -EINVAL, "SenML JSON: number tokens out of step");
    const numtok_t *t = &j->toks[j->next_tok++];
    const char *s = j->text + t->off;
    num->kind = GW_SENML_NUM_F;
    num->f = item->valuedouble;
    /* 1e999 parses to infinity, which no LwM2M value (nor JSON) holds. */
    if (!isfinite(num->f)) {
        gw_senml_rec_err(r, "SenML JSON: number %.*s out of range", t->len > 24 ? 24 : (int)t->len,
                         s);
        return 0;
    }
    bool integral = t->len > 0 && t->len < 24;
    for (size_t k = (s[0] == '-'); integral && k < t->len; k++)
        if (s[k] < '0' || s[k] > '9')
            integral = false;
    if (!integral || (s[0] == '-' && t->len == 1))
        return 0;
    gw_value_t v;
    /* "-0" stays a double: as an integer it would lose its sign. */
    if (gw_value_from_text(GW_TYPE_INTEGER, s, t->len, &v) == 0 && !(s[0] == '-' && v.v.i == 0)) {
        num->kind = GW_SENML_NUM_I;
        num->i = v.v.i;
    } else if (s[0] != '-' && gw_value_from_text(GW_TYPE_UNSIGNED, s, t->len, &v) == 0) {
        num->kind = GW_SENML_NUM_U;
        num->u = v.v.u;
    }
    return 0;
}

/* Number nodes inside a nested value: skipped in step with the tokens.
 * cJSON bounds the nesting (CJSON_NESTING_LIMIT), so recursion is bounded. */
static size_t count_numbers(const cJSON *c)
{
    size_t n = cJSON_IsNumber(c) ? 1 : 0;
    for (const cJSON *k = c->child; k; k = k->next)
        n += count_numbers(k);
    return n;
}

static bool set_value(gw_senml_rec_t *r, int kind, const char *key)
{
    if (r->vkind != GW_SENML_V_NONE) {
        gw_senml_rec_err(r, "SenML record with more than one value (\"%s\")", key);
        return false;
    }
    r->vkind = kind;
    return true;
}

static bool want(gw_senml_rec_t *r, bool ok, const char *key, const char *what)
{
    if (!ok)
        gw_senml_rec_err(r, "SenML \"%s\" must be %s", key, what);
    return ok;
}

static const struct {
    const char *name;
    int label;
} labels[] = {
    {"bver", GW_SENML_L_BVER}, {"bn", GW_SENML_L_BN}, {"bt", GW_SENML_L_BT}, {"bu", GW_SENML_L_BU},
    {"bv", GW_SENML_L_BV},     {"bs", GW_SENML_L_BS}, {"n", GW_SENML_L_N},   {"u", GW_SENML_L_U},
    {"v", GW_SENML_L_V},       {"vs", GW_SENML_L_VS}, {"vb", GW_SENML_L_VB}, {"s", GW_SENML_L_S},
    {"t", GW_SENML_L_T},       {"ut", GW_SENML_L_UT}, {"vd", GW_SENML_L_VD}, {"vlo", GW_SENML_L_VLO},
};

static int label_of(const char *k)
{
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (!strcmp(k, labels[i].name))
            return labels[i].label;
    return -1;
}

/* Problems of the record go to r->err, reported under its name by
 * gw_senml_emit; only a broken base name or token pairing fails here. */
static int parse_record(jdec_t *j, const cJSON *obj, gw_senml_base_t *b, gw_senml_rec_t *r)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        const char *k = c->string ? c->string : "";
        int rc = 0;
        gw_senml_num_t num = {.kind = GW_SENML_NUM_F};
        if (cJSON_IsArray(c) || cJSON_IsObject(c)) {
            gw_senml_rec_err(r, "SenML \"%.16s\" holds a nested structure", k);
            j->next_tok += count_numbers(c);
            continue;
        }
        if (cJSON_IsNumber(c) && (rc = take_number(j, c, r, &num)))
            return rc;
        int label = label_of(k);
        if (label >= 0 && !gw_senml_label_once(r, label, k))
            continue;
        bool is_num = cJSON_IsNumber(c), is_str = cJSON_IsString(c);
        switch (label) {
        case GW_SENML_L_BVER:
            if (want(r, is_num, k, "a positive integer"))
                gw_senml_set_bver(b, r, &num);
            break;
        case GW_SENML_L_BN:
            if (want(r, is_str, k, "a string"))
                rc = gw_senml_set_bn(b, c->valuestring, strlen(c->valuestring), r->idx, j->out);
            break;
        case GW_SENML_L_BT:
            if (want(r, is_num, k, "a number"))
                b->bt = num.f;
            break;
        case GW_SENML_L_BV:
            if (want(r, is_num, k, "a number")) {
                b->has_bv = true;
                b->bv = num;
            }
            break;
        case GW_SENML_L_BU:
        case GW_SENML_L_U:
            /* Units: the object definition fixes them in LwM2M (TS 1.1
             * 7.4.5); a well-typed one is read past. */
            want(r, is_str, k, "a string");
            break;
        case GW_SENML_L_BS:
        case GW_SENML_L_S:
        case GW_SENML_L_UT:
            want(r, is_num, k, "a number"); /* a sum is refused by gw_senml_emit */
            break;
        case GW_SENML_L_N:
            if (want(r, is_str, k, "a string")) {
                r->n = c->valuestring;
                r->n_len = strlen(c->valuestring);
            }
            break;
        case GW_SENML_L_T:
            if (want(r, is_num, k, "a number")) {
                r->has_t = true;
                r->t = num.f;
            }
            break;
        case GW_SENML_L_V:
            if (want(r, is_num, k, "a number") && set_value(r, GW_SENML_V_NUM, k))
                r->num = num;
            break;
        case GW_SENML_L_VB:
            if (want(r, cJSON_IsBool(c), k, "true or false") && set_value(r, GW_SENML_V_BOOL, k))
                r->b = cJSON_IsTrue(c);
            break;
        case GW_SENML_L_VS:
        case GW_SENML_L_VD:
        case GW_SENML_L_VLO: {
            int kind = label == GW_SENML_L_VS   ? GW_SENML_V_STR
                       : label == GW_SENML_L_VD ? GW_SENML_V_DATA64
                                                : GW_SENML_V_OBJLNK;
            if (want(r, is_str, k, "a string") && set_value(r, kind, k)) {
                r->s = (const uint8_t *)c->valuestring;
                r->s_len = strlen(c->valuestring);
            }
            break;
        }
        default:
            /* RFC 8428 4.4: labels ending in "_" must be understood. */
            if (k[0] && k[strlen(k) - 1] == '_')
                gw_senml_rec_err(r, "SenML label \"%.32s\" is not supported", k);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* cJSON turns "\u0000" into a NUL that ends its C string, so "ab\u0000cd"
 * would read as "ab". No LwM2M String or name holds NUL: refuse the text.
 * Backslashes outside strings are a syntax error cJSON reports anyway. */
static bool has_nul_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && len - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
            return true;
        i++; /* the escaped character, which may be a backslash */
    }
    return false;
}

int gw_senml_json_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                         gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out)
{
    int rc = 0;
    cJSON *root = NULL;
    numtok_t *toks = NULL;
    size_t n_toks = 0;
    out->error[0] = '\0';
    /* A NUL-terminated copy: cJSON's string handling has had over-reads on
     * unterminated input, and the payload is outside bytes. */
    char *text = malloc(len + 1);
    if (!text)
        return gw_decoded_fail(out, -ENOMEM, "out of memory");
    if (len)
        memcpy(text, p, len);
    text[len] = '\0';
    if (memchr(text, '\0', len)) {
        rc = gw_decoded_fail(out, -EINVAL, "SenML JSON: NUL byte in the payload");
        goto done;
    }
    if (has_nul_escape(text, len)) {
        rc = gw_decoded_fail(out, -EINVAL, "SenML JSON: \"\\u0000\" (NUL) in a string");
        goto done;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        rc = gw_decoded_fail(out, -EINVAL, "SenML JSON: syntax error near byte %zu",
                             end ? (size_t)(end - text) : (size_t)0);
        goto done;
    }
    while (end && (size_t)(end - text) < len &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (!end || (size_t)(end - text) != len) {
        rc = gw_decoded_fail(out, -EINVAL, "SenML JSON: bytes after the array");
        goto done;
    }
    if (!cJSON_IsArray(root)) {
        rc = gw_decoded_fail(out, -EINVAL, "SenML JSON must be an array of records");
        goto done;
    }
    if ((rc = scan_numbers(text, len, &toks, &n_toks))) {
        rc = gw_decoded_fail(out, rc, "out of memory");
        goto done;
    }
    jdec_t j = {.text = text, .toks = toks, .n_toks = n_toks, .out = out};
    gw_senml_base_t b;
    memset(&b, 0, sizeof b);
    size_t idx = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        gw_senml_rec_t r;
        memset(&r, 0, sizeof r);
        r.idx = ++idx;
        if (!cJSON_IsObject(e)) {
            rc = gw_decoded_fail(out, -EINVAL, "SenML JSON: array element %zu is not a record", idx);
            goto done;
        }
        if ((rc = parse_record(&j, e, &b, &r)))
            goto done;
        if ((rc = gw_senml_emit(base, &b, &r, true, lookup, lookup_ctx, out)))
            goto done;
    }
done:
    cJSON_Delete(root);
    free(toks);
    free(text);
    return rc;
}
