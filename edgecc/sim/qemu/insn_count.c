/* insn_count.c -- QEMU TCG plugin (plugin API v1, qemu 7.2): exact counts of
 * executed guest instructions.
 *
 * Args (-plugin ./insn_count.so,arg=value,...):
 *   out=FILE     where to write the counts (default insn_count.txt)
 *   begin=ADDR   address of the first instruction of a "begin" marker function
 *   end=ADDR     same for "end": each begin..end pair is one window
 *   hist=on      also write one "pc ADDR COUNT" line per executed address
 * Output: "total N", "window I N" per window, then the histogram.
 * Debian ships no qemu-plugin.h: the few v1 declarations used are below.
 * Build: gcc -shared -fPIC -O2 -o insn_count.so insn_count.c
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- subset of qemu 7.2 include/qemu/qemu-plugin.h (API version 1) ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;
/* ------------------------------------------------------------------------ */

#define HIST_LIMIT 0x00800000u            /* per-PC counters for addresses below this */
static uint64_t total, other;            /* other: executed insns at or above HIST_LIMIT */
static uint64_t *hist;                    /* HIST_LIMIT / 2 counters (Thumb: 2-byte steps) */
static uint64_t begin_addr = UINT64_MAX, end_addr = UINT64_MAX, snap;
static uint64_t *windows;
static size_t nwin, capwin;
static int in_window;
static char out_path[1024] = "insn_count.txt";

static void on_begin(unsigned int vcpu, void *u) { (void)vcpu; (void)u; snap = total; in_window = 1; }
static void on_end(unsigned int vcpu, void *u)
{
    (void)vcpu; (void)u;
    if (!in_window) return;
    in_window = 0;
    if (nwin == capwin) {
        capwin = capwin ? 2 * capwin : 64;
        windows = realloc(windows, capwin * sizeof *windows);
    }
    windows[nwin++] = total - snap;
}

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &total, 1);
        if (hist)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       pc < HIST_LIMIT ? &hist[pc / 2] : &other, 1);
        if (pc == begin_addr)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (pc == end_addr)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
}

static void on_exit_cb(qemu_plugin_id_t id, void *u)
{
    (void)id; (void)u;
    FILE *f = fopen(out_path, "w");
    if (!f) return;
    fprintf(f, "total %" PRIu64 "\n", total);
    for (size_t i = 0; i < nwin; i++) fprintf(f, "window %zu %" PRIu64 "\n", i, windows[i]);
    if (hist) {
        for (uint64_t i = 0; i < HIST_LIMIT / 2; i++)
            if (hist[i]) fprintf(f, "pc 0x%08" PRIx64 " %" PRIu64 "\n", 2 * i, hist[i]);
        if (other) fprintf(f, "pc other %" PRIu64 "\n", other);
    }
    fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "out=", 4)) snprintf(out_path, sizeof out_path, "%s", a + 4);
        else if (!strncmp(a, "begin=", 6)) begin_addr = strtoull(a + 6, NULL, 0) & ~1ull;
        else if (!strncmp(a, "end=", 4)) end_addr = strtoull(a + 4, NULL, 0) & ~1ull;
        else if (!strcmp(a, "hist=on")) hist = calloc(HIST_LIMIT / 2, sizeof *hist);
        else { fprintf(stderr, "insn_count: unknown argument %s\n", a); return -1; }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
