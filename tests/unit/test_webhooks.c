/* test_webhooks.c — webhook URL parsing and the body signature (src/webhooks.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "od.h"
#include "webhooks.h"

#include <string.h>

static void test_sign_rfc4231(void **state)
{
    (void)state;
    /* RFC 4231 test case 2. */
    const char *data = "what do ya want for nothing?";
    char out[80];
    assert_non_null(webhook_sign("Jefe", data, strlen(data), out, sizeof out));
    assert_string_equal(out, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_null(webhook_sign("Jefe", data, strlen(data), out, 40));
}

static void test_sign_body_bytes(void **state)
{
    (void)state;
    char a[80], b[80];
    assert_non_null(webhook_sign("s", "{\"seq\":1}", 9, a, sizeof a));
    assert_non_null(webhook_sign("s", "{\"seq\":2}", 9, b, sizeof b));
    assert_string_not_equal(a, b);
    assert_non_null(webhook_sign("t", "{\"seq\":1}", 9, b, sizeof b));
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(a), 7 + 64);
}

static void test_url_ok(void **state)
{
    (void)state;
    struct webhook_url u;
    char err[128];
    assert_int_equal(webhook_url_parse("http://127.0.0.1:8080/hook?x=1", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.path, "/hook?x=1");
    assert_int_equal(webhook_url_parse("http://localhost", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "localhost");
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/");
    assert_int_equal(webhook_url_parse("http://[::1]:9/a#frag", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "9");
    assert_string_equal(u.path, "/a");
    assert_int_equal(webhook_url_parse("http://h?q", &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/?q");
}

static void test_url_bad(void **state)
{
    (void)state;
    struct webhook_url u;
    char err[128];
    const char *bad[] = {"https://127.0.0.1/", "ftp://x/", "http://", "http:///path",
                         "http://h:0/", "http://h:65536/", "http://h:abc/", "http://u@h/",
                         "http://[::1/", "http://h x/", "http://h:80x", "127.0.0.1:80", NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        assert_int_equal(webhook_url_parse(bad[i], &u, err, sizeof err), OD_EINVAL);
        assert_non_null(strstr(err, "url"));
    }
    assert_int_equal(webhook_url_parse(NULL, &u, err, sizeof err), OD_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_rfc4231),
        cmocka_unit_test(test_sign_body_bytes),
        cmocka_unit_test(test_url_ok),
        cmocka_unit_test(test_url_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
