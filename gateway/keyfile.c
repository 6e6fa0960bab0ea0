/*
 * gateway/keyfile.c - a PSK is a secret: a configuration that holds one and
 * that any local user can read gives every local user the gateway's
 * identity towards its servers. `make install` installs it 0640 (group
 * lwm2m-gateway, see systemd/lwm2m-gateway.service); this catches a copy
 * made readable later. Group-readable is left alone: that is how the
 * service's user reads it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "keyfile.h"
#include "log.h"

static bool holds_keys(const gw_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_servers; i++)
        if (cfg->servers[i].psk_key_len)
            return true;
    if (cfg->bootstrap_server && cfg->bootstrap_server->psk_key_len)
        return true;
    for (size_t i = 0; i < cfg->n_devices; i++)
        if (cfg->devices[i].psk_key_len)
            return true;
    return false;
}

/* A private key file (key_file of security "rpk"/"x509") others can read:
 * the same judgement as for the configuration holding a psk_key. Reported
 * once per file (a template's key serves many devices). */
static int check_key_file(const gw_config_t *cfg, const char *path, const char **seen, size_t *n_seen,
                          bool to_stdout)
{
    struct stat st;
    if (!path || stat(path, &st) < 0 || !(st.st_mode & S_IROTH))
        return 0;
    for (size_t i = 0; i < *n_seen; i++)
        if (strcmp(seen[i], path) == 0)
            return cfg->refuse_readable_keys ? -EACCES : 0;
    if (*n_seen < 16)
        seen[(*n_seen)++] = path;
    if (to_stdout)
        printf("%s: %s: key_file %s holds a private key but every user can read it (mode %04o); chmod o-r %s%s\n",
               cfg->file, cfg->refuse_readable_keys ? "error" : "warning", path, (unsigned)(st.st_mode & 07777),
               path, cfg->refuse_readable_keys ? "; refused (refuse_readable_keys)" : "");
    else
        gw_log(cfg->refuse_readable_keys ? LOG_ERR : LOG_WARNING,
               "key_file %s holds a private key but every user can read it (mode %04o); chmod o-r %s%s", path,
               (unsigned)(st.st_mode & 07777), path,
               cfg->refuse_readable_keys ? "; not starting (refuse_readable_keys)" : "");
    return cfg->refuse_readable_keys ? -EACCES : 0;
}

static int check_key_files(const gw_config_t *cfg, bool to_stdout)
{
    const char *seen[16];
    size_t n_seen = 0;
    int rc = 0;
    for (size_t i = 0; i < cfg->n_servers; i++)
        if (check_key_file(cfg, cfg->servers[i].dtls.key_file, seen, &n_seen, to_stdout) < 0)
            rc = -EACCES;
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const gw_config_dtls_t *d = cfg->devices[i].dtls;
        if (d && check_key_file(cfg, d->key_file, seen, &n_seen, to_stdout) < 0)
            rc = -EACCES;
    }
    return rc;
}

int gw_keyfile_check(const gw_config_t *cfg, bool to_stdout)
{
    struct stat st;
    int files = check_key_files(cfg, to_stdout);
    if (!cfg->file || !holds_keys(cfg) || stat(cfg->file, &st) < 0 || !(st.st_mode & S_IROTH))
        return files;
    const char *what = cfg->refuse_readable_keys ? "error" : "warning";
    if (to_stdout)
        printf("%s: %s: holds psk_key but every user can read it (mode %04o); "
               "chmod o-r %s (0640, group lwm2m-gateway)%s\n",
               cfg->file, what, (unsigned)(st.st_mode & 07777), cfg->file,
               cfg->refuse_readable_keys ? "; refused (refuse_readable_keys)" : "");
    else
        gw_log(cfg->refuse_readable_keys ? LOG_ERR : LOG_WARNING,
               "%s: holds psk_key but every user can read it (mode %04o); chmod o-r %s (0640, group "
               "lwm2m-gateway)%s",
               cfg->file, (unsigned)(st.st_mode & 07777), cfg->file,
               cfg->refuse_readable_keys ? "; not starting (refuse_readable_keys)" : "");
    return cfg->refuse_readable_keys ? -EACCES : files;
}
