// Writes tests/fixtures/quant_reference.json: rows of f32 (as bit patterns) and their encodings
// by ggml's reference quantizers (quantize_row_{q8_0,q4_0,q4_1,q4_K}_ref in ggml-quants.c).
// Built and run by scripts/quant-reference.sh; opensoc's quantizers must match it bit for bit.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-quants.h"

// ggml-quants.c needs these from ggml.c only on paths the reference quantizers never take.
void ggml_abort(const char *file, int line, const char *fmt, ...) {
    fprintf(stderr, "ggml_abort at %s:%d (%s)\n", file, line, fmt);
    abort();
}
size_t ggml_row_size(enum ggml_type t, int64_t ne) { (void)t; (void)ne; abort(); }
const char *ggml_type_name(enum ggml_type t) { (void)t; return "?"; }
size_t ggml_type_size(enum ggml_type t) { (void)t; abort(); }

#define N 256
#define ROWS 10

static uint64_t state = 0x853c49e6748fea9bULL;
static float uniform(void) {  // [0, 1), 24 random bits
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)(state >> 40) / 16777216.0f;
}

static void fill(int row, float *x) {
    for (int i = 0; i < N; i++) {
        float u = uniform() * 2.0f - 1.0f;
        switch (row) {
        case 0: x[i] = u; break;                                        // uniform [-1, 1)
        case 1: x[i] = 0.02f * (u + uniform() + uniform() - 1.5f); break; // weight-like
        case 2: x[i] = 0.0f; break;                                     // all zero
        case 3: x[i] = 0.3f; break;                                     // constant
        case 4: x[i] = 0.1f + uniform() * 1.9f; break;                  // positive only
        case 5: x[i] = (float)((i % 16) - 8); break;                    // integers -8..7
        case 6: x[i] = 0.01f * u + (i % 97 == 7 ? (i & 1 ? -100.0f : 100.0f) : 0.0f); break;
        case 7: x[i] = u * powf(10.0f, (float)(i / 32 % 6) - 3.0f); break; // ranges per block
        case 8: x[i] = -0.1f - uniform(); break;                        // negative only
        default: x[i] = (i / 32) % 2 ? 0.0f : u * 1e-3f; break;         // zero and small blocks
        }
    }
}

static void hex(const void *p, size_t n) {
    const uint8_t *b = p;
    putchar('"');
    for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
    putchar('"');
}

int main(void) {
    static float x[ROWS][N];
    for (int r = 0; r < ROWS; r++) fill(r, x[r]);
    printf("{\n  \"generator\": \"scripts/quant-reference.sh (ggml-quants.c reference quantizers)\",\n");
    printf("  \"rows\": [\n");
    for (int r = 0; r < ROWS; r++) {
        printf("    [");
        for (int i = 0; i < N; i++) {
            uint32_t u;
            memcpy(&u, &x[r][i], 4);
            printf("%s%u", i ? "," : "", u);
        }
        printf("]%s\n", r + 1 < ROWS ? "," : "");
    }
    printf("  ],\n");
    static block_q8_0 q8[N / 32];
    static block_q4_0 q40[N / 32];
    static block_q4_1 q41[N / 32];
    static block_q4_K q4k[N / 256];
    const char *names[] = {"q8_0", "q4_0", "q4_1", "q4_k"};
    for (int t = 0; t < 4; t++) {
        printf("  \"%s\": [", names[t]);
        for (int r = 0; r < ROWS; r++) {
            printf("%s\n    ", r ? "," : "");
            switch (t) {
            case 0: quantize_row_q8_0_ref(x[r], q8, N); hex(q8, sizeof q8); break;
            case 1: quantize_row_q4_0_ref(x[r], q40, N); hex(q40, sizeof q40); break;
            case 2: quantize_row_q4_1_ref(x[r], q41, N); hex(q41, sizeof q41); break;
            case 3: quantize_row_q4_K_ref(x[r], q4k, N); hex(q4k, sizeof q4k); break;
            }
        }
        printf("\n  ]%s\n", t < 3 ? "," : "");
    }
    printf("}\n");
    return 0;
}
