/*
 * adapters/lora/state.h - what a LoRaWAN device's session must keep across
 * restarts: frame counters (so a restart does not reopen the door to
 * replays), the DevNonces an OTAA device used (reuse is refused) and the
 * session of its last join. One text file per device in state_dir,
 * "<name>.lora", written atomically (temporary file mode 0600, fsync,
 * rename, fsync of the directory).
 */
#ifndef GW_ADAPTERS_LORA_STATE_H
#define GW_ADAPTERS_LORA_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mac.h"

typedef struct lora_state {
    uint64_t identity;  /* fingerprint of the device's keys the file belongs to */
    bool have_fcnt_up;
    uint32_t fcnt_up;   /* last accepted uplink counter */
    uint32_t fcnt_down; /* next downlink counter */
    bool joined;        /* OTAA: a session from a join */
    uint32_t devaddr;
    uint8_t nwk_skey[LORA_KEY_LEN], app_skey[LORA_KEY_LEN];
    uint16_t *nonces;   /* DevNonces seen, malloc'd */
    size_t n_nonces, cap_nonces;
} lora_state_t;

/* Load dir/<name>.lora into st (zeroed first). 0; -ENOENT when there is
 * none (st stays empty); -EBADMSG when a line is malformed (st empty,
 * the caller logs which file); -ENOMEM; another negative errno of open. */
int lora_state_load(const char *dir, const char *name, lora_state_t *st);
/* Write st atomically. 0 or a negative errno (the old file stays). */
int lora_state_save(const char *dir, const char *name, const lora_state_t *st);
/* Whether nonce was used; remember it (0 or -ENOMEM). */
bool lora_state_has_nonce(const lora_state_t *st, uint16_t nonce);
int lora_state_add_nonce(lora_state_t *st, uint16_t nonce);
void lora_state_free(lora_state_t *st);
/* Create dir (and parents) mode 0700 when missing. 0 or a negative errno. */
int lora_state_mkdir(const char *dir);
/* A file name for a device address: [A-Za-z0-9._-] kept, others '_'. */
void lora_state_name(const char *address, char *buf, size_t size);

#endif
