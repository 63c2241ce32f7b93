/*
 * A qemu-user TCG plugin that counts the guest instructions a program executes, for
 * projecting its run time on hardware we do not have (README, "Raspberry Pi (aarch64)").
 *
 * Build: cc -shared -fPIC -O2 -o insn_count.so insn_count.c
 * Use:   qemu-aarch64 -plugin ./insn_count.so -d plugin -D count.txt PROGRAM ...
 *
 * Written against QEMU's plugin API version 1 (QEMU 7.x, Debian 12's qemu-user), whose few
 * declarations are repeated here so that no QEMU source tree is needed.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One counter per guest thread (vCPU), each written only by its own thread, so no atomics are
 * needed; threads past the last slot share it with a (rare, small) risk of lost updates. */
#define SLOTS 256
static uint64_t counts[SLOTS];

static void on_exec(unsigned int vcpu, void *n_insns) {
    counts[vcpu < SLOTS ? vcpu : SLOTS - 1] += (uint64_t)(uintptr_t)n_insns;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    /* Every execution of a translated block runs all of its instructions (a fault midway is
     * the exception, and rare enough not to matter for a count of billions). */
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(uintptr_t)qemu_plugin_tb_n_insns(tb));
}

static void on_exit(qemu_plugin_id_t id, void *p) {
    (void)id;
    (void)p;
    uint64_t total = 0;
    for (int i = 0; i < SLOTS; i++) total += counts[i];
    char line[64];
    snprintf(line, sizeof line, "insns %" PRIu64 "\n", total);
    qemu_plugin_outs(line);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t *info, int argc,
                                                               char **argv) {
    (void)info;
    (void)argc;
    (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
