/*
 * mapping/suggest.c - "did you mean ...?" for unknown configuration keys and
 * names.
 *
 * The distance is Levenshtein's with adjacent transpositions counted as one
 * edit (the "optimal string alignment" variant), because swapped letters
 * ("lifeitme") are among the commonest typos. Letters compare
 * case-insensitively so "Lifetime" still finds "lifetime".
 */
#include <ctype.h>
#include <string.h>

#include "config_internal.h"

/* Keys are short; longer words are not compared at all. */
#define GW_SUGGEST_MAX_LEN 64

static int lower(char c)
{
    return tolower((unsigned char)c);
}

size_t gw_config_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > GW_SUGGEST_MAX_LEN || lb > GW_SUGGEST_MAX_LEN)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    /* Three rolling rows: the transposition step looks two rows back. */
    size_t rows[3][GW_SUGGEST_MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t row_min = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            size_t d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d)
                d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
            if (d < row_min)
                row_min = d;
        }
        if (row_min > cap)
            return cap + 1;
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *gw_config_suggest(const char *word, const char *const *candidates, size_t n)
{
    if (!word || !*word)
        return NULL;
    /* A typo changes a small part of a word: allow one edit for short
     * words, two for words of five letters or more, three from nine. Any
     * more and the "suggestion" is usually an unrelated key. */
    size_t len = strlen(word);
    size_t cap = len < 5 ? 1 : len < 9 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = cap + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = gw_config_edit_distance(word, candidates[i], cap);
        /* A candidate no longer than the edits needed is not a match:
         * "ab" is two edits from any two-letter key. */
        if (d < best_d && d < strlen(candidates[i])) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}
