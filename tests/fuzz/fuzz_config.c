/*
 * libFuzzer target for the configuration loader (mapping/config*.c). The
 * input is written to a memfd and loaded through its /proc/self/fd path, so
 * the whole path of gw_config_load runs: reading, the integer pre-check,
 * libconfig, key tables, registry lookups, value conversion, templates,
 * field mappings, simulate entries and endpoint patterns.
 */
#include "adapters/adapter.h"
#include "mapping/config.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5's parser leaks the text of a string token that is followed
 * by a syntax error (the input `""` alone shows it); that is the library's,
 * once per failed load, and not ours to free. */
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static void discard(void *ctx, const char *file, int line, const char *msg)
{
    (void)ctx;
    (void)file;
    if (line < 0 || !msg || !*msg)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* @include reads other files of this machine (the loader refuses FIFOs
     * and devices, tests/unit/mapping/test_config_files.c): the fuzzer is
     * after the parsers, not the file system. */
    if (memmem(data, size, "@include", 8))
        return 0;
    gw_registry_t *reg = NULL;
    if (gw_registry_new(&reg) < 0)
        return 0;
    int fd = memfd_create("fuzz.conf", 0);
    if (fd < 0)
        goto out;
    if (size && write(fd, data, size) != (ssize_t)size)
        goto out;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    gw_config_t *c = NULL;
    if (gw_config_load(path, reg, discard, NULL, &c) == 0) {
        /* What is accepted holds together. */
        if (!c || !c->name || !c->n_servers)
            __builtin_trap();
        for (size_t i = 0; i < c->n_servers; i++)
            if (!c->servers[i].uri || c->servers[i].psk_key_len > 64)
                __builtin_trap();
        for (size_t i = 0; i < c->n_devices; i++) {
            const gw_config_device_t *d = &c->devices[i];
            if (!d->endpoint || !d->adapter || !d->address || strlen(d->endpoint) > 64)
                __builtin_trap();
            for (size_t j = 0; j < d->n_resources; j++)
                if (d->resources[j].path.len < 3 || d->resources[j].path.len > 4)
                    __builtin_trap();
            for (size_t j = 0; j < d->n_fields; j++) {
                const gw_config_field_t *f = &d->fields[j];
                if (!f->field || (f->path.len != 0 && f->path.len != 3) || f->scale == 0 ||
                    (f->has_min && f->has_max && f->max < f->min))
                    __builtin_trap();
            }
            for (size_t j = 0; j < d->n_decls; j++) {
                const gw_field_decl_t *s = &d->decls[j];
                if (!s->field || (s->path.len != 0 && s->path.len != 3) || !d->ops ||
                    !d->ops->conf || strcmp(d->adapter, d->ops->name) != 0)
                    __builtin_trap();
            }
        }
    } else if (c) {
        __builtin_trap();
    }
    gw_config_free(&c);
out:
    if (fd >= 0)
        close(fd);
    gw_registry_free(&reg);
    return 0;
}
