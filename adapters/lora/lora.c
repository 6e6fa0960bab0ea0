/*
 * adapters/lora/lora.c - the LoRaWAN adapter: a small local network server
 * for the gateway's own end devices behind Semtech packet forwarders.
 *
 * One UDP socket in the loop takes every forwarder's datagrams. Copies of
 * one frame heard by several forwarders are merged for dedup_ms (the best
 * RSSI/SNR kept), then the frame is checked (MIC, frame counter), decrypted
 * and decoded by the device's codec into readings. A Class A downlink (a
 * queued write, an ACK, MAC command answers) goes out in the RX1 (or RX2)
 * window of the uplink that opened it, as a PULL_RESP to the forwarder that
 * heard it best; the write completes on that forwarder's TX_ACK.
 *
 * Counters are written to state_dir at most flush_ms after they change and
 * at stop (a crash loses at most that much; joins and DevNonces are written
 * before the Join-Accept leaves). One housekeeping timer (1 s) flushes,
 * expires writes that could not be sent in time and marks silent devices
 * absent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../gateway/log.h"
#include "../adapters_internal.h"
#include "codec.h"
#include "lora.h"
#include "semtech.h"
#include "state.h"

#define TICK_MS 1000
#define TX_ACK_WAIT_MS 5000
#define DROP_LOG_WINDOW_MS 5000

/* A drop line through one of the adapter's limiters. */
#define drop_log(a, lim, level, ...) gw_log_limited(&(a)->lim, now_ms(a), level, __VA_ARGS__)


typedef struct lora_dl {
    struct lora_dl *next;
    uint8_t bytes[GW_PAYLOAD_MAX_BYTES];
    size_t len;
    unsigned fport;
    gw_write_done_fn done;
    void *done_ctx;
    int64_t deadline_ms;
    bool in_flight;
    uint8_t token[2];
    int64_t sent_ms;
} lora_dl_t;

typedef struct lora_dev {
    char *key;
    char name[128];
    const lora_part_t *cfg;
    lora_state_t st;
    int64_t last_heard_ms;
    bool absent, dirty;
    int64_t dirty_ms;
    bool ack_due;
    uint8_t mac_ans[15];
    size_t mac_ans_len;
    lora_dl_t *q;
} lora_dev_t;

typedef struct lora_fwd {
    uint64_t eui;
    struct sockaddr_storage pull_addr;
    socklen_t pull_len;
    bool has_pull;
    sem_stat_t stat;
    bool has_stat;
} lora_fwd_t;

typedef struct lora_pend {
    uint8_t phy[LORA_MAX_PHY];
    size_t n;
    double rssi, snr;
    int tx_fwd; /* forwarder with a PULL address that heard it best, -1 none */
    /* Forwarders that heard it within the de-duplication window (the
     * gateway count of LinkCheckAns, LoRaWAN 1.0.x 5.2). */
    int heard_by[8];
    unsigned n_heard;
    double tx_rssi;
    uint32_t tmst;
    double freq;
    char datr[16];
    int64_t due_ms;
    bool done;
} lora_pend_t;

typedef struct addr_ix {
    uint32_t devaddr;
    uint32_t dev;
} addr_ix_t;

struct gw_adapter {
    gw_adapter_env_t env;
    const lora_section_t *sec;
    lora_section_t own_sec; /* defaults when the file has no adapters.lora */
    lora_dev_t **devs;
    size_t n_devs;
    addr_ix_t *ix;
    size_t n_ix;
    lora_fwd_t *fwds;
    size_t n_fwds;
    lora_pend_t *pend;
    size_t n_pend, cap_pend;
    int fd;
    gw_timer_t dedup_timer, tick;
    bool started;
    lora_counters_t c;
    lora_counters_t c_logged; /* as the last counters line showed them */
    /* Drop lines follow outside traffic: bounded per kind (the counters
     * above keep every drop). */
    gw_log_limit_t lim_dgram, lim_rxpk, lim_frame;
};

/* ---- small helpers ---------------------------------------------------------- */

static const uint8_t *dev_nwk(const lora_dev_t *d)
{
    return lora_part_otaa(d->cfg) ? d->st.nwk_skey : d->cfg->nwk_skey;
}

static const uint8_t *dev_app(const lora_dev_t *d)
{
    return lora_part_otaa(d->cfg) ? d->st.app_skey : d->cfg->app_skey;
}

static bool dev_session(const lora_dev_t *d)
{
    return !lora_part_otaa(d->cfg) || d->st.joined;
}

static uint32_t dev_addr(const lora_dev_t *d)
{
    return lora_part_otaa(d->cfg) ? d->st.devaddr : d->cfg->dev_addr;
}

static int64_t now_ms(const gw_adapter_t *a)
{
    (void)a;
    return gw_now_ms();
}

static int emit(gw_adapter_t *a, const lora_dev_t *d, const char *field, gw_value_t v,
                bool has_dec, int dec, const char *unit)
{
    gw_reading_t r = {.device_key = d->key, .field = field, .value = v, .unit = unit,
                      .ts_ms = gw_wall_ms(), .has_decimals = has_dec, .decimals = (int8_t)dec};
    return a->env.emit ? a->env.emit(a->env.emit_ctx, &r) : 0;
}

static void save_dev(gw_adapter_t *a, lora_dev_t *d)
{
    d->st.identity = gw_lora_identity_fingerprint(d->cfg);
    int rc = lora_state_save(a->sec->state_dir, d->name, &d->st);
    if (rc < 0)
        gw_err("lora: %s: cannot write its session to %s/%s.lora: %s", d->key, a->sec->state_dir,
               d->name, strerror(-rc));
    else
        d->dirty = false;
}

static void mark_dirty(gw_adapter_t *a, lora_dev_t *d)
{
    if (!d->dirty)
        d->dirty_ms = now_ms(a);
    d->dirty = true;
    if (a->sec->flush_ms == 0)
        save_dev(a, d);
}

static int cmp_ix(const void *x, const void *y)
{
    const addr_ix_t *p = x, *q = y;
    return p->devaddr < q->devaddr ? -1 : p->devaddr > q->devaddr ? 1 : (p->dev > q->dev) - (p->dev < q->dev);
}

/* DevAddr -> devices, sorted; rebuilt whenever devices or sessions change. */
static int rebuild_index(gw_adapter_t *a)
{
    addr_ix_t *ix = malloc((a->n_devs ? a->n_devs : 1) * sizeof *ix);
    if (!ix)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < a->n_devs; i++)
        if (dev_session(a->devs[i]))
            ix[n++] = (addr_ix_t){dev_addr(a->devs[i]), (uint32_t)i};
    qsort(ix, n, sizeof *ix, cmp_ix);
    free(a->ix);
    a->ix = ix;
    a->n_ix = n;
    return 0;
}

static lora_dev_t *find_key(const gw_adapter_t *a, const char *key)
{
    for (size_t i = 0; key && i < a->n_devs; i++)
        if (strcmp(a->devs[i]->key, key) == 0)
            return a->devs[i];
    return NULL;
}

static void finish_dl(lora_dev_t *d, lora_dl_t *dl, int rc)
{
    lora_dl_t **pp = &d->q;
    while (*pp && *pp != dl)
        pp = &(*pp)->next;
    if (*pp)
        *pp = dl->next;
    gw_write_done_fn done = dl->done;
    void *ctx = dl->done_ctx;
    free(dl);
    if (done)
        done(ctx, rc);
}

static void cancel_writes(lora_dev_t *d, int rc)
{
    while (d->q)
        finish_dl(d, d->q, rc);
}

static void free_dev(lora_dev_t *d)
{
    if (!d)
        return;
    lora_state_free(&d->st);
    free(d->key);
    free(d);
}

/* A device as configured, its session from state_dir (a file of other
 * keys is not this device's: it starts afresh). */
static lora_dev_t *new_dev(gw_adapter_t *a, const gw_adapter_device_t *gd)
{
    lora_dev_t *d = calloc(1, sizeof *d);
    if (!d || !(d->key = strdup(gd->key)) || !gd->conf) {
        free_dev(d);
        return NULL;
    }
    d->cfg = gd->conf;
    const char *addr = strchr(gd->key, ':');
    lora_state_name(addr ? addr + 1 : gd->key, d->name, sizeof d->name);
    d->last_heard_ms = now_ms(a);
    int rc = lora_state_load(a->sec->state_dir, d->name, &d->st);
    if (rc == 0 && d->st.identity != gw_lora_identity_fingerprint(d->cfg)) {
        gw_notice("lora: %s: its keys changed since %s/%s.lora was written: new session",
                  d->key, a->sec->state_dir, d->name);
        lora_state_free(&d->st);
    } else if (rc < 0 && rc != -ENOENT) {
        gw_warn("lora: %s: %s/%s.lora is unreadable (%s): starting with a new session",
                d->key, a->sec->state_dir, d->name, strerror(-rc));
    }
    return d;
}

/* ---- sending ----------------------------------------------------------------- */

static int send_to(gw_adapter_t *a, const void *buf, size_t n, const struct sockaddr *to,
                   socklen_t len)
{
    if (a->fd < 0)
        return -ENOTCONN;
    if (sendto(a->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, to, len) < 0)
        return -errno;
    return 0;
}

/* A PULL_RESP for the forwarder fwd; token returned for the TX_ACK. */
static int send_txpk(gw_adapter_t *a, int fwd, const sem_txpk_t *tx, uint8_t token[2])
{
    if (fwd < 0 || (size_t)fwd >= a->n_fwds || !a->fwds[fwd].has_pull)
        return -ENOTCONN;
    if (getrandom(token, 2, GRND_NONBLOCK) != 2) {
        static uint16_t seq;
        seq++;
        token[0] = (uint8_t)(seq >> 8);
        token[1] = (uint8_t)seq;
    }
    uint8_t buf[1024];
    int n = sem_build_pull_resp(buf, sizeof buf, token, tx);
    if (n < 0)
        return n;
    lora_fwd_t *f = &a->fwds[fwd];
    int rc = send_to(a, buf, (size_t)n, (const struct sockaddr *)&f->pull_addr, f->pull_len);
    if (rc == 0)
        a->c.downlinks++;
    return rc;
}

/* The window a downlink of this uplink goes in: RX1 delay s after it on the
 * region's RX1 channel and data rate, or RX2 one second later. */
static int window(const gw_adapter_t *a, const lora_pend_t *p, int delay_s, bool rx2,
                  sem_txpk_t *tx)
{
    const lora_region_t *r = a->sec->region;
    memset(tx, 0, sizeof *tx);
    tx->powe = r->tx_power_dbm;
    tx->codr = "4/5";
    tx->ipol = true;
    if (rx2) {
        tx->tmst = p->tmst + (uint32_t)(delay_s + 1) * 1000000u;
        tx->freq = r->rx2_mhz;
        tx->datr = r->dr[r->rx2_dr];
        return 0;
    }
    tx->tmst = p->tmst + (uint32_t)delay_s * 1000000u;
    return lora_region_rx1(r, p->freq, p->datr, a->sec->rx1_dr_offset, &tx->freq, &tx->datr);
}

static void send_downlink(gw_adapter_t *a, lora_dev_t *d, const lora_pend_t *p)
{
    lora_dl_t *dl = d->q && !d->q->in_flight ? d->q : NULL;
    if (!d->ack_due && !d->mac_ans_len && !dl)
        return;
    if (p->tx_fwd < 0) {
        gw_warn("lora: %s: no forwarder that heard it has sent PULL_DATA: its downlink waits",
                d->key);
        return;
    }
    sem_txpk_t tx;
    if (window(a, p, a->sec->region->receive_delay1_s, a->sec->rx2, &tx) < 0) {
        gw_warn("lora: %s: uplink at %.3f MHz %s is outside region %s: no downlink", d->key,
                p->freq, p->datr, a->sec->region->name);
        return;
    }
    uint8_t frame[LORA_MAX_PHY];
    size_t n = 0;
    uint32_t fcnt = d->st.fcnt_down;
    int rc = lora_frame_build_down(dev_nwk(d), dev_app(d), false, dev_addr(d),
                                   d->ack_due ? 0x20 : 0, fcnt, d->mac_ans, d->mac_ans_len,
                                   dl ? (int)dl->fport : -1, dl ? dl->bytes : NULL,
                                   dl ? dl->len : 0, frame, &n);
    if (rc < 0) {
        gw_err("lora: %s: cannot build its downlink: %s", d->key, strerror(-rc));
        if (dl)
            finish_dl(d, dl, -EINVAL);
        return;
    }
    tx.data = frame;
    tx.size = n;
    uint8_t token[2];
    rc = send_txpk(a, p->tx_fwd, &tx, token);
    if (rc < 0) {
        gw_warn("lora: %s: downlink not sent: %s", d->key, strerror(-rc));
        return;
    }
    d->st.fcnt_down++;
    mark_dirty(a, d);
    d->ack_due = false;
    d->mac_ans_len = 0;
    if (dl) {
        dl->in_flight = true;
        dl->sent_ms = now_ms(a);
        memcpy(dl->token, token, 2);
    }
    gw_debug("lora: %s: downlink FCnt %" PRIu32 ", %zu bytes at %.3f MHz %s", d->key, fcnt, n,
             tx.freq, tx.datr);
}

/* ---- uplinks ----------------------------------------------------------------- */

static void mac_commands(gw_adapter_t *a, lora_dev_t *d, const uint8_t *c, size_t n,
                         const lora_pend_t *p)
{
    size_t i = 0;
    while (i < n) {
        uint8_t cid = c[i++];
        if (cid == 0x02) { /* LinkCheckReq: answer margin and gateway count */
            /* Margin: the best SNR of the forwarders that heard it over the
             * demodulation floor of its data rate, in whole dB (0..254);
             * GwCnt: how many forwarders heard it. */
            double m = p->snr - lora_required_snr(p->datr);
            int margin = m < 0 ? 0 : m > 254 ? 254 : (int)m;
            unsigned gws = p->n_heard ? (p->n_heard > 255 ? 255 : p->n_heard) : 1;
            if (d->mac_ans_len + 3 <= sizeof d->mac_ans) {
                d->mac_ans[d->mac_ans_len++] = 0x02;
                d->mac_ans[d->mac_ans_len++] = (uint8_t)margin;
                d->mac_ans[d->mac_ans_len++] = (uint8_t)gws;
            }
        } else if (cid == 0x06 && i + 2 <= n) { /* DevStatusAns: battery, margin */
            uint8_t bat = c[i];
            int margin = (int8_t)(uint8_t)(c[i + 1] << 2) >> 2;
            i += 2;
            if (bat >= 1 && bat <= 254)
                emit(a, d, "battery", (gw_value_t){.type = GW_TYPE_INTEGER,
                                                   .v.i = (bat * 100 + 127) / 254},
                     false, 0, NULL);
            gw_debug("lora: %s: DevStatusAns battery %u margin %d dB", d->key, bat, margin);
        } else {
            /* Other commands' lengths differ per command: the rest of this
             * list cannot be parsed past one we do not handle. */
            gw_debug("lora: %s: MAC command 0x%02x not handled, ignoring the rest (%zu bytes)",
                     d->key, cid, n - i);
            return;
        }
    }
}

typedef struct emit_ctx {
    gw_adapter_t *a;
    lora_dev_t *d;
} emit_ctx_t;

static int emit_field(void *ctx, const gw_payload_field_t *f)
{
    emit_ctx_t *e = ctx;
    emit(e->a, e->d, f->name, f->value, f->has_decimals, f->decimals, f->unit);
    return 0;
}

static void device_heard(gw_adapter_t *a, lora_dev_t *d)
{
    d->last_heard_ms = now_ms(a);
    if (!d->absent)
        return;
    d->absent = false;
    gw_notice("lora: %s is heard again", d->key);
    emit(a, d, "error_code", (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = 0}, false, 0, NULL);
    if (d->cfg->deregister_absent && a->env.set_available)
        a->env.set_available(a->env.emit_ctx, d->key, true);
}

static void handle_data(gw_adapter_t *a, const lora_pend_t *p)
{
    lora_frame_t f;
    if (lora_frame_parse(p->phy, p->n, &f) < 0 ||
        (f.mtype != LORA_MT_UNCONF_UP && f.mtype != LORA_MT_CONF_UP)) {
        a->c.bad_frames++;
        drop_log(a, lim_frame, LOG_INFO, "lora: dropped a %zu-byte frame that is no LoRaWAN 1.0 uplink",
                 p->n);
        return;
    }
    addr_ix_t key = {f.devaddr, 0};
    size_t lo = 0, hi = a->n_ix;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_ix(&a->ix[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= a->n_ix || a->ix[lo].devaddr != f.devaddr) {
        a->c.unknown_devaddr++;
        drop_log(a, lim_frame, LOG_DEBUG,
                 "lora: uplink from unknown DevAddr %08" PRIx32 " (FCnt %u), not configured",
                 f.devaddr, f.fcnt16);
        return;
    }
    lora_dev_t *d = NULL;
    uint32_t fcnt = 0;
    bool replay = false;
    uint8_t mic[4];
    for (size_t i = lo; i < a->n_ix && a->ix[i].devaddr == f.devaddr && !d; i++) {
        lora_dev_t *c = a->devs[a->ix[i].dev];
        uint32_t fc = lora_fcnt_next(c->st.have_fcnt_up, c->st.fcnt_up, f.fcnt16);
        if (lora_data_mic(dev_nwk(c), 0, f.devaddr, fc, p->phy, f.msg_len, mic) == 0 &&
            memcmp(mic, f.mic, 4) == 0) {
            d = c;
            fcnt = fc;
        } else if (c->st.have_fcnt_up &&
                   lora_data_mic(dev_nwk(c), 0, f.devaddr,
                                 lora_fcnt_same_epoch(c->st.fcnt_up, f.fcnt16), p->phy, f.msg_len,
                                 mic) == 0 &&
                   memcmp(mic, f.mic, 4) == 0) {
            replay = true;
            drop_log(a, lim_frame, LOG_WARNING,
                     "lora: %s: replayed frame dropped (FCnt %" PRIu32 ", last accepted %" PRIu32
                     ")", c->key, lora_fcnt_same_epoch(c->st.fcnt_up, f.fcnt16), c->st.fcnt_up);
        }
    }
    if (!d) {
        if (replay) {
            a->c.replays++;
        } else {
            a->c.bad_mic++;
            drop_log(a, lim_frame, LOG_WARNING,
                     "lora: frame from DevAddr %08" PRIx32 " (FCnt %u) dropped: bad MIC", f.devaddr,
                     f.fcnt16);
        }
        return;
    }
    a->c.uplinks++;
    d->st.have_fcnt_up = true;
    d->st.fcnt_up = fcnt;
    mark_dirty(a, d);
    device_heard(a, d);
    if (f.fopts_len)
        mac_commands(a, d, f.fopts, f.fopts_len, p);
    emit(a, d, "rssi", (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = (int64_t)(p->rssi < 0 ? p->rssi - 0.5 : p->rssi + 0.5)},
         false, 0, "dBm");
    emit(a, d, "snr", (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = (int64_t)(p->snr < 0 ? p->snr - 0.5 : p->snr + 0.5)},
         false, 0, NULL);
    uint8_t clear[LORA_MAX_PHY];
    if (f.fport >= 0 && f.frm_len) {
        const uint8_t *sk = f.fport == 0 ? dev_nwk(d) : dev_app(d);
        if (lora_payload_crypt(sk, 0, f.devaddr, fcnt, f.frm, f.frm_len, clear) == 0) {
            if (f.fport == 0) {
                mac_commands(a, d, clear, f.frm_len, p);
            } else if (d->cfg->codec) {
                char msg[256] = "";
                emit_ctx_t ec = {a, d};
                int rc = lora_codec_decode(d->cfg->codec, (unsigned)f.fport, clear, f.frm_len,
                                           emit_field, &ec, msg, sizeof msg);
                if (rc < 0) {
                    a->c.decode_errors++;
                    gw_warn("lora: %s: FPort %d payload of %zu bytes not decoded: %s", d->key,
                            f.fport, f.frm_len, msg[0] ? msg : strerror(-rc));
                } else if (msg[0]) {
                    gw_info("lora: %s: codec: %s", d->key, msg);
                }
            } else {
                gw_debug("lora: %s: FPort %d payload of %zu bytes, no codec configured", d->key,
                         f.fport, f.frm_len);
            }
        }
    }
    if (f.mtype == LORA_MT_CONF_UP)
        d->ack_due = true;
    send_downlink(a, d, p);
}

static void handle_join(gw_adapter_t *a, const lora_pend_t *p)
{
    lora_join_req_t jr;
    if (lora_join_req_parse(p->phy, p->n, &jr) < 0) {
        a->c.bad_frames++;
        drop_log(a, lim_frame, LOG_INFO, "lora: dropped a malformed %zu-byte Join-Request", p->n);
        return;
    }
    lora_dev_t *d = NULL;
    for (size_t i = 0; i < a->n_devs && !d; i++)
        if (lora_part_otaa(a->devs[i]->cfg) && a->devs[i]->cfg->dev_eui == jr.dev_eui)
            d = a->devs[i];
    if (!d) {
        a->c.unknown_devaddr++;
        drop_log(a, lim_frame, LOG_DEBUG,
                 "lora: Join-Request from unknown DevEUI %016" PRIx64 ", not configured",
                 jr.dev_eui);
        return;
    }
    uint8_t mic[4];
    if (d->cfg->join_eui != jr.join_eui) {
        a->c.join_rejected++;
        drop_log(a, lim_frame, LOG_WARNING,
                 "lora: %s: Join-Request for JoinEUI %016" PRIx64 ", expected %016" PRIx64,
                 d->key, jr.join_eui, d->cfg->join_eui);
        return;
    }
    if (lora_join_mic(d->cfg->app_key, p->phy, 19, mic) < 0 || memcmp(mic, jr.mic, 4) != 0) {
        a->c.bad_mic++;
        a->c.join_rejected++;
        drop_log(a, lim_frame, LOG_WARNING, "lora: %s: Join-Request dropped: bad MIC (another AppKey?)",
                 d->key);
        return;
    }
    if (lora_state_has_nonce(&d->st, jr.dev_nonce)) {
        a->c.join_rejected++;
        a->c.replays++;
        drop_log(a, lim_frame, LOG_WARNING,
                 "lora: %s: Join-Request with DevNonce %04x used before: refused (replay)",
                 d->key, jr.dev_nonce);
        return;
    }
    uint8_t rnd[7];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        gw_err("lora: %s: no random numbers for its join: %s", d->key, strerror(errno));
        return;
    }
    lora_state_t ns = {0};
    if (lora_state_add_nonce(&ns, 0) < 0)
        return;
    ns.n_nonces = 0;
    for (size_t i = 0; i < d->st.n_nonces; i++)
        if (lora_state_add_nonce(&ns, d->st.nonces[i]) < 0) {
            lora_state_free(&ns);
            return;
        }
    if (lora_state_add_nonce(&ns, jr.dev_nonce) < 0) {
        lora_state_free(&ns);
        return;
    }
    uint32_t app_nonce = (uint32_t)rnd[0] | (uint32_t)rnd[1] << 8 | (uint32_t)rnd[2] << 16;
    /* DevAddr = NwkID (7 LSB of NetID) | NwkAddr (25 random bits). */
    uint32_t nwkaddr = ((uint32_t)rnd[3] | (uint32_t)rnd[4] << 8 | (uint32_t)rnd[5] << 16 |
                        (uint32_t)rnd[6] << 24) & 0x01FFFFFFu;
    ns.devaddr = (a->sec->net_id & 0x7F) << 25 | nwkaddr;
    ns.joined = true;
    if (lora_derive_keys(d->cfg->app_key, app_nonce, a->sec->net_id, jr.dev_nonce, ns.nwk_skey,
                         ns.app_skey) < 0) {
        lora_state_free(&ns);
        return;
    }
    ns.identity = gw_lora_identity_fingerprint(d->cfg);
    /* The DevNonce is spent once the file says so: a crash after this
     * cannot let the same Join-Request in again. */
    int rc = lora_state_save(a->sec->state_dir, d->name, &ns);
    if (rc < 0) {
        gw_err("lora: %s: join refused: its session cannot be written to %s: %s", d->key,
               a->sec->state_dir, strerror(-rc));
        lora_state_free(&ns);
        return;
    }
    lora_state_free(&d->st);
    d->st = ns;
    d->dirty = false;
    a->c.joins++;
    if (rebuild_index(a) < 0)
        gw_err("lora: %s: out of memory indexing its new DevAddr", d->key);
    device_heard(a, d);
    lora_join_accept_t ja = {.app_nonce = app_nonce, .net_id = a->sec->net_id,
                             .devaddr = ns.devaddr,
                             .dl_settings = (uint8_t)(a->sec->rx1_dr_offset << 4 |
                                                      a->sec->region->rx2_dr),
                             .rx_delay = (uint8_t)a->sec->region->receive_delay1_s};
    uint8_t frame[33];
    size_t n = 0;
    sem_txpk_t tx;
    if (lora_join_accept_build(d->cfg->app_key, &ja, frame, &n) < 0 ||
        window(a, p, a->sec->region->join_accept_delay1_s, false, &tx) < 0) {
        gw_warn("lora: %s: joined, but no Join-Accept for an uplink at %.3f MHz %s", d->key,
                p->freq, p->datr);
        return;
    }
    tx.data = frame;
    tx.size = n;
    uint8_t token[2];
    rc = send_txpk(a, p->tx_fwd, &tx, token);
    if (rc < 0)
        gw_warn("lora: %s: Join-Accept not sent: %s", d->key, strerror(-rc));
    else
        gw_info("lora: %s joined: DevAddr %08" PRIx32 ", DevNonce %04x", d->key, ns.devaddr,
                jr.dev_nonce);
}

static void process(gw_adapter_t *a, const lora_pend_t *p)
{
    if (p->n < 1)
        return;
    if (p->phy[0] >> 5 == LORA_MT_JOIN_REQUEST)
        handle_join(a, p);
    else
        handle_data(a, p);
}

/* ---- de-duplication ------------------------------------------------------------ */

static void arm_dedup(gw_adapter_t *a)
{
    if (!a->env.loop || !a->started)
        return;
    int64_t due = -1;
    for (size_t i = 0; i < a->n_pend; i++) {
        int64_t t = a->pend[i].done ? a->pend[i].due_ms + a->sec->dedup_ms : a->pend[i].due_ms;
        if (due < 0 || t < due)
            due = t;
    }
    if (due < 0)
        gw_timer_stop(a->env.loop, &a->dedup_timer);
    else
        gw_timer_start_at(a->env.loop, &a->dedup_timer, due);
}

static void run_dedup(gw_adapter_t *a, int64_t now)
{
    /* Processing may send and log but never adds entries: the array is
     * stable while it is walked. */
    for (size_t i = 0; i < a->n_pend; i++)
        if (!a->pend[i].done && a->pend[i].due_ms <= now) {
            a->pend[i].done = true;
            process(a, &a->pend[i]);
        }
    for (size_t i = 0; i < a->n_pend;)
        if (a->pend[i].done && a->pend[i].due_ms + a->sec->dedup_ms <= now)
            a->pend[i] = a->pend[--a->n_pend];
        else
            i++;
}

static void on_dedup(void *ctx)
{
    gw_adapter_t *a = ctx;
    run_dedup(a, now_ms(a));
    arm_dedup(a);
}

typedef struct push_ctx {
    gw_adapter_t *a;
    int fwd;
    uint64_t eui;
} push_ctx_t;

static void on_rxpk(void *ctx, const sem_rxpk_t *pk)
{
    push_ctx_t *pc = ctx;
    gw_adapter_t *a = pc->a;
    if (pk->stat != 1) {
        a->c.crc_bad++;
        return;
    }
    if (!pk->lora || pk->size == 0)
        return;
    bool can_tx = a->fwds[pc->fwd].has_pull;
    for (size_t i = 0; i < a->n_pend; i++) {
        lora_pend_t *p = &a->pend[i];
        if (p->n != pk->size || memcmp(p->phy, pk->data, p->n) != 0)
            continue;
        a->c.duplicates++;
        if (!p->done) {
            bool known = false;
            for (unsigned k = 0; k < p->n_heard && k < 8; k++)
                known |= p->heard_by[k] == pc->fwd;
            if (!known) {
                if (p->n_heard < 8)
                    p->heard_by[p->n_heard] = pc->fwd;
                p->n_heard++; /* counted past 8 all the same */
            }
            if (pk->rssi > p->rssi)
                p->rssi = pk->rssi;
            if (pk->lsnr > p->snr)
                p->snr = pk->lsnr;
            if (can_tx && (p->tx_fwd < 0 || pk->rssi > p->tx_rssi)) {
                p->tx_fwd = pc->fwd;
                p->tx_rssi = pk->rssi;
                p->tmst = pk->tmst;
                p->freq = pk->freq;
                snprintf(p->datr, sizeof p->datr, "%s", pk->datr);
            }
        }
        return;
    }
    lora_pend_t np = {.n = pk->size, .rssi = pk->rssi, .snr = pk->lsnr, .tx_fwd = can_tx ? pc->fwd : -1,
                      .tx_rssi = pk->rssi, .tmst = pk->tmst, .freq = pk->freq,
                      .due_ms = now_ms(a) + a->sec->dedup_ms, .heard_by = {pc->fwd}, .n_heard = 1};
    memcpy(np.phy, pk->data, pk->size);
    snprintf(np.datr, sizeof np.datr, "%s", pk->datr);
    if (a->sec->dedup_ms == 0) {
        process(a, &np);
        return;
    }
    if (a->n_pend == a->cap_pend) {
        size_t cap = a->cap_pend ? a->cap_pend * 2 : 16;
        lora_pend_t *n = realloc(a->pend, cap * sizeof *n);
        if (!n) {
            gw_err("lora: out of memory: frame processed without waiting for other forwarders");
            process(a, &np);
            return;
        }
        a->pend = n;
        a->cap_pend = cap;
    }
    a->pend[a->n_pend++] = np;
    arm_dedup(a);
}

static void log_counters(gw_adapter_t *a);

static void on_stat(void *ctx, const sem_stat_t *st)
{
    push_ctx_t *pc = ctx;
    lora_fwd_t *f = &pc->a->fwds[pc->fwd];
    f->stat = *st;
    f->has_stat = true;
    /* The forwarder's own counters (since its previous report, every
     * stat_interval, 30 s by default): the radio side of the link a user
     * checks when devices go quiet. A field it left out shows as "-". */
    char v[6][24];
    const long n[5] = {st->rxnb, st->rxok, st->rxfw, st->dwnb, st->txnb};
    for (int i = 0; i < 5; i++)
        if (n[i] < 0)
            snprintf(v[i], sizeof v[i], "-");
        else
            snprintf(v[i], sizeof v[i], "%ld", n[i]);
    if (st->ackr < 0)
        snprintf(v[5], sizeof v[5], "-");
    else
        snprintf(v[5], sizeof v[5], "%.1f%%", st->ackr);
    gw_info("lora: forwarder %016" PRIx64 " stat: rxnb %s rxok %s rxfw %s ackr %s dwnb %s "
            "txnb %s (received, CRC ok, forwarded, upstream acknowledged, downlinks "
            "received, sent)", f->eui, v[0], v[1], v[2], v[5], v[3], v[4]);
    log_counters(pc->a);
}

/* The adapter's own counters since it started, beside the forwarders'
 * stat lines (so once per stat interval at most, and only when they moved):
 * what the bounded drop lines no longer show one by one. */
static void log_counters(gw_adapter_t *a)
{
    const lora_counters_t *c = &a->c;
    if (memcmp(c, &a->c_logged, sizeof *c) == 0)
        return;
    a->c_logged = *c;
    gw_info("lora: counters: datagrams %" PRIu64 " (bad %" PRIu64 "), rxpk bad %" PRIu64
            ", CRC bad %" PRIu64 ", uplinks %" PRIu64 ", duplicates %" PRIu64
            ", unknown DevAddr/DevEUI %" PRIu64 ", bad MIC %" PRIu64 ", replays %" PRIu64
            ", bad frames %" PRIu64 ", joins %" PRIu64 " (refused %" PRIu64 "), downlinks %" PRIu64
            " (TX_ACK errors %" PRIu64 "), payloads not decoded %" PRIu64,
            c->datagrams, c->bad_datagrams, c->bad_rxpk, c->crc_bad, c->uplinks, c->duplicates,
            c->unknown_devaddr, c->bad_mic, c->replays, c->bad_frames, c->joins, c->join_rejected,
            c->downlinks, c->tx_ack_errors, c->decode_errors);
}

static void on_bad_rxpk(void *ctx, int index, const char *why)
{
    push_ctx_t *pc = ctx;
    pc->a->c.bad_rxpk++;
    drop_log(pc->a, lim_rxpk, LOG_WARNING, "lora: forwarder %016" PRIx64 ": rxpk[%d] dropped: %s",
             pc->eui, index, why);
}

static int find_fwd(gw_adapter_t *a, uint64_t eui)
{
    for (size_t i = 0; i < a->n_fwds; i++)
        if (a->fwds[i].eui == eui)
            return (int)i;
    lora_fwd_t *n = realloc(a->fwds, (a->n_fwds + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    a->fwds = n;
    memset(&n[a->n_fwds], 0, sizeof n[0]);
    n[a->n_fwds].eui = eui;
    gw_info("lora: forwarder %016" PRIx64 " connected", eui);
    return (int)a->n_fwds++;
}

static void on_tx_ack(gw_adapter_t *a, const sem_hdr_t *h)
{
    char err[64];
    int rc = sem_parse_tx_ack(h->json, h->json_len, err, sizeof err);
    for (size_t i = 0; i < a->n_devs; i++) {
        lora_dev_t *d = a->devs[i];
        for (lora_dl_t *dl = d->q; dl; dl = dl->next) {
            if (!dl->in_flight || memcmp(dl->token, h->token, 2) != 0)
                continue;
            if (rc == 0) {
                gw_info("lora: %s: downlink of %zu bytes on FPort %u accepted by the forwarder",
                        d->key, dl->len, dl->fport);
                finish_dl(d, dl, 0);
            } else {
                a->c.tx_ack_errors++;
                dl->in_flight = false;
                gw_warn("lora: %s: forwarder refused the downlink (%s): it waits for the next "
                        "uplink", d->key, rc == 1 ? err : "unreadable TX_ACK");
            }
            return;
        }
    }
    if (rc == 1) {
        a->c.tx_ack_errors++;
        drop_log(a, lim_dgram, LOG_WARNING, "lora: forwarder %016" PRIx64 " refused a downlink: %s",
                 h->eui, err);
    }
}

void gw_lora_datagram(gw_adapter_t *a, const uint8_t *p, size_t n, const void *from,
                      unsigned fromlen)
{
    if (!a || !p)
        return;
    a->c.datagrams++;
    sem_hdr_t h;
    const char *why = "";
    if (sem_parse_header(p, n, &h, &why) < 0) {
        a->c.bad_datagrams++;
        drop_log(a, lim_dgram, LOG_WARNING, "lora: dropped a %zu-byte datagram: %s", n, why);
        return;
    }
    int fwd = find_fwd(a, h.eui);
    if (fwd < 0) {
        gw_err("lora: out of memory: datagram from a new forwarder dropped");
        return;
    }
    uint8_t ack[4] = {SEM_VERSION, h.token[0], h.token[1], 0};
    if (h.id == SEM_PULL_DATA) {
        lora_fwd_t *f = &a->fwds[fwd];
        if (from && fromlen <= sizeof f->pull_addr) {
            memcpy(&f->pull_addr, from, fromlen);
            f->pull_len = (socklen_t)fromlen;
            f->has_pull = true;
        }
        ack[3] = SEM_PULL_ACK;
        if (from)
            send_to(a, ack, 4, from, (socklen_t)fromlen);
        return;
    }
    if (h.id == SEM_TX_ACK) {
        on_tx_ack(a, &h);
        return;
    }
    ack[3] = SEM_PUSH_ACK;
    if (from)
        send_to(a, ack, 4, from, (socklen_t)fromlen);
    push_ctx_t pc = {a, fwd, h.eui};
    sem_push_cb_t cb = {on_rxpk, on_stat, on_bad_rxpk, &pc};
    if (sem_parse_push(h.json, h.json_len, &cb, &why) < 0) {
        a->c.bad_datagrams++;
        drop_log(a, lim_dgram, LOG_WARNING, "lora: forwarder %016" PRIx64 ": PUSH_DATA dropped: %s",
                 h.eui, why);
    }
}

static void on_io(void *ctx, uint32_t events)
{
    gw_adapter_t *a = ctx;
    (void)events;
    /* Bounded so that a flood cannot hold the loop. */
    for (int i = 0; i < 256 && a->fd >= 0; i++) {
        uint8_t buf[65536];
        struct sockaddr_storage from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(a->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
        if (n < 0)
            break;
        gw_lora_datagram(a, buf, (size_t)n, &from, len);
    }
}

/* ---- housekeeping --------------------------------------------------------------- */

static void tick(gw_adapter_t *a, int64_t now)
{
    gw_log_limit_flush(&a->lim_dgram, now);
    gw_log_limit_flush(&a->lim_rxpk, now);
    gw_log_limit_flush(&a->lim_frame, now);
    for (size_t i = 0; i < a->n_devs; i++) {
        lora_dev_t *d = a->devs[i];
        if (d->dirty && now - d->dirty_ms >= a->sec->flush_ms)
            save_dev(a, d);
        for (lora_dl_t *dl = d->q, *next; dl; dl = next) {
            next = dl->next;
            if (dl->in_flight && now - dl->sent_ms >= TX_ACK_WAIT_MS) {
                dl->in_flight = false;
                gw_warn("lora: %s: no TX_ACK for its downlink: it waits for the next uplink",
                        d->key);
            }
            if (!dl->in_flight && now >= dl->deadline_ms) {
                gw_warn("lora: %s: write of %zu bytes not sent within %d s (no uplink opened a "
                        "window): failed", d->key, dl->len, a->sec->downlink_timeout_s);
                finish_dl(d, dl, -ETIMEDOUT);
            }
        }
        if (d->cfg->absent_after_s && !d->absent &&
            now - d->last_heard_ms >= (int64_t)d->cfg->absent_after_s * 1000) {
            d->absent = true;
            gw_warn("lora: %s not heard for %d s: absent", d->key, d->cfg->absent_after_s);
            emit(a, d, "error_code", (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = 7}, false, 0,
                 NULL);
            if (d->cfg->deregister_absent && a->env.set_available)
                a->env.set_available(a->env.emit_ctx, d->key, false);
        }
    }
}

static void on_tick(void *ctx)
{
    gw_adapter_t *a = ctx;
    tick(a, now_ms(a));
    if (a->started)
        gw_timer_start(a->env.loop, &a->tick, TICK_MS);
}

/* ---- adapter ops ----------------------------------------------------------------- */

static void lora_destroy(gw_adapter_t **ap);

static int lora_create(const gw_adapter_env_t *env, const void *section,
                       const gw_adapter_device_t *devs, size_t n, gw_adapter_t **out)
{
    if (!env || !out)
        return -EINVAL;
    gw_adapter_t *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->env = *env;
    a->fd = -1;
    gw_timer_init(&a->dedup_timer, on_dedup, a);
    gw_timer_init(&a->tick, on_tick, a);
    a->lim_dgram.window_ms = a->lim_rxpk.window_ms = a->lim_frame.window_ms = DROP_LOG_WINDOW_MS;
    if (section) {
        a->sec = section;
    } else {
        if (gw_lora_section_defaults(&a->own_sec) < 0) {
            lora_destroy(&a);
            return -ENOMEM;
        }
        a->sec = &a->own_sec;
    }
    if (!a->sec->region) {
        lora_destroy(&a);
        return -EINVAL;
    }
    int rc = lora_state_mkdir(a->sec->state_dir);
    if (rc < 0)
        gw_err("lora: cannot create state_dir %s: %s: counters will not survive a restart",
               a->sec->state_dir, strerror(-rc));
    a->devs = calloc(n ? n : 1, sizeof *a->devs);
    if (!a->devs) {
        lora_destroy(&a);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(a->devs[a->n_devs] = new_dev(a, &devs[i]))) {
            lora_destroy(&a);
            return -ENOMEM;
        }
        a->n_devs++;
    }
    if (rebuild_index(a) < 0) {
        lora_destroy(&a);
        return -ENOMEM;
    }
    *out = a;
    return 0;
}

static int open_socket(const char *listen_at)
{
    char host[256];
    const char *colon = strrchr(listen_at, ':');
    if (!colon || (size_t)(colon - listen_at) >= sizeof host)
        return -EINVAL;
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
    int e = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
    if (e != 0) {
        gw_err("lora: listen \"%s\": %s", listen_at, gai_strerror(e));
        return -EADDRNOTAVAIL;
    }
    int fd = -1, rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        /* As libcoap's server sockets: a restarted gateway binds at once. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            rc = -errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd >= 0 ? fd : rc;
}

static int lora_start(gw_adapter_t *a)
{
    if (!a)
        return -EINVAL;
    if (!a->env.loop)
        return 0;
    int fd = open_socket(a->sec->listen);
    if (fd < 0) {
        gw_err("lora: cannot listen on %s: %s", a->sec->listen, strerror(-fd));
        return fd;
    }
    int rc = gw_loop_add_fd(a->env.loop, fd, EPOLLIN, on_io, a);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    a->fd = fd;
    a->started = true;
    int64_t now = now_ms(a);
    for (size_t i = 0; i < a->n_devs; i++)
        a->devs[i]->last_heard_ms = now;
    gw_timer_start(a->env.loop, &a->tick, TICK_MS);
    gw_info("lora: listening on %s (region %s), %zu devices", a->sec->listen, a->sec->region->name,
            a->n_devs);
    return 0;
}

static void lora_stop(gw_adapter_t *a)
{
    if (!a)
        return;
    if (a->env.loop) {
        gw_timer_stop(a->env.loop, &a->dedup_timer);
        gw_timer_stop(a->env.loop, &a->tick);
        if (a->fd >= 0)
            gw_loop_del_fd(a->env.loop, a->fd);
    }
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    a->started = false;
    a->n_pend = 0;
    /* Lines held back in the current window are summarised now, not lost. */
    int64_t end = now_ms(a) + DROP_LOG_WINDOW_MS;
    gw_log_limit_flush(&a->lim_dgram, end);
    gw_log_limit_flush(&a->lim_rxpk, end);
    gw_log_limit_flush(&a->lim_frame, end);
    for (size_t i = 0; i < a->n_devs; i++) {
        cancel_writes(a->devs[i], -ECANCELED);
        if (a->devs[i]->dirty)
            save_dev(a, a->devs[i]);
    }
}

static void lora_destroy(gw_adapter_t **ap)
{
    if (!ap || !*ap)
        return;
    gw_adapter_t *a = *ap;
    if (a->started)
        lora_stop(a);
    for (size_t i = 0; i < a->n_devs; i++) {
        cancel_writes(a->devs[i], -ECANCELED);
        if (a->devs[i]->dirty && a->sec)
            save_dev(a, a->devs[i]);
        free_dev(a->devs[i]);
    }
    free(a->devs);
    free(a->ix);
    free(a->fwds);
    free(a->pend);
    free(a->own_sec.listen);
    free(a->own_sec.state_dir);
    free(a);
    *ap = NULL;
}

/* Unchanged devices keep everything; a changed one keeps its session
 * (counters, DevNonces, keys of its join) when its LoRaWAN keys did not
 * change, and its pending writes are cancelled; removed ones are written
 * out and dropped. Everything is allocated before anything is touched. */
static int lora_reconfigure(gw_adapter_t *a, const gw_adapter_change_t *ch, size_t n)
{
    size_t added = 0;
    for (size_t i = 0; i < n; i++)
        if (ch[i].kind == GW_ADAPTER_ADDED || ch[i].kind == GW_ADAPTER_CHANGED)
            added++;
    lora_dev_t **fresh = calloc(added ? added : 1, sizeof *fresh);
    lora_dev_t **devs = calloc(a->n_devs + added + 1, sizeof *devs);
    bool ok = fresh && devs;
    for (size_t i = 0, k = 0; ok && i < n; i++)
        if (ch[i].kind != GW_ADAPTER_REMOVED)
            ok = (fresh[k++] = new_dev(a, &ch[i].dev)) != NULL;
    if (!ok) {
        for (size_t k = 0; fresh && k < added; k++)
            free_dev(fresh[k]);
        free(fresh);
        free(devs);
        return -ENOMEM;
    }
    size_t nd = 0;
    for (size_t i = 0; i < a->n_devs; i++) {
        lora_dev_t *d = a->devs[i];
        const gw_adapter_change_t *c = NULL;
        for (size_t j = 0; j < n && !c; j++)
            if (ch[j].kind != GW_ADAPTER_ADDED && strcmp(ch[j].dev.key, d->key) == 0)
                c = &ch[j];
        if (!c) {
            devs[nd++] = d;
            continue;
        }
        cancel_writes(d, -ECANCELED);
        if (c->kind == GW_ADAPTER_CHANGED) {
            size_t k = 0;
            for (size_t j = 0; j < (size_t)(c - ch); j++)
                if (ch[j].kind != GW_ADAPTER_REMOVED)
                    k++;
            lora_dev_t *nw = fresh[k];
            if (gw_lora_identity_fingerprint(d->cfg) == gw_lora_identity_fingerprint(nw->cfg)) {
                lora_state_free(&nw->st);
                nw->st = d->st;
                memset(&d->st, 0, sizeof d->st);
                nw->last_heard_ms = d->last_heard_ms;
                nw->absent = d->absent;
                nw->dirty = d->dirty;
                nw->dirty_ms = d->dirty_ms;
                d->dirty = false;
            }
        }
        if (d->dirty)
            save_dev(a, d);
        free_dev(d);
    }
    for (size_t k = 0; k < added; k++)
        devs[nd++] = fresh[k];
    free(fresh);
    free(a->devs);
    a->devs = devs;
    a->n_devs = nd;
    if (rebuild_index(a) < 0)
        return -ENOMEM;
    return 0;
}

/* An Execute is encoded as a write of its arguments to the same field
 * (docs/lora.md, "Downlinks"): the argument text ("0='on',1") as a string,
 * or true when there is none. A JS codec's encodeDownlink sees
 * {data: {<field>: true}}; an LPP output or layout field encodes true as 1.
 * out is where the value is built; the value to encode is returned. */
static const gw_value_t *exec_value(const gw_value_t *value, const char *args, gw_value_t *out)
{
    if (value)
        return value;
    if (args && args[0])
        *out = (gw_value_t){.type = GW_TYPE_STRING,
                            .v.bytes = {(const uint8_t *)args, strlen(args)}};
    else
        *out = (gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = true};
    return out;
}

static int lora_write_check(gw_adapter_t *a, const char *device_key, const char *field,
                            const gw_value_t *value, const char *args)
{
    if (!a || !field)
        return -EINVAL;
    lora_dev_t *d = find_key(a, device_key);
    if (!d)
        return -ENOENT;
    if (!d->cfg->codec)
        return -ENOTSUP;
    gw_value_t ev;
    value = exec_value(value, args, &ev);
    uint8_t buf[GW_PAYLOAD_MAX_BYTES];
    size_t len = 0;
    unsigned fport = 0;
    char msg[128];
    return lora_codec_encode(d->cfg->codec, field, value, &fport, buf, sizeof buf, &len, msg,
                             sizeof msg);
}

static int lora_write_async(gw_adapter_t *a, const char *device_key, const char *field,
                            const gw_value_t *value, const char *args, gw_write_done_fn done,
                            void *done_ctx)
{
    if (!a || !field || !done)
        return -EINVAL;
    lora_dev_t *d = find_key(a, device_key);
    if (!d)
        return -ENOENT;
    if (!d->cfg->codec)
        return -ENOTSUP;
    const char *what = value ? "write" : "execute";
    gw_value_t ev;
    value = exec_value(value, args, &ev);
    if (!a->started)
        return -ENOTCONN;
    lora_dl_t *dl = calloc(1, sizeof *dl);
    if (!dl)
        return -ENOMEM;
    char msg[128] = "";
    int rc = lora_codec_encode(d->cfg->codec, field, value, &dl->fport, dl->bytes,
                               sizeof dl->bytes, &dl->len, msg, sizeof msg);
    if (rc < 0) {
        free(dl);
        return rc;
    }
    dl->done = done;
    dl->done_ctx = done_ctx;
    dl->deadline_ms = now_ms(a) + (int64_t)a->sec->downlink_timeout_s * 1000;
    lora_dl_t **pp = &d->q;
    while (*pp)
        pp = &(*pp)->next;
    *pp = dl;
    gw_info("lora: %s: %s of %s queued (%zu bytes on FPort %u) until its next uplink",
            d->key, what, field, dl->len, dl->fport);
    return 0;
}

lora_counters_t gw_lora_counters(const gw_adapter_t *a)
{
    lora_counters_t z = {0};
    return a ? a->c : z;
}

const gw_adapter_ops_t gw_adapter_lora = {
    .name = "lora",
    .conf = &gw_lora_conf_ops,
    .create = lora_create,
    .reconfigure = lora_reconfigure,
    .start = lora_start,
    .stop = lora_stop,
    .destroy = lora_destroy,
    .write_check = lora_write_check,
    .write_async = lora_write_async,
};
