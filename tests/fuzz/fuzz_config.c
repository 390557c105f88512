/*
 * fuzz_config.c — libFuzzer target for ocppd's settings parser (src/config.c), used twice per
 * input:
 *
 *   1. as a --config file: config_load_file() on the bytes, then again on the same bytes without
 *      their comment lines (first non-blank character '#'); both must end the same way and, on
 *      success, with the same settings, since a comment must never set anything (a file holding
 *      a NUL byte must be refused);
 *   2. as a command line: config_parse_args() on "ocppd" plus the input's lines as argv tokens;
 *      the value after a "--config" token is replaced by the input file itself, so a flag never
 *      opens a path taken from the input.
 *
 * After every successful parse the settings must be in their documented ranges; after a failure
 * the error line must be non-empty and terminated. The file lives in a memfd, read through
 * /proc/self/fd so the real fopen/fgets path runs without touching the disk.
 */
#include "config.h"
#include "od.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_config: check failed: %s (line %d)\n", #cond, __LINE__);   \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

#define FUZZ_MAX_ARGS 64

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* The invariants of a config that parsed. */
static void check_config(const struct config *cfg)
{
    FUZZ_CHECK(terminated(cfg->listen_host, sizeof cfg->listen_host) && cfg->listen_host[0]);
    FUZZ_CHECK(terminated(cfg->admin_host, sizeof cfg->admin_host) && cfg->admin_host[0]);
    FUZZ_CHECK(cfg->listen_port >= 0 && cfg->listen_port <= 65535);
    FUZZ_CHECK(cfg->admin_port >= 0 && cfg->admin_port <= 65535);
    FUZZ_CHECK(terminated(cfg->db_path, sizeof cfg->db_path) && cfg->db_path[0]);
    FUZZ_CHECK(terminated(cfg->admin_token, sizeof cfg->admin_token));
    size_t tlen = strlen(cfg->admin_token);
    FUZZ_CHECK(tlen == 0 || tlen >= 8); /* empty only before config_parse_args generates one */
    for (size_t i = 0; i < tlen; i++) FUZZ_CHECK(isgraph((unsigned char)cfg->admin_token[i]));
    FUZZ_CHECK(cfg->heartbeat_interval_s >= 1 && cfg->heartbeat_interval_s <= 86400);
    FUZZ_CHECK(cfg->call_timeout_ms >= 100 && cfg->call_timeout_ms <= 600000);
    FUZZ_CHECK(cfg->max_frame_bytes >= 1024 && cfg->max_frame_bytes <= 16u * 1024 * 1024);
    FUZZ_CHECK(cfg->max_json_depth >= 4 && cfg->max_json_depth <= 256);
    FUZZ_CHECK(cfg->max_connections >= 1);
    FUZZ_CHECK(cfg->max_conns_per_ip >= 0 && cfg->max_handshakes_per_ip >= 0);
    FUZZ_CHECK(cfg->handshake_rate_per_ip >= 0 && cfg->handshake_burst_per_ip >= 1);
    FUZZ_CHECK(cfg->auth_failures_per_ip >= 0);
    FUZZ_CHECK(cfg->handshake_timeout_s >= 1 && cfg->handshake_timeout_s <= 300);
    FUZZ_CHECK(cfg->log_level >= LOG_LEVEL_ERROR && cfg->log_level <= LOG_LEVEL_DEBUG);
    FUZZ_CHECK(config_ping_interval_s(cfg) > 0 && config_idle_timeout_s(cfg) > 0);
    FUZZ_CHECK(cfg->ntokens == 0 || cfg->tokens);
    for (size_t i = 0; i < cfg->ntokens; i++) {
        const struct config_token *t = &cfg->tokens[i];
        FUZZ_CHECK(terminated(t->id_tag, sizeof t->id_tag) && t->id_tag[0]);
        FUZZ_CHECK(terminated(t->status, sizeof t->status));
        FUZZ_CHECK(terminated(t->parent_id_tag, sizeof t->parent_id_tag));
    }
}

static void check_error(const char *err, size_t cap)
{
    FUZZ_CHECK(terminated(err, cap) && err[0]);
}

/* Same settings, tokens included (the struct holds a pointer to them). */
static bool same_config(const struct config *a, const struct config *b)
{
    struct config x = *a, y = *b;
    x.tokens = y.tokens = NULL;
    if (memcmp(&x, &y, sizeof x) != 0 || a->ntokens != b->ntokens) return false;
    return a->ntokens == 0 || memcmp(a->tokens, b->tokens, a->ntokens * sizeof *a->tokens) == 0;
}

/* The memfd holding the current file, and its /proc path. */
static int file_fd = -1;
static char file_path[64];

static void file_write(const uint8_t *data, size_t size)
{
    if (file_fd < 0) {
        file_fd = memfd_create("fuzz_config", 0);
        FUZZ_CHECK(file_fd >= 0);
        snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", file_fd);
    }
    FUZZ_CHECK(ftruncate(file_fd, 0) == 0);
    FUZZ_CHECK(size == 0 || pwrite(file_fd, data, size, 0) == (ssize_t)size);
}

/* Parses the current file into cfg (defaults first); returns the parser's result. */
static int load(struct config *cfg)
{
    char err[256];
    memset(err, 0x55, sizeof err); /* an unterminated error would show */
    config_defaults(cfg);
    int rc = config_load_file(cfg, file_path, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == OD_EINVAL);
    if (rc == 0) check_config(cfg);
    else check_error(err, sizeof err);
    return rc;
}

/* data without the lines whose first non-blank character is '#' (into out, size bytes). */
static size_t strip_comment_lines(const uint8_t *data, size_t size, uint8_t *out)
{
    size_t n = 0, i = 0;
    while (i < size) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t end = nl ? (size_t)(nl - data) + 1 : size;
        size_t j = i;
        while (j < end && isspace(data[j]) && data[j] != '\n') j++;
        if (j == end || data[j] != '#') {
            memcpy(out + n, data + i, end - i);
            n += end - i;
        }
        i = end;
    }
    return n;
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    struct config with, without;
    file_write(data, size);
    int rc_with = load(&with);
    uint8_t *stripped = malloc(size ? size : 1);
    FUZZ_CHECK(stripped);
    size_t n = strip_comment_lines(data, size, stripped);
    file_write(stripped, n);
    free(stripped);
    int rc_without = load(&without);
    if (memchr(data, '\0', size)) {
        FUZZ_CHECK(rc_with != 0); /* a NUL would cut its line short: the file is refused */
    } else {
        FUZZ_CHECK(rc_with == rc_without);
        if (rc_with == 0) FUZZ_CHECK(same_config(&with, &without));
    }
    config_free(&with);
    config_free(&without);
}

static void fuzz_argv(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    FUZZ_CHECK(copy);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[FUZZ_MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = "ocppd";
    char *p = copy;
    while (argc < FUZZ_MAX_ARGS) {
        argv[argc++] = p;
        char *nl = memchr(p, '\n', size - (size_t)(p - copy));
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0) argv[i + 1] = file_path;
    argv[argc] = NULL;

    file_write(data, size);
    struct config cfg;
    char err[256];
    memset(err, 0x55, sizeof err);
    config_defaults(&cfg);
    int rc = config_parse_args(&cfg, argc, argv, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == OD_EINVAL || rc == OD_EIO);
    if (rc == 0) {
        check_config(&cfg);
        FUZZ_CHECK(strlen(cfg.admin_token) >= 8); /* given or generated */
    } else if (rc != 1) {
        check_error(err, sizeof err);
    }
    config_free(&cfg);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file(data, size);
    fuzz_argv(data, size);
    return 0;
}
