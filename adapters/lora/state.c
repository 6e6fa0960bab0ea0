/*
 * adapters/lora/state.c - per-device session files (state.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

void lora_state_free(lora_state_t *st)
{
    free(st->nonces);
    memset(st, 0, sizeof *st);
}

bool lora_state_has_nonce(const lora_state_t *st, uint16_t nonce)
{
    for (size_t i = 0; i < st->n_nonces; i++)
        if (st->nonces[i] == nonce)
            return true;
    return false;
}

int lora_state_add_nonce(lora_state_t *st, uint16_t nonce)
{
    if (st->n_nonces == st->cap_nonces) {
        size_t cap = st->cap_nonces ? st->cap_nonces * 2 : 16;
        uint16_t *n = realloc(st->nonces, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        st->nonces = n;
        st->cap_nonces = cap;
    }
    st->nonces[st->n_nonces++] = nonce;
    return 0;
}

void lora_state_name(const char *address, char *buf, size_t size)
{
    size_t i = 0;
    for (; address && address[i] && i + 1 < size; i++) {
        char c = address[i];
        buf[i] = isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' ? c : '_';
    }
    if (i && buf[0] == '.')
        buf[0] = '_';
    buf[i] = '\0';
}

int lora_state_mkdir(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void hex16(const uint8_t *k, char *out)
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", k[i]);
}

int lora_state_save(const char *dir, const char *name, const lora_state_t *st)
{
    char path[4096], tmp[4200];
    if (snprintf(path, sizeof path, "%s/%s.lora", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return -e;
    }
    fprintf(f, "# lwm2m-gateway LoRaWAN session, written by the gateway\n");
    fprintf(f, "identity %016" PRIx64 "\n", st->identity);
    if (st->have_fcnt_up)
        fprintf(f, "fcnt_up %" PRIu32 "\n", st->fcnt_up);
    fprintf(f, "fcnt_down %" PRIu32 "\n", st->fcnt_down);
    if (st->joined) {
        char n[33], a[33];
        hex16(st->nwk_skey, n);
        hex16(st->app_skey, a);
        fprintf(f, "devaddr %08" PRIx32 "\nnwk_skey %s\napp_skey %s\n", st->devaddr, n, a);
    }
    for (size_t i = 0; i < st->n_nonces; i++)
        fprintf(f, "dev_nonce %04x\n", st->nonces[i]);
    int rc = 0;
    if (fflush(f) != 0 || fsync(fd) != 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    /* The rename is durable only once the directory is. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0)
            rc = -errno;
        close(dfd);
    }
    return rc;
}

int lora_state_load(const char *dir, const char *name, lora_state_t *st)
{
    memset(st, 0, sizeof *st);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s.lora", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[256];
    int rc = 0;
    bool has_addr = false, has_n = false, has_a = false;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char key[32], val[80];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%31s %79s", key, val) != 2) {
            rc = -EBADMSG;
            break;
        }
        char *end;
        unsigned long long v = strtoull(val, &end, strcmp(key, "fcnt_up") == 0 ||
                                                        strcmp(key, "fcnt_down") == 0 ? 10 : 16);
        bool num_ok = *end == '\0' && val[0] != '-';
        if (strcmp(key, "fcnt_up") == 0 && num_ok && v <= UINT32_MAX) {
            st->have_fcnt_up = true;
            st->fcnt_up = (uint32_t)v;
        } else if (strcmp(key, "fcnt_down") == 0 && num_ok && v <= UINT32_MAX) {
            st->fcnt_down = (uint32_t)v;
        } else if (strcmp(key, "devaddr") == 0 && num_ok && strlen(val) == 8) {
            st->devaddr = (uint32_t)v;
            has_addr = true;
        } else if (strcmp(key, "nwk_skey") == 0 && lora_hex_parse(val, st->nwk_skey, 16) == 0) {
            has_n = true;
        } else if (strcmp(key, "app_skey") == 0 && lora_hex_parse(val, st->app_skey, 16) == 0) {
            has_a = true;
        } else if (strcmp(key, "identity") == 0 && num_ok && strlen(val) == 16) {
            st->identity = v;
        } else if (strcmp(key, "dev_nonce") == 0 && num_ok && v <= 0xFFFF) {
            rc = lora_state_add_nonce(st, (uint16_t)v);
        } else {
            rc = -EBADMSG;
        }
    }
    fclose(f);
    if (rc == 0 && (has_addr || has_n || has_a)) {
        if (has_addr && has_n && has_a)
            st->joined = true;
        else
            rc = -EBADMSG;
    }
    if (rc < 0)
        lora_state_free(st);
    return rc;
}
