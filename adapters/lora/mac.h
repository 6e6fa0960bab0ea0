/*
 * adapters/lora/mac.h - LoRaWAN 1.0.x frames and their cryptography
 * (LoRaWAN 1.0.2..1.0.4 specification: 4 MAC message formats, 4.4 MIC,
 * 4.3.3 FRMPayload encryption, 6.2.5 Join-Accept, 6.2.5 session keys),
 * on AES-128 and AES-CMAC from mbedtls. Pure functions over byte arrays:
 * nothing here keeps state, logs or allocates.
 *
 * Keys are 16 bytes (LORA_KEY_LEN). A DevAddr is the host-order 32-bit
 * value (on air little-endian, so 40 F1 7D BE 49 ... is DevAddr 49BE7DF1).
 * Every parser of on-air bytes returns -EBADMSG for input it cannot take.
 */
#ifndef GW_ADAPTERS_LORA_MAC_H
#define GW_ADAPTERS_LORA_MAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LORA_KEY_LEN 16
#define LORA_MAX_PHY 256 /* PHYPayload bytes a frame can have at most */

/* MType (MHDR bits 7..5). */
enum {
    LORA_MT_JOIN_REQUEST = 0,
    LORA_MT_JOIN_ACCEPT = 1,
    LORA_MT_UNCONF_UP = 2,
    LORA_MT_UNCONF_DOWN = 3,
    LORA_MT_CONF_UP = 4,
    LORA_MT_CONF_DOWN = 5,
    LORA_MT_PROPRIETARY = 7,
};

/* A parsed data frame; pointers are into the buffer given to the parser. */
typedef struct lora_frame {
    uint8_t mhdr, mtype;
    uint32_t devaddr;
    uint8_t fctrl;          /* ADR 0x80, ADRACKReq 0x40, ACK 0x20, FPending/ClassB 0x10 */
    uint16_t fcnt16;        /* the counter's 16 bits on air */
    const uint8_t *fopts;   /* FCtrl & 0x0F bytes */
    size_t fopts_len;
    int fport;              /* -1: no FPort (and no FRMPayload) */
    const uint8_t *frm;     /* FRMPayload as on air (encrypted) */
    size_t frm_len;
    const uint8_t *mic;     /* 4 bytes */
    size_t msg_len;         /* MHDR..FRMPayload: what the MIC covers */
} lora_frame_t;

/* A Join-Request (MHDR 0x00 | AppEUI 8 | DevEUI 8 | DevNonce 2 | MIC 4).
 * EUIs are host-order 64-bit values (on air little-endian). */
typedef struct lora_join_req {
    uint64_t join_eui, dev_eui;
    uint16_t dev_nonce;
    const uint8_t *mic;
} lora_join_req_t;

/* Parse a data frame (MType 2..5) of n bytes: at least MHDR + FHDR (7) +
 * MIC (4), FOpts within the frame, major version 0 (LoRaWAN R1).
 * 0, -EBADMSG (too short, another MType, FOpts past the end, major != 0),
 * -EINVAL (NULL). */
int lora_frame_parse(const uint8_t *p, size_t n, lora_frame_t *out);

/* Parse a Join-Request (exactly 23 bytes, MType 0). 0, -EBADMSG, -EINVAL. */
int lora_join_req_parse(const uint8_t *p, size_t n, lora_join_req_t *out);

/* MIC of a data frame (4.4): the first 4 bytes of AES-CMAC(key, B0 | msg)
 * with B0 = 49 00000000 dir DevAddr(LE) FCnt(LE 32) 00 len(msg). dir 0 up,
 * 1 down. out gets 4 bytes. 0 or -EINVAL (msg_len > 255, NULL) / -EIO. */
int lora_data_mic(const uint8_t key[LORA_KEY_LEN], int dir, uint32_t devaddr, uint32_t fcnt,
                  const uint8_t *msg, size_t msg_len, uint8_t out[4]);

/* FRMPayload encryption and decryption (4.3.3, the same operation): XOR
 * with AES(key, Ai), Ai = 01 00000000 dir DevAddr FCnt 00 i, i from 1.
 * in and out may be the same buffer. 0, -EINVAL (len > 255) or -EIO. */
int lora_payload_crypt(const uint8_t key[LORA_KEY_LEN], int dir, uint32_t devaddr, uint32_t fcnt,
                       const uint8_t *in, size_t len, uint8_t *out);

/* MIC of a Join-Request or of a Join-Accept's clear text (6.2.4, 6.2.5):
 * first 4 bytes of AES-CMAC(AppKey, msg). 0, -EINVAL or -EIO. */
int lora_join_mic(const uint8_t key[LORA_KEY_LEN], const uint8_t *msg, size_t msg_len,
                  uint8_t out[4]);

/* What a Join-Accept carries (6.2.5). */
typedef struct lora_join_accept {
    uint32_t app_nonce; /* 24 bits */
    uint32_t net_id;    /* 24 bits */
    uint32_t devaddr;
    uint8_t dl_settings; /* RX1DRoffset << 4 | RX2 DataRate */
    uint8_t rx_delay;    /* seconds of RX1 delay, 0 counts as 1 */
    const uint8_t *cflist; /* 16 bytes or NULL */
} lora_join_accept_t;

/* Build a Join-Accept as sent: MHDR 0x20 then AES-128 *decrypt* (the device
 * encrypts to read it, 6.2.5) with AppKey of the fields and MIC. out must
 * hold 33 bytes; *out_len gets 17 or 33. 0, -EINVAL or -EIO. */
int lora_join_accept_build(const uint8_t app_key[LORA_KEY_LEN], const lora_join_accept_t *ja,
                           uint8_t *out, size_t *out_len);

/* Session keys of an OTAA join (6.2.5): NwkSKey = AES(AppKey, 01 |
 * AppNonce | NetID | DevNonce | pad), AppSKey the same with 02. 0 or -EIO. */
int lora_derive_keys(const uint8_t app_key[LORA_KEY_LEN], uint32_t app_nonce, uint32_t net_id,
                     uint16_t dev_nonce, uint8_t nwk_skey[LORA_KEY_LEN],
                     uint8_t app_skey[LORA_KEY_LEN]);

/* The 32-bit frame counter a 16-bit one on air stands for, given the last
 * accepted one (have_last false: none yet): the smallest value above last
 * with those low bits (a value at or below last is a replay the caller
 * checks for separately with lora_fcnt_same_epoch). */
uint32_t lora_fcnt_next(bool have_last, uint32_t last, uint16_t fcnt16);
/* The counter with those low bits in last's epoch (at or below last when
 * fcnt16 <= last's low bits): what a replayed frame's MIC verifies with. */
uint32_t lora_fcnt_same_epoch(uint32_t last, uint16_t fcnt16);

/* Build a downlink data frame (MType 3 or 5 when confirmed) into out (at
 * least 12 + fopts_len + 1 + len + 4 bytes, LORA_MAX_PHY is enough):
 * FOpts in the clear (fopts_len <= 15), FPort and FRMPayload encrypted with
 * app_skey (nwk_skey on port 0), MIC with nwk_skey. fport < 0: no FPort
 * (len must be 0). *out_len gets the size. 0, -EINVAL or -EIO. */
int lora_frame_build_down(const uint8_t nwk_skey[LORA_KEY_LEN], const uint8_t app_skey[LORA_KEY_LEN],
                          bool confirmed, uint32_t devaddr, uint8_t fctrl_flags, uint32_t fcnt,
                          const uint8_t *fopts, size_t fopts_len, int fport, const uint8_t *payload,
                          size_t len, uint8_t *out, size_t *out_len);

/* Hex of a key or EUI text ("0011..", 2*n digits, either case) into out.
 * 0 or -EINVAL. */
int lora_hex_parse(const char *hex, uint8_t *out, size_t n);

#endif
