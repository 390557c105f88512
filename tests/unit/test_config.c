/* test_config.c — the option table: flags, config file, precedence and errors. */
#include "config.h"
#include "od.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static int parse(struct config *cfg, char *err, size_t errlen, int argc, char **argv)
{
    config_defaults(cfg);
    return config_parse_args(cfg, argc, argv, err, errlen);
}

static void test_config__defaults_match_the_documented_embedded_setup(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *argv[] = {"ocppd"};
    assert_int_equal(parse(&cfg, err, sizeof err, 1, argv), 0);
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 8180);
    assert_string_equal(cfg.admin_host, "127.0.0.1");
    assert_int_equal(cfg.admin_port, 8181);
    assert_string_equal(cfg.db_path, "./var/ocppd.db");
    assert_true(cfg.auto_register);
    assert_true(cfg.admin_token_generated);
    assert_int_equal(strlen(cfg.admin_token), 48);
    assert_int_equal(cfg.max_frame_bytes, 65536);
    config_free(&cfg);
}

static void test_config__flags_set_every_documented_option(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *argv[] = {"ocppd", "--listen", "127.0.0.1:9000", "--admin-listen", "[::1]:9001",
                    "--db", ":memory:", "--admin-token", "secret-token-1", "--no-auto-register",
                    "--accept-unknown-tokens", "--heartbeat-interval", "60", "--log-level",
                    "debug"};
    assert_int_equal(parse(&cfg, err, sizeof err, sizeof argv / sizeof *argv, argv), 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 9000);
    assert_string_equal(cfg.admin_host, "::1");
    assert_int_equal(cfg.admin_port, 9001);
    assert_string_equal(cfg.db_path, ":memory:");
    assert_string_equal(cfg.admin_token, "secret-token-1");
    assert_false(cfg.admin_token_generated);
    assert_false(cfg.auto_register);
    assert_true(cfg.accept_unknown_tokens);
    assert_int_equal(cfg.heartbeat_interval_s, 60);
    assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
    /* liveness is derived from the heartbeat: pings at most every 60 s, idle > 2 heartbeats */
    assert_int_equal(config_ping_interval_s(&cfg), 60);
    assert_true(config_idle_timeout_s(&cfg) > 2 * 60);
    config_free(&cfg);
}

static void test_config__bad_flags_fail_with_one_clear_line(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *cases[][3] = {
        {"ocppd", "--bogus", NULL},
        {"ocppd", "--listen", "nope"},
        {"ocppd", "--heartbeat-interval", "0"},
        {"ocppd", "--log-level", "loud"},
        {"ocppd", "--admin-token", "short"},
        {"ocppd", "--listen", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int argc = cases[i][2] ? 3 : 2;
        err[0] = '\0';
        assert_int_equal(parse(&cfg, err, sizeof err, argc, cases[i]), OD_EINVAL);
        assert_true(strlen(err) > 0);
        assert_null(strchr(err, '\n'));
        config_free(&cfg);
    }
}

static void test_config__file_is_read_and_flags_override_it(void **state)
{
    (void)state;
    char path[] = "/tmp/ocppd-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# comment\nlisten = 127.0.0.1:7000\nheartbeat-interval = 120\n"
          "no-auto-register = true\ntoken = TAG1 Accepted 2030-01-01T00:00:00Z PARENT\n"
          "token = TAG2 Blocked\n",
          f);
    fclose(f);
    struct config cfg;
    char err[256];
    char *argv[] = {"ocppd", "--heartbeat-interval", "30", "--config", path};
    assert_int_equal(parse(&cfg, err, sizeof err, 5, argv), 0);
    assert_int_equal(cfg.listen_port, 7000);
    assert_int_equal(cfg.heartbeat_interval_s, 30); /* the flag wins over the file */
    assert_false(cfg.auto_register);
    assert_int_equal(cfg.ntokens, 2);
    assert_string_equal(cfg.tokens[0].id_tag, "TAG1");
    assert_string_equal(cfg.tokens[0].parent_id_tag, "PARENT");
    assert_true(cfg.tokens[0].expiry_ms > 0);
    assert_string_equal(cfg.tokens[1].status, "Blocked");
    config_free(&cfg);
    unlink(path);
}

static void test_config__file_errors_name_the_line(void **state)
{
    (void)state;
    char path[] = "/tmp/ocppd-test-config-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("listen = 127.0.0.1:7000\nnot-a-setting = 1\n", f);
    fclose(f);
    struct config cfg;
    char err[256];
    char *argv[] = {"ocppd", "--config", path};
    assert_int_equal(parse(&cfg, err, sizeof err, 3, argv), OD_EINVAL);
    assert_non_null(strstr(err, ":2:"));
    config_free(&cfg);
    unlink(path);
    char *missing[] = {"ocppd", "--config", "/nonexistent/ocppd.conf"};
    assert_int_not_equal(parse(&cfg, err, sizeof err, 3, missing), 0);
    config_free(&cfg);
}

static void test_config__abuse_limits_have_defaults_flags_and_file_settings(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *none[] = {"ocppd"};
    assert_int_equal(parse(&cfg, err, sizeof err, 1, none), 0);
    assert_int_equal(cfg.max_conns_per_ip, 1000);
    assert_int_equal(cfg.max_handshakes_per_ip, 64);
    assert_int_equal(cfg.handshake_rate_per_ip, 20);
    assert_int_equal(cfg.handshake_burst_per_ip, 200);
    assert_int_equal(cfg.auth_failures_per_ip, 10);
    assert_int_equal(cfg.handshake_timeout_s, 10);
    assert_false(cfg.limit_loopback);
    config_free(&cfg);

    char path[] = "/tmp/ocppd-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("max-conns-per-ip = 5\nhandshake-rate-per-ip = 0\nlimit-loopback = true\n"
          "handshake-timeout = 3\n", f);
    fclose(f);
    char *argv[] = {"ocppd", "--config", path, "--max-conns-per-ip", "7",
                    "--max-handshakes-per-ip", "9", "--handshake-burst-per-ip", "11",
                    "--auth-failures-per-ip", "0"};
    assert_int_equal(parse(&cfg, err, sizeof err, sizeof argv / sizeof *argv, argv), 0);
    assert_int_equal(cfg.max_conns_per_ip, 7); /* the flag wins over the file */
    assert_int_equal(cfg.max_handshakes_per_ip, 9);
    assert_int_equal(cfg.handshake_rate_per_ip, 0);
    assert_int_equal(cfg.handshake_burst_per_ip, 11);
    assert_int_equal(cfg.auth_failures_per_ip, 0);
    assert_int_equal(cfg.handshake_timeout_s, 3);
    assert_true(cfg.limit_loopback);
    config_free(&cfg);
    unlink(path);

    char *bad[][3] = {{"ocppd", "--handshake-timeout", "0"},
                      {"ocppd", "--handshake-burst-per-ip", "0"},
                      {"ocppd", "--max-conns-per-ip", "-1"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(parse(&cfg, err, sizeof err, 3, bad[i]), OD_EINVAL);
        assert_non_null(strstr(err, bad[i][1]));
        config_free(&cfg);
    }
}

static void test_config__listeners_on_one_port_are_refused(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *clash[][5] = {
        {"ocppd", "--listen", "127.0.0.1:9000", "--admin-listen", "127.0.0.1:9000"},
        {"ocppd", "--listen", "0.0.0.0:9000", "--admin-listen", "127.0.0.1:9000"},
    };
    for (size_t i = 0; i < 2; i++) {
        err[0] = '\0';
        assert_int_equal(parse(&cfg, err, sizeof err, 5, clash[i]), OD_EINVAL);
        assert_non_null(strstr(err, "9000"));
        config_free(&cfg);
    }
    char *fine[][5] = {
        {"ocppd", "--listen", "127.0.0.1:9000", "--admin-listen", "127.0.0.2:9000"},
        {"ocppd", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"},
    };
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(parse(&cfg, err, sizeof err, 5, fine[i]), 0);
        config_free(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__defaults_match_the_documented_embedded_setup),
        cmocka_unit_test(test_config__flags_set_every_documented_option),
        cmocka_unit_test(test_config__bad_flags_fail_with_one_clear_line),
        cmocka_unit_test(test_config__file_is_read_and_flags_override_it),
        cmocka_unit_test(test_config__file_errors_name_the_line),
        cmocka_unit_test(test_config__abuse_limits_have_defaults_flags_and_file_settings),
        cmocka_unit_test(test_config__listeners_on_one_port_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
