/*
 * lwm2m/dtls.h - DTLS credentials of one LwM2M server account, in the
 * terms of the Security object (LwM2M 1.1.1 Core E.1, /0/x), so that the
 * configuration file and a bootstrap server's writes to /0 fill the same
 * thing and the session setup (lwm2m/dtls.c) reads one shape:
 *
 *   field        /0 resource                  PSK          RPK                   X.509
 *   mode         2  Security Mode             0            1                     2
 *   own          3  Public Key or Identity    identity     own public key (SPKI) own certificate
 *   server_key   4  Server Public Key         -            server's public key   server certificate
 *                                                          (SPKI, pinned)        (cert_usage 3) or CA
 *                                                                                certificates (usage 2)
 *   secret       5  Secret Key                key          private key           private key
 *   server_name  14 SNI                       SNI          SNI                   SNI and name checked
 *   cert_usage   15 Certificate Usage         -            -                     2 or 3
 *
 * Keys, public keys and certificates are DER: a public key is a
 * SubjectPublicKeyInfo (RFC 5280 4.1.2.7), a private key PKCS#8 (RFC 5208)
 * or the algorithm's own form (PKCS#1, SEC1), certificates X.509 DER; CA
 * certificates are several DER certificates one after the other. verify is
 * the gateway's own setting (no /0 resource): false accepts any server
 * (logged once per session as a warning).
 *
 * This header needs no libcoap: the configuration loader uses it.
 */
#ifndef GW_LWM2M_DTLS_H
#define GW_LWM2M_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Security modes, numbered as /0/x/2 numbers them. */
enum { GW_DTLS_MODE_PSK = 0, GW_DTLS_MODE_RPK = 1, GW_DTLS_MODE_CERT = 2, GW_DTLS_MODE_NOSEC = 3 };
/* /0/x/15 values the gateway acts on (RFC 6698 2.1.1 usages): 2 trust
 * anchor assertion (server_key holds CA certificates: the server's chain
 * must end at one of them and its name must match), 3 domain-issued
 * certificate (server_key is the server's own certificate, compared byte
 * for byte). 0 and 1 are treated as 2 (the CA given is the only anchor). */
enum { GW_DTLS_USAGE_CA = 2, GW_DTLS_USAGE_PINNED = 3 };

typedef struct gw_dtls_creds {
    int mode;                 /* GW_DTLS_MODE_* */
    uint8_t *own;             /* /0/x/3 */
    size_t own_len;
    uint8_t *server_key;      /* /0/x/4, NULL when none */
    size_t server_key_len;
    uint8_t *secret;          /* /0/x/5 */
    size_t secret_len;
    char *server_name;        /* /0/x/14; NULL: the host of the server's URI */
    int cert_usage;           /* /0/x/15, GW_DTLS_USAGE_* (0 when server_key is NULL) */
    bool verify;              /* authenticate the server (default true) */
} gw_dtls_creds_t;

/* What a credential file is expected to hold. */
typedef enum {
    GW_DTLS_FILE_CERT,   /* one X.509 certificate (the first of a PEM file) */
    GW_DTLS_FILE_KEY,    /* one private key, not encrypted */
    GW_DTLS_FILE_PUBKEY, /* one public key (PEM "PUBLIC KEY", DER SPKI) or a certificate's */
    GW_DTLS_FILE_CAS,    /* one or more X.509 certificates */
} gw_dtls_file_t;

/* Read path (PEM or DER, told apart by a "-----BEGIN" line) and check it
 * holds what kind says. *out (malloc'd, the caller frees it, wiped with
 * gw_dtls_wipe for keys) receives DER as described above. Returns 0;
 * -ENOENT, -EACCES, -EISDIR (not a regular file), -EFBIG (over 256 KiB)
 * or -EINVAL (not PEM/DER of that kind), each with a one-line reason in
 * why (size bytes, NUL-terminated) fit to follow "file:line: cert_file
 * \"x\": "; -ENOMEM. Never logs: a key's bytes never leave this function
 * except through *out. */
int gw_dtls_load_file(const char *path, gw_dtls_file_t kind, uint8_t **out, size_t *out_len, char *why,
                      size_t size);

/* The public key (DER SubjectPublicKeyInfo) of a private key (DER): what
 * RPK sends when no public key file is given. 0, -EINVAL, -ENOMEM. */
int gw_dtls_public_of_key(const uint8_t *key, size_t key_len, uint8_t **out, size_t *out_len);

/* Does the private key belong to own (a DER certificate when mode is
 * GW_DTLS_MODE_CERT, a DER public key for GW_DTLS_MODE_RPK)? 0, or
 * -EKEYREJECTED when it does not, -EINVAL when either cannot be read. */
int gw_dtls_key_matches(int mode, const uint8_t *key, size_t key_len, const uint8_t *own, size_t own_len);

/* Are c's credentials usable for a handshake in c->mode? The one check of
 * the configuration (after its files are read) and of a bootstrap
 * server's /0 instance at Bootstrap-Finish (and of a persisted one):
 * PSK needs an identity and a key of 1..64 bytes; RPK and Certificate a
 * private key that parses (PKCS#8, PKCS#1 or SEC1 DER), own that parses
 * (a SubjectPublicKeyInfo, an X.509 certificate) and belongs to that key,
 * and server_key, when given, that parses (a public key; a certificate
 * for usage 3, certificates for usage 2); NoSec needs nothing. Returns 0,
 * or -EINVAL (-EKEYREJECTED: the key is not own's) with *res the /0
 * resource at fault (2 mode, 3 own, 4 server_key, 5 secret) and why a
 * phrase that follows the field's name ("key_file ", "/0/1/5 "), e.g.
 * "does not parse as a private key ..."; -ENOMEM. Never logs. */
int gw_dtls_creds_check(const gw_dtls_creds_t *c, int *res, char *why, size_t size);

/* Deep copy of src into dst (dst's old content not freed). 0 or -ENOMEM. */
int gw_dtls_creds_copy(gw_dtls_creds_t *dst, const gw_dtls_creds_t *src);
/* Free what a copied or loaded creds owns, the secret overwritten first;
 * *c zeroed (verify false). */
void gw_dtls_creds_free(gw_dtls_creds_t *c);
/* Overwrite len bytes at p so the compiler cannot drop it. */
void gw_dtls_wipe(void *p, size_t len);

/* "psk", "rpk", "x509" or "nosec". */
const char *gw_dtls_mode_name(int mode);

/* The length in bytes of the DER SEQUENCE (a certificate, a key) that
 * starts at p, header included (X.690 8.1.2-8.1.3: definite length, at
 * most 3 length octets), looking at no more than avail bytes; 0 when p
 * holds no complete SEQUENCE. Used to walk certificates placed one after
 * the other, as /0/x/4 holds a CA chain. */
size_t gw_der_seq_len(const uint8_t *p, size_t avail);

#endif
