/*
 * lwm2m/dtls_creds.c - credential files (keys, public keys, certificates)
 * read and checked once, at start and reload, into the DER form the
 * Security object holds (lwm2m/dtls.h). GnuTLS does the parsing: it is
 * what libcoap's DTLS runs on, so a file it accepts here is one the
 * handshake can use, and a bad one is reported with the file's name at
 * --check instead of as a failed handshake later.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dtls.h"

/* A certificate chain or key is a few kilobytes; this stops a wrong path
 * (a log, a disk image) from being read whole. */
#define GW_DTLS_FILE_MAX (256u * 1024u)

void gw_dtls_wipe(void *p, size_t len)
{
    if (p && len)
        gnutls_memset(p, 0, len);
}

const char *gw_dtls_mode_name(int mode)
{
    switch (mode) {
    case GW_DTLS_MODE_PSK: return "psk";
    case GW_DTLS_MODE_RPK: return "rpk";
    case GW_DTLS_MODE_CERT: return "x509";
    default: return "nosec";
    }
}

static int read_all(const char *path, uint8_t **out, size_t *out_len, char *why, size_t size)
{
    int rc = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    *out = NULL;
    if (fd < 0) {
        rc = -errno;
        snprintf(why, size, "cannot open: %s", strerror(errno));
        return rc == -ENOENT || rc == -EACCES ? rc : -EACCES;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, size, "is not a regular file, expected a PEM or DER file");
        rc = -EISDIR;
        goto out;
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > GW_DTLS_FILE_MAX) {
        snprintf(why, size, st.st_size <= 0 ? "is empty, expected a PEM or DER file"
                                            : "is larger than 256 KiB, expected a PEM or DER file");
        rc = st.st_size <= 0 ? -EINVAL : -EFBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    while (len < (size_t)st.st_size) {
        ssize_t got = read(fd, buf + len, (size_t)st.st_size - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            snprintf(why, size, "cannot read: %s", got < 0 ? strerror(errno) : "file shrank while read");
            rc = -EACCES;
            goto out;
        }
        len += (size_t)got;
    }
    buf[len] = '\0'; /* GnuTLS's PEM parsing looks for text */
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    if (buf) {
        gw_dtls_wipe(buf, len);
        free(buf);
    }
    close(fd);
    return rc;
}

/* GnuTLS's allocation into a plain malloc'd one (the caller's free()),
 * the GnuTLS copy wiped: it may be a key. */
static int take(gnutls_datum_t *d, uint8_t **out, size_t *out_len)
{
    uint8_t *p = malloc(d->size ? d->size : 1);
    if (p)
        memcpy(p, d->data, d->size);
    gw_dtls_wipe(d->data, d->size);
    gnutls_free(d->data);
    d->data = NULL;
    if (!p)
        return -ENOMEM;
    *out = p;
    *out_len = d->size;
    return 0;
}

static int load_cert(const gnutls_datum_t *in, gnutls_x509_crt_fmt_t fmt, uint8_t **out, size_t *out_len)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t der = {NULL, 0};
    int rc = -EINVAL;
    if (gnutls_x509_crt_init(&crt) < 0)
        return -ENOMEM;
    if (gnutls_x509_crt_import(crt, in, fmt) == 0 && gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) == 0)
        rc = take(&der, out, out_len);
    gnutls_x509_crt_deinit(crt);
    return rc;
}

static int load_cas(const gnutls_datum_t *in, gnutls_x509_crt_fmt_t fmt, uint8_t **out, size_t *out_len)
{
    if (fmt == GNUTLS_X509_FMT_DER)
        return load_cert(in, fmt, out, out_len);
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    if (gnutls_x509_crt_list_import2(&list, &n, in, GNUTLS_X509_FMT_PEM, 0) < 0 || n == 0)
        return -EINVAL;
    int rc = 0;
    uint8_t *all = NULL;
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        gnutls_datum_t der = {NULL, 0};
        if (rc == 0 && gnutls_x509_crt_export2(list[i], GNUTLS_X509_FMT_DER, &der) < 0)
            rc = -EINVAL;
        if (rc == 0) {
            uint8_t *p = realloc(all, len + der.size);
            if (!p)
                rc = -ENOMEM;
            else {
                memcpy(p + len, der.data, der.size);
                all = p;
                len += der.size;
            }
        }
        gnutls_free(der.data);
        gnutls_x509_crt_deinit(list[i]);
    }
    gnutls_free(list);
    if (rc < 0) {
        free(all);
        return rc;
    }
    *out = all;
    *out_len = len;
    return 0;
}

static int load_key(const gnutls_datum_t *in, gnutls_x509_crt_fmt_t fmt, uint8_t **out, size_t *out_len,
                    char *why, size_t size)
{
    gnutls_x509_privkey_t key;
    gnutls_datum_t der = {NULL, 0};
    int rc = -EINVAL;
    if (gnutls_x509_privkey_init(&key) < 0)
        return -ENOMEM;
    /* No password: a key the daemon could read only with a password typed
     * in is no use to a service that starts alone. */
    int e = gnutls_x509_privkey_import2(key, in, fmt, NULL, GNUTLS_PKCS_PLAIN);
    if (e == GNUTLS_E_DECRYPTION_FAILED)
        snprintf(why, size, "is an encrypted private key, expected an unencrypted one (mode 0600 or 0640 "
                            "protects it instead)");
    else if (e < 0)
        snprintf(why, size, "holds no private key GnuTLS can read (%s), expected PEM \"PRIVATE KEY\", "
                            "\"EC PRIVATE KEY\" or \"RSA PRIVATE KEY\", or the same as DER",
                 gnutls_strerror(e));
    else if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &der) == 0)
        rc = take(&der, out, out_len);
    gnutls_x509_privkey_deinit(key);
    return rc;
}

static int pubkey_der(gnutls_pubkey_t pub, uint8_t **out, size_t *out_len)
{
    gnutls_datum_t der = {NULL, 0};
    if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0)
        return -EINVAL;
    return take(&der, out, out_len);
}

static int load_pubkey(const gnutls_datum_t *in, gnutls_x509_crt_fmt_t fmt, uint8_t **out, size_t *out_len)
{
    gnutls_pubkey_t pub;
    gnutls_x509_crt_t crt = NULL;
    int rc = -EINVAL;
    if (gnutls_pubkey_init(&pub) < 0)
        return -ENOMEM;
    if (gnutls_pubkey_import(pub, in, fmt) == 0) {
        rc = pubkey_der(pub, out, out_len);
    } else if (gnutls_x509_crt_init(&crt) == 0 && gnutls_x509_crt_import(crt, in, fmt) == 0 &&
               gnutls_pubkey_import_x509(pub, crt, 0) == 0) {
        rc = pubkey_der(pub, out, out_len);
    }
    if (crt)
        gnutls_x509_crt_deinit(crt);
    gnutls_pubkey_deinit(pub);
    return rc;
}

int gw_dtls_load_file(const char *path, gw_dtls_file_t kind, uint8_t **out, size_t *out_len, char *why,
                      size_t size)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    *out = NULL;
    *out_len = 0;
    why[0] = '\0';
    int rc = read_all(path, &raw, &raw_len, why, size);
    if (rc < 0)
        return rc;
    bool pem = strstr((const char *)raw, "-----BEGIN ") != NULL;
    gnutls_x509_crt_fmt_t fmt = pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
    gnutls_datum_t in = {raw, (unsigned)raw_len};
    switch (kind) {
    case GW_DTLS_FILE_CERT: rc = load_cert(&in, fmt, out, out_len); break;
    case GW_DTLS_FILE_CAS: rc = load_cas(&in, fmt, out, out_len); break;
    case GW_DTLS_FILE_KEY: rc = load_key(&in, fmt, out, out_len, why, size); break;
    case GW_DTLS_FILE_PUBKEY: rc = load_pubkey(&in, fmt, out, out_len); break;
    }
    if (rc == -EINVAL && !why[0]) {
        static const char *const what[] = {
            [GW_DTLS_FILE_CERT] = "an X.509 certificate (PEM \"CERTIFICATE\" or DER)",
            [GW_DTLS_FILE_KEY] = "a private key",
            [GW_DTLS_FILE_PUBKEY] = "a public key (PEM \"PUBLIC KEY\", DER, or a certificate)",
            [GW_DTLS_FILE_CAS] = "X.509 certificates (PEM \"CERTIFICATE\" blocks or one DER certificate)",
        };
        snprintf(why, size, "is not %s %s, expected %s", pem ? "a PEM file of" : "PEM, nor DER of",
                 kind == GW_DTLS_FILE_KEY ? "a private key" : kind == GW_DTLS_FILE_PUBKEY ? "a public key"
                                                                                     : "certificates",
                 what[kind]);
    }
    gw_dtls_wipe(raw, raw_len);
    free(raw);
    return rc;
}

static int privkey_of(const uint8_t *key, size_t key_len, gnutls_privkey_t *out)
{
    gnutls_x509_privkey_t x;
    gnutls_datum_t in = {(unsigned char *)key, (unsigned)key_len};
    if (gnutls_x509_privkey_init(&x) < 0)
        return -ENOMEM;
    if (gnutls_x509_privkey_import2(x, &in, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN) < 0 ||
        gnutls_privkey_init(out) < 0) {
        gnutls_x509_privkey_deinit(x);
        return -EINVAL;
    }
    /* The privkey takes x over (freed with it). */
    if (gnutls_privkey_import_x509(*out, x, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
        gnutls_privkey_deinit(*out);
        gnutls_x509_privkey_deinit(x);
        return -EINVAL;
    }
    return 0;
}

static int public_of(const uint8_t *key, size_t key_len, gnutls_pubkey_t *out)
{
    gnutls_privkey_t pk;
    int rc = privkey_of(key, key_len, &pk);
    if (rc < 0)
        return rc;
    rc = -EINVAL;
    if (gnutls_pubkey_init(out) == 0) {
        if (gnutls_pubkey_import_privkey(*out, pk, 0, 0) == 0)
            rc = 0;
        else
            gnutls_pubkey_deinit(*out);
    }
    gnutls_privkey_deinit(pk);
    return rc;
}

int gw_dtls_public_of_key(const uint8_t *key, size_t key_len, uint8_t **out, size_t *out_len)
{
    gnutls_pubkey_t pub;
    int rc = public_of(key, key_len, &pub);
    if (rc < 0)
        return rc;
    rc = pubkey_der(pub, out, out_len);
    gnutls_pubkey_deinit(pub);
    return rc;
}

int gw_dtls_key_matches(int mode, const uint8_t *key, size_t key_len, const uint8_t *own, size_t own_len)
{
    uint8_t *mine = NULL, *theirs = NULL;
    size_t mine_len = 0, theirs_len = 0;
    int rc = gw_dtls_public_of_key(key, key_len, &mine, &mine_len);
    if (rc < 0)
        return rc;
    gnutls_datum_t in = {(unsigned char *)own, (unsigned)own_len};
    gnutls_pubkey_t pub;
    rc = -EINVAL;
    if (gnutls_pubkey_init(&pub) == 0) {
        gnutls_x509_crt_t crt = NULL;
        int e = mode == GW_DTLS_MODE_CERT
                    ? (gnutls_x509_crt_init(&crt) == 0 && gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER) == 0
                           ? gnutls_pubkey_import_x509(pub, crt, 0)
                           : -1)
                    : gnutls_pubkey_import(pub, &in, GNUTLS_X509_FMT_DER);
        if (e == 0)
            rc = pubkey_der(pub, &theirs, &theirs_len);
        if (crt)
            gnutls_x509_crt_deinit(crt);
        gnutls_pubkey_deinit(pub);
    }
    if (rc == 0 && (mine_len != theirs_len || memcmp(mine, theirs, mine_len) != 0))
        rc = -EKEYREJECTED;
    free(mine);
    free(theirs);
    return rc;
}

static bool cert_parses(const uint8_t *p, size_t n)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t in = {(unsigned char *)p, (unsigned)n};
    if (n == 0 || n > UINT32_MAX || gnutls_x509_crt_init(&crt) < 0)
        return false;
    bool ok = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER) == 0;
    gnutls_x509_crt_deinit(crt);
    return ok;
}

static bool pubkey_parses(const uint8_t *p, size_t n)
{
    gnutls_pubkey_t pub;
    gnutls_datum_t in = {(unsigned char *)p, (unsigned)n};
    if (n == 0 || n > UINT32_MAX || gnutls_pubkey_init(&pub) < 0)
        return false;
    bool ok = gnutls_pubkey_import(pub, &in, GNUTLS_X509_FMT_DER) == 0;
    gnutls_pubkey_deinit(pub);
    return ok;
}

size_t gw_der_seq_len(const uint8_t *p, size_t avail)
{
    if (avail < 2 || p[0] != 0x30)
        return 0;
    size_t n = p[1], hdr = 2;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 0 || k > 3 || avail < 2 + k)
            return 0;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | p[2 + i];
        hdr += k;
    }
    return hdr + n <= avail ? hdr + n : 0;
}

/* Certificates one after the other, every byte one of them. */
static bool cas_parse(const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t l = gw_der_seq_len(p + off, n - off);
        if (!l || !cert_parses(p + off, l))
            return false;
        off += l;
    }
    return n > 0;
}

static int bad(int *res, int which, char *why, size_t size, const char *text)
{
    *res = which;
    snprintf(why, size, "%s", text);
    return -EINVAL;
}

int gw_dtls_creds_check(const gw_dtls_creds_t *c, int *res, char *why, size_t size)
{
    *res = 0;
    why[0] = '\0';
    if (c->mode == GW_DTLS_MODE_NOSEC)
        return 0;
    if (c->mode == GW_DTLS_MODE_PSK) {
        if (c->own_len == 0)
            return bad(res, 3, why, size, "is empty, expected the PSK identity");
        if (c->secret_len == 0 || c->secret_len > 64)
            return bad(res, 5, why, size, "is not a PSK key of 1..64 bytes");
        return 0;
    }
    if (c->mode != GW_DTLS_MODE_RPK && c->mode != GW_DTLS_MODE_CERT)
        return bad(res, 2, why, size, "is not a security mode the gateway supports (0 PSK, 1 RPK, 2 Certificate, "
                                      "3 NoSec)");
    bool rpk = c->mode == GW_DTLS_MODE_RPK;
    if (c->secret_len == 0)
        return bad(res, 5, why, size, "is empty, expected the client's private key");
    gnutls_privkey_t pk;
    int rc = privkey_of(c->secret, c->secret_len, &pk);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0)
        return bad(res, 5, why, size, "does not parse as a private key, expected DER PKCS#8, PKCS#1 or SEC1 "
                                      "(not encrypted)");
    gnutls_privkey_deinit(pk);
    if (c->own_len == 0)
        return bad(res, 3, why, size, rpk ? "is empty, expected the client's public key"
                                          : "is empty, expected the client's certificate");
    if (rpk ? !pubkey_parses(c->own, c->own_len) : !cert_parses(c->own, c->own_len))
        return bad(res, 3, why, size, rpk ? "does not parse as a public key, expected a DER SubjectPublicKeyInfo"
                                          : "does not parse as a certificate, expected DER X.509");
    rc = gw_dtls_key_matches(c->mode, c->secret, c->secret_len, c->own, c->own_len);
    if (rc == -ENOMEM)
        return rc;
    if (rc == -EKEYREJECTED) {
        *res = 5;
        snprintf(why, size, "does not belong to the client's %s (their public keys differ), expected the "
                            "private key of that %s", rpk ? "public key" : "certificate",
                 rpk ? "public key" : "certificate");
        return rc;
    }
    if (rc < 0)
        return bad(res, 5, why, size, "cannot be used with the client's certificate (unsupported key type?), "
                                      "expected an RSA or EC key");
    if (c->server_key_len) {
        bool ok = rpk                                  ? pubkey_parses(c->server_key, c->server_key_len)
                  : c->cert_usage == GW_DTLS_USAGE_PINNED ? cert_parses(c->server_key, c->server_key_len)
                                                        : cas_parse(c->server_key, c->server_key_len);
        if (!ok)
            return bad(res, 4, why, size, rpk ? "does not parse as the server's public key, expected a DER "
                                                "SubjectPublicKeyInfo"
                                        : c->cert_usage == GW_DTLS_USAGE_PINNED
                                            ? "does not parse as the server's certificate, expected DER X.509"
                                            : "does not parse as CA certificates, expected DER X.509 "
                                              "certificates one after the other");
    }
    return 0;
}

static int dup_bytes(uint8_t **dst, size_t *dst_len, const uint8_t *src, size_t len)
{
    *dst = NULL;
    *dst_len = 0;
    if (!src || !len)
        return 0;
    if (!(*dst = malloc(len)))
        return -ENOMEM;
    memcpy(*dst, src, len);
    *dst_len = len;
    return 0;
}

int gw_dtls_creds_copy(gw_dtls_creds_t *dst, const gw_dtls_creds_t *src)
{
    *dst = *src;
    dst->own = dst->server_key = dst->secret = NULL;
    dst->server_name = NULL;
    if (dup_bytes(&dst->own, &dst->own_len, src->own, src->own_len) < 0 ||
        dup_bytes(&dst->server_key, &dst->server_key_len, src->server_key, src->server_key_len) < 0 ||
        dup_bytes(&dst->secret, &dst->secret_len, src->secret, src->secret_len) < 0 ||
        (src->server_name && !(dst->server_name = strdup(src->server_name)))) {
        gw_dtls_creds_free(dst);
        return -ENOMEM;
    }
    return 0;
}

void gw_dtls_creds_free(gw_dtls_creds_t *c)
{
    gw_dtls_wipe(c->secret, c->secret_len);
    free(c->secret);
    free(c->own);
    free(c->server_key);
    free(c->server_name);
    memset(c, 0, sizeof *c);
}
