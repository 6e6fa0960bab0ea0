/*
 * adapters/lora/semtech.h - Semtech's packet forwarder UDP protocol,
 * version 2 (packet_forwarder PROTOCOL.TXT, sections 3 to 6): the 4- or
 * 12-byte header, the rxpk and stat objects of PUSH_DATA, the txpk of
 * PULL_RESP and the TX_ACK's error. Pure functions: nothing here touches a
 * socket, keeps state or allocates beyond cJSON's parse tree.
 *
 * Every field of the JSON is checked: a missing or wrong-typed field drops
 * that rxpk alone (the caller is told why, to log it), never the datagram.
 */
#ifndef GW_ADAPTERS_LORA_SEMTECH_H
#define GW_ADAPTERS_LORA_SEMTECH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mac.h"

#define SEM_VERSION 2

enum {
    SEM_PUSH_DATA = 0x00,
    SEM_PUSH_ACK = 0x01,
    SEM_PULL_DATA = 0x02,
    SEM_PULL_RESP = 0x03,
    SEM_PULL_ACK = 0x04,
    SEM_TX_ACK = 0x05,
};

/* A datagram's header. json points into the datagram (not NUL-terminated),
 * json_len 0 when there is none. */
typedef struct sem_hdr {
    uint8_t token[2]; /* opaque: echoed as received */
    uint8_t id;
    uint64_t eui;     /* gateway EUI (PUSH_DATA, PULL_DATA, TX_ACK), big-endian on the wire */
    const char *json;
    size_t json_len;
} sem_hdr_t;

/* Parse the header of a datagram from a forwarder (PUSH_DATA, PULL_DATA,
 * TX_ACK). 0; -EBADMSG with *why set ("shorter than its header", "protocol
 * version 1, expected 2", "identifier 0x07 unknown" ...) for a datagram to
 * drop; -EINVAL (NULL). */
int sem_parse_header(const uint8_t *p, size_t n, sem_hdr_t *out, const char **why);

/* One received packet (rxpk). data holds the PHYPayload. */
typedef struct sem_rxpk {
    uint32_t tmst;       /* concentrator's internal µs counter at reception */
    double freq;         /* MHz */
    int chan, rfch;
    int stat;            /* 1 CRC ok, -1 CRC bad, 0 no CRC */
    bool lora;           /* modu "LORA" (false: "FSK") */
    char datr[16];       /* "SF7BW125" */
    char codr[8];        /* "4/5" */
    double rssi;         /* dBm */
    double lsnr;         /* dB (LoRa only) */
    uint8_t data[LORA_MAX_PHY];
    size_t size;
} sem_rxpk_t;

/* A forwarder's status report (stat); absent numbers stay -1. */
typedef struct sem_stat {
    char time[40];
    double lati, longi, alti;
    bool has_pos;
    long rxnb, rxok, rxfw, dwnb, txnb;
    double ackr;
} sem_stat_t;

typedef struct sem_push_cb {
    void (*rxpk)(void *ctx, const sem_rxpk_t *pk);
    void (*stat)(void *ctx, const sem_stat_t *st);
    /* An rxpk dropped: index in the array, why (a static string naming
     * the field and what was expected). */
    void (*bad_rxpk)(void *ctx, int index, const char *why);
    void *ctx;
} sem_push_cb_t;

/* Parse a PUSH_DATA's JSON: every valid rxpk and the stat object to the
 * callbacks, in order. 0 (even when some rxpk were dropped); -EBADMSG with
 * *why when the JSON as a whole is unusable (not JSON, not an object, rxpk
 * not an array); -ENOMEM. */
int sem_parse_push(const char *json, size_t len, const sem_push_cb_t *cb, const char **why);

/* A packet to send (txpk). */
typedef struct sem_txpk {
    bool imme;       /* send at once (class C), else at tmst */
    uint32_t tmst;
    double freq;     /* MHz */
    int rfch, powe;  /* RF chain, dBm */
    const char *datr, *codr;
    bool ipol;       /* inverted polarity: true for downlinks to devices */
    const uint8_t *data;
    size_t size;
} sem_txpk_t;

/* A whole PULL_RESP datagram (02 token 03 {"txpk":{...}}) into buf. Returns
 * its length, or -ENOSPC / -EINVAL. */
int sem_build_pull_resp(uint8_t *buf, size_t size, const uint8_t token[2], const sem_txpk_t *tx);

/* The error of a TX_ACK's JSON ({"txpk_ack":{"error":"..."}}): "NONE" or an
 * empty/absent JSON mean accepted. Copies the error into err. 0 accepted,
 * 1 refused (err says why), -EBADMSG unreadable JSON. */
int sem_parse_tx_ack(const char *json, size_t len, char *err, size_t err_size);

/* Standard base64 (RFC 4648, padding required). Decode returns the length,
 * -EBADMSG for characters or padding out of place, -ENOSPC. Encode returns
 * the length written (NUL-terminated) or -ENOSPC. */
int sem_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_size);
int sem_b64_encode(const uint8_t *in, size_t len, char *out, size_t out_size);

#endif
