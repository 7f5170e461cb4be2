#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "helpers.h"

static void test_sign_verify_roundtrip(void **state)
{
    struct cg_key *priv, *pub;
    unsigned char sig[64];
    bool valid;
    const char msg[] = "header.payload";
    (void)state;
    assert_int_equal(cg_key_load_file(&priv, th_file("sp-1234.key")), CG_OK);
    assert_true(cg_key_is_private(priv));
    assert_int_equal(cg_key_load_file(&pub, th_file("sp-1234-leaf.pem")), CG_OK);
    assert_false(cg_key_is_private(pub));
    assert_int_equal(cg_es256_sign(priv, msg, strlen(msg), sig), CG_OK);
    assert_int_equal(cg_es256_verify(pub, msg, strlen(msg), sig, &valid), CG_OK);
    assert_true(valid);
    /* tampered message, tampered signature */
    assert_int_equal(cg_es256_verify(pub, "header.payloaD", 14, sig, &valid), CG_OK);
    assert_false(valid);
    /* a bad signature is a verdict: no OpenSSL error is left queued */
    assert_int_equal(ERR_peek_error(), 0);
    sig[10] ^= 1;
    assert_int_equal(cg_es256_verify(pub, msg, strlen(msg), sig, &valid), CG_OK);
    assert_false(valid);
    /* r = s = 0 and all-ones are out of range: a verdict, not an error */
    memset(sig, 0, 64);
    assert_int_equal(cg_es256_verify(pub, msg, strlen(msg), sig, &valid), CG_OK);
    assert_false(valid);
    memset(sig, 0xff, 64);
    assert_int_equal(cg_es256_verify(pub, msg, strlen(msg), sig, &valid), CG_OK);
    assert_false(valid);
    assert_int_equal(ERR_peek_error(), 0);
    /* a public key cannot sign */
    assert_int_equal(cg_es256_sign(pub, msg, strlen(msg), sig), CG_EKEY);
    cg_key_free(priv);
    cg_key_free(pub);
    cg_key_free(NULL);
}

static void test_wrong_key_kinds(void **state)
{
    static const char rsa_pub[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMMV1Hp6+n9ww8aSaUxKgUO4T7ECGtdz\n"
        "CevLVmbSGk1OqNo9SiDn0DHvrwTAtmx4ugzaGygWKwY0xHiBcYAsq0MCAwEAAQ==\n"
        "-----END PUBLIC KEY-----\n";
    static const char p384_pub[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEv8EPPDsF1ET0mJ5hC9B3TWq4ZqVbgdR3\n"
        "9nXqbYVJ1fS3nXQ9p1VMZzYF6wQ5Tg0w4+R6kUIoGq0Yjv1R8jN4Q7yH8rXj8bb\n"
        "Wz1y0HlC9cBq3FzZpX0Hq2W8Dg9mYy8S1A==\n"
        "-----END PUBLIC KEY-----\n";
    struct cg_key *k = NULL;
    (void)state;
    assert_int_equal(cg_key_load_pem(&k, rsa_pub, sizeof rsa_pub - 1), CG_EKEY);
    assert_int_equal(cg_key_load_pem(&k, p384_pub, sizeof p384_pub - 1), CG_EKEY);
    assert_int_equal(cg_key_load_pem(&k, "garbage", 7), CG_EKEY);
    assert_null(k);
    assert_int_equal(cg_key_load_file(&k, "/nonexistent/key.pem"), CG_EIO);
}

static void test_public_pem(void **state)
{
    struct cg_key *k;
    char *pem;
    (void)state;
    assert_int_equal(cg_key_load_file(&k, th_file("sp-1234.key")), CG_OK);
    assert_int_equal(cg_key_public_pem(k, &pem), CG_OK);
    assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
    free(pem);
    cg_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_roundtrip),
        cmocka_unit_test(test_wrong_key_kinds),
        cmocka_unit_test(test_public_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
