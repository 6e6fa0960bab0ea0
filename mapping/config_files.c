/*
 * mapping/config_files.c - the files a configuration names: opening the file
 * and its @include files without ever blocking, checking the include chain
 * before libconfig follows it, and state_dir.
 *
 * libconfig opens @include files itself with fopen(), which blocks forever
 * on a FIFO (and libconfig 1.5, Debian 12's, has no hook to open them
 * ourselves). So every @include is resolved the way libconfig resolves it
 * and checked here first: it must be a regular file, it must not include
 * itself again along the chain, and a missing one is reported at the line
 * of its @include. Only then does libconfig read the text. A file replaced
 * between the two is the remaining window; a configuration is not a file
 * that changes under the daemon by design.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"

/* libconfig's own limit (MAX_INCLUDE_DEPTH in its scanner context). */
#define GW_CFG_MAX_INCLUDE_DEPTH 10

const char *gw_config_file_type(unsigned mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "not a regular file";
}

int gw_config_open_regular(const char *path, int *out_fd, struct stat *out_st)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer; it does not change how a regular file is read. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, out_st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(out_st->st_mode)) {
        close(fd);
        return 1;
    }
    *out_fd = fd;
    return 0;
}

/* ---- @include ---------------------------------------------------------- */

typedef struct inc_chain {
    dev_t dev;
    ino_t ino;
    const char *name; /* as shown in messages */
    const struct inc_chain *up;
} inc_chain_t;

/* "a.conf -> b.conf -> a.conf" into buf. */
static void chain_text(const inc_chain_t *c, const char *last, char *buf, size_t size)
{
    const char *names[GW_CFG_MAX_INCLUDE_DEPTH + 2];
    size_t n = 0;
    for (; c && n < GW_CFG_MAX_INCLUDE_DEPTH + 1; c = c->up)
        names[n++] = c->name;
    size_t len = 0;
    buf[0] = '\0';
    while (n-- > 0 && len < size) {
        int w = snprintf(buf + len, size - len, "%s -> ", names[n]);
        len += w > 0 ? (size_t)w : 0;
    }
    if (len < size)
        snprintf(buf + len, size - len, "%s", last);
}

/* The quoted path of an "@include" directive starting at p (libconfig's
 * scanner takes one only at the start of a line, after blanks), unescaped
 * into buf; NULL when the line is not one. */
static const char *include_path(const char *p, char *buf, size_t size)
{
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "@include", 8) != 0)
        return NULL;
    p += 8;
    if (*p != ' ' && *p != '\t')
        return NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '"')
        return NULL;
    size_t n = 0;
    for (; *p && *p != '"' && *p != '\n'; p++) {
        if (*p == '\\' && p[1] && p[1] != '\n')
            p++;
        if (n + 1 < size)
            buf[n++] = *p;
    }
    buf[n] = '\0';
    return *p == '"' ? buf : NULL;
}

static int check_text(gw_cfg_ctx_t *ctx, const char *name, const char *text,
                      const inc_chain_t *chain, int depth);

/* One @include at name:line: resolve, open, recurse. */
static int check_one(gw_cfg_ctx_t *ctx, const char *name, int line, const char *path,
                     const inc_chain_t *chain, int depth)
{
    char q[GW_CFG_QUOTE_SIZE], q2[GW_CFG_QUOTE_SIZE];
    char *full = NULL;
    char *text = NULL;
    int rc = 0;
    if (ctx->include_dir && path[0] != '/') {
        if (asprintf(&full, "%s/%s", ctx->include_dir, path) < 0)
            return -ENOMEM;
    } else if (!(full = strdup(path))) {
        return -ENOMEM;
    }
    gw_config_quote(path, q, sizeof q);
    if (depth >= GW_CFG_MAX_INCLUDE_DEPTH) {
        gw_config_error_file(ctx, name, line, "@include %s is nested more than %d files deep, "
                                              "expected at most %d", q,
                             GW_CFG_MAX_INCLUDE_DEPTH, GW_CFG_MAX_INCLUDE_DEPTH);
        goto out;
    }
    int fd;
    struct stat st;
    int e = gw_config_open_regular(full, &fd, &st);
    if (e == 1) {
        gw_config_error_file(ctx, name, line, "@include %s: %s is %s, expected a regular file",
                             q, gw_config_quote(full, q2, sizeof q2),
                             gw_config_file_type(st.st_mode));
        goto out;
    }
    if (e < 0) {
        gw_config_error_file(ctx, name, line, "@include %s: cannot open %s: %s, expected a "
                                              "readable file (a relative path is taken from "
                                              "the directory of the main configuration file)",
                             q, gw_config_quote(full, q2, sizeof q2), strerror(-e));
        goto out;
    }
    for (const inc_chain_t *c = chain; c; c = c->up)
        if (c->dev == st.st_dev && c->ino == st.st_ino) {
            char loop[512];
            chain_text(chain, full, loop, sizeof loop);
            gw_config_error_file(ctx, name, line, "@include %s is an include loop (%s), "
                                                  "expected each file once along a chain of "
                                                  "includes", q, loop);
            close(fd);
            goto out;
        }
    rc = gw_config_read_fd(ctx, full, fd, &st, &text);
    if (rc < 0) {
        rc = rc == -ENOMEM ? rc : 0;
        goto out;
    }
    inc_chain_t link = {st.st_dev, st.st_ino, full, chain};
    rc = check_text(ctx, full, text, &link, depth + 1);
out:
    free(text);
    free(full);
    return rc;
}

/* Every @include line of text, outside comments. */
static int check_text(gw_cfg_ctx_t *ctx, const char *name, const char *text,
                      const inc_chain_t *chain, int depth)
{
    bool in_comment = false;
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *eol = strchr(p, '\n');
        char path[1024];
        if (!in_comment && include_path(p, path, sizeof path)) {
            int rc = check_one(ctx, name, line, path, chain, depth);
            if (rc < 0)
                return rc;
        }
        /* Only block comments can hide a line from the scanner; a '#' or
         * '//' comment ends with its line, and strings do not span lines. */
        for (const char *c = p; c < (eol ? eol : p + strlen(p)); c++) {
            if (!in_comment && c[0] == '"') {
                for (c++; *c && *c != '"' && *c != '\n'; c++)
                    if (*c == '\\' && c[1] && c[1] != '\n')
                        c++;
                if (*c != '"')
                    break;
            } else if (!in_comment && (c[0] == '#' || (c[0] == '/' && c[1] == '/'))) {
                break;
            } else if (!in_comment && c[0] == '/' && c[1] == '*') {
                in_comment = true;
                c++;
            } else if (in_comment && c[0] == '*' && c[1] == '/') {
                in_comment = false;
                c++;
            }
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    return 0;
}

int gw_config_check_includes(gw_cfg_ctx_t *ctx, const char *text, const struct stat *main_st)
{
    inc_chain_t top = {main_st->st_dev, main_st->st_ino, ctx->file, NULL};
    return check_text(ctx, ctx->file, text, &top, 0);
}

/* ---- state_dir ----------------------------------------------------------- */

static void state_dir_error(const gw_config_t *c, gw_diag_fn diag, void *diag_ctx,
                            const char *fmt, const char *a, const char *b)
{
    char msg[1024];
    char name[GW_CFG_QUOTE_SIZE + 16];
    /* Not set: the message is about the default, which has no line. */
    snprintf(name, sizeof name, "%s%s", a, c->state_dir_line ? "" : " (the default)");
    snprintf(msg, sizeof msg, fmt, name, b);
    if (diag)
        diag(diag_ctx, c->state_dir_file ? c->state_dir_file : c->file, c->state_dir_line, msg);
}

/* mkdir -p with mode 0700 for each directory it creates. */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

int gw_config_state_dir(const gw_config_t *c, bool create, gw_diag_fn diag, void *diag_ctx,
                        bool *out_missing)
{
    char q[GW_CFG_QUOTE_SIZE];
    const char *dir = c->state_dir;
    struct stat st;
    gw_config_quote(dir, q, sizeof q);
    if (out_missing)
        *out_missing = false;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            state_dir_error(c, diag, diag_ctx, "state_dir %s is %s, expected a directory",
                            q, gw_config_file_type(st.st_mode));
            return -ENOTDIR;
        }
    } else if (errno != ENOENT && errno != ENOTDIR) {
        state_dir_error(c, diag, diag_ctx, "state_dir %s cannot be looked at: %s, expected a "
                                           "directory the gateway can write", q, strerror(errno));
        return -EACCES;
    } else if (create) {
        int rc = make_dirs(dir);
        if (rc < 0) {
            state_dir_error(c, diag, diag_ctx, "state_dir %s does not exist and cannot be "
                                               "created: %s, expected a directory the gateway "
                                               "can write", q, strerror(-rc));
            return rc;
        }
    } else {
        /* --check: the start would create it; say whether it could. */
        char *parent = strdup(dir);
        if (!parent)
            return -ENOMEM;
        int rc = 0;
        for (;;) {
            char *slash = strrchr(parent, '/');
            if (!slash) {
                strcpy(parent, ".");
            } else if (slash == parent) {
                parent[1] = '\0';
            } else {
                *slash = '\0';
            }
            if (stat(parent, &st) == 0)
                break;
            if (errno != ENOENT || strcmp(parent, ".") == 0 || strcmp(parent, "/") == 0) {
                st.st_mode = 0;
                break;
            }
        }
        char q2[GW_CFG_QUOTE_SIZE];
        gw_config_quote(parent, q2, sizeof q2);
        if (!S_ISDIR(st.st_mode)) {
            state_dir_error(c, diag, diag_ctx, "state_dir %s cannot be created: %s is not a "
                                               "directory, expected a directory the gateway "
                                               "can write", q, q2);
            rc = -ENOTDIR;
        } else if (access(parent, W_OK | X_OK) < 0) {
            state_dir_error(c, diag, diag_ctx, "state_dir %s does not exist and cannot be "
                                               "created by this user (%s is not writable), "
                                               "expected a directory the gateway can write",
                            q, q2);
            rc = -EACCES;
        } else if (out_missing) {
            *out_missing = true;
        }
        free(parent);
        return rc;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        state_dir_error(c, diag, diag_ctx, "state_dir %s is not writable by this user: %s, "
                                           "expected a directory the gateway can write",
                        q, strerror(errno));
        return -EACCES;
    }
    return 0;
}
