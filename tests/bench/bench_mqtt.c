/*
 * tests/bench/bench_mqtt.c - the MQTT mirror's throughput: values set in the
 * store, published by the mirror (gateway/mqtt.c, paho's asynchronous
 * client) to a local mosquitto, received by a subscriber.
 *
 *   BENCH mqtt_mirror_msgs_per_s <n> msgs/s qos=0
 *   BENCH mqtt_mirror_msgs_per_s <n> msgs/s qos=1
 *
 * The real loop, store and mirror run in this process; the values belong to
 * one virtual client (/3303/0/5700, plain-value format, not retained). They
 * are set from a loop timer, BATCH per turn, as an adapter's readings come.
 * A second paho client in this process subscribes to the value topic at
 * the same QoS and counts arrivals; the figure is N messages over the time
 * from the first set to the last arrival, so it includes the mirror's
 * copies, paho's queue and threads, the broker and the way back.
 *
 * mosquitto (Debian package mosquitto) is started by this program on a
 * loopback port it holds bound (SO_REUSEADDR, not listening) and stopped at
 * the end. Everything is bounded by counts and deadlines.
 */
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/mqtt.h"
#include "lwm2m/lwm2m.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define N_MSGS 50000
#define BATCH 500
#define DEADLINE_MS 60000

typedef struct bench {
    gw_loop_t *loop;
    gw_store_t *store;
    gw_sclient_t *c;
    gw_timer_t push_timer;
    size_t pushed;
    int64_t t_first_ns;
    atomic_size_t received;
    atomic_llong t_last_ns;
    atomic_int sub_ready;
} bench_t;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- mosquitto ------------------------------------------------------------ */

static int hold_port(int *out_fd)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *out_fd = fd;
    return ntohs(a.sin_port);
}

/* Start mosquitto and wait (at most 10 s) for its "running" line. */
static pid_t broker_start(const char *dir, int port)
{
    char conf[256];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type error\n"
               "log_type information\npersistence false\nmax_queued_messages 0\nuser %s\n",
            port, getuid() == 0 ? "root" : "nobody");
    fclose(f);
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execlp("mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[4096];
    size_t n = 0;
    int64_t end = gw_now_ms() + 10000;
    bool ok = false;
    while (pid > 0 && !ok && gw_now_ms() < end) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        if (poll(&pfd, 1, (int)(end - gw_now_ms())) <= 0)
            break;
        ssize_t r = read(p[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        ok = strstr(buf, " running") != NULL;
        if (n == sizeof buf - 1)
            n = 0;
    }
    close(p[0]);
    if (!ok) {
        fprintf(stderr, "bench_mqtt: mosquitto did not start: %s\n", buf);
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    return pid;
}

static void broker_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        poll(NULL, 0, 50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* ---- the subscriber (paho's threads) -------------------------------------- */

static int on_msg(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
    bench_t *b = ctx;
    (void)len;
    atomic_fetch_add(&b->received, 1);
    atomic_store(&b->t_last_ns, mono_ns());
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_sub_ok(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    atomic_store(&((bench_t *)ctx)->sub_ready, 1);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData *r)
{
    (void)r;
    atomic_store(&((bench_t *)ctx)->sub_ready, -1);
}

static MQTTAsync sub_client;
static int sub_qos;
static char sub_topic[128];

static void on_conn_ok(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_sub_ok;
    ro.onFailure = on_sub_fail;
    ro.context = ctx;
    if (MQTTAsync_subscribe(sub_client, sub_topic, sub_qos, &ro) != MQTTASYNC_SUCCESS)
        atomic_store(&((bench_t *)ctx)->sub_ready, -1);
}

static int subscriber_start(bench_t *b, int port, int qos)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
    sub_qos = qos;
    snprintf(sub_topic, sizeof sub_topic, "bench/bench-mqtt/3303/0/5700");
    if (MQTTAsync_create(&sub_client, uri, "bench-sub", MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS)
        return -1;
    MQTTAsync_setCallbacks(sub_client, b, NULL, on_msg, NULL);
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    o.cleansession = 1;
    o.onSuccess = on_conn_ok;
    o.onFailure = on_sub_fail;
    o.context = b;
    atomic_store(&b->sub_ready, 0);
    if (MQTTAsync_connect(sub_client, &o) != MQTTASYNC_SUCCESS)
        return -1;
    int64_t end = gw_now_ms() + 10000;
    while (atomic_load(&b->sub_ready) == 0 && gw_now_ms() < end)
        poll(NULL, 0, 5);
    return atomic_load(&b->sub_ready) == 1 ? 0 : -1;
}

static void subscriber_stop(void)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = 1000;
    MQTTAsync_disconnect(sub_client, &d);
    MQTTAsync_destroy(&sub_client);
}

/* ---- the run ----------------------------------------------------------- */

static void push_batch(void *ctx)
{
    bench_t *b = ctx;
    if (!b->t_first_ns)
        b->t_first_ns = mono_ns();
    gw_path_t p = {{3303, 0, 5700, 0}, 3};
    for (size_t i = 0; i < BATCH && b->pushed < N_MSGS; i++, b->pushed++) {
        gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = (double)b->pushed};
        gw_store_set(b->store, b->c, &p, &v, 0);
    }
    if (b->pushed < N_MSGS)
        gw_timer_start(b->loop, &b->push_timer, 0);
}

static int run_qos(bench_t *b, int port, int qos, const char *dir)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
    gw_config_mqtt_t cfg = {.enabled = true, .uri = uri, .client_id = "{gateway}", .verify = true, .qos = qos,
                            .retain = false, .topic_prefix = "bench", .format = GW_MQTT_FORMAT_VALUE,
                            .keepalive = 30, .buffer_max = N_MSGS * 2};
    gw_mqtt_ops_t ops = {0};
    gw_mqtt_t *m = NULL;
    int ret = -1;
    atomic_store(&b->received, 0);
    atomic_store(&b->t_last_ns, 0);
    b->pushed = 0;
    b->t_first_ns = 0;
    if (subscriber_start(b, port, qos) < 0) {
        fprintf(stderr, "bench_mqtt: the subscriber did not subscribe\n");
        return -1;
    }
    if (gw_mqtt_new(b->loop, b->store, &cfg, "bench-gw", dir, &ops, &m) < 0)
        goto out;
    gw_mqtt_stats_t st;
    int64_t end = gw_now_ms() + 10000;
    do {
        gw_loop_run_once(b->loop, 50);
        gw_mqtt_stats(m, &st);
    } while (!st.connected && gw_now_ms() < end);
    if (!st.connected) {
        fprintf(stderr, "bench_mqtt: the mirror did not connect\n");
        goto out;
    }
    gw_timer_start(b->loop, &b->push_timer, 0);
    end = gw_now_ms() + DEADLINE_MS;
    while (atomic_load(&b->received) < N_MSGS && gw_now_ms() < end)
        gw_loop_run_once(b->loop, 10);
    size_t got = atomic_load(&b->received);
    gw_mqtt_stats(m, &st);
    if (got < N_MSGS) {
        fprintf(stderr, "bench_mqtt: qos %d: %zu of %d messages arrived (published %llu, dropped %llu)\n", qos,
                got, N_MSGS, (unsigned long long)st.published, (unsigned long long)st.dropped);
        goto out;
    }
    double s = (double)(atomic_load(&b->t_last_ns) - b->t_first_ns) / 1e9;
    printf("BENCH mqtt_mirror_msgs_per_s %.0f msgs/s qos=%d\n", N_MSGS / s, qos);
    fflush(stdout);
    ret = 0;
out:
    gw_timer_stop(b->loop, &b->push_timer);
    gw_mqtt_shutdown(m);
    gw_mqtt_free(&m);
    subscriber_stop();
    return ret;
}

int main(void)
{
    bench_t bb = {0}, *b = &bb;
    gw_registry_t *reg = NULL;
    gw_lwm2m_t *lw = NULL;
    gw_vclient_t *vc = NULL;
    char dir[] = "/tmp/gw-bench-mqtt-XXXXXX";
    int hold = -1, ret = 1;
    pid_t broker = -1;
    gw_log_set_level(LOG_WARNING);
    signal(SIGPIPE, SIG_IGN);
    int port = hold_port(&hold);
    /* an LwM2M server nobody answers: the client is never started, it only
     * gives the store client its endpoint */
    gw_lwm2m_server_opts_t so = {.uri = "coap://127.0.0.1:9", .lifetime = 300, .security = GW_LWM2M_NOSEC,
                                 .short_server_id = 1, .binding = "U"};
    if (port < 0 || !mkdtemp(dir) || (broker = broker_start(dir, port)) < 0 || gw_registry_new(&reg) < 0 ||
        gw_loop_new(&b->loop) < 0 || gw_store_new(reg, &b->store) < 0 ||
        gw_lwm2m_new(b->loop, b->store, &so, 1, &lw) < 0 || gw_vclient_new(lw, "bench-mqtt", NULL, NULL, &vc) < 0) {
        fprintf(stderr, "bench_mqtt: setup failed\n");
        goto out;
    }
    b->c = gw_vclient_store(vc);
    gw_timer_init(&b->push_timer, push_batch, b);
    if (gw_store_instance_create(b->store, b->c, 3303, 0) < 0)
        goto out;
    ret = 0;
    if (run_qos(b, port, 0, dir) < 0)
        ret = 1;
    if (run_qos(b, port, 1, dir) < 0)
        ret = 1;
out:
    if (vc)
        gw_vclient_remove(lw, &vc);
    gw_lwm2m_free(&lw);
    gw_store_free(&b->store);
    gw_loop_free(&b->loop);
    gw_registry_free(&reg);
    broker_stop(broker);
    if (hold >= 0)
        close(hold);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (dir[sizeof dir - 7] != 'X' && system(cmd) != 0)
        fprintf(stderr, "bench_mqtt: could not remove %s\n", dir);
    return ret;
}
