/* tests/unit/mapping/config_fixture.h - loading configuration text in unit tests and
 * checking the diagnostics it produces (shared by the config test programs). */
#ifndef GW_TESTS_CONFIG_FIXTURE_H
#define GW_TESTS_CONFIG_FIXTURE_H

#define MAX_DIAGS 64

typedef struct diags {
    int n;
    int line[MAX_DIAGS];
    char file[MAX_DIAGS][256];
    char msg[MAX_DIAGS][512];
} diags_t;

static void collect(void *ctx, const char *file, int line, const char *msg)
{
    diags_t *d = ctx;
    if (d->n >= MAX_DIAGS)
        return;
    d->line[d->n] = line;
    snprintf(d->file[d->n], sizeof d->file[0], "%s", file ? file : "");
    snprintf(d->msg[d->n], sizeof d->msg[0], "%s", msg);
    d->n++;
}

static char tmp_path[64];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

/* Load text as a configuration file; diagnostics into d. */
static int load_text(const char *text, diags_t *d, gw_config_t **out)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/gwcfgXXXXXX");
    int fd = mkstemp(tmp_path);
    CHECK(fd >= 0);
    if (fd < 0)
        return -EIO;
    close(fd);
    write_text(tmp_path, text);
    gw_registry_t *reg = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    memset(d, 0, sizeof *d);
    int rc = gw_config_load(tmp_path, reg, collect, d, out);
    gw_registry_free(&reg);
    unlink(tmp_path);
    return rc;
}

static void dump(const diags_t *d)
{
    for (int i = 0; i < d->n; i++)
        fprintf(stderr, "    diag %s:%d: %s\n", d->file[i], d->line[i], d->msg[i]);
}

/* The file must fail with exactly one message, msg at line. */
static void expect_error(const char *text, int line, const char *msg)
{
    diags_t d;
    gw_config_t *c = (gw_config_t *)1;
    CHECK_EQ_INT(load_text(text, &d, &c), -EINVAL);
    CHECK(c == NULL);
    CHECK_EQ_INT(d.n, 1);
    if (d.n >= 1) {
        CHECK_EQ_INT(d.line[0], line);
        CHECK_EQ_STR(d.msg[0], msg);
        CHECK_EQ_STR(d.file[0], tmp_path);
    }
    if (d.n != 1 || (d.n && (d.line[0] != line || strcmp(d.msg[0], msg))))
        dump(&d);
}

#endif
