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

int gw_keyfile_check(const gw_config_t *cfg, bool to_stdout)
{
    struct stat st;
    if (!cfg->file || !holds_keys(cfg) || stat(cfg->file, &st) < 0 || !(st.st_mode & S_IROTH))
        return 0;
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
    return cfg->refuse_readable_keys ? -EACCES : 0;
}
