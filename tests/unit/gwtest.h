/*
 * tests/unit/gwtest.h - a tiny unit-test runner. Each test program defines
 * tests with GW_TEST(name), lists them in GW_TEST_MAIN(...), and prints one
 * line per test plus "N passed, N failed"; tests/run_tests.sh adds them up.
 */
#ifndef GW_TESTS_GWTEST_H
#define GW_TESTS_GWTEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gwt_failed_checks;

#define GW_TEST(name) static void name(void)

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            gwt_failed_checks++;                                                      \
        }                                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                            \
    do {                                                                              \
        long long gwt_a = (long long)(a), gwt_b = (long long)(b);                     \
        if (gwt_a != gwt_b) {                                                         \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,    \
                    __LINE__, #a, gwt_a, #b, gwt_b);                                  \
            gwt_failed_checks++;                                                      \
        }                                                                             \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                            \
    do {                                                                              \
        const char *gwt_a = (a), *gwt_b = (b);                                        \
        if (!gwt_a || !gwt_b || strcmp(gwt_a, gwt_b) != 0) {                          \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,      \
                    __LINE__, #a, gwt_a ? gwt_a : "(null)", gwt_b ? gwt_b : "(null)"); \
            gwt_failed_checks++;                                                      \
        }                                                                             \
    } while (0)

#define CHECK_EQ_MEM(a, alen, b, blen)                                                \
    do {                                                                              \
        size_t gwt_al = (alen), gwt_bl = (blen);                                      \
        if (gwt_al != gwt_bl || memcmp((a), (b), gwt_al) != 0) {                      \
            fprintf(stderr, "  %s:%d: %s (%zu bytes) differs from %s (%zu bytes)\n",   \
                    __FILE__, __LINE__, #a, gwt_al, #b, gwt_bl);                      \
            gwt_failed_checks++;                                                      \
        }                                                                             \
    } while (0)

#define CHECK_NEAR(a, b, eps) CHECK(fabs((double)(a) - (double)(b)) <= (eps))

typedef void (*gwt_fn)(void);
struct gwt_case {
    const char *name;
    gwt_fn fn;
};
#define GWT_CASE(fn) {#fn, fn}

static inline int gwt_run(const char *prog, const struct gwt_case *cases, size_t n)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        int before = gwt_failed_checks;
        cases[i].fn();
        if (gwt_failed_checks == before) {
            passed++;
            printf("PASS %s/%s\n", prog, cases[i].name);
        } else {
            failed++;
            printf("FAIL %s/%s\n", prog, cases[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* GW_TEST_MAIN(test_a, test_b, ...) */
#define GW_TEST_MAIN(...)                                                     \
    int main(int argc, char **argv)                                           \
    {                                                                         \
        (void)argc;                                                           \
        static const gwt_fn fns[] = {__VA_ARGS__};                            \
        static const char names[] = #__VA_ARGS__;                             \
        struct gwt_case cases[sizeof fns / sizeof fns[0]];                    \
        char buf[sizeof names];                                               \
        memcpy(buf, names, sizeof names);                                     \
        char *save = NULL, *tok = strtok_r(buf, ", \t\n", &save);             \
        size_t n = sizeof fns / sizeof fns[0];                                \
        static char namestore[sizeof names];                                  \
        char *w = namestore;                                                  \
        for (size_t i = 0; i < n && tok; i++, tok = strtok_r(NULL, ", \t\n", &save)) { \
            size_t l = strlen(tok) + 1;                                       \
            memcpy(w, tok, l);                                                \
            cases[i].name = w;                                                \
            cases[i].fn = fns[i];                                             \
            w += l;                                                           \
        }                                                                     \
        const char *prog = strrchr(argv[0], '/');                             \
        return gwt_run(prog ? prog + 1 : argv[0], cases, n);                  \
    }

#endif
