/*
 * lwm2m/ddf.c - parses OMA DDF XML object definitions (the LwM2M Editor
 * schema, LWM2M.xsd / LWM2M-v1_1.xsd) with libexpat.
 *
 * The parser is a flat state machine over element depth: the schema is fixed
 * (LWM2M > Object > Resources > Item > field), so nothing is built but the
 * fields we keep. Descriptions are skipped without being buffered.
 *
 * A file is all or nothing: objects are collected while parsing and handed
 * to the registry only when the whole file was clean, so a half-valid vendor
 * file never leaves a half-defined object behind. Validation errors do not
 * stop the parse, so one run reports every problem of a file.
 */
#include "registry_internal.h"

#include <errno.h>
#include <expat.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DDF_MAX_TEXT (64u * 1024u) /* one field's text; names and ranges are short */
#define DDF_MAX_DIAGS 50           /* then stop: the rest is likely noise */

enum field {
    F_NONE,
    F_NAME,
    F_OBJECTID,
    F_URN,
    F_VERSION,
    F_MULTIPLE,
    F_MANDATORY,
    F_OPERATIONS,
    F_TYPE,
    F_RANGE,
    F_UNITS,
    F_COUNT
};

static const char *const field_tag[F_COUNT] = {
    [F_NAME] = "Name",
    [F_OBJECTID] = "ObjectID",
    [F_URN] = "ObjectURN",
    [F_VERSION] = "ObjectVersion",
    [F_MULTIPLE] = "MultipleInstances",
    [F_MANDATORY] = "Mandatory",
    [F_OPERATIONS] = "Operations",
    [F_TYPE] = "Type",
    [F_RANGE] = "RangeEnumeration",
    [F_UNITS] = "Units",
};

/* Spelled as in the schema; matched case-insensitively because hand-written
 * vendor files often say "Unsigned integer". */
static const struct {
    const char *name;
    gw_type_t type;
} type_names[] = {
    {"String", GW_TYPE_STRING},   {"Integer", GW_TYPE_INTEGER}, {"Unsigned Integer", GW_TYPE_UNSIGNED},
    {"Float", GW_TYPE_FLOAT},     {"Boolean", GW_TYPE_BOOLEAN}, {"Opaque", GW_TYPE_OPAQUE},
    {"Time", GW_TYPE_TIME},       {"Objlnk", GW_TYPE_OBJLNK},   {"Corelnk", GW_TYPE_CORELNK},
    {"", GW_TYPE_NONE},
};

static const struct {
    const char *name;
    uint8_t ops;
} ops_names[] = {
    {"R", GW_OP_R}, {"W", GW_OP_W}, {"RW", GW_OP_R | GW_OP_W}, {"E", GW_OP_E}, {"", GW_OP_NONE},
};

struct res_tmp {
    int line;
    bool has_id;
    uint16_t id;
    unsigned seen; /* bit per enum field */
    char *name, *units, *range;
    uint8_t type, ops;
    bool multiple, mandatory;
};

struct obj_tmp {
    int line;
    bool has_id;
    uint16_t id;
    unsigned seen;
    char *name, *version, *urn;
    bool multiple, mandatory;
    gw_resdef_t *res;
    size_t n_res, cap_res;
    uint8_t *id_bits; /* resource IDs already defined, 65535 bits */
};

struct ddf {
    XML_Parser xp;
    const char *file;
    gw_diag_fn diag;
    void *diag_ctx;
    unsigned errors;
    bool oom;
    unsigned depth;
    int root_line;
    bool in_obj, in_resources, in_item;
    struct obj_tmp obj;
    struct res_tmp res;
    enum field field; /* element whose text is being collected */
    unsigned field_depth;
    bool text_too_long;
    char *text;
    size_t text_len, text_cap;
    gw_objdef_t **done; /* finished objects of this file */
    size_t n_done, cap_done;
};

/* expat 2.9 deprecates the XML_Size position calls for 64-bit ones that
 * older releases (Debian 12 ships 2.5) do not have; use whichever this
 * expat's own header says is current. */
static int cur_line(const struct ddf *p)
{
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 9)
    uint64_t l = XML_GetCurrentLineNumber64(p->xp);
#else
    XML_Size l = XML_GetCurrentLineNumber(p->xp);
#endif
    return l > (uint64_t)INT_MAX ? INT_MAX : (int)l;
}

static void stop(struct ddf *p)
{
    if (p->xp)
        XML_StopParser(p->xp, XML_FALSE);
}

static void report(struct ddf *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(struct ddf *p, int line, const char *fmt, ...)
{
    p->errors++;
    if (p->errors > DDF_MAX_DIAGS) {
        stop(p);
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->diag)
        p->diag(p->diag_ctx, p->file, line, msg);
    if (p->errors == DDF_MAX_DIAGS && p->diag)
        p->diag(p->diag_ctx, p->file, line, "too many errors, giving up on this file");
}

static void out_of_memory(struct ddf *p)
{
    p->oom = true;
    stop(p);
}

/* Input text quoted into a message: shortened and with control characters
 * replaced, so a hostile file cannot forge log lines. */
static const char *shown(const char *s, char buf[64])
{
    size_t n = 0;
    for (; *s && n < 40; s++)
        buf[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    if (*s) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static char *dup_text(struct ddf *p, const char *s)
{
    char *d = strdup(s);
    if (!d)
        out_of_memory(p);
    return d;
}

static void res_clear(struct res_tmp *r)
{
    free(r->name);
    free(r->units);
    free(r->range);
    memset(r, 0, sizeof *r);
}

static void obj_clear(struct obj_tmp *o)
{
    for (size_t i = 0; i < o->n_res; i++) {
        free((void *)o->res[i].name);
        free((void *)o->res[i].units);
        free((void *)o->res[i].range);
    }
    free(o->res);
    free(o->name);
    free(o->version);
    free(o->urn);
    free(o->id_bits);
    memset(o, 0, sizeof *o);
}

/* Decimal 0..65534 (65535 is reserved as "no id" in LwM2M paths). */
static bool parse_id(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65534)
            return false;
    }
    *out = (uint16_t)v;
    return true;
}

static bool parse_choice(const char *s, const char *yes, const char *no, bool *out)
{
    if (strcasecmp(s, yes) == 0)
        *out = true;
    else if (strcasecmp(s, no) == 0)
        *out = false;
    else
        return false;
    return true;
}

static enum field field_of(const char *tag, bool item)
{
    for (int f = F_NAME; f < F_COUNT; f++) {
        if (strcmp(tag, field_tag[f]) != 0)
            continue;
        bool item_field = f == F_NAME || f == F_MULTIPLE || f == F_MANDATORY || f == F_OPERATIONS ||
                          f == F_TYPE || f == F_RANGE || f == F_UNITS;
        bool obj_field = f == F_NAME || f == F_OBJECTID || f == F_URN || f == F_VERSION ||
                         f == F_MULTIPLE || f == F_MANDATORY;
        if (item ? item_field : obj_field)
            return (enum field)f;
    }
    return F_NONE;
}

static void start_object(struct ddf *p)
{
    memset(&p->obj, 0, sizeof p->obj);
    p->obj.line = cur_line(p);
    p->obj.id_bits = calloc(1, 65536 / 8);
    if (!p->obj.id_bits)
        out_of_memory(p);
    p->in_obj = true;
}

static void start_item(struct ddf *p, const XML_Char **attrs)
{
    memset(&p->res, 0, sizeof p->res);
    p->res.line = cur_line(p);
    p->in_item = true;
    const char *id = NULL;
    for (size_t i = 0; attrs[i]; i += 2) {
        if (strcmp(attrs[i], "ID") == 0)
            id = attrs[i + 1];
    }
    char buf[64];
    if (!id)
        report(p, p->res.line, "<Item> has no ID attribute, expected ID=\"0\"..\"65534\"");
    else if (!parse_id(id, &p->res.id))
        report(p, p->res.line, "resource ID \"%s\" is not valid, expected a decimal number 0..65534",
               shown(id, buf));
    else
        p->res.has_id = true;
}

static void XMLCALL on_start(void *ud, const XML_Char *tag, const XML_Char **attrs)
{
    struct ddf *p = ud;
    p->depth++;
    if (p->field != F_NONE)
        return; /* markup inside a text field: its text is not ours */
    char buf[64];
    switch (p->depth) {
    case 1:
        p->root_line = cur_line(p);
        if (strcmp(tag, "LWM2M") != 0)
            report(p, p->root_line, "root element <%s>, expected <LWM2M>", shown(tag, buf));
        break;
    case 2:
        if (strcmp(tag, "Object") == 0)
            start_object(p);
        break;
    case 3:
        if (!p->in_obj)
            break;
        if (strcmp(tag, "Resources") == 0) {
            p->in_resources = true;
            break;
        }
        p->field = field_of(tag, false);
        break;
    case 4:
        if (p->in_resources && strcmp(tag, "Item") == 0)
            start_item(p, attrs);
        break;
    case 5:
        if (p->in_item)
            p->field = field_of(tag, true);
        break;
    default:
        break;
    }
    if (p->field != F_NONE) {
        p->field_depth = p->depth;
        p->text_len = 0;
        p->text_too_long = false;
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct ddf *p = ud;
    if (p->field == F_NONE || p->depth != p->field_depth || len <= 0 || p->text_too_long)
        return;
    size_t n = (size_t)len;
    if (n > DDF_MAX_TEXT - p->text_len) {
        p->text_too_long = true;
        report(p, cur_line(p), "text of <%s> is longer than %u bytes, expected a short value",
               field_tag[p->field], DDF_MAX_TEXT);
        return;
    }
    if (p->text_len + n + 1 > p->text_cap) {
        size_t cap = p->text_cap ? p->text_cap : 64;
        while (cap < p->text_len + n + 1)
            cap *= 2;
        char *t = realloc(p->text, cap);
        if (!t) {
            out_of_memory(p);
            return;
        }
        p->text = t;
        p->text_cap = cap;
    }
    memcpy(p->text + p->text_len, s, n);
    p->text_len += n;
}

/* The collected text with XML whitespace trimmed (NUL-terminated in place). */
static const char *field_text(struct ddf *p)
{
    if (!p->text)
        return "";
    size_t a = 0, b = p->text_len;
    while (a < b && strchr(" \t\r\n", p->text[a]))
        a++;
    while (b > a && strchr(" \t\r\n", p->text[b - 1]))
        b--;
    p->text[b] = '\0';
    return p->text + a;
}

static void bad_choice(struct ddf *p, int line, const char *what, const char *v, const char *expected)
{
    char buf[64];
    report(p, line, "unknown %s \"%s\", expected %s", what, shown(v, buf), expected);
}

static void set_str(struct ddf *p, char **dst, const char *v)
{
    free(*dst);
    *dst = dup_text(p, v);
}

static void end_obj_field(struct ddf *p, enum field f, const char *v, int line)
{
    struct obj_tmp *o = &p->obj;
    char buf[64];
    switch (f) {
    case F_NAME:
        set_str(p, &o->name, v);
        break;
    case F_OBJECTID:
        if (parse_id(v, &o->id))
            o->has_id = true;
        else
            report(p, line, "ObjectID \"%s\" is not valid, expected a decimal number 0..65534",
                   shown(v, buf));
        break;
    case F_URN:
        set_str(p, &o->urn, v);
        break;
    case F_VERSION:
        set_str(p, &o->version, v);
        break;
    case F_MULTIPLE:
        if (!parse_choice(v, "Multiple", "Single", &o->multiple))
            bad_choice(p, line, "object MultipleInstances", v, "Single or Multiple");
        break;
    case F_MANDATORY:
        if (!parse_choice(v, "Mandatory", "Optional", &o->mandatory))
            bad_choice(p, line, "object Mandatory", v, "Mandatory or Optional");
        break;
    default:
        break;
    }
}

static void end_item_field(struct ddf *p, enum field f, const char *v, int line)
{
    struct res_tmp *r = &p->res;
    size_t i;
    switch (f) {
    case F_NAME:
        set_str(p, &r->name, v);
        break;
    case F_UNITS:
        set_str(p, &r->units, v);
        break;
    case F_RANGE:
        set_str(p, &r->range, v);
        break;
    case F_MULTIPLE:
        if (!parse_choice(v, "Multiple", "Single", &r->multiple))
            bad_choice(p, line, "resource MultipleInstances", v, "Single or Multiple");
        break;
    case F_MANDATORY:
        if (!parse_choice(v, "Mandatory", "Optional", &r->mandatory))
            bad_choice(p, line, "resource Mandatory", v, "Mandatory or Optional");
        break;
    case F_TYPE:
        for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
            if (strcasecmp(v, type_names[i].name) == 0)
                break;
        }
        if (i < sizeof type_names / sizeof type_names[0])
            r->type = (uint8_t)type_names[i].type;
        else
            bad_choice(p, line, "resource Type", v,
                       "one of String, Integer, Unsigned Integer, Float, Boolean, Opaque, Time, "
                       "Objlnk, Corelnk, or empty for Execute");
        break;
    case F_OPERATIONS:
        for (i = 0; i < sizeof ops_names / sizeof ops_names[0]; i++) {
            if (strcasecmp(v, ops_names[i].name) == 0)
                break;
        }
        if (i < sizeof ops_names / sizeof ops_names[0])
            r->ops = ops_names[i].ops;
        else
            bad_choice(p, line, "resource Operations", v, "one of R, W, RW, E, or empty");
        break;
    default:
        break;
    }
}

static void end_field(struct ddf *p)
{
    enum field f = p->field;
    int line = cur_line(p);
    unsigned *seen = p->in_item ? &p->res.seen : &p->obj.seen;
    p->field = F_NONE;
    if (p->text_too_long)
        return;
    if (*seen & (1u << f)) {
        report(p, line, "<%s> given twice in one <%s>, expected it once", field_tag[f],
               p->in_item ? "Item" : "Object");
        return;
    }
    *seen |= 1u << f;
    const char *v = field_text(p);
    if (p->in_item)
        end_item_field(p, f, v, line);
    else
        end_obj_field(p, f, v, line);
}

static void end_item(struct ddf *p)
{
    struct res_tmp *r = &p->res;
    struct obj_tmp *o = &p->obj;
    p->in_item = false;
    if (!r->name || !*r->name)
        report(p, r->line, "<Item> has no <Name>, expected a non-empty name");
    if (!r->has_id || !o->id_bits)
        goto out;
    if (o->id_bits[r->id / 8] & (1u << (r->id % 8))) {
        report(p, r->line, "duplicate resource ID %u, expected each ID once per object", (unsigned)r->id);
        goto out;
    }
    o->id_bits[r->id / 8] |= (uint8_t)(1u << (r->id % 8));
    if (o->n_res >= GW_DDF_MAX_RESOURCES) {
        report(p, r->line, "more than %u resources in one object, expected at most %u",
               GW_DDF_MAX_RESOURCES, GW_DDF_MAX_RESOURCES);
        goto out;
    }
    if (p->errors || p->oom)
        goto out; /* the file is rejected anyway; keep checking, stop storing */
    if (o->n_res == o->cap_res) {
        size_t cap = o->cap_res ? o->cap_res * 2 : 16;
        gw_resdef_t *nr = realloc(o->res, cap * sizeof *nr);
        if (!nr) {
            out_of_memory(p);
            goto out;
        }
        o->res = nr;
        o->cap_res = cap;
    }
    char *units = r->units ? r->units : strdup("");
    char *range = r->range ? r->range : strdup("");
    if (!units || !range) {
        if (units != r->units)
            free(units);
        if (range != r->range)
            free(range);
        out_of_memory(p);
        goto out;
    }
    o->res[o->n_res++] = (gw_resdef_t){
        .id = r->id,
        .type = r->type,
        .ops = r->ops,
        .multiple = r->multiple,
        .mandatory = r->mandatory,
        .name = r->name,
        .units = units,
        .range = range,
    };
    r->name = r->units = r->range = NULL; /* moved into the object */
out:
    res_clear(r);
}

static int cmp_res(const void *a, const void *b)
{
    const gw_resdef_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static void end_object(struct ddf *p)
{
    struct obj_tmp *o = &p->obj;
    p->in_obj = false;
    if (!o->has_id && !(o->seen & (1u << F_OBJECTID)))
        report(p, o->line, "<Object> has no <ObjectID>, expected a decimal number 0..65534");
    if (!o->name || !*o->name)
        report(p, o->line, "<Object> has no <Name>, expected a non-empty name");
    if (p->errors || p->oom)
        goto out;
    if (!o->version && !(o->version = strdup("1.0")))
        goto nomem;
    if (!o->urn && !(o->urn = strdup("")))
        goto nomem;
    if (p->n_done == p->cap_done) {
        size_t cap = p->cap_done ? p->cap_done * 2 : 4;
        gw_objdef_t **d = realloc(p->done, cap * sizeof *d);
        if (!d)
            goto nomem;
        p->done = d;
        p->cap_done = cap;
    }
    gw_objdef_t *def = calloc(1, sizeof *def);
    if (!def)
        goto nomem;
    if (o->n_res > 1)
        qsort(o->res, o->n_res, sizeof *o->res, cmp_res);
    *def = (gw_objdef_t){
        .id = o->id,
        .multiple = o->multiple,
        .mandatory = o->mandatory,
        .name = o->name,
        .version = o->version,
        .urn = o->urn,
        .n_res = (uint16_t)o->n_res,
        .res = o->res,
    };
    p->done[p->n_done++] = def;
    /* Moved into def. */
    o->name = o->version = o->urn = NULL;
    o->res = NULL;
    o->n_res = 0;
    goto out;
nomem:
    out_of_memory(p);
out:
    obj_clear(o);
}

static void XMLCALL on_end(void *ud, const XML_Char *tag)
{
    struct ddf *p = ud;
    (void)tag;
    if (p->field != F_NONE && p->depth == p->field_depth)
        end_field(p);
    else if (p->field == F_NONE) {
        if (p->depth == 4 && p->in_item)
            end_item(p);
        else if (p->depth == 3 && p->in_resources)
            p->in_resources = false;
        else if (p->depth == 2 && p->in_obj)
            end_object(p);
    }
    p->depth--;
}

/* DDF files never need a DTD; refusing one rules out entity expansion
 * attacks and external entity fetches outright. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    struct ddf *p = ud;
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    report(p, cur_line(p), "<!DOCTYPE> found, expected plain XML without a DTD");
    stop(p);
}

static void ddf_cleanup(struct ddf *p)
{
    if (p->in_item)
        res_clear(&p->res);
    obj_clear(&p->obj);
    for (size_t i = 0; i < p->n_done; i++)
        gw_registry_free_loaded(p->done[i]);
    free(p->done);
    free(p->text);
    if (p->xp)
        XML_ParserFree(p->xp);
}

int gw_registry_load_buffer(gw_registry_t *r, const char *name, const char *xml, size_t len,
                            gw_diag_fn diag, void *diag_ctx)
{
    struct ddf p = {.file = name ? name : "(buffer)", .diag = diag, .diag_ctx = diag_ctx};
    int rc = -EINVAL;
    if (!r || (!xml && len))
        return -EINVAL;
    if (len > GW_DDF_MAX_FILE_SIZE) {
        report(&p, 0, "file is %zu bytes, expected at most %u bytes", len, GW_DDF_MAX_FILE_SIZE);
        return -EINVAL;
    }
    p.xp = XML_ParserCreate(NULL);
    if (!p.xp)
        return -ENOMEM;
    XML_SetUserData(p.xp, &p);
    XML_SetElementHandler(p.xp, on_start, on_end);
    XML_SetCharacterDataHandler(p.xp, on_text);
    XML_SetStartDoctypeDeclHandler(p.xp, on_doctype);

    enum XML_Status st = XML_Parse(p.xp, xml ? xml : "", (int)len, XML_TRUE);
    if (p.oom) {
        rc = -ENOMEM;
        goto out;
    }
    if (st != XML_STATUS_OK && XML_GetErrorCode(p.xp) != XML_ERROR_ABORTED) {
        report(&p, cur_line(&p), "malformed XML: %s, expected a well-formed DDF document",
               XML_ErrorString(XML_GetErrorCode(p.xp)));
        goto out;
    }
    if (p.errors)
        goto out;
    if (p.n_done == 0) {
        report(&p, p.root_line, "no <Object> found, expected at least one inside <LWM2M>");
        goto out;
    }
    for (size_t i = 0; i < p.n_done; i++) {
        gw_objdef_t *o = p.done[i];
        p.done[i] = NULL;
        if (gw_registry_add_loaded(r, o) < 0) {
            /* Earlier objects of this file stay loaded: undoing them
             * would need memory we just failed to get. */
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = 0;
out:
    ddf_cleanup(&p);
    return rc;
}
